// The explanation of one record: the engine's `replay --explain` line for it (built by the
// Wasm `Run.explain`, the same builder as the CLI) and its raw request. Renders into `el`
// with DOM nodes only (record text is never parsed as HTML).
import { ACTIONS } from './colors.js';

function h(tag, props = {}, ...kids) {
  const e = Object.assign(document.createElement(tag), props);
  e.append(...kids.filter((k) => k !== null && k !== undefined).map((k) => (typeof k === 'object' ? k : String(k))));
  return e;
}

const num = (v, d = 3) => (v === undefined || v === null ? '—' : Number.isInteger(v) ? String(v) : (+v.toFixed(d)).toString());

function table(head, rows, cls = '') {
  return h('div', { className: 'wrap' }, h('table', { className: cls },
    h('thead', {}, h('tr', {}, ...head.map((t) => h('th', { scope: 'col' }, t)))),
    h('tbody', {}, ...rows.map((cells) => h('tr', {}, ...cells.map(([v, c]) => h('td', { className: c ?? '' }, v)))))));
}

export function renderExplanation(el, { json, raw, error }, descriptions) {
  if (error) { el.replaceChildren(h('p', { className: 'errors' }, error)); return; }
  const v = JSON.parse(json);
  let rec = {};
  try { rec = JSON.parse(raw); } catch { /* shown raw below */ }
  const label = typeof v.label === 'string' ? v.label : v.label === undefined ? '(unlabeled)' : JSON.stringify(v.label);
  const sum = (v.explain ?? []).reduce((s, r) => s + r.points, 0);
  const reasons = (v.explain ?? []).map((r) => [
    [r.code, 'code'], [num(r.level)], [r.ramp ? `${num(r.ramp[0])} → ${num(r.ramp[1])}` : 'on / off'],
    [num(r.strength)], [num(r.weight)], [num(r.points, 1)]]);
  const measured = (v.measured ?? []).map((m) => [
    [m.code, 'code'], [num(m.level)], [`${num(m.ramp[0])} → ${num(m.ramp[1])}`], [num(m.weight)],
    [m.weight === 0 ? 'weight 0' : m.level <= m.ramp[0] ? 'below its ramp' : 'fired, no points']]);
  const fp = Object.entries(v.fp).map(([k, x]) => [[k, 'code'], [x, 'mono']]);
  const headers = (rec.headers ?? []).map(([n, x]) => [[n, 'mono'], [x, 'mono']]);
  const peer = rec.peer ? Object.entries(rec.peer).map(([k, x]) => `${k} ${x}`).join(' · ') : '—';
  const body = rec.body ?? (rec.body_b64 ? `(base64) ${rec.body_b64}` : '');
  el.replaceChildren(...[
    h('h3', {}, `Line ${v.line} · ${label} · score ${v.score} → `, h('span', { className: `act act-${ACTIONS.indexOf(v.action)}` }, v.action),
      v.enforced !== v.action ? ` (enforced: ${v.enforced}, shadow mode)` : '',
      v.route !== undefined ? ` · route ${v.route}` : ''),
    reasons.length
      ? table(['signal', 'measured level', 'ramp (from → full)', 'strength', 'weight', 'points'], reasons, 'explain')
      : h('p', { className: 'muted' }, 'No signal added points.'),
    reasons.length ? h('p', { className: 'muted' }, `points add up to ${num(sum, 1)}; the score is that, rounded and capped at 100.`) : null,
    h('p', { className: 'muted' }, 'Hover a signal for its meaning.'),
    measured.length ? h('details', {}, h('summary', {}, `Measured, added nothing (${measured.length})`),
      table(['signal', 'measured level', 'ramp (from → full)', 'weight', 'why'], measured)) : null,
    h('h3', {}, 'Fingerprints'), table(['field', 'value'], fp, 'fp'),
    h('h3', {}, `Request: ${rec.method ?? '?'} ${rec.path ?? ''} ${rec.version ?? ''}`),
    h('p', { className: 'muted' }, `peer: ${peer} · time ${new Date(rec.ts_ms ?? 0).toISOString()}`),
    table(['header (wire order)', 'value'], headers, 'headers'),
    body ? h('details', {}, h('summary', {}, `Body (${body.length} characters)`), h('pre', {}, body.slice(0, 4000))) : null,
    h('details', {}, h('summary', {}, 'JSON (as replay --explain prints it)'), h('pre', { className: 'explain-json' }, json)),
  ].filter(Boolean));
  el.dataset.line = v.line;
  for (const td of el.querySelectorAll('table.explain td.code')) td.title = descriptions[td.textContent] ?? '';
}
