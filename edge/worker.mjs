// distill-guard as an edge worker (workerd locally, Cloudflare Workers in production).
//
// Per request: build the record (edge/record.mjs), read at most the policy's body prefix on
// the policy's API paths, ask the engine (one per isolate, state bounded by the policy), then
// forward to the origin with tag headers (client-sent ones removed) or answer 403 / 429 with
// the same response the Envoy filter sends (both come from distill_guard::respond).
// The origin's response is returned as is: its body streams through untouched.
//
// Bindings: POLICY (policy JSON text or object; missing = built-in defaults), ORIGIN (service
// binding to the origin; without it the worker uses global fetch, i.e. Cloudflare's origin),
// optional DROP_HEADERS / CLIENT_IP_HEADER (see record.mjs), FLEET / FLEET_SETTINGS (fleet.mjs).
import { initSync, Engine } from './pkg/distill_guard.js';
import wasmModule from './pkg/distill_guard_bg.wasm';
import { buildRecord, hostSettings, readPrefix } from './record.mjs';
import { withFleet } from './fleet.mjs';
import { env as startupEnv } from 'cloudflare:workers';

initSync({ module: wasmModule });

// One engine per isolate, rebuilt only if the policy text changes.
let current = null; // { text, engine, prefix, failClosed } or { text, errors, message }

function engineFor(env) {
  const raw = env.POLICY;
  const text = raw == null ? '{}' : typeof raw === 'string' ? raw : JSON.stringify(raw);
  if (current && current.text === text) return current;
  if (raw == null) console.warn('distill-guard: no POLICY binding, using the built-in policy');
  try {
    const engine = new Engine(text);
    const failClosed = JSON.parse(text).fail_closed === true;
    current = { text, engine, prefix: engine.headerPrefix(), failClosed };
  } catch (e) {
    const errors = Array.isArray(e.errors) ? e.errors : [{ path: '', message: String(e.message ?? e) }];
    // Logged once per isolate (the first request), not per request.
    console.error(`distill-guard: ${e.message ?? e} -- every request is answered 500 until POLICY is fixed`);
    current = { text, errors, message: String(e.message ?? e) };
  }
  return current;
}

function json(status, obj, extra = []) {
  const headers = new Headers([['content-type', 'application/json'], ...extra]);
  return new Response(JSON.stringify(obj), { status, headers });
}

// Copies request headers, dropping client-sent tag headers, and adds `tags`.
function forwardHeaders(request, prefix, tags) {
  const out = new Headers();
  for (const [name, value] of request.headers) if (!name.startsWith(prefix)) out.append(name, value);
  for (const [name, value] of tags) out.set(name, value);
  return out;
}

async function handle(request, env) {
  const state = engineFor(env);
  if (!state.engine) {
    return json(500, { error: { type: 'invalid_policy', message: state.message }, errors: state.errors });
  }
  const url = new URL(request.url);
  const settings = hostSettings(env, request.cf != null);
  const record = buildRecord(request, url, settings, Date.now());

  // Body prefix: only on the policy's API paths, and never more than its limit.
  let read = null;
  if (request.body && state.engine.wantsBody(url.pathname)) {
    const len = request.headers.get('content-length');
    read = await readPrefix(request.body, state.engine.bodyLimit(), /^\d{1,15}$/.test(len ?? '') ? Number(len) : null);
  }

  let result;
  try {
    const prefix = read ? read.prefix : new Uint8Array(0);
    result = JSON.parse(state.engine.inspectFetch(JSON.stringify(record), prefix, read ? read.done : true));
    if (result.error) console.error(`distill-guard: ${result.error}`);
  } catch (e) {
    // A trap leaves the Wasm instance unusable: drop the engine, answer as the policy says.
    console.error(`distill-guard: engine failure: ${e.message ?? e}`);
    current = null;
    result = { response: state.failClosed
      ? { kind: 'reply', status: 403, headers: [['content-type', 'application/json']],
          body: JSON.stringify({ error: { type: 'forbidden', message: 'internal error' } }) }
      : { kind: 'forward', headers: [[`${state.prefix}error`, 'internal']] } };
  }

  const r = result.response;
  if (r.kind === 'reply') {
    if (read) read.cancel();
    return new Response(r.body, { status: r.status, headers: r.headers });
  }
  const headers = forwardHeaders(request, state.prefix, r.headers);
  const init = { headers };
  if (read) init.body = read.forward;
  const upstream = new Request(request, init);
  const origin = env.ORIGIN ?? globalThis;
  return origin.fetch(upstream);
}

// Validate the policy at startup, so a bad one is reported before the first request.
if (startupEnv) engineFor(startupEnv);

// Fleet sync (edge/fleet.mjs): after a request, in ctx.waitUntil(), at most once a second.
export default { fetch: (request, env, ctx) => withFleet(handle(request, env), env, ctx, () => current?.engine) };
