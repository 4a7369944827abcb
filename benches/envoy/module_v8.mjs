// The Envoy module alone in V8 (Node's), behind a stub proxy-wasm host: what the filter's own
// code costs per request without Envoy, and which host calls it makes.
//   usage: node benches/envoy/module_v8.mjs [--wasm FILE]... [--policy FILE] [--kind post|get]
//                                           [--requests N] [--tls] [--fault headers|body]
//                                           [--distinct N] [--batch N]
// The requests are shaped like benches/envoy/load.lua's (the Anthropic Python SDK's headers as
// Envoy hands them to a filter: pseudo-headers first, Host and Connection gone, x-forwarded-proto
// and x-request-id appended; 100,000 accounts with their own X-Forwarded-For; ~4 KB prompts of
// pseudo-words). The stub host answers every call at once (headers and body from JS arrays,
// properties `source.address` and `request.protocol`, filter state only with --tls), so the
// time is V8 running the module plus the JS<->Wasm boundary, not Envoy's work behind each call.
// It calls proxy_on_tick every 1,000 requests. --distinct: how many different requests (accounts,
// addresses) cycle (default 8,192; 100000 like load.lua, so that the state's tables are as cold as
// in Envoy). Prints one JSON line per module: CPU and wall-clock us per request (after a warm-up;
// the CPU time includes V8's helper threads) and host calls per request by name. Several --wasm
// modules run in one process, each in its own instance with its own stub host, alternating
// batches of --batch requests (default 500), so that other load on a shared machine hits them
// alike; `batch_us_median` / `batch_us_min` are over their batches (wall clock, us per request). Complements
// benches/envoy_load.sh; it does not replace it (Envoy's side of each host call is not here).
import { readFileSync } from "node:fs";
import { WASI } from "node:wasi";
import { parseArgs } from "node:util";

const { values: opt } = parseArgs({
  options: {
    wasm: { type: "string", multiple: true, default: ["build/distill_guard_envoy.wasm"] },
    batch: { type: "string", default: "500" },
    policy: { type: "string" },
    kind: { type: "string", default: "post" },
    requests: { type: "string", default: "20000" },
    tls: { type: "boolean", default: false },
    fault: { type: "string" },
    distinct: { type: "string", default: "8192" },
  },
});
const N = Number(opt.requests);
const OK = 0, NOT_FOUND = 1;
const enc = new TextEncoder(), dec = new TextDecoder();

// --- requests -------------------------------------------------------------------------------
let seed = 42; // mulberry32
const rand = (lo, hi) => {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return lo + (((t ^ (t >>> 14)) >>> 0) % (hi - lo + 1));
};
const vocab = Array.from({ length: 4000 }, () => Array.from({ length: rand(3, 9) }, () => String.fromCharCode(rand(97, 122))).join(""));
const bodies = Array.from({ length: opt.kind === "post" ? 8192 : 0 }, () => {
  const words = []; let len = 0;
  while (len < 3900) { const w = vocab[rand(0, vocab.length - 1)]; words.push(w); len += w.length + 1; }
  return enc.encode(`{"model":"claude-sonnet-4-5","max_tokens":4096,"temperature":0.2,"system":"You are a helpful assistant.","messages":[{"role":"user","content":"${words.join(" ")}"}]}`);
});
const sdk = [["accept-encoding", "gzip, deflate"], ["x-stainless-timeout", "600"], ["x-stainless-retry-count", "0"],
  ["x-stainless-read-timeout", "600"], ["accept", "application/json"]];
const sdk2 = [["user-agent", "Anthropic/Python 2.14.0"], ["x-stainless-lang", "python"], ["x-stainless-package-version", "2.14.0"],
  ["x-stainless-os", "Linux"], ["x-stainless-arch", "x64"], ["x-stainless-runtime", "CPython"], ["x-stainless-runtime-version", "3.11.7"]];
function makeRequest(n) {
  const a = n % 100000, post = opt.kind === "post";
  const body = post ? bodies[a % bodies.length] : new Uint8Array(0);
  const h = [[":authority", "api.example.com"], [":path", post ? "/v1/messages" : "/v1/models"], [":method", post ? "POST" : "GET"], [":scheme", "http"],
    ...sdk, ...(post ? [["content-type", "application/json"]] : []), ...sdk2,
    ["authorization", `Bearer sk-ant-api03-${a.toString(16).padStart(8, "0")}-bench`], ["x-stainless-async", "false"],
    ["anthropic-version", "2026-10-21"], ["x-forwarded-for", `${20 + (a >> 16)}.${(a >> 8) & 255}.${a & 255}.7`],
    ...(post ? [["content-length", String(body.length)]] : []), ["x-forwarded-proto", "http"], ["x-request-id", `req-${n}`]];
  if (opt.fault) h.push(["x-distill-guard-fault", opt.fault]);
  return { headers: h.map(([k, v]) => [enc.encode(k), enc.encode(v)]), body };
}
// Prepared up front (header maps serialized once), so that the loop measures the module.
const prepared = Array.from({ length: Number(opt.distinct) }, (_, n) => { const r = makeRequest(n); r.map = serialize(r.headers); return r; });
const request = (n) => { const r = prepared[n % prepared.length]; return { headers: r.headers, map: r.map, body: r.body }; };

function serialize(pairs) {
  let size = 4 + pairs.length * 8;
  for (const [k, v] of pairs) size += k.length + v.length + 2;
  const out = new Uint8Array(size), d = new DataView(out.buffer);
  d.setUint32(0, pairs.length, true);
  let at = 4 + pairs.length * 8;
  pairs.forEach(([k, v], i) => {
    d.setUint32(4 + i * 8, k.length, true); d.setUint32(8 + i * 8, v.length, true);
    out.set(k, at); at += k.length + 1; out.set(v, at); at += v.length + 1;
  });
  return out;
}
function parse(buf) {
  const d = new DataView(buf.buffer, buf.byteOffset), n = d.getUint32(0, true), out = [];
  let at = 4 + n * 8;
  for (let i = 0; i < n; i++) {
    const kl = d.getUint32(4 + i * 8, true), vl = d.getUint32(8 + i * 8, true);
    const k = buf.slice(at, at + kl); at += kl + 1; const v = buf.slice(at, at + vl); at += vl + 1;
    out.push([k, v]);
  }
  return out;
}
const same = (a, b) => a.length === b.length && a.every((x, i) => x === b[i]);

// --- stub host ----------------------------------------------------------------------------
function makeHost(path) {
  const metrics = [];
  const shared = new Map(); let casSeq = 0; // proxy_{get,set}_shared_data
  let inst, cur = null;
  const calls = {}, statuses = {};
  const count = (name) => { calls[name] = (calls[name] || 0) + 1; };
  let mem = null, u8v = null, dvv = null; // views, renewed when the memory grows
  const fresh = () => { if (mem !== inst.exports.memory.buffer) { mem = inst.exports.memory.buffer; u8v = new Uint8Array(mem); dvv = new DataView(mem); } };
  const u8 = () => (fresh(), u8v);
  const dv = () => (fresh(), dvv);
  const bytes = (p, n) => u8().slice(p, p + n);
  function give(data, retPtr, retSize) { // copies `data` into module memory it allocated
    const p = data.length ? inst.exports.proxy_on_memory_allocate(data.length) : 0;
    if (data.length) u8().set(data, p);
    dv().setUint32(retPtr, p, true); dv().setUint32(retSize, data.length, true);
    return OK;
  }
  const config = enc.encode(opt.policy ? readFileSync(opt.policy, "utf8") : "");
  const properties = new Map(Object.entries({ "source\0address": "127.0.0.1:40000", "request\0protocol": "HTTP/1.1",
    ...(opt.tls ? { "filter_state\0distill_guard.ja4": "t13d1516h2_8daaf6152771_e5627efa2ab1", "filter_state\0distill_guard.ja3": "-" } : {}) })
    .map(([k, v]) => [k, enc.encode(v)]));
  const env = {
    proxy_log(level, p, n) { count("log"); if (level >= 4) console.error(dec.decode(bytes(p, n))); return OK; },
    proxy_get_current_time_nanoseconds(p) { count("get_current_time"); dv().setBigUint64(p, BigInt(Date.now()) * 1000000n, true); return OK; },
    proxy_get_buffer_bytes(type, start, max, rp, rs) {
      count("get_buffer_bytes");
      const b = type === 7 ? config : type === 0 && cur ? cur.body : null;
      if (!b) return NOT_FOUND;
      return give(b.subarray(start >>> 0, Math.min(b.length, (start >>> 0) + (max >>> 0))), rp, rs);
    },
    proxy_get_header_map_pairs(type, rp, rs) { count("get_header_map_pairs"); return give(cur.map ?? serialize(cur.headers), rp, rs); },
    proxy_set_header_map_pairs(type, p, n) { count("set_header_map_pairs"); cur.headers = parse(bytes(p, n)); cur.map = null; return OK; },
    proxy_get_header_map_value(type, kp, kn, rp, rs) {
      count("get_header_map_value");
      const k = bytes(kp, kn), h = cur.headers.find(([x]) => same(x, k));
      return h ? give(h[1], rp, rs) : NOT_FOUND;
    },
    proxy_add_header_map_value(type, kp, kn, vp, vn) { count("add_header_map_value"); (cur.added ??= []).push([kp, kn, vp, vn]); return OK; },
    proxy_replace_header_map_value(type, kp, kn, vp, vn) {
      count("replace_header_map_value");
      const k = bytes(kp, kn);
      cur.headers = cur.headers.filter(([x]) => !same(x, k)); cur.headers.push([k, bytes(vp, vn)]); cur.map = null;
      return OK;
    },
    proxy_remove_header_map_value(type, kp, kn) { count("remove_header_map_value"); const k = bytes(kp, kn); cur.headers = cur.headers.filter(([x]) => !same(x, k)); cur.map = null; return OK; },
    proxy_get_property(p, n, rp, rs) {
      count("get_property");
      const v = properties.get(dec.decode(u8().subarray(p, p + n)));
      return v === undefined ? NOT_FOUND : give(v, rp, rs);
    },
    proxy_set_property() { count("set_property"); return OK; },
    proxy_send_local_response(status) { count("send_local_response"); cur.status = status; return OK; },
    proxy_define_metric(t, p, n, rid) { count("define_metric"); metrics.push([dec.decode(bytes(p, n)), 0]); dv().setUint32(rid, metrics.length - 1, true); return OK; },
    proxy_increment_metric(id, off) { count("increment_metric"); if (metrics[id]) metrics[id][1] += Number(off); return OK; },
    proxy_set_tick_period_milliseconds() { count("set_tick_period"); return OK; },
    // Shared data as Envoy keeps it: a value and a CAS number per key; a set with a stale CAS
    // fails with CasMismatch (8). (A stub that never found anything made the filter retry its
    // worker claim on every request: 2 gets and 2 sets per request that Envoy never sees.)
    proxy_get_shared_data(kp, kn, rp, rs, rcas) {
      count("get_shared_data");
      const e = shared.get(dec.decode(bytes(kp, kn)));
      if (!e) return NOT_FOUND;
      dv().setUint32(rcas, e.cas, true);
      return give(e.value, rp, rs);
    },
    proxy_set_shared_data(kp, kn, vp, vn, cas) {
      count("set_shared_data");
      const k = dec.decode(bytes(kp, kn)), e = shared.get(k);
      if (cas !== 0 && e && e.cas !== cas) return 8;
      shared.set(k, { value: bytes(vp, vn).slice(), cas: ++casSeq });
      return OK;
    },
  };
  const module = new WebAssembly.Module(readFileSync(path));
  const imports = WebAssembly.Module.imports(module);
  for (const i of imports) if (i.module === "env" && !env[i.name]) env[i.name] = () => { count(i.name); return OK; };

  const wasi = new WASI({ version: "preview1", args: [], env: {} });
  inst = new WebAssembly.Instance(module, { env, wasi_snapshot_preview1: wasi.wasiImport });
  wasi.initialize(inst);
  const x = inst.exports;
  x.proxy_on_context_create(1, 0);
  x.proxy_on_vm_start(1, 0);
  if (!x.proxy_on_configure(1, config.length)) { console.error(`${path}: on_configure refused the policy`); process.exit(1); }

  function one(n) {
    const ctx = 2 + n;
    cur = request(n);
    x.proxy_on_context_create(ctx, 1);
    const eos = cur.body.length === 0;
    x.proxy_on_request_headers(ctx, cur.headers.length, eos ? 1 : 0);
    // The body comes whether the headers were held (a != 0) or let through (the filter then
    // learns from the body as it streams past).
    if (!eos && cur.status === undefined) x.proxy_on_request_body(ctx, cur.body.length, 1);
    x.proxy_on_done?.(ctx); // not exported by the Envoy module (scripts/build.sh)
    x.proxy_on_delete(ctx);
    statuses[cur.status ?? 200] = (statuses[cur.status ?? 200] || 0) + 1;
    if (n % 1000 === 999) x.proxy_on_tick(1);
  }
  const reset = () => { for (const o of [calls, statuses]) for (const k of Object.keys(o)) delete o[k]; };
  return { path, one, reset, calls, statuses, metrics, batches: [], cpu: 0, wall: 0 };
}

const hosts = opt.wasm.map(makeHost);
const WARM = Math.min(2000, N), BATCH = Math.max(1, Number(opt.batch));
for (const h of hosts) { for (let n = 0; n < WARM; n++) h.one(n); h.reset(); }
// Each round starts with the next module: the module that runs first in a round was measured
// ~0.5-1 us per request slower than the same module run later in it (GET, two copies of one module).
for (let done = 0, round = 0; done < N; done += BATCH, round++) {
  const k = Math.min(BATCH, N - done);
  for (let j = 0; j < hosts.length; j++) {
    const h = hosts[(j + round) % hosts.length];
    const t0 = process.cpuUsage(), w0 = performance.now();
    for (let n = WARM + done; n < WARM + done + k; n++) h.one(n);
    const t = process.cpuUsage(t0), wall = performance.now() - w0;
    h.cpu += t.user + t.system; h.wall += wall * 1000; h.batches.push(wall * 1000 / k);
  }
}
const median = (v) => { const s = [...v].sort((a, b) => a - b), m = s.length >> 1; return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2; };
for (const h of hosts) {
  const perReq = Object.fromEntries(Object.entries(h.calls).map(([k, v]) => [k, +(v / N).toFixed(3)]));
  const counters = Object.fromEntries(h.metrics.filter(([, v]) => v > 0));
  console.log(JSON.stringify({ wasm: h.path, kind: opt.kind, requests: N, cpu_us_per_req: +(h.cpu / N).toFixed(2), wall_us_per_req: +(h.wall / N).toFixed(2),
    batch_us_median: +median(h.batches).toFixed(2), batch_us_min: +Math.min(...h.batches).toFixed(2),
    host_calls_per_req: perReq, statuses: h.statuses, counters }));
}
