// Small <canvas> plots, no library: grouped histogram, share bars, a threshold curve and
// horizontal reason bars. Each function clears and redraws its canvas completely.

import { isLegit, isCampaign } from './stats.js';

export const COLORS = ['#2b8a3e', '#c92a2a', '#e67700', '#5f3dc4', '#1971c2', '#868e96', '#d6336c', '#0c8599'];
const CAMPAIGN_COLORS = ['#c92a2a', '#e67700', '#5f3dc4', '#d6336c', '#0c8599', '#1971c2', '#a61e4d'];

// One color per label: legit green, unlabeled grey, campaigns warm colors in order.
export function labelColors(names) {
  let k = 0;
  return names.map((n) => (isLegit(n) ? '#2b8a3e' : isCampaign(n) ? CAMPAIGN_COLORS[k++ % CAMPAIGN_COLORS.length] : '#868e96'));
}
const PAD = { l: 44, r: 12, t: 26, b: 30 };

function setup(canvas, title) {
  const dpr = window.devicePixelRatio || 1;
  const w = canvas.clientWidth, h = canvas.clientHeight;
  if (canvas.width !== w * dpr) { canvas.width = w * dpr; canvas.height = h * dpr; }
  const g = canvas.getContext('2d');
  g.setTransform(dpr, 0, 0, dpr, 0, 0);
  g.clearRect(0, 0, w, h);
  g.font = '12px system-ui, sans-serif';
  g.fillStyle = '#222';
  g.fillText(title, PAD.l, 16);
  return { g, w, h, pw: w - PAD.l - PAD.r, ph: h - PAD.t - PAD.b };
}

function axes(c, yMax, yFmt, xLabels) {
  const { g, pw, ph } = c;
  g.strokeStyle = '#bbb';
  g.fillStyle = '#555';
  g.beginPath();
  for (let k = 0; k <= 4; k++) {
    const y = PAD.t + ph - (ph * k) / 4;
    g.moveTo(PAD.l, y); g.lineTo(PAD.l + pw, y);
    g.fillText(yFmt((yMax * k) / 4), 2, y + 4);
  }
  g.stroke();
  for (const [x, text] of xLabels) {
    const wText = g.measureText(text).width;
    g.fillText(text, Math.min(PAD.l + x * pw - wText / 2, PAD.l + pw - wText), PAD.t + ph + 16);
  }
}

function legend(c, names, colors = COLORS) {
  let x = c.w - PAD.r;
  for (let i = names.length - 1; i >= 0; i--) {
    const wText = c.g.measureText(names[i]).width;
    x -= wText + 18;
    c.g.fillStyle = colors[i % colors.length];
    c.g.fillRect(x, 7, 10, 10);
    c.g.fillStyle = '#222';
    c.g.fillText(names[i], x + 13, 16);
  }
}

// Score histogram per label (share of that label's requests per 5-point bin) + threshold lines.
export function histogram(canvas, rows, t) {
  const c = setup(canvas, 'Score distribution per label (share of label, 5-point bins)');
  const colors = labelColors(rows.map((r) => r.name));
  const shares = rows.map((r) => r.hist.map((n) => (r.count ? n / r.count : 0)));
  const yMax = Math.max(0.05, ...shares.flat());
  axes(c, yMax, (v) => `${Math.round(v * 100)}%`, [0, 25, 50, 75, 100].map((s) => [s / 105, String(s)]));
  const bw = c.pw / 21 / Math.max(1, rows.length);
  shares.forEach((sh, li) => {
    c.g.fillStyle = colors[li];
    sh.forEach((v, b) => {
      const hgt = (v / yMax) * c.ph;
      c.g.fillRect(PAD.l + (b * c.pw) / 21 + li * bw, PAD.t + c.ph - hgt, Math.max(1, bw - 1), hgt);
    });
  });
  for (const [v, col] of [[t.tag, '#1971c2'], [t.throttle, '#e67700'], [t.deny, '#c92a2a']]) {
    const x = PAD.l + (Math.min(v, 105) / 105) * c.pw;
    c.g.strokeStyle = col;
    c.g.setLineDash([4, 3]);
    c.g.beginPath(); c.g.moveTo(x, PAD.t); c.g.lineTo(x, PAD.t + c.ph); c.g.stroke();
    c.g.setLineDash([]);
  }
  legend(c, rows.map((r) => r.name), colors);
}

// Per label: share flagged (>= tag), throttled or denied, denied.
const SHARE_COLORS = ['#1971c2', '#e67700', '#c92a2a'];

export function shareBars(canvas, rows) {
  const c = setup(canvas, 'Share of each label at the current thresholds');
  axes(c, 1, (v) => `${Math.round(v * 100)}%`, []);
  legend(c, ['flagged (tag+)', 'throttle+', 'deny'], SHARE_COLORS);
  const colors = labelColors(rows.map((r) => r.name));
  const gw = c.pw / Math.max(1, rows.length);
  rows.forEach((r, i) => {
    [r.flaggedShare, r.throttledShare, r.deniedShare].forEach((v, k) => {
      const bw = (gw * 0.7) / 3;
      const x = PAD.l + i * gw + gw * 0.15 + k * bw;
      c.g.fillStyle = SHARE_COLORS[k];
      c.g.fillRect(x, PAD.t + c.ph - v * c.ph, bw - 2, v * c.ph);
    });
    c.g.fillStyle = colors[i];
    c.g.fillText(r.name, PAD.l + i * gw + gw * 0.15, PAD.t + c.ph + 16);
  });
}

// Campaign-flagged (y) vs legit-flagged (x) share as the tag threshold moves; dot = current.
export function curve(canvas, curveData, tag) {
  const c = setup(canvas, 'Campaign flagged (y) vs legit flagged (x) as the tag threshold moves');
  axes(c, 1, (v) => `${Math.round(v * 100)}%`, [0, 0.25, 0.5, 0.75, 1].map((v) => [v, `${v * 100}%`]));
  const xy = (p) => [PAD.l + p.legit * c.pw, PAD.t + c.ph - p.campaign * c.ph];
  c.g.strokeStyle = '#5f3dc4';
  c.g.lineWidth = 2;
  c.g.beginPath();
  curveData.points.forEach((p, i) => { const [x, y] = xy(p); if (i) c.g.lineTo(x, y); else c.g.moveTo(x, y); });
  c.g.stroke();
  c.g.lineWidth = 1;
  const cur = curveData.points[Math.min(99, Math.max(0, tag - 1))];
  if (cur) {
    const [x, y] = xy(cur);
    c.g.fillStyle = '#c92a2a';
    c.g.beginPath(); c.g.arc(x, y, 5, 0, 2 * Math.PI); c.g.fill();
    c.g.fillText(`tag ${tag}`, Math.min(x + 8, c.w - 50), Math.max(y - 6, PAD.t + 10));
  }
}

// Horizontal bars: reason codes among flagged requests, legit vs campaign.
export function reasonBars(canvas, reasons) {
  const c = setup(canvas, 'Top reason codes among flagged requests (green legit, red campaign)');
  const max = Math.max(1, ...reasons.map((r) => r.total));
  const rowH = Math.min(18, c.ph / Math.max(1, reasons.length));
  const left = 190;
  reasons.forEach((r, i) => {
    const y = PAD.t + i * rowH;
    const scale = (c.w - left - PAD.r - 40) / max;
    c.g.fillStyle = '#222';
    c.g.fillText(r.code, 8, y + rowH - 5);
    c.g.fillStyle = COLORS[0];
    c.g.fillRect(left, y + 2, r.legit * scale, rowH - 4);
    c.g.fillStyle = COLORS[1];
    c.g.fillRect(left + r.legit * scale, y + 2, (r.campaign + r.other) * scale, rowH - 4);
    c.g.fillStyle = '#555';
    c.g.fillText(String(r.total), left + r.total * scale + 4, y + rowH - 5);
  });
  if (!reasons.length) { c.g.fillStyle = '#888'; c.g.fillText('no request is flagged at this threshold', 8, PAD.t + 20); }
}
