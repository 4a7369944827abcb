// The records table: a virtualized grid over a view (record indices) of a run's columns.
// Only the rows in sight exist in the DOM (a small pool, repositioned on scroll), so 150,000
// records scroll like 30. Keyboard: arrows, Page Up/Down, Home/End move the selection, Enter
// (or a click) opens the record's explanation.
import { ACTIONS } from './colors.js';

const ROW = 26;
const OVERSCAN = 6;

export class RecordsTable {
  constructor(root, { onOpen }) {
    this.root = root;
    this.body = root.querySelector('.rt-body');
    this.spacer = root.querySelector('.rt-spacer');
    this.onOpen = onOpen;
    this.pool = [];
    this.view = new Uint32Array(0);
    this.sel = -1; // position in view
    this.frame = 0;
    root.addEventListener('scroll', () => this.schedule());
    root.addEventListener('keydown', (e) => this.key(e));
    root.addEventListener('click', (e) => {
      const row = e.target.closest('.rt-row');
      if (row) { this.select(Number(row.dataset.pos)); this.open(); }
    });
    new ResizeObserver(() => this.schedule()).observe(root);
  }

  // New data: the run's columns (`res`), the actions, the view and display helpers.
  set(res, acts, view, fmt) {
    const keep = this.sel >= 0 ? this.view[this.sel] : -1;
    this.res = res; this.acts = acts; this.view = view; this.fmt = fmt;
    this.root.classList.toggle('with-routes', res.routeNames.length > 0);
    this.sel = keep >= 0 ? view.indexOf(keep) : -1;
    this.spacer.style.height = `${view.length * ROW}px`;
    this.root.setAttribute('aria-rowcount', String(view.length + 1));
    this.render();
  }

  selected() { return this.sel >= 0 ? this.view[this.sel] : -1; }

  schedule() {
    if (!this.frame) this.frame = requestAnimationFrame(() => { this.frame = 0; this.render(); });
  }

  row(k) {
    while (this.pool.length <= k) {
      const r = document.createElement('div');
      r.className = 'rt-row';
      r.setAttribute('role', 'row');
      for (let c = 0; c < 9; c++) r.append(Object.assign(document.createElement('span'), { role: 'gridcell' }));
      r.children[3].append(document.createElement('span'));
      r.children[4].className = 'rt-route'; // shown when the run's policy has routes
      this.body.append(r);
      this.pool.push(r);
    }
    return this.pool[k];
  }

  render() {
    if (!this.res) return;
    const top = this.root.scrollTop;
    const first = Math.max(0, Math.floor(top / ROW) - OVERSCAN);
    const last = Math.min(this.view.length, Math.ceil((top + this.root.clientHeight) / ROW) + OVERSCAN);
    const { res, acts, fmt } = this;
    let k = 0;
    for (let pos = first; pos < last; pos++, k++) {
      const i = this.view[pos];
      const r = this.row(k);
      r.hidden = false;
      r.style.transform = `translateY(${pos * ROW}px)`;
      r.dataset.pos = pos;
      r.id = `rec-${pos}`;
      r.setAttribute('aria-rowindex', String(pos + 2));
      r.setAttribute('aria-selected', String(pos === this.sel));
      const c = r.children;
      c[0].textContent = res.lines[i];
      c[1].textContent = res.labelNames[res.labels[i]];
      c[2].textContent = res.scores[i];
      const a = c[3].firstChild;
      a.className = `act act-${acts[i]}`;
      a.textContent = ACTIONS[acts[i]];
      c[4].textContent = fmt.route(i);
      c[5].textContent = fmt.time(res.times[i]);
      c[6].textContent = fmt.account(res.accounts[i]);
      c[7].textContent = res.clientNames[res.clients[i]] ?? '';
      c[8].textContent = fmt.reasons(i);
    }
    for (; k < this.pool.length; k++) this.pool[k].hidden = true;
    if (this.sel >= first && this.sel < last) this.root.setAttribute('aria-activedescendant', `rec-${this.sel}`);
    else this.root.removeAttribute('aria-activedescendant');
  }

  select(pos) {
    if (!this.view.length) return;
    this.sel = Math.max(0, Math.min(this.view.length - 1, pos));
    const y = this.sel * ROW;
    const head = ROW; // the sticky header row
    if (y < this.root.scrollTop) this.root.scrollTop = y;
    else if (y + ROW + head > this.root.scrollTop + this.root.clientHeight) this.root.scrollTop = y + ROW + head - this.root.clientHeight;
    this.render();
  }

  open() { if (this.sel >= 0) this.onOpen(this.view[this.sel]); }

  key(e) {
    const page = Math.max(1, Math.floor(this.root.clientHeight / ROW) - 1);
    const moves = { ArrowDown: 1, ArrowUp: -1, PageDown: page, PageUp: -page };
    if (e.key in moves) this.select((this.sel < 0 ? -1 : this.sel) + moves[e.key]);
    else if (e.key === 'Home') this.select(0);
    else if (e.key === 'End') this.select(this.view.length - 1);
    else if (e.key === 'Enter' || e.key === ' ') this.open();
    else return;
    e.preventDefault();
  }
}
