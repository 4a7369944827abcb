// The tuning page: loads policies and captures, runs them in the engine worker, and renders
// the summary, label roles and the four views. The policy being tuned lives in one
// PolicyStore (policy-store.js); a structural change re-runs the capture (debounced while a
// slider moves), a threshold move re-classifies at once.
import { startWorker } from './worker-client.js';
import { PolicyStore, savedPolicy, applyPatch } from './policy-store.js';
import { policyPanel, showErrors } from './policy-panel.js';
import { LabelRoles, scenarioCampaigns } from './labels.js';
import * as stats from './stats.js';
import * as plot from './plots.js';
import { labelColors } from './colors.js';
import { recordsView } from './records-view.js';
import { renderSummary, renderRoles, nextStep, renderRoutes } from './summary.js';
import { renderCompare } from './compare.js';
import { renderCampaigns } from './campaigns.js';

const $ = (id) => document.getElementById(id);
const store = new PolicyStore();
const roles = new LabelRoles();
const engine = startWorker(onEvent);

let catalog = [];
let builtin = '{}';
let records = null;       // the Records view
let res = null;           // the last result of policy A (columns + names)
let resB = null;          // policy B's result, its policy and name
let gen = 0;
const gens = { a: 0, b: 0 };
let capture = { seq: 0, name: '', bytes: 0, t0: 0, timed: false };
let lastRun = null;       // the policy of the last A run requested
let tab = 'overview';

const validate = (text) => engine.ask('validate', { policy: text });
const debounce = (fn, ms) => { let t; return (...a) => { clearTimeout(t); t = setTimeout(() => fn(...a), ms); }; };

function status(text, state) {
  const s = $('status');
  s.textContent = text;
  s.dataset.state = state;
}

// --- runs ----------------------------------------------------------------------------------
function run(slot, policy) {
  gens[slot] = ++gen;
  engine.post('run', { slot, gen: gens[slot], policy: JSON.stringify(policy) });
  return gens[slot];
}

let soon = 0;
function runA() {
  clearTimeout(soon);
  if (!store.current || !capture.bytes) return;
  lastRun = JSON.parse(JSON.stringify(store.current));
  run('a', lastRun);
  status('scoring…', 'running');
}
const runASoon = () => { clearTimeout(soon); soon = setTimeout(runA, 250); };

const rest = (p) => JSON.stringify({ ...p, thresholds: null });
// The tag threshold enters the scores themselves when cross-request state is on:
// account.flag_history learns from past verdicts (flagged = score >= tag), and the crowd signals
// (cluster.*, rate.prefix, rate.fp) of an established, ordinary account are held under tag.
// A tag move re-runs when the policy or one of its routes weighs any of them.
const TAG_SIGNALS = (code) => code === 'account.flag_history' || code.startsWith('cluster.') || code === 'rate.prefix' || code === 'rate.fp';
const tagMatters = (p) => p.state?.enabled !== false
  && [p, ...(p.routes ?? [])].some((x) => catalog.some((s) => TAG_SIGNALS(s.code) && (x.signals?.[s.key]?.weight ?? 0) > 0));

const persistSoon = debounce(() => store.persist(), 300);

store.addEventListener('change', ({ detail: { kind } }) => {
  persistSoon();
  if (!capture.bytes || !store.current) return;
  const p = store.current;
  const structural = !lastRun || rest(p) !== rest(lastRun);
  const tagMoved = lastRun && p.thresholds.tag !== lastRun.thresholds.tag && tagMatters(p);
  if (structural || tagMoved) {
    if (kind.startsWith('w-') || kind.startsWith('t-')) { runASoon(); status('re-scoring soon…', 'running'); } else runA();
  }
  render();
});

function onEvent(m) {
  switch (m.type) {
    case 'ready': catalog = m.catalog; builtin = m.defaultPolicy; start(m.canSimulate); break;
    case 'progress':
      if (m.gen !== gens[m.slot]) break;
      if (m.slot === 'a') {
        $('progress').value = m.done / m.total;
        status(`scoring… ${Math.round((100 * m.done) / m.total)}% (${m.records.toLocaleString('en')} records)`, 'running');
      } else $('compare-status').textContent = `running B… ${Math.round((100 * m.done) / m.total)}%`;
      break;
    case 'result': onResult(m); break;
    case 'run-error':
      if (m.slot === 'a') { status(`policy error: ${m.message}`, 'error'); showErrors($('policy-errors'), m.errors); } else $('compare-status').textContent = m.message;
      break;
    case 'error': status(m.message, 'error'); break;
  }
}

function onResult(m) {
  if (m.gen !== gens[m.slot]) return;
  m.capture = capture.seq;
  if (m.slot === 'b') {
    resB.res = m;
    $('compare-status').textContent = `B scored ${m.n.toLocaleString('en')} records in ${(m.ms / 1000).toFixed(1)} s`;
    render();
    return;
  }
  res = m;
  $('progress').value = 1;
  const s = $('status');
  if (!capture.timed) { capture.timed = true; s.dataset.ms = Math.round(performance.now() - capture.t0); }
  s.dataset.runMs = Math.round(m.ms);
  s.dataset.gen = m.gen;
  s.dataset.records = m.n;
  status(`scored ${m.n.toLocaleString('en')} records in ${(m.ms / 1000).toFixed(1)} s`, 'done');
  const e = m.errors;
  $('capture-info').textContent = `${capture.name}: ${m.n.toLocaleString('en')} records${e.count ? `, ${e.count.toLocaleString('en')} unreadable line(s)` : ''}`
    + `; deployment checks: ${m.checks}`;
  showErrors($('capture-errors'), [
    ...e.first.slice(0, 5).map((x) => ({ path: `line ${x.line}`, message: x.error })),
    ...(e.count > 5 ? [{ message: `… and ${e.count - 5} more unreadable lines; the rest loaded` }] : []),
  ]);
  // The engine's deployment check (README "Deployment checks"): the first finding and how often.
  const n = m.notices ?? [];
  showErrors($('capture-notices'), n.slice(0, 1).map((x) => ({ path: `line ${x.line}`, message: `${x.message}${n.length > 1 ? ` (${n.length} notices in this capture)` : ''}` })));
  records.setOptions(m);
  render();
}

// --- rendering -----------------------------------------------------------------------------
let cache = { res: null, key: '', acts: null };
function ctx() {
  if (!res) return { res: null };
  const t = store.current.thresholds;
  const routeT = stats.routeThresholds(store.current);
  const key = JSON.stringify([t, routeT]);
  if (cache.res !== res || cache.key !== key) cache = { res, key, acts: stats.actionsOf(res.scores, t, res.routes, routeT) };
  const b = resB?.res && resB.res.capture === res.capture && resB.res.n === res.n ? resB : null;
  if (b && !b.acts) b.acts = stats.actionsOf(b.res.scores, b.policy.thresholds, b.res.routes, stats.routeThresholds(b.policy));
  return { res, acts: cache.acts, kinds: roles.kinds(res.labelNames), actsB: b?.acts ?? null, b, t };
}

function render() {
  const c = ctx();
  if (!c.res) return;
  const sum = stats.roleSummary(c.res, c.acts, c.kinds);
  renderSummary($('summary-table').tBodies[0], sum);
  const [text, action] = nextStep(sum);
  $('next-text').textContent = text;
  const btn = $('next-action');
  btn.hidden = !action;
  if (action) { btn.textContent = action.label; btn.onclick = () => { selectTab('records'); records.apply(action.filter); }; }
  const rows = stats.perLabel(c.res, c.acts);
  const colors = labelColors(c.res.labelNames, (n) => roles.role(n));
  renderRoles($('roles').tBodies[0], rows, roles, colors, (name, role) => { roles.set(name, role); render(); });
  if (tab === 'overview') renderOverview(c, rows, colors, sum);
  if (tab === 'records') records.refresh();
  if (tab === 'compare') renderCompareView(c);
  if (tab === 'campaigns') refreshCampaigns();
}

function renderOverview(c, rows, colors, sum) {
  $('routes-summary').hidden = !c.res.routeNames.length;
  if (c.res.routeNames.length) {
    renderRoutes($('route-table').tBodies[0], stats.perRoute(c.res, c.acts, c.kinds, c.res.routeNames), store.current, stats.routeThresholds(store.current));
  }
  plot.overTime($('plot-time'), stats.overTime(c.res, c.acts), c.res.labelNames, colors);
  plot.histogram($('plot-hist'), stats.histogram(c.res, c.kinds), sum.legitimate.n + sum.campaign.n > 0, c.t);
  plot.curve($('plot-curve'), stats.thresholdCurve(c.res, c.kinds, (store.current.routes ?? []).map((r) => r.thresholds?.tag ?? null)), c.t.tag);
  plot.actionBars($('plot-actions'), rows, colors);
  plot.reasonBars($('plot-reasons'), stats.topReasons(c.res, c.acts, c.kinds, catalog.length), catalog.map((s) => s.code));
}

function renderCompareView(c) {
  if (!c.b) { $('compare-result').replaceChildren(); return; }
  renderCompare($('compare-result'), {
    nameA: `${store.current.name} (being tuned)`, nameB: c.b.name, n: c.res.n,
    sumA: stats.roleSummary(c.res, c.acts, c.kinds), sumB: stats.roleSummary(c.b.res, c.actsB, c.kinds),
    trans: stats.transitions(c.acts, c.actsB),
    onShow: () => { selectTab('records'); records.apply({ differs: true }); },
  });
}

async function refreshCampaigns() {
  renderCampaigns($('campaigns'), await engine.ask('campaigns', { slot: 'a' }));
}

// --- tabs ----------------------------------------------------------------------------------
const TABS = ['overview', 'records', 'compare', 'campaigns'];
function selectTab(name) {
  tab = name;
  for (const t of TABS) {
    const b = $(`tab-${t}`);
    b.setAttribute('aria-selected', String(t === name));
    b.tabIndex = t === name ? 0 : -1;
    $(`view-${t}`).hidden = t !== name;
  }
  render();
  if (name === 'records') records.render();
}
for (const t of TABS) $(`tab-${t}`).addEventListener('click', () => selectTab(t));
$('tabs').addEventListener('keydown', (e) => {
  const d = { ArrowRight: 1, ArrowLeft: -1 }[e.key];
  if (!d) return;
  const next = TABS[(TABS.indexOf(tab) + d + TABS.length) % TABS.length];
  selectTab(next);
  $(`tab-${next}`).focus();
  e.preventDefault();
});
new ResizeObserver(debounce(() => { if (tab === 'overview') render(); }, 100)).observe($('view-overview'));

// --- policies ------------------------------------------------------------------------------
async function policyText(source) {
  if (source === 'builtin') return builtin;
  const r = await fetch(source);
  if (!r.ok) throw new Error(`${source}: HTTP ${r.status}`);
  return r.text();
}

// Loads a policy as the new base; `patch` (from a link) or `current` (from localStorage) tune it.
async function loadPolicy(source, text, { patch = null, current = null } = {}) {
  const { errors, normalized } = await validate(text);
  showErrors($('policy-errors'), errors);
  if (errors.length) { status(`the policy has ${errors.length} error(s); still using the previous one`, 'error'); return false; }
  const base = JSON.parse(normalized);
  let tuned = current ?? (patch ? applyPatch(base, patch) : base);
  if (tuned !== base) {
    const v = await validate(JSON.stringify(tuned));
    if (v.errors.length) { showErrors($('policy-errors'), v.errors); tuned = base; } else tuned = JSON.parse(v.normalized);
  }
  store.load(source, base, tuned);
  if ([...$('policy-select').options].some((o) => o.value === source)) $('policy-select').value = source;
  return true;
}

async function listPolicies() {
  let names = [];
  try { names = await (await fetch('filters/index.json')).json(); } catch { /* not built: the built-in policy only */ }
  const opts = [...names.map((n) => [`filters/${n}`, `filters/${n}`]), ['builtin', 'built-in defaults']];
  $('policy-select').replaceChildren(...opts.map(([v, t]) => new Option(t, v)));
  $('compare-select').replaceChildren(new Option('the loaded policy (before tuning)', 'base'),
    new Option('a snapshot of the tuned policy now', 'snapshot'), ...opts.map(([v, t]) => new Option(t, v)));
  return names.includes('default.json') ? 'filters/default.json' : 'builtin';
}

// --- captures ------------------------------------------------------------------------------
// Loads a capture (or `simulate`s one) into the worker; on failure the previous one stays.
async function loadCapture(name, getBytes, simulated = null) {
  const t0 = performance.now();
  status(`loading ${name}…`, 'running');
  let r;
  try {
    if (simulated) r = await engine.ask('simulate', simulated);
    else { const buf = await getBytes(); r = await engine.ask('load', { bytes: buf }, [buf]); }
  } catch (e) { r = { error: e.message }; }
  if (r.error) {
    status(`could not load ${name}: ${r.error}${res ? ' (the previous capture stays loaded)' : ''}`, 'error');
    return;
  }
  capture = { seq: capture.seq + 1, name, bytes: r.bytes, t0, timed: false };
  res = null;
  resB = null;
  for (const id of ['capture-errors', 'compare-result', 'drilldown']) $(id).replaceChildren();
  $('capture-info').textContent = `${name}: ${(r.bytes / 1e6).toFixed(1)} MB`;
  runA();
}

async function fetchBytes(url) {
  const r = await fetch(url);
  if (!r.ok) throw new Error(`HTTP ${r.status}`);
  return r.arrayBuffer();
}

async function loadScenarios() {
  try { roles.addCampaignNames(scenarioCampaigns(await (await fetch('samples/sample-scenario.json')).text())); } catch { /* optional */ }
  let names = [];
  try { names = await (await fetch('scenarios/index.json')).json(); } catch { return []; }
  const texts = await Promise.all(names.map((n) => fetch(`scenarios/${n}`).then((r) => r.text()).catch(() => '{}')));
  texts.forEach((t) => roles.addCampaignNames(scenarioCampaigns(t)));
  return names.map((n, i) => [n, texts[i]]);
}

// --- start-up ------------------------------------------------------------------------------
async function start(canSimulate) {
  policyPanel({ store, catalog, validate });
  records = recordsView({ ctx, catalog, explain: (index, g) => engine.ask('explain', { slot: 'a', gen: g, index }) });
  const [fallback, scenarios] = await Promise.all([listPolicies(), loadScenarios()]);

  const saved = savedPolicy();
  let ok = false;
  try {
    if (saved?.patch) ok = await loadPolicy(saved.source, await policyText(saved.source), { patch: saved.patch });
    else if (saved) ok = await loadPolicy(saved.source, JSON.stringify(saved.base), { current: saved.current });
  } catch (e) { status(`could not restore the saved policy: ${e.message}`, 'error'); }
  if (!ok) await loadPolicy(fallback, await policyText(fallback));

  $('policy-select').addEventListener('change', async (e) => loadPolicy(e.target.value, await policyText(e.target.value)));
  $('policy-file').addEventListener('change', async (e) => {
    const f = e.target.files[0];
    if (f) await loadPolicy(`file:${f.name}`, await f.text());
  });
  $('capture-select').addEventListener('change', (e) => loadCapture(e.target.value, () => fetchBytes(e.target.value)));
  $('capture-file').addEventListener('change', (e) => {
    const f = e.target.files[0];
    if (f) loadCapture(f.name, () => f.arrayBuffer());
  });
  $('compare-run').addEventListener('click', compareRun);

  if (canSimulate && scenarios.length) {
    $('sim-panel').hidden = false;
    $('sim-select').replaceChildren(...scenarios.map(([n]) => new Option(n, n)));
    const show = () => { $('sim-scenario').value = scenarios.find(([n]) => n === $('sim-select').value)?.[1] ?? '{}'; };
    $('sim-select').addEventListener('change', show);
    show();
    $('sim-run').addEventListener('click', simulate);
  }
  loadCapture($('capture-select').value, () => fetchBytes($('capture-select').value));
}

function simulate() {
  const scenario = $('sim-scenario').value;
  const without = $('sim-without').value;
  roles.addCampaignNames(scenarioCampaigns(scenario));
  return loadCapture(`simulated (seed ${$('sim-seed').value}${without ? `, without ${without}` : ''})`, null,
    { scenario, seed: $('sim-seed').value, limit: $('sim-limit').value, without });
}

async function compareRun() {
  if (!capture.bytes) return;
  const v = $('compare-select').value;
  let policy, name;
  if (v === 'base') { policy = store.base; name = `${store.base.name} (as loaded)`; } else if (v === 'snapshot') {
    policy = store.current; name = `snapshot of the tuned policy at ${new Date().toLocaleTimeString()}`;
  } else {
    const { errors, normalized } = await validate(await policyText(v));
    if (errors.length) { $('compare-status').textContent = `${v}: ${errors.length} error(s)`; return; }
    policy = JSON.parse(normalized); name = v;
  }
  resB = { policy: JSON.parse(JSON.stringify(policy)), name, res: null, acts: null };
  $('compare-status').textContent = 'running B…';
  run('b', resB.policy);
}
