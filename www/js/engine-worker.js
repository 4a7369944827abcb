// Web Worker that owns the Wasm engine and the capture, so long runs never block the page.
//
// The capture is kept as bytes (gunzipped when it starts with the gzip magic). A run feeds it
// in ~1 MB chunks of whole lines to a Wasm `Run` (one fresh engine per run) and answers with
// the verdict columns as transferred typed arrays. Two slots: 'a' (the policy being tuned)
// and 'b' (the comparison policy). The last finished run of a slot is kept for explanations.
//
// In:  {type:'validate', id, policy} | {type:'load', id, bytes} | {type:'simulate', id, scenario, seed, limit}
//      {type:'run', slot, gen, policy} | {type:'explain', id, slot, gen, index} | {type:'campaigns', id, slot}
// Out: {type:'ready', catalog, defaultPolicy, canSimulate} | replies with the request's id
//      {type:'progress', slot, gen, done, total} | {type:'result', slot, gen, ...columns}
//      {type:'run-error', slot, gen, message, errors} | {type:'error', message}
// A newer 'run' of a slot (higher gen) makes an older one stop at its next chunk.
import init, * as dg from '../pkg/distill_guard.js';

const CHUNK = 1 << 20;
let capture = new Uint8Array(0);
const latest = { a: 0, b: 0 };
const shown = { a: null, b: null }; // {run, gen, offsets, lengths}

const ready = init().then(() => {
  postMessage({ type: 'ready', catalog: JSON.parse(dg.signalCatalog()), defaultPolicy: dg.defaultPolicy(),
    canSimulate: typeof dg.simulate === 'function' });
}).catch((e) => postMessage({ type: 'error', message: `could not load the engine: ${e.message ?? e}` }));

// A macrotask yield without setTimeout's 4 ms clamp, so a queued newer 'run' gets in.
const yieldNow = () => new Promise((resolve) => {
  const c = new MessageChannel();
  c.port1.onmessage = () => resolve();
  c.port2.postMessage(0);
});

async function gunzipIfNeeded(bytes) {
  if (bytes.length < 2 || bytes[0] !== 0x1f || bytes[1] !== 0x8b) return bytes;
  const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream('gzip'));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

function dropRuns() {
  for (const s of ['a', 'b']) { shown[s]?.run.free(); shown[s] = null; latest[s]++; }
}

// The names of the run policy's routes as verdicts give them (`name`, else the index).
function routeNames(policy) {
  try { return (JSON.parse(policy).routes ?? []).map((r, i) => r.name ?? String(i)); } catch { return []; }
}

async function run(slot, gen, policy) {
  let r;
  try { r = new dg.Run(policy); } catch (e) {
    postMessage({ type: 'run-error', slot, gen, message: e.message, errors: e.errors ?? [] });
    return;
  }
  const t0 = performance.now();
  let off = 0, line = 1;
  while (off < capture.length) {
    if (latest[slot] !== gen) { r.free(); return; } // superseded
    let end = Math.min(capture.length, off + CHUNK);
    if (end < capture.length) {
      const k = capture.lastIndexOf(10, end - 1);
      end = k >= off ? k + 1 : (capture.indexOf(10, end) + 1 || capture.length);
    }
    line += r.feed(capture.subarray(off, end), line, off);
    off = end;
    postMessage({ type: 'progress', slot, gen, done: off, total: capture.length, records: r.length });
    await yieldNow();
  }
  if (latest[slot] !== gen) { r.free(); return; }
  const cols = {
    scores: r.scores(), labels: r.labels(), times: r.times(), lines: r.lines(), accounts: r.accounts(),
    clients: r.clients(), reasonOff: r.reasonOffsets(), reasonSig: r.reasonSignals(), routes: r.routes(),
  };
  const meta = {
    n: r.length, labelNames: JSON.parse(r.labelNames()), accountNames: JSON.parse(r.accountNames()),
    clientNames: JSON.parse(r.clientNames()), errors: JSON.parse(r.errors()), ms: performance.now() - t0,
    notices: JSON.parse(r.notices()),
    checks: r.checks(),
    routeNames: routeNames(policy),
  };
  shown[slot]?.run.free();
  shown[slot] = { run: r, gen, offsets: r.offsets(), lengths: r.lengths() };
  postMessage({ type: 'result', slot, gen, ...meta, ...cols }, Object.values(cols).map((a) => a.buffer));
}

function explain(m) {
  const s = shown[m.slot];
  if (!s || s.gen !== m.gen) return { error: 'these results were replaced; select the record again' };
  const start = s.offsets[m.index];
  const bytes = capture.subarray(start, start + s.lengths[m.index]);
  try {
    return { json: s.run.explain(m.index, bytes), raw: new TextDecoder().decode(bytes) };
  } catch (e) { return { error: String(e.message ?? e) }; }
}

// The campaign report hook: the core's campaign report (the CLI's `distill-guard campaigns`)
// of the slot's last run; a build whose `Run` lacks it answers `available: false` and the page
// shows its placeholder.
function campaigns(m) {
  const r = shown[m.slot]?.run;
  if (!r || typeof r.campaigns !== 'function') return { available: false };
  try { return { available: true, report: JSON.parse(r.campaigns()) }; } catch (e) { return { available: true, error: String(e.message ?? e) }; }
}

onmessage = async ({ data: m }) => {
  await ready;
  const reply = (body) => postMessage({ id: m.id, ...body });
  switch (m.type) {
    case 'validate': {
      const errors = JSON.parse(dg.validatePolicy(m.policy));
      let normalized = null;
      if (!errors.length) { const e = new dg.Engine(m.policy); normalized = e.policyJson(); e.free(); }
      reply({ errors, normalized });
      break;
    }
    case 'load':
      try {
        capture = await gunzipIfNeeded(new Uint8Array(m.bytes));
        dropRuns();
        reply({ bytes: capture.length });
      } catch (e) { reply({ error: `could not read the capture: ${e.message ?? e}` }); }
      break;
    case 'simulate': // the generated traffic becomes the loaded capture
      try {
        capture = new TextEncoder().encode(dg.simulate(m.scenario, Number(m.seed), Number(m.limit), m.without || undefined));
        dropRuns();
        reply({ bytes: capture.length });
      } catch (e) { reply({ error: String(e.message ?? e) }); }
      break;
    case 'run':
      latest[m.slot] = m.gen;
      await run(m.slot, m.gen, m.policy);
      break;
    case 'explain': reply(explain(m)); break;
    case 'campaigns': reply(campaigns(m)); break;
  }
};
