// The suspected-campaigns panel: the campaign report of the loaded capture under the policy
// being tuned, from the core (the same report as the CLI's `distill-guard campaigns`) through
// the worker's 'campaigns' hook (engine-worker.js). One block per campaign: its accounts,
// requests, first and last seen, elicitation, reason mix, keys, the capture's labels of its
// accounts, and its account ids (keyed hashes) to copy into a ban list.
function el(tag, text, props = {}) { return Object.assign(document.createElement(tag), { textContent: text ?? '' }, props); }

const pct = (x) => `${(100 * x).toFixed(1)} %`;
const utc = (ms) => new Date(ms).toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC');

function row(name, ...content) {
  const tr = el('tr');
  tr.append(el('th', name), Object.assign(el('td'), {}));
  tr.lastChild.append(...content.map((c) => (typeof c === 'string' ? document.createTextNode(c) : c)));
  return tr;
}

function campaignBlock(c, i) {
  const d = el('details', '', { open: i < 3, className: 'campaign' });
  d.dataset.id = c.id;
  const labels = (c.labels ?? []).map((l) => `${l.label} ${l.accounts}`).join(', ');
  d.append(el('summary', `#${i + 1} campaign ${c.id} · confidence ${c.confidence} · ${c.accounts.count} accounts · ${pct(c.flagged_share)} of its keys' requests flagged${labels ? ` · labels: ${labels}` : ''}`));
  const t = el('table', '', { className: 'campaign-fields' });
  const keys = el('ul');
  keys.append(...c.keys.map((k) => el('li', `${k.kind} ${k.id}: ${k.accounts} accounts, ${k.flagged} of ${k.requests} requests flagged`)));
  if (c.keys_total > c.keys.length) keys.append(el('li', `… ${c.keys_total - c.keys.length} more keys`, { className: 'muted' }));
  t.append(
    row('accounts', `${c.accounts.count} (estimate ${c.accounts.estimate})`),
    row('requests', `${c.requests.flagged} flagged of ${c.requests.all} from its accounts`),
    row('seen', `${utc(c.first_seen_ms)} … ${utc(c.last_seen_ms)}`),
    row('elicitation', `${pct(c.elicitation_share)} of its flagged requests; mean score ${c.mean_score}`),
    row('reasons', c.reasons.map((r) => `${r.code} ${r.count}`).join(', ')),
    row('keys', keys),
  );
  if (labels) t.append(row('labels', labels));
  const ids = el('textarea', c.accounts.sample.join('\n'), { readOnly: true, rows: Math.min(8, Math.max(2, c.accounts.sample.length)), className: 'campaign-accounts' });
  d.append(t, el('p', `account ids (${c.accounts.sample.length} of ${c.accounts.count}):`), ids);
  return d;
}

export function renderCampaigns(root, answer) {
  if (!answer?.available) {
    root.replaceChildren(el('div', '', { className: 'placeholder', id: 'campaigns-placeholder' }));
    root.firstChild.append(
      el('h3', 'Suspected campaigns'),
      el('p', 'This build of the engine has no campaign report (the same campaign report as the CLI\'s distill-guard campaigns).'),
      el('p', 'Meanwhile: Records, sorted by score, with the account filter, shows which accounts a flagged cluster uses.', { className: 'muted' }));
    return;
  }
  if (answer.error) { root.replaceChildren(el('p', answer.error, { className: 'errors' })); return; }
  const r = answer.report ?? {};
  const list = r.campaigns ?? [];
  const head = el('p', `${r.campaigns_total ?? list.length} suspected campaign(s) with at least ${r.min_accounts} accounts; `
    + `${r.requests} requests, ${r.flagged} flagged, ${r.accounts_tracked} flagged accounts tracked. `
    + 'Accounts are grouped through the cluster keys (client environment, header shape x prefix / ASN, prompt template, task, agent harness) '
    + 'that mostly carry flagged requests; the same report as the CLI\'s distill-guard campaigns.', { className: 'muted', id: 'campaigns-summary' });
  root.replaceChildren(el('h3', `Suspected campaigns (${r.campaigns_total ?? list.length})`), head,
    ...(list.length ? list.map(campaignBlock) : [el('p', 'No flagged cluster of this capture reaches the campaign threshold under this policy.', { id: 'campaigns-none' })]));
}
