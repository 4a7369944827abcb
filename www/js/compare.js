// The comparison view: what policy A (being tuned) and policy B flag on the same capture,
// and how many records change action (a 4 x 4 transition table); the records table filters
// to those records on request.
import { ACTIONS } from './colors.js';
import { share } from './stats.js';

const pct = (x) => `${(x * 100).toFixed(x > 0 && x < 0.01 ? 2 : 1)}%`;

function el(tag, text, props = {}) { return Object.assign(document.createElement(tag), { textContent: text ?? '' }, props); }
function row(cells, head = false) {
  const tr = document.createElement('tr');
  cells.forEach((c, i) => tr.append(el(head || i === 0 ? 'th' : 'td', c, head ? { scope: 'col' } : i === 0 ? { scope: 'row' } : {})));
  return tr;
}
function table(id, head, rows) {
  const t = el('table', '', { id });
  t.append(el('thead'), el('tbody'));
  t.tHead.append(row(head, true));
  for (const r of rows) t.tBodies[0].append(row(r));
  return t;
}

export function renderCompare(root, { nameA, nameB, sumA, sumB, trans, n, onShow }) {
  const roles = sumA.legitimate.n + sumA.campaign.n ? ['legitimate', 'campaign'].filter((r) => sumA[r].n) : ['all'];
  const rows = roles.map((r) => [r === 'all' ? 'all records' : r,
    pct(share(sumA[r], 1)), pct(share(sumB[r], 1)), pct(share(sumA[r], 2)), pct(share(sumB[r], 2)), pct(share(sumA[r], 3)), pct(share(sumB[r], 3))]);
  const show = el('button', `Show the ${trans.differs.toLocaleString('en')} records in Records`, { type: 'button', id: 'compare-show' });
  show.disabled = !trans.differs;
  show.addEventListener('click', onShow);
  root.replaceChildren(
    el('p', `A: ${nameA}`), el('p', `B: ${nameB}`),
    table('compare-table', ['', 'A flagged', 'B flagged', 'A throttle+', 'B throttle+', 'A denied', 'B denied'], rows),
    el('p', `${trans.differs.toLocaleString('en')} of ${n.toLocaleString('en')} records (${pct(n ? trans.differs / n : 0)}) change action from A to B.`, { id: 'compare-differs' }),
    table('compare-matrix', ['A \\ B', ...ACTIONS], trans.matrix.map((r, a) => [ACTIONS[a], ...r.map((x) => x.toLocaleString('en'))])),
    show,
  );
}
