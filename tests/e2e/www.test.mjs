// End-to-end test of the tuning page in real Debian Chromium (playwright-core, no bundled
// browser): serves www/ with `python3 -m http.server` on a free 127.0.0.1 port, runs the
// sample capture, moves weights and a threshold, exports the policy and validates it with
// the native CLI. Needs www/pkg (scripts/build.sh web) and target/release/distill-guard.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';

const ROOT = path.resolve(import.meta.dirname, '../..');
const CLI = path.join(ROOT, 'target/release/distill-guard');
const ARGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
  '--disable-sync', '--no-first-run'];

let server, base, context, page, profile;
const problems = []; // console errors, page errors, failed requests

function serve() {
  return new Promise((resolve, reject) => {
    const p = spawn('python3', ['-u', '-m', 'http.server', '0', '--bind', '127.0.0.1', '-d', path.join(ROOT, 'www')],
      { stdio: ['ignore', 'pipe', 'pipe'] });
    const timer = setTimeout(() => reject(new Error('http.server did not start')), 10000);
    p.stdout.on('data', (d) => {
      const m = /port (\d+)/.exec(String(d));
      if (m) { clearTimeout(timer); resolve({ proc: p, url: `http://127.0.0.1:${m[1]}` }); }
    });
    p.on('exit', (code) => reject(new Error(`http.server exited ${code}`)));
  });
}

before(async () => {
  assert.ok(fs.existsSync(path.join(ROOT, 'www/pkg/distill_guard_bg.wasm')), 'www/pkg missing: run scripts/build.sh web');
  ({ proc: server, url: base } = await serve());
  profile = fs.mkdtempSync(path.join(os.tmpdir(), 'dg-chromium-'));
  context = await chromium.launchPersistentContext(profile, { executablePath: '/usr/bin/chromium', args: ARGS, headless: true,
    viewport: { width: 1400, height: 1000 } });
  page = context.pages()[0] ?? await context.newPage();
  page.on('console', (m) => { if (m.type() === 'error') problems.push(`console: ${m.text()}`); });
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  page.on('requestfailed', (r) => problems.push(`request failed: ${r.url()}`));
  page.on('response', (r) => { if (r.status() >= 400) problems.push(`HTTP ${r.status()}: ${r.url()}`); });
});

after(async () => {
  await context?.close();
  if (server) { server.kill('SIGTERM'); await new Promise((r) => server.once('exit', r)); }
  if (profile) fs.rmSync(profile, { recursive: true, force: true });
});

// Waits until a run newer than `afterGen` has been rendered; returns its generation.
async function rendered(afterGen = 0) {
  await page.waitForFunction((g) => {
    const s = document.getElementById('status');
    return s.dataset.state === 'done' && Number(s.dataset.gen) > g;
  }, afterGen, { timeout: 30000 });
  return Number(await page.getAttribute('#status', 'data-gen'));
}

// The summary table as { label: { requests, mean, flagged, ... } }.
async function summary() {
  const rows = await page.$$eval('#summary tbody tr', (trs) => trs.map((tr) => [...tr.cells].map((c) => c.textContent)));
  return Object.fromEntries(rows.map(([label, requests, mean, flagged, throttled, denied, first]) =>
    [label, { requests: Number(requests), mean: Number(mean), flagged, throttled, denied, first }]));
}

test('tuning page: load, run, re-weight, move a threshold, export', async () => {
  await page.goto(`${base}/index.html`);
  let gen = await rendered();
  assert.equal(await page.inputValue('#policy-select'), 'samples/sample-policy.json');
  let s = await summary();
  assert.deepEqual(Object.keys(s).sort(), ['campaign-a', 'campaign-b', 'legit']);
  assert.equal(s.legit.requests + s['campaign-a'].requests + s['campaign-b'].requests, 840);
  assert.notEqual(s['campaign-a'].flagged, '0.0%', 'the listed campaign JA4 is flagged');
  const shipped = await page.$$eval('#policy-select option', (o) => o.map((x) => x.value));
  assert.ok(shipped.includes('builtin'));
  fs.mkdirSync(path.join(ROOT, 'test-output'), { recursive: true });
  await page.screenshot({ path: path.join(ROOT, 'test-output/www.png'), fullPage: true });

  // Every weight to 0 except fp.listed (60): campaign-a scores exactly 60, everything else 0.
  await page.$$eval('#weights input[type=range]', (inputs) => {
    for (const i of inputs) {
      i.value = i.id === 'w-fp_listed' ? '60' : '0';
      i.dispatchEvent(new Event('input', { bubbles: true }));
    }
  });
  gen = await rendered(gen);
  s = await summary();
  assert.equal(s['campaign-a'].mean, 60);
  assert.equal(s['campaign-a'].flagged, '100.0%');
  assert.equal(s.legit.flagged, '0.0%');
  assert.equal(s['campaign-b'].mean, 0);
  const totalsBefore = await page.textContent('#totals');

  // Moving the tag threshold above 60 re-classifies at once (no re-run needed).
  await page.fill('#t-tag', '61');
  assert.equal(await page.inputValue('#t-throttle'), '61', 'throttle pushed up with tag');
  s = await summary();
  assert.equal(s['campaign-a'].flagged, '0.0%');
  assert.equal(s['campaign-a'].first, '—');
  assert.notEqual(await page.textContent('#totals'), totalsBefore);
  await page.fill('#t-tag', '40');
  s = await summary();
  assert.equal(s['campaign-a'].flagged, '100.0%');
  assert.match(s['campaign-a'].first, /^#1 \(\+0\.0 s\)$/);


  // Export: the tuned policy is valid for the native CLI and carries the tuned values.
  await page.click('#export');
  await page.waitForFunction(() => document.getElementById('export-json').value.length > 0);
  const exported = await page.inputValue('#export-json');
  const p = JSON.parse(exported);
  assert.equal(p.thresholds.tag, 40);
  assert.equal(p.signals.fp_listed.weight, 60);
  assert.equal(p.signals.proxy_via.weight, 0);
  assert.ok(await page.isVisible('#export-link'));
  const file = path.join(profile, 'exported.json');
  fs.writeFileSync(file, exported);
  const out = execFileSync(CLI, ['check-policy', file], { encoding: 'utf8' });
  assert.match(out, /: ok/);
});

test('tuning page: the simulator generates a scenario that the engine scores', async () => {
  assert.equal(await page.isVisible('#sim-panel'), true, 'the Wasm build exports simulate');
  let gen = Number(await page.getAttribute('#status', 'data-gen'));
  await page.selectOption('#policy-select', 'filters/default.json');
  gen = await rendered(gen);
  const shipped = JSON.parse(fs.readFileSync(path.join(ROOT, 'filters/default.json'), 'utf8'));
  const want = String(shipped.signals?.proxy_via?.weight ?? 10);
  assert.equal(await page.inputValue('#w-proxy_via'), want, 'sliders follow the newly loaded policy');
  await page.click('#sim-panel summary');
  await page.selectOption('#sim-select', 'scenarios/datacenter_pool.json');
  await page.waitForFunction(() => document.getElementById('sim-scenario').value.includes('datacenter_pool'));
  await page.fill('#sim-seed', '11');
  await page.fill('#sim-limit', '3000');
  await page.click('#sim-run');
  await rendered(gen);
  const s = await summary();
  assert.deepEqual(Object.keys(s).sort(), ['datacenter_pool', 'legit']);
  assert.ok(s.datacenter_pool.mean > 0 && s.legit.mean > 0);
  assert.equal(s.legit.requests + s.datacenter_pool.requests, 3000);
  assert.match(await page.textContent('#capture-info'), /3000 simulated records/);
  await page.screenshot({ path: path.join(ROOT, 'test-output/www-sim.png'), fullPage: true });
  // A scenario error is shown, and the loaded traffic stays.
  await page.fill('#sim-scenario', '{"campaigns": [{"pool": {"kind": "x"}}]}');
  await page.click('#sim-run');
  await page.waitForFunction(() => document.getElementById('status').dataset.state === 'error');
  assert.match(await page.textContent('#status'), /campaigns\[0\]\.pool\.kind/);
});

test('tuning page: policy errors inline, captures from a file with bad lines', async () => {
  await page.click('#policy-panel summary');
  await page.fill('#policy-editor', '{"thresholds": {"tag": "high"}, "signals": {"proxy_vai": {"weight": 5}}}');
  await page.click('#policy-apply');
  await page.waitForSelector('#policy-errors li');
  const errors = await page.$$eval('#policy-errors li', (li) => li.map((x) => x.textContent));
  assert.ok(errors.some((e) => e.startsWith('thresholds.tag:')), errors.join('\n'));
  assert.ok(errors.some((e) => e.includes('did you mean "proxy_via"')), errors.join('\n'));
  assert.equal(await page.getAttribute('#status', 'data-state'), 'error');

  const gen = Number(await page.getAttribute('#status', 'data-gen'));
  await page.setInputFiles('#capture-file', path.join(ROOT, 'tests/data/golden_requests.jsonl'));
  await rendered(gen);
  const bad = await page.$$eval('#capture-errors li', (li) => li.map((x) => x.textContent));
  assert.ok(bad.length >= 5 && bad[0].startsWith('line '), bad.join('\n'));
  assert.ok(Object.keys(await summary()).includes('(unlabeled)'));
  assert.deepEqual(problems, []);
});

test('stats.js: actions, shares, curve and delay follow the thresholds', async () => {
  const stats = await import(path.join(ROOT, 'www/js/stats.js'));
  const t = { tag: 30, throttle: 70, deny: 90 };
  assert.deepEqual([0, 29, 30, 69, 70, 89, 90, 100].map((s) => stats.actionOf(s, t)), [0, 0, 1, 1, 2, 2, 3, 3]);
  // Two legit requests (scores 0, 40) and three campaign ones (20, 75, 95), in time order.
  const res = {
    labelNames: ['legit', 'camp'], scores: Uint8Array.from([0, 20, 40, 75, 95]), labels: Uint16Array.from([0, 1, 0, 1, 1]),
    ts: Float64Array.from([1000, 2000, 3000, 4000, 5000]), reasonOff: Uint32Array.from([0, 0, 1, 2, 3, 5]),
    reasonIdx: Uint8Array.from([0, 1, 1, 1, 2]),
  };
  const [legit, camp] = stats.perLabel(res, t);
  assert.deepEqual(legit.actions, [1, 1, 0, 0]);
  assert.deepEqual(camp.actions, [1, 0, 1, 1]);
  assert.equal(camp.flaggedShare, 2 / 3);
  assert.equal(camp.firstFlagged, 2);
  assert.equal(camp.delayMs, 2000);
  const curve = stats.thresholdCurve(res);
  assert.deepEqual(curve.points[19], { t: 20, legit: 0.5, campaign: 1 });
  assert.deepEqual(curve.points[40], { t: 41, legit: 0, campaign: 2 / 3 });
  const catalog = [{ code: 'a' }, { code: 'b' }, { code: 'c' }];
  const top = stats.topReasons(res, t, catalog);
  assert.deepEqual(top.map((r) => [r.code, r.legit, r.campaign]), [['b', 1, 2], ['c', 0, 1]]);
});
