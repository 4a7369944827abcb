// Fleet sync for the edge worker: every isolate is a node that publishes its local state
// changes to the fleet store and merges the other nodes' (src/fleet/, src/host/web/fleet.rs),
// through the same HTTP bridge in front of Redis (webdis) the Envoy filters use.
//
// At most one round trip a second and never on the request path: withFleet() wraps each
// request's response promise; once it settles (the request's changes are in the state) it
// starts a round trip inside ctx.waitUntil(), when the last one began a second ago or more
// and none is under way. Store slow or down: requests are filtered on
// the isolate's own state; one log line per outage (and one when it answers again).
//
// Bindings: FLEET (service binding to the bridge; without it there is no fleet sync) and
// FLEET_SETTINGS (the `fleet` settings as JSON text, e.g. {"namespace": "prod"}; optional).
// Nothing here logs keys, prompts or deltas.
import { FleetSync } from './pkg/distill_guard.js';

const PERIOD_MS = 1000;
let fleet; // FleetSync, null when off (no binding, bad settings, disabled), undefined before the first request
let last = -Infinity;
let busy = false;

function start(env) {
  if (!env.FLEET) return null;
  try {
    const settings = env.FLEET_SETTINGS == null ? '' : String(env.FLEET_SETTINGS);
    const random = crypto.getRandomValues(new Uint32Array(1))[0];
    const f = new FleetSync(settings, random);
    if (!f.enabled()) return null;
    console.log(`distill-guard: fleet sync on as node ${f.node()}`);
    return f;
  } catch (e) {
    console.error(`distill-guard: fleet sync off: ${e.message ?? e}`);
    return null;
  }
}

// Reads at most `max` bytes of a response body; null when it is longer.
async function readLimited(res, max) {
  const len = Number(res.headers.get('content-length'));
  if (Number.isFinite(len) && len > max) {
    await res.body?.cancel();
    return null;
  }
  const reader = res.body.getReader();
  const chunks = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > max) {
      await reader.cancel();
      return null;
    }
    chunks.push(value);
  }
  const out = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
}

async function round(env, engine, now) {
  const path = fleet.begin(engine, now);
  if (path === undefined) return;
  const body = fleet.body();
  let status = 0;
  let answer = new Uint8Array(0);
  let why = '';
  try {
    const res = await env.FLEET.fetch(`http://fleet${path}`, {
      method: 'PUT',
      body,
      headers: { 'content-type': 'application/octet-stream' },
      signal: AbortSignal.timeout(fleet.timeoutMs()),
    });
    const read = await readLimited(res, fleet.maxAnswerBytes());
    if (read === null) why = 'answer larger than fleet.max_reply_bytes';
    else [status, answer] = [res.status, read];
  } catch (e) {
    why = String(e.name === 'TimeoutError' ? 'timeout' : e.message ?? e);
  }
  const report = JSON.parse(fleet.finish(engine, status, answer, why, Date.now()));
  for (const line of report.log) console.warn(line);
}

// Per request: once `response` settles, maybe start a round trip (see the header), so the
// request's own changes go out with it. Returns `response` untouched.
export function withFleet(response, env, ctx, engineOf) {
  if (fleet === undefined) fleet = start(env);
  if (!fleet || !ctx) return response;
  ctx.waitUntil(Promise.resolve(response).then(() => {}, () => {}).then(() => {
    const now = Date.now();
    const engine = engineOf();
    if (!engine || busy || now - last < PERIOD_MS) return undefined;
    last = now;
    busy = true;
    return round(env, engine, now).catch((e) => {
      console.error(`distill-guard: fleet round trip failed: ${e.message ?? e}`);
    }).finally(() => { busy = false; });
  }));
  return response;
}
