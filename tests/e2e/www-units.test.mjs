// The tuning page's pure modules in Node (no browser): statistics over verdict columns, the
// policy diff / patch behind the URL state, the undo history, and the label-role defaults.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { ROOT } from './www-harness.mjs';

const www = (f) => import(path.join(ROOT, 'www/js', f));

test('stats: actions, summaries, curve, reasons, time bins, transitions, filters', async () => {
  const stats = await www('stats.js');
  const t = { tag: 30, throttle: 70, deny: 90 };
  assert.deepEqual([0, 29, 30, 69, 70, 89, 90, 100].map((s) => stats.actionOf(s, t)), [0, 0, 1, 1, 2, 2, 3, 3]);
  // Legit (label 0) scores 0, 40; campaign (label 1) 20, 75, 95; "poison" (label 2, ignored) 50.
  const res = {
    labelNames: ['legit', 'camp', 'poison'], scores: Uint8Array.from([0, 20, 40, 75, 95, 50]),
    labels: Uint16Array.from([0, 1, 0, 1, 1, 2]), times: Float64Array.from([0, 1000, 2000, 3000, 4000, 5000]),
    accounts: Uint32Array.from([0, 1, 0xffffffff, 1, 2, 0]), accountNames: ['aa01', 'bb02', 'cc03'],
    reasonOff: Uint32Array.from([0, 0, 1, 2, 3, 5, 6]), reasonSig: Uint8Array.from([0, 1, 1, 1, 2, 2]),
  };
  const kinds = Uint8Array.from([1, 2, 0]);
  const acts = stats.actionsOf(res.scores, t);
  assert.deepEqual([...acts], [0, 0, 1, 2, 3, 1]);
  const sum = stats.roleSummary(res, acts, kinds);
  assert.deepEqual([sum.legitimate.a, sum.campaign.a, sum.ignored.n, sum.all.n], [[1, 1, 0, 0], [1, 0, 1, 1], 1, 6]);
  assert.equal(stats.share(sum.campaign, 2), 2 / 3);
  const curve = stats.thresholdCurve(res, kinds);
  assert.deepEqual(curve.points[19], { t: 20, legit: 0.5, campaign: 1 });
  assert.deepEqual(curve.points[40], { t: 41, legit: 0, campaign: 2 / 3 });
  const top = stats.topReasons(res, acts, kinds, 3);
  assert.deepEqual(top.map((r) => [r.sig, r.legitimate, r.campaign, r.ignored]), [[1, 1, 2, 0], [2, 0, 1, 1]]);
  const ot = stats.overTime(res, acts, 5);
  assert.deepEqual([...ot.labels[1].n], [0, 1, 0, 1, 1]);
  assert.deepEqual([...ot.labels[1].flagged], [0, 0, 0, 1, 1]);
  const tr = stats.transitions(acts, Uint8Array.from([0, 1, 1, 2, 2, 1]));
  assert.equal(tr.differs, 2);
  assert.equal(tr.matrix[3][2], 1);
  const view = (f) => [...stats.filterView(res, acts, kinds, { label: 'any', action: 'any', reason: -1, accountMask: null, other: null, sort: 'order', ...f })];
  assert.deepEqual(view({}), [0, 1, 2, 3, 4, 5]);
  assert.deepEqual(view({ label: 'role:2' }), [1, 3, 4]);
  assert.deepEqual(view({ label: 'label:0', action: 'flagged' }), [2]);
  assert.deepEqual(view({ reason: 2 }), [4, 5]);
  assert.deepEqual(view({ accountMask: Uint8Array.from([0, 1, 0]) }), [1, 3]);
  assert.deepEqual(view({ other: Uint8Array.from([0, 1, 1, 2, 2, 1]) }), [1, 4]);
  assert.deepEqual(view({ sort: 'score-desc' }), [4, 3, 5, 2, 1, 0]);
  assert.deepEqual(view({ sort: 'score-asc', action: '0' }), [0, 1]);
});

test('policy store: diff, patch round trip, undo steps, reset', async () => {
  const { PolicyStore, diffPolicies, patchOf, applyPatch } = await www('policy-store.js');
  const base = { name: 'p', thresholds: { tag: 30, throttle: 70 }, signals: { a: { weight: 1 }, b: { weight: 2 } }, list: [1, 2] };
  const tuned = { ...base, thresholds: { tag: 35, throttle: 70 }, signals: { a: { weight: 9 }, b: { weight: 2 } }, list: [3] };
  const d = diffPolicies(base, tuned);
  assert.deepEqual(d.map((x) => x.path), ['thresholds.tag', 'signals.a.weight', 'list']);
  assert.deepEqual(applyPatch(base, patchOf(d)), tuned);
  assert.deepEqual(applyPatch(base, JSON.parse(JSON.stringify(patchOf(d)))), tuned, 'survives the URL');
  const s = new PolicyStore();
  s.load('x', base);
  for (const w of [3, 4, 5]) s.update((p) => { p.signals.a.weight = w; }, 'w-a'); // one drag
  s.update((p) => { p.thresholds.tag = 40; }, 't-tag');
  assert.equal(s.undoStack.length, 2);
  s.undo();
  assert.equal(s.current.thresholds.tag, 30);
  assert.equal(s.current.signals.a.weight, 5);
  s.undo();
  assert.equal(s.current.signals.a.weight, 1);
  s.redo();
  assert.equal(s.current.signals.a.weight, 5);
  s.reset();
  assert.deepEqual(s.current, base);
  assert.deepEqual(s.diff(), []);
});

test('label roles: legitimate, campaign and ignored defaults', async () => {
  globalThis.localStorage ??= { getItem: () => null, setItem: () => {} };
  const { LabelRoles, scenarioCampaigns } = await www('labels.js');
  const r = new LabelRoles();
  r.addCampaignNames(scenarioCampaigns('{"campaigns": [{"name": "hydra_mixed"}]}'));
  const roles = ['legit', 'Benign', 'human-users', 'hydra_mixed', 'campaign-b', 'poison', 'unknown', '(unlabeled)', 'legitimate'].map((n) => r.role(n));
  assert.deepEqual(roles, ['legitimate', 'legitimate', 'legitimate', 'campaign', 'campaign', 'ignored', 'ignored', 'ignored', 'legitimate']);
  r.set('poison', 'campaign');
  assert.equal(r.role('poison'), 'campaign');
  assert.equal(r.isDefault('poison'), false);
  assert.deepEqual([...r.kinds(['legit', 'poison', 'unknown'])], [1, 2, 0]);
});
