// The Records view: filter controls (label or role, action, reason, policy route, account,
// differs from B, sort), the virtualized table and the drill-down of the selected record.
import { RecordsTable } from './records.js';
import { renderExplanation } from './drilldown.js';
import { filterView, NO_ROUTE } from './stats.js';

const $ = (id) => document.getElementById(id);
const ROLE_NAMES = ['ignored', 'legitimate', 'campaign'];

// `ctx()` returns {res, acts, kinds, actsB} of the moment; `explain(index, gen)` asks the worker.
export function recordsView({ ctx, explain, catalog }) {
  const codes = catalog.map((s) => s.code);
  const descriptions = Object.fromEntries(catalog.map((s) => [s.code, s.description]));
  let accountMask = null;
  let openSeq = 0;

  const table = new RecordsTable($('records'), {
    onOpen: async (i) => {
      const { res } = ctx();
      const seq = ++openSeq;
      const answer = await explain(i, res.gen);
      if (seq === openSeq) renderExplanation($('drilldown'), answer, descriptions);
    },
  });

  let timer = 0;
  const update = () => refresh(true); // a new filter or order starts at the top
  for (const id of ['f-label', 'f-action', 'f-reason', 'f-route', 'f-sort', 'f-differs']) $(id).addEventListener('change', update);
  $('f-account').addEventListener('input', () => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      const q = $('f-account').value.trim().toLowerCase();
      const { res } = ctx();
      accountMask = q && res ? Uint8Array.from(res.accountNames, (a) => (a.includes(q) ? 1 : 0)) : null;
      refresh(true);
    }, 150);
  });

  // Options that depend on the run: labels and roles, reasons present.
  function setOptions(res) {
    const keep = (sel, opts) => {
      const v = sel.value;
      sel.replaceChildren(...opts.map(([value, text]) => new Option(text, value)));
      if (opts.some(([value]) => value === v)) sel.value = v;
    };
    keep($('f-label'), [['any', 'any'], ...[1, 2, 0].map((k) => [`role:${k}`, `role: ${ROLE_NAMES[k]}`]),
      ...res.labelNames.map((n, i) => [`label:${i}`, n])]);
    const present = new Uint8Array(codes.length);
    for (const s of res.reasonSig) present[s] = 1;
    keep($('f-reason'), [['-1', 'any'], ...codes.map((c, i) => [String(i), c]).filter(([i]) => present[i])]);
    keep($('f-route'), [['-1', 'any'], ...res.routeNames.map((n, i) => [String(i), n]), [String(NO_ROUTE), '(no route)']]);
    $('f-route-label').hidden = !res.routeNames.length;
    if (!res.routeNames.length) $('f-route').value = '-1';
    const q = $('f-account').value.trim().toLowerCase();
    accountMask = q ? Uint8Array.from(res.accountNames, (a) => (a.includes(q) ? 1 : 0)) : null;
  }

  function refresh(top = false) {
    const { res, acts, kinds, actsB } = ctx();
    if (!res) return;
    $('f-differs').disabled = !actsB;
    const f = {
      label: $('f-label').value, action: $('f-action').value, reason: Number($('f-reason').value),
      accountMask, other: actsB && $('f-differs').checked ? actsB : null, route: Number($('f-route').value), sort: $('f-sort').value,
    };
    const view = filterView(res, acts, kinds, f);
    $('records-count').textContent = `${view.length.toLocaleString('en')} of ${res.n.toLocaleString('en')} records`;
    if (top) $('records').scrollTop = 0;
    table.set(res, acts, view, {
      time: (t) => new Date(t).toISOString().slice(5, 19).replace('T', ' '),
      account: (a) => (a === 0xffffffff ? '—' : res.accountNames[a]),
      route: (i) => res.routeNames[res.routes[i]] ?? '',
      reasons: (i) => {
        let s = '';
        for (let j = res.reasonOff[i]; j < res.reasonOff[i + 1]; j++) s += (s ? ', ' : '') + codes[res.reasonSig[j]];
        return s;
      },
    });
  }

  // Sets filters (from the next-step line or the compare view) and opens the first record.
  function apply(filter) {
    for (const [k, v] of Object.entries({ label: 'any', action: 'any', reason: '-1', route: '-1', sort: 'order', ...filter })) {
      const el = $(`f-${k}`);
      if (el.type === 'checkbox') el.checked = !!v; else el.value = v;
    }
    if (!('differs' in filter)) $('f-differs').checked = false;
    $('f-account').value = filter.account ?? '';
    accountMask = null;
    refresh(true);
    table.select(0);
    table.open();
  }

  return { setOptions, refresh, apply, render: () => table.render(), focus: () => $('records').focus() };
}
