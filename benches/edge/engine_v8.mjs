// The edge worker's module alone in V8 (Node's): what its engine calls cost per request without
// workerd, to compare builds of the module (opt-levels, wasm-opt passes) more finely than
// benches/edge_load.sh can resolve.
//   usage: node benches/edge/engine_v8.mjs [--pkg DIR]... [--policy FILE] [--kind post|get]
//                                          [--requests N] [--distinct N] [--batch N] [--rounds N]
// --pkg: a directory holding a wasm-bindgen build of the module (distill_guard.js and
// distill_guard_bg.wasm, as edge/pkg; default edge/pkg). With several, each runs in a Node process
// of its own (modules sharing one process showed a large bias by their position), one after the
// other, for --rounds rounds (default 3), so that other load on the machine hits them alike; the
// line per module then carries the median over rounds of each round's figures. Per request, as edge/worker.mjs does: the request head in the packed
// text format (edge/record.mjs: Fetch headers, lowercased and sorted) -> inspectHeaders; for a
// POST decided at its headers with a learn ticket, the ~4 KB body -> learnBody. The requests are
// shaped like benches/envoy/load.lua's (the Anthropic Python SDK's headers; --distinct accounts,
// default 100,000, each with its own X-Forwarded-For address and prompt of pseudo-words).
// Policy: filters/default.json with proxy.trusted_hops 1 unless --policy names another.
// Prints one JSON line per module: the median and minimum over its batches of wall-clock us per
// request, for the whole request and for the header phase alone (batch minimum: least disturbed).
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { execFileSync } from "node:child_process";

const { values: opt } = parseArgs({
  options: {
    pkg: { type: "string", multiple: true, default: ["edge/pkg"] },
    policy: { type: "string" },
    kind: { type: "string", default: "post" },
    requests: { type: "string", default: "40000" },
    distinct: { type: "string", default: "100000" },
    batch: { type: "string", default: "500" },
    rounds: { type: "string", default: "3" },
  },
});
const med = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };
if (opt.pkg.length > 1) {
  // One process per module and round; the rounds interleave the modules.
  const rows = new Map(opt.pkg.map((p) => [p, []]));
  const args = process.argv.slice(2).filter((a, i, all) => a !== "--pkg" && all[i - 1] !== "--pkg" && !a.startsWith("--pkg="));
  for (let r = 0; r < Number(opt.rounds); r++) {
    for (const p of opt.pkg) {
      const out = execFileSync(process.execPath, [new URL(import.meta.url).pathname, ...args, "--pkg", p], { encoding: "utf8" });
      rows.get(p).push(JSON.parse(out.trim().split("\n").pop()));
    }
  }
  for (const [p, rs] of rows) {
    const row = { ...rs[0], rounds: rs.length };
    for (const k of ["us_per_req_median", "us_per_req_min", "headers_us_median", "headers_us_min"]) {
      row[k] = med(rs.map((x) => x[k]));
      row[`${k}_range`] = [Math.min(...rs.map((x) => x[k])), Math.max(...rs.map((x) => x[k]))];
    }
    console.log(JSON.stringify(row));
  }
  process.exit(0);
}
const post = opt.kind === "post";
if (!post && opt.kind !== "get") throw new Error(`--kind must be post or get, got ${opt.kind}`);
const [requests, distinct, batch] = [opt.requests, opt.distinct, opt.batch].map(Number);

let policy;
if (opt.policy) policy = readFileSync(opt.policy, "utf8");
else {
  const p = JSON.parse(readFileSync("filters/default.json", "utf8"));
  (p.proxy ??= {}).trusted_hops = 1;
  policy = JSON.stringify(p);
}

// Seeded pseudo-words, as load.lua: 8,192 prompts of ~3,900 bytes over a 4,000-word vocabulary.
let seed = 42;
const rand = (n) => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed % n; };
const vocab = Array.from({ length: 4000 }, () => Array.from({ length: 3 + rand(7) }, () => String.fromCharCode(97 + rand(26))).join(""));
const enc = new TextEncoder();
const bodies = Array.from({ length: 8192 }, () => {
  const words = [];
  for (let len = 0; len < 3900; ) { const w = vocab[rand(vocab.length)]; words.push(w); len += w.length + 1; }
  return enc.encode(`{"model":"claude-sonnet-4-5","max_tokens":4096,"temperature":0.2,"system":"You are a helpful assistant.","messages":[{"role":"user","content":"${words.join(" ")}"}]}`);
});

// The SDK's headers as a Fetch Headers object iterates them: lowercased, sorted.
function head(a) {
  const h = {
    host: "api.example.com", "accept-encoding": "gzip, deflate", connection: "keep-alive",
    "x-stainless-timeout": "600", "x-stainless-retry-count": "0", "x-stainless-read-timeout": "600",
    accept: "application/json", "user-agent": "Anthropic/Python 2.14.0", "x-stainless-lang": "python",
    "x-stainless-package-version": "2.14.0", "x-stainless-os": "Linux", "x-stainless-arch": "x64",
    "x-stainless-runtime": "CPython", "x-stainless-runtime-version": "3.11.7", "x-stainless-async": "false",
    "anthropic-version": "2026-10-21", authorization: `Bearer sk-ant-api03-${a.toString(16).padStart(8, "0")}-bench`,
    "x-forwarded-for": `${20 + Math.floor(a / 65536)}.${Math.floor(a / 256) % 256}.${a % 256}.7`,
  };
  if (post) { h["content-type"] = "application/json"; h["content-length"] = String(bodies[a % bodies.length].length); }
  let s = `${post ? "POST" : "GET"}\nhttp://api.example.com${post ? "/v1/messages" : "/v1/models"}\n\n\n\n\n\nbench-${a}`;
  for (const name of Object.keys(h).sort()) s += `\n${name}\n${h[name]}`;
  return s;
}
const heads = Array.from({ length: distinct }, (_, a) => head(a));

// One module per process (several --pkg: the child processes above).
const [dir] = opt.pkg;
const wasm = readFileSync(resolve(dir, "distill_guard_bg.wasm"));
const js = await import(pathToFileURL(resolve(dir, "distill_guard.js")).href);
js.initSync({ module: wasm });
const engine = new js.Engine(policy);
const all = [], headerTimes = [];
let learned = 0, next = 0;

function run(n, keep) {
  let th = 0;
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    const a = next++ % distinct;
    const h0 = performance.now();
    const out = engine.inspectHeaders(heads[a], post, -1, 1_000_000 + next).split("\n");
    th += performance.now() - h0;
    const ticket = Number(out[2]);
    if (post && out[0] === "forward" && ticket !== 0) learned += engine.learnBody(ticket, bodies[a % bodies.length], true) ? 1 : 0;
  }
  if (keep) { all.push((performance.now() - t0) * 1000 / n); headerTimes.push(th * 1000 / n); }
}

const warm = Math.min(20000, requests);
run(warm, false); // warm-up: JIT, state
for (let done = 0; done < requests; done += batch) run(batch, true);

const r2 = (x) => Math.round(x * 100) / 100;
console.log(JSON.stringify({
  pkg: dir, bytes: wasm.length, kind: opt.kind, requests, learned_share: r2(learned / (warm + requests)),
  us_per_req_median: r2(med(all)), us_per_req_min: r2(Math.min(...all)),
  headers_us_median: r2(med(headerTimes)), headers_us_min: r2(Math.min(...headerTimes)),
}));
