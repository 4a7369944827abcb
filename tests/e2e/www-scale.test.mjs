// The tuning page on a 150,000-record capture in real Chromium (a simulated capture written by
// the native `simulate`). Reported, not asserted: time to scored, frame times while the
// records table scrolls, a filter + sort, the JS heap. Asserted: every record is scored, the
// table keeps a few dozen rows in the DOM, and the drill-down of the last record matches the
// CLI's verdict for it.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { ROOT, CLI, openBrowser, rendered, gen, shot, replay } from './www-harness.mjs';

const N = 150000;
let b, page, capture;
before(async () => {
  b = await openBrowser();
  page = b.page;
  const scenario = JSON.parse(fs.readFileSync(path.join(ROOT, 'scenarios/datacenter_pool.json'), 'utf8'));
  const file = path.join(b.profile, 'scenario.json');
  fs.writeFileSync(file, JSON.stringify({ ...scenario, duration_hours: 62 }));
  capture = path.join(b.profile, 'big.jsonl');
  execFileSync(CLI, ['simulate', '--scenario', file, '--seed', '5', '--requests', String(N), '--out', capture], { stdio: 'ignore' });
});
after(async () => { await b?.close(); });

const pctile = (xs, p) => [...xs].sort((x, y) => x - y)[Math.min(xs.length - 1, Math.floor(p * xs.length))];

test('150,000 records: scored, scrolled, filtered, explained', async () => {
  await page.goto(`${b.base}/index.html`);
  const g = await rendered(page);
  const t0 = Date.now();
  await page.setInputFiles('#capture-file', capture);
  await rendered(page, g, 600000);
  const wall = Date.now() - t0;
  assert.equal(Number(await page.getAttribute('#status', 'data-records')), N);
  const inPage = Number(await page.getAttribute('#status', 'data-ms'));
  const run = Number(await page.getAttribute('#status', 'data-run-ms'));
  const mb = (fs.statSync(capture).size / 1e6).toFixed(0);

  await page.click('#tab-records');
  await page.hover('#records');
  await page.evaluate(() => {
    window.frames_ = [];
    let last = performance.now();
    const tick = (t) => { window.frames_.push(t - last); last = t; if (window.frames_.length < 100000) window.rafId = requestAnimationFrame(tick); };
    window.rafId = requestAnimationFrame(tick);
  });
  for (let k = 0; k < 60; k++) { await page.mouse.wheel(0, 900); await page.waitForTimeout(16); }
  await page.focus('#records');
  for (const key of ['End', 'Home', 'PageDown', 'PageDown', 'End']) { await page.keyboard.press(key); await page.waitForTimeout(50); }
  const frames = await page.evaluate(() => { cancelAnimationFrame(window.rafId); return window.frames_.slice(1); });
  const rows = await page.$$eval('.rt-row', (r) => r.length);
  assert.ok(rows < 80, `${rows} row elements for ${N} records`);

  const filterMs = await page.evaluate(() => {
    const t = performance.now();
    const a = document.getElementById('f-action');
    a.value = 'flagged';
    a.dispatchEvent(new Event('change'));
    const s = document.getElementById('f-sort');
    s.value = 'score-desc';
    s.dispatchEvent(new Event('change'));
    return performance.now() - t;
  });
  const thresholdMs = await page.evaluate(() => {
    const t = performance.now();
    const i = document.getElementById('t-deny');
    i.value = String(Number(i.value) - 1);
    i.dispatchEvent(new Event('input'));
    return performance.now() - t;
  });
  const heap = await page.evaluate(() => performance.memory?.usedJSHeapSize ?? 0);
  console.log(`150k: ${N} records (${mb} MB): scored in ${(inPage / 1000).toFixed(1)} s from file pick (engine run ${(run / 1000).toFixed(1)} s, `
    + `test wall ${(wall / 1000).toFixed(1)} s); scrolling ${frames.length} frames: median ${pctile(frames, 0.5).toFixed(1)} ms, `
    + `p95 ${pctile(frames, 0.95).toFixed(1)} ms, max ${Math.max(...frames).toFixed(1)} ms; filter + sort ${filterMs.toFixed(0)} ms; `
    + `threshold move (re-classify + redraw) ${thresholdMs.toFixed(0)} ms; JS heap ${(heap / 1e6).toFixed(0)} MB`);

  // The last record, explained, is the CLI's verdict for it.
  await page.selectOption('#f-action', 'any');
  await page.selectOption('#f-sort', 'order');
  await page.focus('#records');
  await page.keyboard.press('End');
  await page.keyboard.press('Enter');
  await page.waitForFunction(() => Number(document.getElementById('drilldown').dataset.line) > 140000);
  const shownJson = JSON.parse(await page.textContent('#drilldown .explain-json'));
  await shot(page, 'www-150k.png');
  const t = JSON.parse(await page.inputValue('#export-json'));
  const policy = path.join(b.profile, 'policy.json');
  fs.writeFileSync(policy, JSON.stringify(t));
  const cli = (await replay(policy, capture, { pick: (n) => n === shownJson.line })).get(shownJson.line);
  assert.deepEqual([shownJson.score, shownJson.action, shownJson.reasons, shownJson.fp.account], [cli.score, cli.action, cli.reasons, cli.fp.account]);
  assert.ok(await gen(page) >= 1);
  assert.deepEqual(b.problems, []);
});
