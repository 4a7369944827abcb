// distill-guard as an edge worker (workerd locally, Cloudflare Workers in production).
//
// Per request: build the request head (edge/record.mjs) and run the engine's header phase in one
// call (one engine per isolate, state bounded by the policy). Most requests are decided there:
// forwarded to the origin at once with the verdict headers (client-sent ones removed), or answered
// 403 / 429 with the same response the Envoy filter sends (both come from distill_guard::respond: a
// generic message and a reference id unless the policy's output.client_reasons opts in). When the
// engine learns from the body, the body is teed: one branch goes to the origin untouched, the
// other is read up to the policy's prefix limit and handed to the engine in ctx.waitUntil(), after
// the request went on (with the BODY_LEARN=buffer binding the prefix is read first instead, learned
// from, and forwarded as read). A request whose header-phase score is in the policy's gray zone (or every
// API request with body.inspect "always") is held: its body prefix is read first, then the engine
// decides. The origin's response is returned as is (streams through).
//
// Bindings: POLICY (policy JSON text or object; missing = built-in defaults), ORIGIN (service
// binding to the origin; without it the worker uses global fetch, i.e. Cloudflare's origin),
// optional DROP_HEADERS / CLIENT_IP_HEADER / BODY_LEARN (see record.mjs), FLEET / FLEET_SETTINGS (fleet.mjs).
import { initSync, Engine } from './pkg/distill_guard.js';
import wasmModule from './pkg/distill_guard_bg.wasm';
import { contentLength, hostSettings, peerAsn, readBody, requestHead, takePrefix } from './record.mjs';
import { withFleet } from './fleet.mjs';
import { env as startupEnv } from 'cloudflare:workers';

initSync({ module: wasmModule });

// One engine per isolate, rebuilt only if the policy text changes.
let current = null; // { raw, text, engine, failClosed, prefix } or { raw, text, errors, message }

function engineFor(env) {
  const raw = env.POLICY;
  if (current && current.raw === raw) return current;
  const text = raw == null ? '{}' : typeof raw === 'string' ? raw : JSON.stringify(raw);
  if (current && current.text === text) { current.raw = raw; return current; }
  if (raw == null) console.warn('distill-guard: no POLICY binding, using the built-in policy');
  try {
    const engine = new Engine(text);
    const failClosed = JSON.parse(text).fail_closed === true;
    current = { raw, text, engine, failClosed, prefix: engine.headerPrefix(), limit: engine.bodyLimit() };
    // Valid but unsafe settings (the shipped identity.hash_key): once per isolate.
    for (const w of engine.warnings()) console.warn(`distill-guard: warning: ${w}`);
  } catch (e) {
    const errors = Array.isArray(e.errors) ? e.errors : [{ path: '', message: String(e.message ?? e) }];
    // Logged once per isolate (the first request), not per request.
    console.error(`distill-guard: ${e.message ?? e} -- every request is answered 500 until POLICY is fixed`);
    current = { raw, text, errors, message: String(e.message ?? e) };
  }
  return current;
}

// Host settings per isolate (they depend on the bindings and on running on Cloudflare).
let settings = null;
function settingsFor(env, onCloudflare) {
  if (!settings || settings.env !== env || settings.value.onCloudflare !== onCloudflare) {
    settings = { env, value: hostSettings(env, onCloudflare) };
  }
  return settings.value;
}

// The reference-id token: Cloudflare's cf-ray, else a random per-isolate id and a count (the
// engine hashes it with the policy's secret: the id is opaque).
let isolateId = null;
let sequence = 0;
function token(request, onCloudflare) {
  const ray = onCloudflare ? request.headers.get('cf-ray') : null;
  if (ray) return ray;
  if (isolateId == null) isolateId = [...crypto.getRandomValues(new Uint32Array(2))].map((n) => n.toString(16)).join('');
  return `${isolateId}-${++sequence}`;
}

function json(status, obj) {
  return new Response(JSON.stringify(obj), { status, headers: { 'content-type': 'application/json' } });
}

// A trap leaves the Wasm instance unusable: drop the engine (the next request builds a new one).
function engineFailed(state, e) {
  console.error(`distill-guard: engine failure: ${e.message ?? e}`);
  if (current === state) current = null;
}

// Reads at most the policy's prefix of a teed body branch and hands it to the engine (in
// ctx.waitUntil: the request has gone on already). Cancels the branch once read.
async function learn(state, ticket, branch, length) {
  let read;
  try {
    read = await takePrefix(branch, state.limit, length);
  } catch {
    return; // the client went away mid-body: nothing to learn
  }
  try {
    state.engine.learnBody(ticket, read.prefix, read.done);
  } catch (e) {
    engineFailed(state, e);
  }
}

// The answer to a request whose engine call failed: 403 with fail_closed, else the request
// forwarded uninspected, marked so, without client-sent tags (`read`: its body prefix, if read).
function engineFailedRequest(state, e, request, env, read) {
  engineFailed(state, e);
  if (state.failClosed) {
    if (read) read.cancel();
    return json(403, { error: { type: 'forbidden', message: 'request blocked' } });
  }
  const upstream = new Request(request, read ? { body: read.forward } : undefined);
  const structured = state.prefix.replace(/-+$/, '');
  for (const [name] of [...upstream.headers]) if (name.startsWith(state.prefix) || name === structured) upstream.headers.delete(name);
  upstream.headers.set(`${state.prefix}error`, 'internal');
  return (env.ORIGIN ?? globalThis).fetch(upstream);
}

async function handle(request, env, ctx) {
  const state = engineFor(env);
  if (!state.engine) {
    return json(500, { error: { type: 'invalid_policy', message: state.message }, errors: state.errors });
  }
  const onCloudflare = request.cf != null;
  const host = settingsFor(env, onCloudflare);
  const head = requestHead(request, host, token(request, onCloudflare));

  // The header phase; for a held request its body prefix, then its body phase. Reading the body
  // is outside the engine's try: a client that goes away mid-body is no engine failure.
  let out;
  let read = null;
  try {
    out = state.engine.inspectHeaders(head, request.body !== null, peerAsn(request), Date.now()).split('\n');
  } catch (e) {
    return engineFailedRequest(state, e, request, env, null);
  }
  if (out[0] === 'hold') {
    read = await readBody(request, state.limit);
    try {
      out = state.engine.inspectBody(Number(out[2]), read.prefix, read.done).split('\n');
    } catch (e) {
      return engineFailedRequest(state, e, request, env, read);
    }
  }
  // The outcome (src/host/packed.rs): kind, status, ticket, body, log line, deletes, then name/value pairs.
  if (out[4]) console.log(`distill-guard: ${out[4]}`);
  const deletes = Number(out[5]);
  const pairsAt = 6 + deletes;
  if (out[0] === 'reply') {
    if (read) read.cancel();
    const headers = [];
    for (let i = pairsAt; i + 1 < out.length; i += 2) headers.push([out[i], out[i + 1]]);
    return new Response(out[3], { status: Number(out[1]), headers });
  }
  // A copy of the headers with ours set, and fetch(url, init): cheaper in workerd than a new
  // Request whose headers are then changed one by one.
  const h = new Headers(request.headers);
  for (let i = 6; i < pairsAt; i++) h.delete(out[i]);
  for (let i = pairsAt; i + 1 < out.length; i += 2) h.set(out[i], out[i + 1]);
  let body = read ? read.forward : request.body;
  const ticket = Number(out[2]);
  if (ticket !== 0 && body !== null && !read) {
    if (host.bufferBodies) {
      // BODY_LEARN=buffer: the prefix read first (reading it is outside the engine's try, as for
      // a held request), learned from, and forwarded as read.
      const prefix = await readBody(request, state.limit);
      body = prefix.forward;
      try {
        state.engine.learnBody(ticket, prefix.prefix, prefix.done);
      } catch (e) {
        engineFailed(state, e);
      }
    } else {
      // Learn from the body without holding the request: one branch to the origin, one to read.
      const [upstream, mine] = body.tee();
      body = upstream;
      ctx.waitUntil(learn(state, ticket, mine, contentLength(request)));
    }
  }
  return (env.ORIGIN ?? globalThis).fetch(request.url, {
    method: request.method, headers: h, body, redirect: 'manual',
  });
}

// Validate the policy at startup, so a bad one is reported before the first request.
if (startupEnv) engineFor(startupEnv);

// Fleet sync (edge/fleet.mjs): after a request, in ctx.waitUntil(), at most once a second.
export default { fetch: (request, env, ctx) => withFleet(handle(request, env, ctx), env, ctx, () => current?.engine) };
