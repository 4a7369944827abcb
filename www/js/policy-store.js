// The one policy being tuned. Every control reads from and writes to this store: the sliders,
// the JSON editor and the export all show `current`; `base` is the policy as loaded, for the
// diff and "reset". Changes are undoable (a slider drag is one step), and `persist` keeps the
// tuned policy in localStorage and the URL hash so a reload (or a shared link) restores it.
// No DOM here except `location` / `localStorage` in persist / restore.

const clone = (x) => JSON.parse(JSON.stringify(x));
const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);
const isObj = (x) => x !== null && typeof x === 'object' && !Array.isArray(x);

// Leaf differences between two policy objects: [{path, from, to}], arrays compared whole.
export function diffPolicies(a, b, path = '') {
  const out = [];
  const keys = new Set([...Object.keys(a ?? {}), ...Object.keys(b ?? {})]);
  for (const k of keys) {
    const p = path ? `${path}.${k}` : k;
    const x = a?.[k], y = b?.[k];
    if (isObj(x) && isObj(y)) out.push(...diffPolicies(x, y, p));
    else if (!same(x, y)) out.push({ path: p, from: x, to: y });
  }
  return out;
}

// A merge patch (nested object of changed leaves) from a diff, and its application.
export function patchOf(diff) {
  const patch = {};
  for (const { path, to } of diff) {
    const keys = path.split('.');
    let o = patch;
    for (const k of keys.slice(0, -1)) o = o[k] ??= {};
    o[keys.at(-1)] = to === undefined ? null : to;
  }
  return patch;
}

export function applyPatch(obj, patch) {
  const out = clone(obj);
  (function merge(o, p) {
    for (const [k, v] of Object.entries(p)) {
      if (isObj(v) && isObj(o[k])) merge(o[k], v);
      else if (v === null) delete o[k];
      else o[k] = clone(v);
    }
  })(out, patch);
  return out;
}

export class PolicyStore extends EventTarget {
  constructor() {
    super();
    this.source = null; // where the base came from: 'filters/x.json', 'builtin', 'file:name', ...
    this.base = null;
    this.current = null;
    this.undoStack = [];
    this.redoStack = [];
    this.lastKey = null;
    this.lastAt = 0;
  }

  emit(kind) { this.dispatchEvent(new CustomEvent('change', { detail: { kind } })); }

  // A newly loaded (validated, normalized) policy: base and current, history cleared.
  load(source, normalized, current = normalized) {
    this.source = source;
    this.base = clone(normalized);
    this.current = clone(current);
    this.undoStack = [];
    this.redoStack = [];
    this.lastKey = null;
    this.emit('load');
  }

  // Changes `current` with `mutate(copy)` (which may return a replacement). Successive
  // changes with the same `key` within a second are one undo step (a slider drag).
  update(mutate, key = null) {
    const now = performance.now();
    const next = clone(this.current);
    const replaced = mutate(next) ?? next;
    if (same(replaced, this.current)) return;
    if (!(key && key === this.lastKey && now - this.lastAt < 1000)) {
      this.undoStack.push(JSON.stringify(this.current));
      if (this.undoStack.length > 200) this.undoStack.shift();
    }
    this.redoStack = [];
    this.lastKey = key;
    this.lastAt = now;
    this.current = replaced;
    this.emit(key ?? 'edit');
  }

  undo() { this.step(this.undoStack, this.redoStack, 'undo'); }
  redo() { this.step(this.redoStack, this.undoStack, 'redo'); }
  step(from, to, kind) {
    if (!from.length) return;
    to.push(JSON.stringify(this.current));
    this.current = JSON.parse(from.pop());
    this.lastKey = null;
    this.emit(kind);
  }

  reset() { this.update(() => clone(this.base), 'reset'); }
  text() { return JSON.stringify(this.current, null, 2); }
  diff() { return diffPolicies(this.base, this.current); }

  // Saves to localStorage, and to the URL hash as `policy=SOURCE&tuned=PATCH` when the base can
  // be fetched again (a shipped or built-in policy); a base from a file is in localStorage only.
  persist() {
    const fetchable = !this.source.startsWith('file:');
    try { localStorage.setItem('dg.policy', JSON.stringify({ source: this.source, base: this.base, current: this.current })); } catch { /* storage off */ }
    const params = new URLSearchParams(location.hash.slice(1));
    params.set('policy', fetchable ? this.source : 'local');
    const d = this.diff();
    if (d.length && fetchable) params.set('tuned', JSON.stringify(patchOf(d))); else params.delete('tuned');
    history.replaceState(null, '', `#${params}`);
  }
}

// What to restore at start-up: {source, patch} from the hash, or from localStorage: a patch for
// a base that can be fetched again (so a newer shipped file is what gets tuned), else
// {source, base, current}; or null.
export function savedPolicy() {
  const params = new URLSearchParams(location.hash.slice(1));
  let stored = null;
  try { stored = JSON.parse(localStorage.getItem('dg.policy') ?? 'null'); } catch { /* ignore */ }
  const source = params.get('policy');
  if (source && source !== 'local') {
    let patch = {};
    try { patch = JSON.parse(params.get('tuned') ?? '{}'); } catch { /* a damaged link: the base alone */ }
    return { source, patch };
  }
  if (!stored?.base || !stored?.current || !stored.source) return null;
  if (!stored.source.startsWith('file:')) return { source: stored.source, patch: patchOf(diffPolicies(stored.base, stored.current)) };
  return stored;
}
