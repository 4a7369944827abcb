// Web Worker that owns the Wasm engine, so long batches never block the page.
//
// Messages in:  {type: 'validate', id, policy} | {type: 'load', jsonl}
//               {type: 'run', gen, policy} | {type: 'simulate', id, scenario, seed, limit}
// Messages out: {type: 'ready', catalog, defaultPolicy, canSimulate}
//               {type: 'validated', id, errors, normalized} | {type: 'loaded', lines}
//               {type: 'progress', gen, done, total} | {type: 'result', gen, ...columns}
//               {type: 'simulated', id, lines | error} | {type: 'error', message}
// A newer 'run' (higher gen) makes an older one stop at its next chunk.
import init, * as dg from '../pkg/distill_guard.js';

const CHUNK = 500; // lines per inspectBatch call; progress is reported after each
let lines = [];     // raw capture lines (blank ones kept, so line numbers match the file)
let latest = 0;     // newest run generation requested

const ready = init().then(() => {
  const catalog = JSON.parse(dg.signalCatalog());
  postMessage({ type: 'ready', catalog, defaultPolicy: dg.defaultPolicy(), canSimulate: typeof dg.simulate === 'function' });
}).catch((e) => postMessage({ type: 'error', message: `could not load the engine: ${e.message ?? e}` }));

// Label of a record as one string: strings as is, objects by campaign/name/kind.
function labelName(l) {
  if (l == null) return '(unlabeled)';
  if (typeof l === 'string') return l;
  if (typeof l === 'object') return String(l.campaign ?? l.name ?? l.kind ?? l.label ?? JSON.stringify(l));
  return String(l);
}

const TS = /"ts_ms"\s*:\s*(\d+)/;

async function run(gen, policy) {
  let engine;
  try { engine = new dg.Engine(policy); } catch (e) { postMessage({ type: 'error', message: e.message }); return; }
  const codes = new Map(JSON.parse(dg.signalCatalog()).map((s, i) => [s.code, i]));
  const total = lines.length;
  const scores = [], labels = [], ts = [], lineNo = [], reasonOff = [0], reasonIdx = [], errors = [];
  const labelIds = new Map();
  for (let start = 0; start < total; start += CHUNK) {
    if (gen !== latest) { engine.free(); return; } // superseded
    const out = JSON.parse(engine.inspectBatch(lines.slice(start, start + CHUNK).join('\n'), start + 1));
    for (const v of out) {
      if (v.error) { errors.push({ line: v.line, error: v.error }); continue; }
      const name = labelName(v.label);
      if (!labelIds.has(name)) labelIds.set(name, labelIds.size);
      scores.push(v.score);
      labels.push(labelIds.get(name));
      lineNo.push(v.line);
      const m = TS.exec(lines[v.line - 1]);
      ts.push(m ? Number(m[1]) : 0);
      for (const r of v.reasons) reasonIdx.push(codes.get(r) ?? 0);
      reasonOff.push(reasonIdx.length);
    }
    postMessage({ type: 'progress', gen, done: Math.min(start + CHUNK, total), total });
    await new Promise((r) => setTimeout(r, 0)); // let a newer 'run' message in
  }
  engine.free();
  const cols = {
    scores: Uint8Array.from(scores), labels: Uint16Array.from(labels), ts: Float64Array.from(ts),
    lineNo: Uint32Array.from(lineNo), reasonOff: Uint32Array.from(reasonOff), reasonIdx: Uint8Array.from(reasonIdx),
  };
  // Columns are transferred, not copied.
  postMessage({ type: 'result', gen, labelNames: [...labelIds.keys()], errors, ...cols },
    Object.values(cols).map((a) => a.buffer));
}

onmessage = async ({ data: m }) => {
  await ready;
  switch (m.type) {
    case 'validate': {
      const errors = JSON.parse(dg.validatePolicy(m.policy));
      let normalized = null;
      if (!errors.length) { const e = new dg.Engine(m.policy); normalized = e.policyJson(); e.free(); }
      postMessage({ type: 'validated', id: m.id, errors, normalized });
      break;
    }
    case 'load':
      lines = m.jsonl.split('\n');
      if (lines.at(-1) === '') lines.pop();
      postMessage({ type: 'loaded', lines: lines.filter((l) => l.trim()).length });
      break;
    case 'run':
      latest = m.gen;
      await run(m.gen, m.policy);
      break;
    case 'simulate': // the generated traffic stays here and becomes the loaded capture
      try {
        lines = dg.simulate(m.scenario, Number(m.seed), Number(m.limit)).split('\n');
        if (lines.at(-1) === '') lines.pop();
        postMessage({ type: 'simulated', id: m.id, lines: lines.length });
      } catch (e) { postMessage({ type: 'simulated', id: m.id, error: String(e.message ?? e) }); }
      break;
  }
};
