// The sticky summary (flagged / throttled / denied per label role, or over all records when
// nothing is labelled), the label-roles table and the one line that says what to do next.
import { ROLES } from './labels.js';
import { share } from './stats.js';

const pct = (x) => `${(x * 100).toFixed(x > 0 && x < 0.01 ? 2 : 1)}%`;

function cells(tr, values) {
  for (const v of values) tr.append(Object.assign(document.createElement('td'), { textContent: String(v) }));
  return tr;
}

// Summary rows: one per role present (ignored shown with its count only), else "all records".
export function renderSummary(tbody, sum) {
  const labelled = sum.legitimate.n + sum.campaign.n > 0;
  const rows = labelled ? ['legitimate', 'campaign'].filter((r) => sum[r].n) : ['all'];
  const trs = rows.map((r) => {
    const c = sum[r];
    const tr = document.createElement('tr');
    tr.dataset.role = r;
    const name = Object.assign(document.createElement('td'), { textContent: r === 'all' ? 'all records' : r });
    if (r !== 'all') name.prepend(Object.assign(document.createElement('span'), { className: 'swatch', style: `background: var(--${r === 'legitimate' ? 'legit' : 'campaign'})` }));
    tr.append(name);
    return cells(tr, [c.n.toLocaleString('en'), pct(share(c, 1)), pct(share(c, 2)), pct(share(c, 3))]);
  });
  if (labelled && sum.ignored.n) {
    const tr = document.createElement('tr');
    tr.dataset.role = 'ignored';
    trs.push(cells(tr, ['ignored', sum.ignored.n.toLocaleString('en'), '—', '—', '—']));
  }
  tbody.replaceChildren(...trs);
}

// The label-roles table: each label with its count, flagged share and a role select.
export function renderRoles(tbody, rows, roles, colors, onChange) {
  tbody.replaceChildren(...rows.map((r, i) => {
    const tr = document.createElement('tr');
    tr.dataset.label = r.name;
    const name = Object.assign(document.createElement('td'), { textContent: r.name });
    name.prepend(Object.assign(document.createElement('span'), { className: 'swatch', style: `background: ${colors[i]}` }));
    tr.append(name);
    cells(tr, [r.n.toLocaleString('en'), pct(r.n ? 1 - r.a[0] / r.n : 0)]);
    const sel = document.createElement('select');
    sel.setAttribute('aria-label', `role of ${r.name}`);
    const def = roles.defaultRole(r.name);
    for (const role of ROLES) sel.append(new Option(role === def ? `${role} (default)` : role, role));
    sel.value = roles.role(r.name);
    sel.addEventListener('change', () => onChange(r.name, sel.value));
    const td = document.createElement('td');
    td.append(sel);
    tr.append(td);
    return tr;
  }));
}

// The next step, from the summary: [text, {label, filter} | null].
export function nextStep(sum) {
  const l = sum.legitimate, c = sum.campaign;
  if (!l.n && !c.n) {
    return ['No label marks legitimate or campaign traffic here: set the label roles, or read the score distribution and open the highest-scored records.',
      { label: 'Show the highest scores', filter: { label: 'any', action: 'any', sort: 'score-desc' } }];
  }
  const lf = share(l, 1), cf = share(c, 1);
  if (l.n && lf > 0.01) {
    return [`${pct(lf)} of legitimate records are flagged (target: at most 1%). Open them to see which signals fire, then lower those weights or raise the tag threshold.`,
      { label: 'Show flagged legitimate records', filter: { label: 'role:1', action: 'flagged', sort: 'score-desc' } }];
  }
  if (c.n && cf < 0.9) {
    return [`${pct(1 - cf)} of campaign records pass unflagged. Open them to see what they lack, then raise the weights of signals they do show.`,
      { label: 'Show unflagged campaign records', filter: { label: 'role:2', action: '0', sort: 'score-desc' } }];
  }
  return [`Campaigns ${pct(cf)} flagged, legitimate ${pct(lf)}: this policy fits this capture. Next: load your own capture (JSONL, labels optional), compare against another policy, or export.`, null];
}

// What a policy route matches, in words: "POST /v1/messages", "GET|HEAD /v1/models*".
export function routeMatch(route) {
  const m = route?.match ?? {};
  const methods = [m.method ?? []].flat().join('|');
  const path = m.path ?? (m.prefix !== undefined ? `${m.prefix}*` : '*');
  return methods ? `${methods} ${path}` : path;
}

// The per-route table: one row per policy route (its match, mode, thresholds merged over the
// global ones), then the records no route matched; records and flagged shares per role.
// `rows` from stats.perRoute, `policy` the tuned policy, `routeT` its routes' merged thresholds.
export function renderRoutes(tbody, rows, policy, routeT) {
  const routes = policy.routes ?? [];
  tbody.replaceChildren(...rows.map((r) => {
    const tr = document.createElement('tr');
    const route = r.name === null ? null : routes[r.route];
    const t = route ? routeT[r.route] : policy.thresholds;
    tr.dataset.route = r.name ?? '';
    const roleShare = (c) => (c.n ? pct(share(c, 1)) : '—');
    return cells(tr, [r.name ?? '(no route)', r.name === null ? 'everything else' : routeMatch(route),
      !route ? policy.mode : route.mode ?? `${policy.mode} (global)`,
      t ? `${t.tag} / ${t.throttle} / ${t.deny}` : '—', r.all.n.toLocaleString('en'),
      roleShare(r.legitimate), roleShare(r.campaign), roleShare(r.all), r.all.n ? pct(share(r.all, 3)) : '—']);
  }));
}
