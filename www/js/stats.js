// Pure statistics over a run's verdict columns (engine-worker.js) — no DOM. `res` holds
// typed arrays indexed by record: scores, labels, times, accounts, reasonOff/reasonSig.
// `kinds[label]` is the label's role (0 ignored, 1 legitimate, 2 campaign; labels.js).
// The action of a score at given thresholds follows the policy's rule (score >= deny -> deny,
// >= throttle -> throttle, >= tag -> tag), so a threshold move re-classifies at once; scores
// themselves always come from the engine.

export const ROLE_KEYS = ['ignored', 'legitimate', 'campaign'];

// 0 allow, 1 tag, 2 throttle, 3 deny.
export function actionOf(score, t) {
  return score >= t.deny ? 3 : score >= t.throttle ? 2 : score >= t.tag ? 1 : 0;
}

// No policy route scored the record (the `routes` column of a run).
export const NO_ROUTE = 0xffff;

// Each policy route's thresholds merged over the global ones `t`, in `routes` order (a route
// changes only the thresholds it names).
export const routeThresholds = (policy, t = policy.thresholds) => (policy.routes ?? []).map((r) => ({ ...t, ...(r.thresholds ?? {}) }));

// What the global threshold `k` may move to so that every threshold set stays ordered (tag <=
// throttle <= deny): the global one and each route's that takes `k` from the global. `lo` / `hi`
// name what stops the slider there ('global' or the route's name, else its index).
export function thresholdBounds(policy, k) {
  const sets = [['global', policy.thresholds],
    ...(policy.routes ?? []).map((r, i) => [r.name ?? String(i), r.thresholds ?? {}]).filter(([, o]) => o[k] === undefined)
      .map(([name, o]) => [name, { ...policy.thresholds, ...o }])];
  let lo = { v: 1, by: null }, hi = { v: k === 'tag' ? 100 : 101, by: null };
  const below = { tag: null, throttle: 'tag', deny: 'throttle' }[k], above = { tag: 'throttle', throttle: 'deny', deny: null }[k];
  for (const [name, t] of sets) {
    if (below && t[below] > lo.v) lo = { v: t[below], by: name, what: below };
    if (above && t[above] < hi.v) hi = { v: t[above], by: name, what: above };
  }
  return { lo, hi };
}

// The action of every record, by a 101-entry lookup table per threshold set: a record scored
// by policy route r (`routes[i]`) is classified at `routeT[r]`, the others at `t`.
export function actionsOf(scores, t, routes = null, routeT = []) {
  const tables = [t, ...routeT].map((x) => Uint8Array.from({ length: 101 }, (_, s) => actionOf(s, x)));
  const out = new Uint8Array(scores.length);
  if (!routes || !routeT.length) {
    for (let i = 0; i < scores.length; i++) out[i] = tables[0][scores[i]];
    return out;
  }
  for (let i = 0; i < scores.length; i++) out[i] = (tables[routes[i] + 1] ?? tables[0])[scores[i]];
  return out;
}

const counts = () => ({ n: 0, a: [0, 0, 0, 0] });
export const share = (c, from) => (c.n ? c.a.slice(from).reduce((x, y) => x + y, 0) / c.n : 0);

// Actions per role and over all records: {legitimate, campaign, ignored, all: {n, a[4]}}.
export function roleSummary(res, acts, kinds) {
  const out = { ignored: counts(), legitimate: counts(), campaign: counts(), all: counts() };
  const byRole = [out.ignored, out.legitimate, out.campaign];
  for (let i = 0; i < acts.length; i++) {
    const c = byRole[kinds[res.labels[i]]];
    c.n++; c.a[acts[i]]++;
    out.all.n++; out.all.a[acts[i]]++;
  }
  return out;
}

// Per label: {name, n, a[4], meanScore}.
export function perLabel(res, acts) {
  const rows = res.labelNames.map((name) => ({ name, n: 0, a: [0, 0, 0, 0], sum: 0 }));
  for (let i = 0; i < acts.length; i++) {
    const r = rows[res.labels[i]];
    r.n++; r.a[acts[i]]++; r.sum += res.scores[i];
  }
  for (const r of rows) r.meanScore = r.n ? r.sum / r.n : 0;
  return rows;
}

// Campaign-flagged vs legitimate-flagged share for every tag threshold 1..100, scores fixed.
// `ownTag[r]` is policy route r's own tag threshold (null when it keeps the global one): its
// records are flagged or not whatever the global tag threshold.
export function thresholdCurve(res, kinds, ownTag = []) {
  const legit = new Float64Array(101), camp = new Float64Array(101);
  let nl = 0, nc = 0, fixedL = 0, fixedC = 0;
  for (let i = 0; i < res.scores.length; i++) {
    const k = kinds[res.labels[i]];
    const own = res.routes ? ownTag[res.routes[i]] : undefined;
    const s = res.scores[i];
    if (k === 1) { nl++; if (own == null) legit[s]++; else if (s >= own) fixedL++; }
    else if (k === 2) { nc++; if (own == null) camp[s]++; else if (s >= own) fixedC++; }
  }
  const points = new Array(100);
  let fl = fixedL, fc = fixedC;
  for (let s = 100; s >= 1; s--) {
    fl += legit[s]; fc += camp[s];
    points[s - 1] = { t: s, legit: nl ? fl / nl : 0, campaign: nc ? fc / nc : 0 };
  }
  return { points, legitN: nl, campaignN: nc };
}

// Reason codes among flagged records, split by role: [{sig, legitimate, campaign, ignored, total}].
export function topReasons(res, acts, kinds, nSignals, n = 12) {
  const c = Array.from({ length: nSignals }, (_, sig) => ({ sig, ignored: 0, legitimate: 0, campaign: 0 }));
  for (let i = 0; i < acts.length; i++) {
    if (!acts[i]) continue;
    const role = ROLE_KEYS[kinds[res.labels[i]]];
    for (let j = res.reasonOff[i]; j < res.reasonOff[i + 1]; j++) c[res.reasonSig[j]][role]++;
  }
  return c.map((r) => ({ ...r, total: r.ignored + r.legitimate + r.campaign }))
    .filter((r) => r.total > 0).sort((a, b) => b.total - a.total).slice(0, n);
}

// Score histogram (21 bins of 5 points) per role and over all records.
export function histogram(res, kinds) {
  const h = { ignored: new Uint32Array(21), legitimate: new Uint32Array(21), campaign: new Uint32Array(21), all: new Uint32Array(21) };
  const byRole = [h.ignored, h.legitimate, h.campaign];
  for (let i = 0; i < res.scores.length; i++) {
    const b = Math.min(20, res.scores[i] / 5 | 0);
    byRole[kinds[res.labels[i]]][b]++;
    h.all[b]++;
  }
  return h;
}

// Flagged share per label over the capture's time, in `bins` equal time bins.
export function overTime(res, acts, bins = 48) {
  let t0 = Infinity, t1 = -Infinity;
  for (const t of res.times) { if (t < t0) t0 = t; if (t > t1) t1 = t; }
  const width = Math.max(1, (t1 - t0) / bins);
  const labels = res.labelNames.map(() => ({ n: new Uint32Array(bins), flagged: new Uint32Array(bins) }));
  for (let i = 0; i < acts.length; i++) {
    const b = Math.min(bins - 1, Math.floor((res.times[i] - t0) / width));
    const l = labels[res.labels[i]];
    l.n[b]++;
    if (acts[i]) l.flagged[b]++;
  }
  return { t0, t1, bins, width, labels };
}

// Action transitions between two runs of the same capture: matrix[a][b] and the differing count.
export function transitions(actsA, actsB) {
  const matrix = [0, 1, 2, 3].map(() => [0, 0, 0, 0]);
  let differs = 0;
  const n = Math.min(actsA.length, actsB.length);
  for (let i = 0; i < n; i++) {
    matrix[actsA[i]][actsB[i]]++;
    if (actsA[i] !== actsB[i]) differs++;
  }
  return { matrix, differs };
}

// Per policy route (`names[r]`, then the records no route matched, route NO_ROUTE): its records
// and their actions by role, as roleSummary's {route, name, legitimate, campaign, ignored, all}.
export function perRoute(res, acts, kinds, names) {
  const rows = [...names.map((name, route) => ({ route, name })), { route: NO_ROUTE, name: null }]
    .map((r) => ({ ...r, ignored: counts(), legitimate: counts(), campaign: counts(), all: counts() }));
  const last = rows.length - 1;
  for (let i = 0; i < acts.length; i++) {
    const r = rows[res.routes && res.routes[i] < last ? res.routes[i] : last];
    const c = r[ROLE_KEYS[kinds[res.labels[i]]]];
    c.n++; c.a[acts[i]]++;
    r.all.n++; r.all.a[acts[i]]++;
  }
  return rows;
}

// Record indices passing the filter `f`, in the asked order (a counting sort by score).
// f: {label: 'any' | 'role:N' | 'label:N', action: 'any' | 'flagged' | '0'..'3', reason: -1 | signal,
//     accountMask: Uint8Array over accounts | null, other: actions of policy B | null,
//     route: -1 (any) | a policy route index | NO_ROUTE (records no route matched), sort}.
export function filterView(res, acts, kinds, f) {
  const n = acts.length;
  const out = new Uint32Array(n);
  let m = 0;
  const [lk, lv] = f.label === 'any' ? ['any', 0] : [f.label.split(':')[0], Number(f.label.split(':')[1])];
  const action = f.action === 'any' ? -1 : f.action === 'flagged' ? 4 : Number(f.action);
  const route = f.route ?? -1;
  for (let i = 0; i < n; i++) {
    if (lk === 'label' && res.labels[i] !== lv) continue;
    if (lk === 'role' && kinds[res.labels[i]] !== lv) continue;
    if (action === 4 ? acts[i] === 0 : action >= 0 && acts[i] !== action) continue;
    if (f.other && f.other[i] === acts[i]) continue;
    if (route >= 0 && (res.routes ? res.routes[i] : NO_ROUTE) !== route) continue;
    if (f.accountMask && (res.accounts[i] === 0xffffffff || !f.accountMask[res.accounts[i]])) continue;
    if (f.reason >= 0) {
      let hit = false;
      for (let j = res.reasonOff[i]; j < res.reasonOff[i + 1]; j++) if (res.reasonSig[j] === f.reason) { hit = true; break; }
      if (!hit) continue;
    }
    out[m++] = i;
  }
  const view = out.subarray(0, m);
  if (f.sort === 'order') return view;
  const key = f.sort === 'score-desc' ? (i) => 100 - res.scores[i] : (i) => res.scores[i];
  const start = new Uint32Array(102);
  for (const i of view) start[key(i) + 1]++;
  for (let s = 1; s < 102; s++) start[s] += start[s - 1];
  const sorted = new Uint32Array(m);
  for (const i of view) sorted[start[key(i)]++] = i; // stable: capture order within a score
  return sorted;
}
