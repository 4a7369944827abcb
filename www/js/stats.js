// Pure statistics over a batch result (columns from engine-worker.js) at given thresholds.
// No DOM here. The action of a score is recomputed exactly as the engine does
// (score >= deny -> deny, >= throttle -> throttle, >= tag -> tag), so moving a threshold
// needs no re-run; moving a weight does (the worker re-runs the batch).

export const LEGIT = /^(legit|benign|normal|human|organic)/i;
export const isLegit = (name) => LEGIT.test(name);
export const isCampaign = (name) => !isLegit(name) && name !== '(unlabeled)';

// 0 allow, 1 tag, 2 throttle, 3 deny.
export function actionOf(score, t) {
  return score >= t.deny ? 3 : score >= t.throttle ? 2 : score >= t.tag ? 1 : 0;
}

// Per label: count, mean score, actions[4], histogram (21 bins of 5 points), first flagged index/time.
export function perLabel(res, t) {
  const rows = res.labelNames.map((name) => ({
    name, count: 0, sum: 0, actions: [0, 0, 0, 0], hist: new Array(21).fill(0),
    firstTs: Infinity, firstFlagged: null, firstFlaggedTs: null,
  }));
  for (let i = 0; i < res.scores.length; i++) {
    const row = rows[res.labels[i]];
    const s = res.scores[i];
    const a = actionOf(s, t);
    row.count++;
    row.sum += s;
    row.actions[a]++;
    row.hist[Math.min(20, Math.floor(s / 5))]++;
    if (res.ts[i] < row.firstTs) row.firstTs = res.ts[i];
    if (a >= 1 && row.firstFlagged === null) { row.firstFlagged = row.count; row.firstFlaggedTs = res.ts[i]; }
  }
  for (const r of rows) {
    r.flagged = r.count - r.actions[0];
    r.meanScore = r.count ? r.sum / r.count : 0;
    r.flaggedShare = r.count ? r.flagged / r.count : 0;
    r.throttledShare = r.count ? (r.actions[2] + r.actions[3]) / r.count : 0;
    r.deniedShare = r.count ? r.actions[3] / r.count : 0;
    r.delayMs = r.firstFlaggedTs === null ? null : r.firstFlaggedTs - r.firstTs;
  }
  return rows;
}

// Campaign-flagged vs legit-flagged share for every tag threshold 1..100 (a ROC-like curve).
export function thresholdCurve(res) {
  const legit = new Array(101).fill(0), camp = new Array(101).fill(0);
  let nl = 0, nc = 0;
  const kind = res.labelNames.map((n) => (isLegit(n) ? 1 : isCampaign(n) ? 2 : 0));
  for (let i = 0; i < res.scores.length; i++) {
    const k = kind[res.labels[i]];
    if (k === 1) { legit[res.scores[i]]++; nl++; } else if (k === 2) { camp[res.scores[i]]++; nc++; }
  }
  // Suffix sums: flagged at threshold t = requests with score >= t.
  const points = [];
  let fl = 0, fc = 0;
  for (let s = 100; s >= 1; s--) {
    fl += legit[s]; fc += camp[s];
    points.push({ t: s, legit: nl ? fl / nl : 0, campaign: nc ? fc / nc : 0 });
  }
  return { points: points.reverse(), legitN: nl, campaignN: nc };
}

// Reason codes among requests flagged at the tag threshold, split legit / campaign / other.
export function topReasons(res, t, catalog, n = 12) {
  const counts = catalog.map((s) => ({ code: s.code, legit: 0, campaign: 0, other: 0 }));
  const kind = res.labelNames.map((name) => (isLegit(name) ? 'legit' : isCampaign(name) ? 'campaign' : 'other'));
  for (let i = 0; i < res.scores.length; i++) {
    if (res.scores[i] < t.tag) continue;
    const k = kind[res.labels[i]];
    for (let j = res.reasonOff[i]; j < res.reasonOff[i + 1]; j++) counts[res.reasonIdx[j]][k]++;
  }
  return counts.map((c) => ({ ...c, total: c.legit + c.campaign + c.other }))
    .filter((c) => c.total > 0).sort((a, b) => b.total - a.total).slice(0, n);
}
