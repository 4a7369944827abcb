// The suspected-campaigns panel. The campaign report comes from the core (the same module as
// the CLI's `distill-guard campaigns`) through the worker's 'campaigns' hook
// (engine-worker.js): when the Wasm `Run` exports it, `renderCampaigns` lists its clusters and
// their accounts; until then the panel says that this build has no campaign report.
function el(tag, text, props = {}) { return Object.assign(document.createElement(tag), { textContent: text ?? '' }, props); }

export function renderCampaigns(root, answer) {
  if (!answer?.available) {
    root.replaceChildren(el('div', '', { className: 'placeholder', id: 'campaigns-placeholder' }));
    root.firstChild.append(
      el('h3', 'Suspected campaigns'),
      el('p', 'This panel will list the suspected campaigns of the loaded capture (clusters and their accounts), from the same campaign report as the CLI. This build of the engine has no campaign report yet.'),
      el('p', 'Meanwhile: Records, sorted by score, with the account filter, shows which accounts a flagged cluster uses.', { className: 'muted' }));
    return;
  }
  if (answer.error) { root.replaceChildren(el('p', answer.error, { className: 'errors' })); return; }
  // A generic rendering until the report's shape is settled: each campaign's fields, then its accounts.
  const list = Array.isArray(answer.report) ? answer.report : answer.report?.campaigns ?? [];
  root.replaceChildren(el('h3', `Suspected campaigns (${list.length})`), ...list.map((c, i) => {
    const d = el('details', '', { open: i < 3 });
    const { accounts = [], ...rest } = c ?? {};
    d.append(el('summary', `${i + 1}. ${Object.entries(rest).slice(0, 4).map(([k, v]) => `${k} ${typeof v === 'object' ? JSON.stringify(v) : v}`).join(' · ')}`),
      el('pre', JSON.stringify(rest, null, 2)), el('p', `accounts (${accounts.length}): ${accounts.slice(0, 50).join(', ')}${accounts.length > 50 ? ', …' : ''}`));
    return d;
  }));
}
