// The edge bench's reference worker: forwards every request to the ORIGIN binding as it came
// (a new Request over the same URL, method, headers and body stream), and returns the
// origin's response. What any proxying worker pays before doing any work of its own.
// With the PASS_MODE binding "tee" (configuration `passtee`), a request body is teed as the
// distill-guard worker tees one it learns from: one branch to the origin, the other read to its
// end in ctx.waitUntil() and dropped. What learning from a body as it streams past costs in
// workerd before any engine work.
// With PASS_MODE "head" (configuration `passhead`), it does what edge/worker.mjs does for a request
// its engine allows at the headers, but the engine call: builds the request head from the
// headers (edge/record.mjs), copies the headers, sets seven verdict headers of the lengths an
// allowed request gets, and forwards with fetch(url, init). The distill-guard worker minus this
// is the engine's header phase as workerd runs it.
import { hostSettings, requestHead } from './record.mjs';

// Seven verdict headers of the default output, as the engine writes them for an allowed request.
const TAGS = [
  ['x-distill-score', '0'], ['x-distill-action', 'allow'], ['x-distill-reasons', ''],
  ['x-distill-fp', '9f0c1d2e3f405162'], ['x-distill-client', 'anthropic-sdk-python'],
  ['x-distill-account', '4be1a0c29d3e5f70'], ['x-distill-ref', '5a0e9c2b7d41f386'],
];
let settings = null;
let sequence = 0;
let heads = 0;

export default {
  fetch(request, env, ctx) {
    if (env.PASS_MODE === 'tee' && request.body !== null) {
      const [upstream, mine] = request.body.tee();
      ctx.waitUntil(new Response(mine).arrayBuffer());
      return env.ORIGIN.fetch(request.url, { method: request.method, headers: request.headers, body: upstream, redirect: 'manual' });
    }
    if (env.PASS_MODE === 'head') {
      settings ??= hostSettings(env, request.cf != null);
      // The head is built and dropped (its length kept, so that it is not optimized away).
      heads += requestHead(request, settings, `bench-${++sequence}`).length;
      const h = new Headers(request.headers);
      for (const [name, value] of TAGS) h.set(name, value);
      return env.ORIGIN.fetch(request.url, { method: request.method, headers: h, body: request.body, redirect: 'manual' });
    }
    return env.ORIGIN.fetch(new Request(request.url, request));
  },
};
