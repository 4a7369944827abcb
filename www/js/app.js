// The tuning page: policy and traffic loading, sliders, summary table and plots.
// The engine runs in a Web Worker (engine-worker.js). Thresholds re-classify the last
// result at once (scores do not depend on them); weights re-run the batch, debounced.
import { perLabel, thresholdCurve, topReasons } from './stats.js';
import * as plot from './plots.js';

const $ = (id) => document.getElementById(id);
const worker = new Worker(new URL('./engine-worker.js', import.meta.url), { type: 'module' });

let catalog = [];   // signal catalogue from the engine
let policy = null;  // normalized policy object being tuned
let result = null;  // latest batch result (columns)
let gen = 0;        // generation of the latest requested run
const waiting = new Map(); // request id -> resolve, for validate / simulate
let nextId = 0;

function ask(type, payload) {
  const id = ++nextId;
  return new Promise((resolve) => { waiting.set(id, resolve); worker.postMessage({ type, id, ...payload }); });
}

function status(text, state) { const s = $('status'); s.textContent = text; s.dataset.state = state; }

function showErrors(el, errors) {
  el.replaceChildren(...errors.map((e) => {
    const li = document.createElement('li');
    li.textContent = e.path ? `${e.path}: ${e.message}` : e.message;
    return li;
  }));
}

function debounce(fn, ms) { let t; return (...a) => { clearTimeout(t); t = setTimeout(() => fn(...a), ms); }; }

// --- policy ----------------------------------------------------------------------------
async function applyPolicy(text) {
  const { errors, normalized } = await ask('validate', { policy: text });
  showErrors($('policy-errors'), errors);
  if (errors.length) { status(`policy has ${errors.length} error(s); still showing the previous one`, 'error'); return false; }
  policy = JSON.parse(normalized);
  $('policy-name').textContent = `running: ${policy.name} (${policy.mode})`;
  buildSliders();
  rerun();
  return true;
}

async function loadPolicyUrl(url) {
  const text = url === 'builtin' ? builtinPolicy : await (await fetch(url)).text();
  $('policy-editor').value = text;
  return applyPolicy(text);
}

let builtinPolicy = '{}';

async function listPolicies() {
  const opts = [['samples/sample-policy.json', 'sample-policy.json (for the sample capture)']];
  try {
    const names = await (await fetch('filters/index.json')).json();
    for (const n of names) opts.push([`filters/${n}`, `filters/${n}`]);
  } catch { /* no shipped filters copied: only the sample and the built-in policy */ }
  opts.push(['builtin', 'built-in defaults']);
  $('policy-select').replaceChildren(...opts.map(([v, t]) => new Option(t, v)));
}

// --- sliders ---------------------------------------------------------------------------
const T = ['tag', 'throttle', 'deny'];

function syncThresholdInputs() {
  for (const k of T) { $(`t-${k}`).value = policy.thresholds[k]; $(`t-${k}-out`).value = policy.thresholds[k]; }
}

function onThreshold(k, v) {
  const t = policy.thresholds;
  t[k] = v;
  // Keep tag <= throttle <= deny by pushing the others.
  if (k === 'tag') { t.throttle = Math.max(t.throttle, v); t.deny = Math.max(t.deny, t.throttle); }
  if (k === 'throttle') { t.tag = Math.min(t.tag, v); t.deny = Math.max(t.deny, v); }
  if (k === 'deny') { t.throttle = Math.min(t.throttle, v); t.tag = Math.min(t.tag, t.throttle); }
  syncThresholdInputs();
  render();
}

const rerunSoon = debounce(() => rerun(), 200);

function buildSliders() {
  syncThresholdInputs();
  const families = new Map();
  for (const s of catalog) {
    if (!families.has(s.family)) {
      const fs = document.createElement('fieldset');
      fs.append(Object.assign(document.createElement('legend'), { textContent: s.family }));
      families.set(s.family, fs);
    }
    const label = document.createElement('label');
    label.title = s.description;
    const name = Object.assign(document.createElement('span'), { textContent: s.code });
    const input = Object.assign(document.createElement('input'), { type: 'range', min: 0, max: 100, id: `w-${s.key}` });
    const out = document.createElement('output');
    input.value = out.value = policy.signals[s.key]?.weight ?? s.weight;
    input.addEventListener('input', () => {
      out.value = input.value;
      policy.signals[s.key] = { ...(policy.signals[s.key] ?? {}), weight: Number(input.value) };
      rerunSoon();
    });
    label.append(name, input, out);
    families.get(s.family).append(label);
  }
  $('weights').replaceChildren(...families.values());
}

// --- runs and rendering ----------------------------------------------------------------
function rerun() {
  if (!policy || !capturedLines) return;
  gen++;
  status('running…', 'running');
  worker.postMessage({ type: 'run', gen, policy: JSON.stringify(policy) });
}

let capturedLines = 0;

function loadCapture(text, name) {
  result = null;
  $('capture-info').textContent = `loading ${name}…`;
  worker.postMessage({ type: 'load', jsonl: text });
}

const pct = (x) => `${(x * 100).toFixed(1)}%`;

function render() {
  if (!result || !policy) return;
  const t = policy.thresholds;
  const rows = perLabel(result, t);
  $('summary').tBodies[0].replaceChildren(...rows.map((r) => {
    const tr = document.createElement('tr');
    const first = r.firstFlagged === null ? '—' : `#${r.firstFlagged} (+${(r.delayMs / 1000).toFixed(1)} s)`;
    for (const v of [r.name, r.count, r.meanScore.toFixed(1), pct(r.flaggedShare), pct(r.throttledShare), pct(r.deniedShare), first]) {
      tr.append(Object.assign(document.createElement('td'), { textContent: String(v) }));
    }
    return tr;
  }));
  const c = thresholdCurve(result);
  const cur = c.points[t.tag - 1] ?? { legit: 0, campaign: 0 };
  $('totals').textContent = `${result.scores.length} records, ${result.errors.length} unreadable; at tag ${t.tag}: `
    + `campaign flagged ${pct(cur.campaign)} of ${c.campaignN}, legit flagged ${pct(cur.legit)} of ${c.legitN}`;
  plot.histogram($('plot-hist'), rows, t);
  plot.shareBars($('plot-share'), rows);
  plot.curve($('plot-curve'), c, t.tag);
  plot.reasonBars($('plot-reasons'), topReasons(result, t, catalog));
}

worker.onmessage = ({ data: m }) => {
  switch (m.type) {
    case 'ready': catalog = m.catalog; builtinPolicy = m.defaultPolicy; start(m.canSimulate); break;
    case 'validated': case 'simulated': waiting.get(m.id)?.(m); waiting.delete(m.id); break;
    case 'loaded':
      capturedLines = m.lines;
      $('capture-info').textContent = `${m.lines} records loaded`;
      rerun();
      break;
    case 'progress':
      if (m.gen === gen) { $('progress').value = m.done / m.total; status(`running… ${m.done} / ${m.total} lines`, 'running'); }
      break;
    case 'result':
      if (m.gen !== gen) break;
      result = m;
      showErrors($('capture-errors'), m.errors.slice(0, 5).map((e) => ({ path: `line ${e.line}`, message: e.error })));
      status(`done: ${m.scores.length} records scored`, 'done');
      $('status').dataset.gen = m.gen;
      render();
      break;
    case 'error': status(m.message, 'error'); break;
  }
};
worker.onerror = (e) => status(`worker error: ${e.message}`, 'error');

// --- wiring ----------------------------------------------------------------------------
async function start(canSimulate) {
  await listPolicies();
  $('policy-select').addEventListener('change', (e) => loadPolicyUrl(e.target.value));
  $('policy-file').addEventListener('change', async (e) => {
    const f = e.target.files[0];
    if (f) { const text = await f.text(); $('policy-editor').value = text; applyPolicy(text); }
  });
  $('policy-apply').addEventListener('click', () => applyPolicy($('policy-editor').value));
  for (const k of T) $(`t-${k}`).addEventListener('input', (e) => policy && onThreshold(k, Number(e.target.value)));
  $('capture-select').addEventListener('change', async (e) => loadCapture(await (await fetch(e.target.value)).text(), e.target.value));
  $('capture-file').addEventListener('change', async (e) => {
    const f = e.target.files[0];
    if (f) loadCapture(await f.text(), f.name);
  });
  $('export').addEventListener('click', exportPolicy);
  if (canSimulate) await setupSimulator();
  await loadPolicyUrl($('policy-select').value);
  loadCapture(await (await fetch($('capture-select').value)).text(), $('capture-select').value);
}

// The simulator panel: shipped scenarios (www/scenarios, copied by the build) or edited JSON.
async function setupSimulator() {
  $('sim-panel').hidden = false;
  let names = [];
  try { names = await (await fetch('scenarios/index.json')).json(); } catch { /* none shipped */ }
  $('sim-select').replaceChildren(new Option('(edit below)', ''), ...names.map((n) => new Option(n, `scenarios/${n}`)));
  $('sim-select').addEventListener('change', async (e) => {
    if (e.target.value) $('sim-scenario').value = await (await fetch(e.target.value)).text();
  });
  $('sim-run').addEventListener('click', async () => {
    status('simulating…', 'running');
    const r = await ask('simulate', { scenario: $('sim-scenario').value, seed: $('sim-seed').value, limit: $('sim-limit').value });
    if (r.error) { status(`simulator: ${r.error}`, 'error'); return; }
    capturedLines = r.lines;
    $('capture-info').textContent = `${r.lines} simulated records (seed ${$('sim-seed').value})`;
    rerun();
  });
}

async function exportPolicy() {
  if (!policy) return;
  const out = { ...policy, name: policy.name.endsWith('(tuned)') ? policy.name : `${policy.name} (tuned)` };
  const text = JSON.stringify(out, null, 2);
  const { errors } = await ask('validate', { policy: text });
  showErrors($('export-errors'), errors);
  $('export-json').value = errors.length ? '' : text;
  const link = $('export-link');
  if (link.href) URL.revokeObjectURL(link.href);
  link.href = URL.createObjectURL(new Blob([text + '\n'], { type: 'application/json' }));
  link.hidden = errors.length > 0;
}
