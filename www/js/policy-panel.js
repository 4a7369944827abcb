// The policy controls, all views of the one PolicyStore: threshold and weight sliders, the
// diff against the loaded policy, undo / redo / reset, the JSON editor and the export. Every
// store change re-syncs every control; the editor keeps unapplied typing until Apply or Discard.
import { thresholdBounds } from './stats.js';

const $ = (id) => document.getElementById(id);
const T = ['tag', 'throttle', 'deny'];
const fmt = (v) => (v === undefined ? '(none)' : JSON.stringify(v));

export function policyPanel({ store, catalog, validate }) {
  let dirty = false;
  const sliders = new Map(); // key -> {label, input, out}

  // Weight sliders, grouped by signal family.
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
    input.addEventListener('input', () => {
      const v = Number(input.value);
      store.update((p) => { p.signals[s.key] = { ...(p.signals[s.key] ?? {}), weight: v }; }, `w-${s.key}`);
    });
    label.append(name, input, out);
    families.get(s.family).append(label);
    sliders.set(s.key, { label, input, out });
  }
  $('weights').replaceChildren(...families.values());

  // Thresholds: the moved slider stops at its neighbour (the others never move), the neighbours
  // of every route that takes this threshold from the global ones included.
  for (const k of T) {
    $(`t-${k}`).addEventListener('input', (e) => {
      const { lo, hi } = thresholdBounds(store.current, k);
      const want = Number(e.target.value);
      const v = Math.min(hi.v, Math.max(lo.v, want));
      if (v !== want) {
        e.target.value = v;
        const b = want > v ? hi : lo;
        $('threshold-note').textContent = !b.by ? `${k} stops at ${v}.` : b.by === 'global'
          ? `${k} stops at ${b.what} (${v}): move ${b.what} first.`
          : `${k} stops at ${v}: route ${b.by} sets its ${b.what} to ${v} and takes its ${k} from here; change that route in the editor first.`;
      } else $('threshold-note').textContent = 'A threshold stops at its neighbour; 101 means never.';
      store.update((p) => { p.thresholds[k] = v; }, `t-${k}`);
    });
  }

  $('undo').addEventListener('click', () => store.undo());
  $('redo').addEventListener('click', () => store.redo());
  $('reset').addEventListener('click', () => store.reset());
  document.addEventListener('keydown', (e) => {
    if (!(e.ctrlKey || e.metaKey) || e.altKey || e.target.closest('textarea, input[type=text], input[type=search], input[type=number]')) return;
    if (e.key === 'z' && !e.shiftKey) { store.undo(); e.preventDefault(); }
    if (e.key === 'y' || (e.key === 'Z' && e.shiftKey)) { store.redo(); e.preventDefault(); }
  });

  const editor = $('policy-editor');
  editor.addEventListener('input', () => { dirty = true; $('editor-state').textContent = 'unapplied edits: Apply to use them, Discard to drop them'; });
  $('policy-discard').addEventListener('click', () => { dirty = false; $('policy-errors').replaceChildren(); sync(); });
  $('policy-apply').addEventListener('click', async () => {
    const { errors, normalized } = await validate(editor.value);
    showErrors($('policy-errors'), errors);
    if (errors.length) { $('editor-state').textContent = `${errors.length} error(s): nothing applied`; return; }
    dirty = false;
    store.update(() => JSON.parse(normalized), 'editor');
    sync();
    $('editor-state').textContent = 'applied';
  });

  let exportSeq = 0;
  async function refreshExport() {
    const text = store.text();
    $('export-json').value = text;
    const seq = ++exportSeq;
    const { errors } = await validate(text);
    if (seq !== exportSeq) return;
    showErrors($('export-errors'), errors);
    const link = $('export-link');
    if (link.href.startsWith('blob:')) URL.revokeObjectURL(link.href);
    link.href = URL.createObjectURL(new Blob([`${text}\n`], { type: 'application/json' }));
    link.download = `${(store.current.name || 'policy').replace(/[^a-z0-9]+/gi, '-').replace(/^-|-$/g, '').slice(0, 40).toLowerCase() || 'policy'}.json`;
    link.textContent = `download ${link.download}`;
  }
  $('export-copy').addEventListener('click', () => navigator.clipboard?.writeText(store.text()));

  function sync() {
    const p = store.current, b = store.base;
    if (!p) return;
    for (const k of T) { $(`t-${k}`).value = p.thresholds[k]; $(`t-${k}-out`).value = p.thresholds[k]; }
    for (const [key, s] of sliders) {
      const w = p.signals[key]?.weight ?? 0, was = b.signals[key]?.weight ?? 0;
      s.input.value = w;
      s.out.value = w;
      s.label.classList.toggle('changed', w !== was);
      s.input.setAttribute('aria-label', w !== was ? `${key} weight (loaded: ${was})` : `${key} weight`);
    }
    const diff = store.diff();
    $('diff-summary').textContent = diff.length ? `${diff.length} change${diff.length > 1 ? 's' : ''} from the loaded policy` : 'no changes from the loaded policy';
    $('policy-diff').replaceChildren(...diff.map((d) => {
      const li = document.createElement('li');
      li.dataset.path = d.path;
      li.append(`${d.path}: `, Object.assign(document.createElement('del'), { textContent: fmt(d.from) }), ' → ',
        Object.assign(document.createElement('ins'), { textContent: fmt(d.to) }));
      return li;
    }));
    $('undo').disabled = !store.undoStack.length;
    $('redo').disabled = !store.redoStack.length;
    $('reset').disabled = !diff.length;
    $('policy-name').textContent = `${p.name} (${p.mode})${store.source ? ` · loaded from ${store.source}` : ''}`;
    const routes = p.routes ?? [];
    $('routes-note').hidden = !routes.length;
    $('routes-note').textContent = routes.length
      ? `These sliders tune the global settings. The policy's ${routes.length} route(s) (${routes.map((r, i) => r.name ?? i).join(', ')}) keep their own overrides for the requests they match: edit those in the JSON editor; the export keeps them.`
      : '';
    if (!dirty) { editor.value = store.text(); $('editor-state').textContent = ''; }
    refreshExport();
  }

  store.addEventListener('change', sync);
  return { sync };
}

export function showErrors(el, errors) {
  el.replaceChildren(...errors.map((e) => Object.assign(document.createElement('li'), { textContent: e.path ? `${e.path}: ${e.message}` : e.message })));
}
