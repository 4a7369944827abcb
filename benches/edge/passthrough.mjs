// The edge bench's reference worker: forwards every request to the ORIGIN binding as it came
// (a new Request over the same URL, method, headers and body stream), and returns the
// origin's response. What any proxying worker pays before doing any work of its own.
// With the PASS_MODE binding "tee" (configuration `passtee`), a request body is teed as the
// distill-guard worker tees one it learns from: one branch to the origin, the other read to its
// end in ctx.waitUntil() and dropped. What learning from a body as it streams past costs in
// workerd before any engine work.
export default {
  fetch(request, env, ctx) {
    if (env.PASS_MODE === 'tee' && request.body !== null) {
      const [upstream, mine] = request.body.tee();
      ctx.waitUntil(new Response(mine).arrayBuffer());
      return env.ORIGIN.fetch(request.url, { method: request.method, headers: request.headers, body: upstream, redirect: 'manual' });
    }
    return env.ORIGIN.fetch(new Request(request.url, request));
  },
};
