// Small <canvas> plots, no library. Each function clears and redraws its canvas. Colours come
// from colors.js: action colours for actions and thresholds, role colours for labels.
import { ACTIONS, ACTION_COLORS, ROLE_COLORS } from './colors.js';

const PAD = { l: 46, r: 12, t: 28, b: 30 };
const pct = (v) => `${+(v * 100).toFixed(v < 0.01 ? 2 : 0)}%`;

function setup(canvas, title) {
  const dpr = window.devicePixelRatio || 1;
  const w = canvas.clientWidth, h = canvas.clientHeight;
  if (canvas.width !== Math.round(w * dpr) || canvas.height !== Math.round(h * dpr)) {
    canvas.width = Math.round(w * dpr); canvas.height = Math.round(h * dpr);
  }
  const g = canvas.getContext('2d');
  g.setTransform(dpr, 0, 0, dpr, 0, 0);
  g.clearRect(0, 0, w, h);
  g.font = '12px system-ui, sans-serif';
  g.fillStyle = '#212529';
  g.fillText(title, 6, 14);
  return { g, w, h, pw: Math.max(10, w - PAD.l - PAD.r), ph: Math.max(10, h - PAD.t - PAD.b) };
}

function yAxis(c, ticks, fmt) {
  const { g, pw, ph } = c;
  g.strokeStyle = '#dee2e6';
  g.fillStyle = '#495057';
  g.beginPath();
  for (const v of ticks) {
    const y = PAD.t + ph - v * ph;
    g.moveTo(PAD.l, y); g.lineTo(PAD.l + pw, y);
    g.fillText(fmt(v), 2, y + 4);
  }
  g.stroke();
}

function xLabels(c, labels) {
  const { g, pw, ph } = c;
  g.fillStyle = '#495057';
  for (const [x, text] of labels) {
    const wt = g.measureText(text).width;
    g.fillText(text, Math.max(PAD.l - 10, Math.min(PAD.l + x * pw - wt / 2, PAD.l + pw - wt)), PAD.t + ph + 16);
  }
}

// A legend along the top right; wraps to a second row when narrow.
function legend(c, names, colors) {
  const { g } = c;
  let x = c.w - PAD.r, y = 14;
  for (let i = names.length - 1; i >= 0; i--) {
    const wt = g.measureText(names[i]).width + 18;
    if (x - wt < c.w * 0.45) { x = c.w - PAD.r; y += 13; }
    x -= wt;
    g.fillStyle = colors[i];
    g.fillRect(x, y - 9, 10, 10);
    g.fillStyle = '#212529';
    g.fillText(names[i], x + 13, y);
  }
}

function empty(c, text) { c.g.fillStyle = '#868e96'; c.g.fillText(text, PAD.l, PAD.t + 24); }

// Flagged share per label over time (lines; bins without records are gaps).
export function overTime(canvas, ot, names, colors) {
  const c = setup(canvas, 'Flagged share per label over time (UTC)');
  yAxis(c, [0, 0.25, 0.5, 0.75, 1], pct);
  const fmt = (t) => new Date(t).toISOString().slice(5, 16).replace('T', ' ');
  const span = ot.t1 - ot.t0;
  xLabels(c, span > 0 ? [0, 0.5, 1].map((f) => [f, fmt(ot.t0 + f * span)]) : []);
  const { g } = c;
  g.lineWidth = 2;
  ot.labels.forEach((l, li) => {
    g.strokeStyle = colors[li];
    g.beginPath();
    let pen = false;
    for (let b = 0; b < ot.bins; b++) {
      if (!l.n[b]) { pen = false; continue; }
      const x = PAD.l + ((b + 0.5) / ot.bins) * c.pw;
      const y = PAD.t + c.ph - (l.flagged[b] / l.n[b]) * c.ph;
      if (pen) g.lineTo(x, y); else g.moveTo(x, y);
      pen = true;
    }
    g.stroke();
  });
  g.lineWidth = 1;
  legend(c, names, colors);
}

// Score histogram: share of each role's records per 5-point bin, or counts of all records
// when nothing is labelled; threshold lines in action colours.
export function histogram(canvas, h, labelled, t) {
  const c = setup(canvas, labelled ? 'Score distribution per role (share of the role, 5-point bins)' : 'Score distribution (records, 5-point bins)');
  const series = labelled
    ? [['legitimate', h.legitimate], ['campaign', h.campaign]].filter(([, a]) => a.some((x) => x))
    : [['all records', h.all]];
  const norm = series.map(([, a]) => { const n = a.reduce((x, y) => x + y, 0) || 1; return labelled ? [...a].map((x) => x / n) : [...a]; });
  const yMax = Math.max(labelled ? 0.05 : 1, ...norm.flat());
  yAxis(c, [0, 0.25, 0.5, 0.75, 1], (v) => (labelled ? pct(v * yMax) : String(Math.round(v * yMax))));
  xLabels(c, [0, 25, 50, 75, 100].map((s) => [s / 105, String(s)]));
  const bw = c.pw / 21 / Math.max(1, series.length);
  norm.forEach((arr, si) => {
    c.g.fillStyle = labelled ? ROLE_COLORS[series[si][0]] : '#495057';
    arr.forEach((v, b) => {
      const hgt = (v / yMax) * c.ph;
      c.g.fillRect(PAD.l + (b * c.pw) / 21 + si * bw, PAD.t + c.ph - hgt, Math.max(1, bw - 1), hgt);
    });
  });
  for (const [v, k] of [[t.tag, 1], [t.throttle, 2], [t.deny, 3]]) {
    if (v > 100) continue;
    const x = PAD.l + (v / 105) * c.pw;
    c.g.strokeStyle = ACTION_COLORS[k];
    c.g.lineWidth = 2;
    c.g.setLineDash([5, 3]);
    c.g.beginPath(); c.g.moveTo(x, PAD.t); c.g.lineTo(x, PAD.t + c.ph); c.g.stroke();
    c.g.setLineDash([]);
    c.g.lineWidth = 1;
  }
  legend(c, [...series.map(([n]) => n), 'tag', 'throttle', 'deny'],
    [...series.map(([n]) => (labelled ? ROLE_COLORS[n] : '#495057')), ...ACTION_COLORS.slice(1)]);
}

// Campaign flagged (y) against legitimate flagged (x, log scale 0.01 %..100 %) as the tag
// threshold moves; the dot is the current tag threshold.
export function curve(canvas, cd, tag) {
  const c = setup(canvas, 'Trade-off as the tag threshold moves: campaign flagged vs legitimate flagged (log)');
  if (!cd.legitN || !cd.campaignN) { empty(c, 'needs records of both roles (set label roles)'); return; }
  const LO = -4; // log10(0.01 %)
  const fx = (v) => (Math.max(LO, Math.log10(Math.max(v, 1e-9))) - LO) / -LO;
  yAxis(c, [0, 0.25, 0.5, 0.75, 1], pct);
  xLabels(c, [[0, '≤0.01%'], [0.25, '0.1%'], [0.5, '1%'], [0.75, '10%'], [1, '100%']]);
  const { g } = c;
  g.strokeStyle = '#dee2e6';
  g.beginPath();
  for (const f of [0.25, 0.5, 0.75]) { g.moveTo(PAD.l + f * c.pw, PAD.t); g.lineTo(PAD.l + f * c.pw, PAD.t + c.ph); }
  g.stroke();
  const xy = (p) => [PAD.l + fx(p.legit) * c.pw, PAD.t + c.ph - p.campaign * c.ph];
  g.strokeStyle = '#343a40';
  g.lineWidth = 2;
  g.beginPath();
  cd.points.forEach((p, i) => { const [x, y] = xy(p); if (i) g.lineTo(x, y); else g.moveTo(x, y); });
  g.stroke();
  g.lineWidth = 1;
  const cur = cd.points[Math.min(99, Math.max(0, tag - 1))];
  if (cur) {
    const [x, y] = xy(cur);
    g.fillStyle = ACTION_COLORS[1];
    g.strokeStyle = '#212529';
    g.beginPath(); g.arc(x, y, 6, 0, 2 * Math.PI); g.fill(); g.stroke();
    g.fillStyle = '#212529';
    const text = `tag ${tag}: ${pct(cur.campaign)} / ${pct(cur.legit)}`;
    g.fillText(text, Math.min(x + 9, c.w - g.measureText(text).width - 4), Math.min(Math.max(y - 8, PAD.t + 12), PAD.t + c.ph - 4));
  }
}

// Per label: share of its records per action (stacked bars in action colours).
export function actionBars(canvas, rows, colors) {
  const c = setup(canvas, 'Actions per label (share of the label)');
  yAxis(c, [0, 0.25, 0.5, 0.75, 1], pct);
  legend(c, ACTIONS, ACTION_COLORS);
  const gw = c.pw / Math.max(1, rows.length);
  rows.forEach((r, i) => {
    let y = PAD.t + c.ph;
    const x = PAD.l + i * gw + gw * 0.2;
    r.a.forEach((k, a) => {
      const hgt = r.n ? (k / r.n) * c.ph : 0;
      c.g.fillStyle = ACTION_COLORS[a];
      c.g.fillRect(x, y - hgt, gw * 0.6, hgt);
      y -= hgt;
    });
    c.g.fillStyle = colors[i];
    c.g.fillRect(x, PAD.t + c.ph + 6, 8, 8);
    c.g.fillStyle = '#212529';
    const name = r.name.length * 6 > gw - 12 ? `${r.name.slice(0, Math.max(3, (gw - 12) / 6.5 | 0))}…` : r.name;
    c.g.fillText(name, x + 11, PAD.t + c.ph + 14);
  });
}

// Horizontal bars: reason codes among flagged records, by role.
export function reasonBars(canvas, reasons, codes) {
  const c = setup(canvas, 'Top reason codes among flagged records');
  legend(c, ['legitimate', 'campaign', 'ignored'], [ROLE_COLORS.legitimate, ROLE_COLORS.campaign, ROLE_COLORS.ignored]);
  if (!reasons.length) { empty(c, 'no record is flagged at these thresholds'); return; }
  const max = Math.max(1, ...reasons.map((r) => r.total));
  const rowH = Math.min(17, c.ph / reasons.length);
  const left = Math.min(220, c.w * 0.45);
  const scale = (c.w - left - PAD.r - 44) / max;
  reasons.forEach((r, i) => {
    const y = PAD.t + i * rowH;
    c.g.fillStyle = '#212529';
    c.g.fillText(codes[r.sig], 6, y + rowH - 4, left - 10);
    let x = left;
    for (const role of ['legitimate', 'campaign', 'ignored']) {
      c.g.fillStyle = ROLE_COLORS[role];
      c.g.fillRect(x, y + 2, r[role] * scale, rowH - 4);
      x += r[role] * scale;
    }
    c.g.fillStyle = '#495057';
    c.g.fillText(String(r.total), x + 4, y + rowH - 4);
  });
}
