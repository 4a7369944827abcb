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

test('stats: records scored by a policy route are classified at its merged thresholds', async () => {
  const stats = await www('stats.js');
  const policy = { thresholds: { tag: 30, throttle: 70, deny: 90 },
    routes: [{ match: { path: '/a' }, thresholds: { deny: 50, throttle: 40 } }, { match: { prefix: '/b' } }, { match: { path: '/c' }, thresholds: { tag: 80 } }] };
  const routeT = stats.routeThresholds(policy);
  assert.deepEqual(routeT, [{ tag: 30, throttle: 40, deny: 50 }, { tag: 30, throttle: 70, deny: 90 }, { tag: 80, throttle: 70, deny: 90 }]);
  // A global threshold moved in the page moves the routes that do not override it.
  assert.deepEqual(stats.routeThresholds(policy, { tag: 35, throttle: 70, deny: 90 })[0], { tag: 35, throttle: 40, deny: 50 });
  const scores = Uint8Array.from([55, 55, 55, 55, 55]);
  const routes = Uint16Array.from([stats.NO_ROUTE, 0, 1, 2, stats.NO_ROUTE]);
  assert.deepEqual([...stats.actionsOf(scores, policy.thresholds, routes, routeT)], [1, 3, 1, 0, 1]);
  assert.deepEqual([...stats.actionsOf(scores, policy.thresholds)], [1, 1, 1, 1, 1], 'without the column: the global thresholds');
  // The trade-off curve: a record on a route with its own tag threshold does not move with the global one.
  const res = { scores: Uint8Array.from([55, 20]), labels: Uint16Array.from([0, 0]), routes: Uint16Array.from([2, stats.NO_ROUTE]) };
  const curve = stats.thresholdCurve(res, Uint8Array.from([1]), policy.routes.map((r) => r.thresholds?.tag ?? null));
  assert.deepEqual([curve.points[9].legit, curve.points[59].legit], [0.5, 0]);
});

test('stats: per-route rows, the route filter, threshold bounds that keep every route ordered', async () => {
  const stats = await www('stats.js');
  // Route 0 "m": a legit 10 (allow) and a campaign 60 (deny at m's 50); route 1 "b": a campaign 40
  // (tag); no route: a legit 35 (tag) and an ignored 95 (deny).
  const res = { labels: Uint16Array.from([0, 1, 1, 0, 2]), scores: Uint8Array.from([10, 60, 40, 35, 95]),
    routes: Uint16Array.from([0, 0, 1, stats.NO_ROUTE, stats.NO_ROUTE]) };
  const acts = Uint8Array.from([0, 3, 1, 1, 3]);
  const kinds = [1, 2, 0];
  const rows = stats.perRoute(res, acts, kinds, ['m', 'b']);
  assert.deepEqual(rows.map((r) => [r.route, r.name, r.all.n, r.legitimate.n, r.campaign.n, r.ignored.n]),
    [[0, 'm', 2, 1, 1, 0], [1, 'b', 1, 0, 1, 0], [stats.NO_ROUTE, null, 2, 1, 0, 1]]);
  assert.deepEqual([rows[0].campaign.a, rows[2].legitimate.a], [[0, 0, 0, 1], [0, 1, 0, 0]]);
  const f = { label: 'any', action: 'any', reason: -1, accountMask: null, other: null, sort: 'order' };
  res.reasonOff = new Uint32Array(6);
  assert.deepEqual([...stats.filterView(res, acts, kinds, { ...f, route: 0 })], [0, 1]);
  assert.deepEqual([...stats.filterView(res, acts, kinds, { ...f, route: stats.NO_ROUTE })], [3, 4]);
  assert.deepEqual([...stats.filterView(res, acts, kinds, { ...f, route: -1 })], [0, 1, 2, 3, 4]);
  assert.deepEqual([...stats.filterView({ ...res, routes: undefined }, acts, kinds, { ...f, route: stats.NO_ROUTE })], [0, 1, 2, 3, 4],
    'a run without the column: every record is on no route');

  // Global thresholds 30 / 70 / 90; route b sets throttle 50 only, so the global tag may not pass
  // 50; route m sets all three and never stops a global slider.
  const policy = { thresholds: { tag: 30, throttle: 70, deny: 90 },
    routes: [{ name: 'm', thresholds: { tag: 20, throttle: 45, deny: 60 } }, { name: 'b', thresholds: { throttle: 50 } }, { thresholds: { deny: 75 } }] };
  const b = (k) => { const x = stats.thresholdBounds(policy, k); return [x.lo.v, x.lo.by, x.hi.v, x.hi.by]; };
  assert.deepEqual(b('tag'), [1, null, 50, 'b']);
  assert.deepEqual(b('throttle'), [30, 'global', 75, '2'], 'the unnamed route 2 (deny 75) by its index');
  assert.deepEqual(b('deny'), [70, 'global', 101, null]);
  assert.deepEqual(stats.thresholdBounds({ thresholds: policy.thresholds }, 'tag').hi, { v: 70, by: 'global', what: 'throttle' });
});

test('route match in words', async () => {
  const { routeMatch } = await www('summary.js');
  assert.equal(routeMatch({ match: { path: '/v1/messages', method: 'POST' } }), 'POST /v1/messages');
  assert.equal(routeMatch({ match: { prefix: '/v1/models', method: ['GET', 'HEAD'] } }), 'GET|HEAD /v1/models*');
  assert.equal(routeMatch({ match: { prefix: '/v1/' } }), '/v1/*');
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
