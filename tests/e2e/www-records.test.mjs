// The records table and the drill-down in real Chromium, checked against the native CLI on
// the same capture and policy: the explanation of a record is byte-for-byte the line
// `replay --explain` prints for it (the same builder in the core), and each filter keeps
// exactly the records the CLI's verdicts say it should.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { ROOT, openBrowser, rendered, shot, replay, sampleText } from './www-harness.mjs';

let b, page, cli, sample;
const POLICY = path.join(ROOT, 'filters/default.json');
before(async () => {
  b = await openBrowser();
  page = b.page;
  sample = path.join(b.profile, 'sample.jsonl');
  fs.writeFileSync(sample, sampleText());
  cli = await replay(POLICY, sample);
});
after(async () => { await b?.close(); });

const count = async () => Number((await page.textContent('#records-count')).split(' ')[0].replace(/,/g, ''));
const shownLines = () => page.$$eval('.rt-row:not([hidden])', (rows) => rows.map((r) => Number(r.children[0].textContent)));

test('drill-down: the explanation is the CLI\'s replay --explain line; raw headers in wire order', async () => {
  await page.goto(`${b.base}/index.html`);
  await rendered(page);
  await page.click('#tab-records');
  // A flagged campaign record with graded (state) signals, and a flagged legitimate one.
  const want = [...cli.values()].filter((v) => v.action !== 'allow');
  const campaign = want.find((v) => v.label !== 'legit' && v.reasons.length >= 3).line;
  const legit = want.find((v) => v.label === 'legit').line;
  const explained = await replay(POLICY, sample, { explain: true, pick: (n) => n === campaign || n === legit, keepText: true });
  for (const line of [legit, campaign]) { // the campaign record stays open
    await page.evaluate((pos) => { const r = document.getElementById('records'); r.scrollTop = pos * 26; }, line - 1);
    await page.click(`.rt-row:not([hidden]) >> text="${line}" >> xpath=..`);
    await page.waitForFunction((l) => document.getElementById('drilldown').dataset.line === String(l), line);
    assert.equal(await page.textContent('#drilldown .explain-json'), explained.get(line), `line ${line}`);
  }
  const v = JSON.parse(explained.get(campaign));
  const rows = await page.$$eval('#drilldown table.explain tbody tr', (trs) => trs.map((tr) => [...tr.cells].map((c) => c.textContent)));
  assert.deepEqual(rows.map((r) => r[0]), v.reasons);
  const graded = v.explain.find((r) => r.level !== undefined);
  assert.ok(graded, 'a campaign record shows a measured level');
  const row = rows.find((r) => r[0] === graded.code);
  assert.equal(Number(row[1]), +graded.level.toFixed(3));
  assert.equal(Number(row[5]), +graded.points.toFixed(1));
  const record = JSON.parse(sampleText().split('\n')[campaign - 1]);
  const headers = await page.$$eval('#drilldown table.headers tbody tr', (trs) => trs.map((tr) => [...tr.cells].map((c) => c.textContent)));
  assert.deepEqual(headers, record.headers);
  await shot(page, 'www-records.png', { fullPage: true });
});

test('filters by label, role, action, reason and account; sort by score', async () => {
  const all = [...cli.values()];
  const check = async (pred, what) => assert.equal(await count(), all.filter(pred).length, what);
  await page.selectOption('#f-label', { label: 'sdk_mimic' });
  await check((v) => v.label === 'sdk_mimic', 'label');
  await page.selectOption('#f-action', 'flagged');
  await check((v) => v.label === 'sdk_mimic' && v.action !== 'allow', 'label + flagged');
  await page.selectOption('#f-label', 'role:1');
  await page.selectOption('#f-action', '1');
  await check((v) => v.label === 'legit' && v.action === 'tag', 'legitimate + tag');
  await page.selectOption('#f-label', 'any');
  await page.selectOption('#f-action', 'any');
  await page.selectOption('#f-reason', { label: 'client.ua_mismatch' });
  await check((v) => v.reasons.includes('client.ua_mismatch'), 'reason');
  await page.selectOption('#f-reason', '-1');
  const account = all.find((v) => v.label === 'datacenter_pool' && v.fp.account).fp.account;
  await page.fill('#f-account', account.slice(0, 10));
  await page.waitForFunction((n) => document.getElementById('records-count').textContent.startsWith(`${n} `),
    all.filter((v) => v.fp.account?.includes(account.slice(0, 10))).length);
  await page.fill('#f-account', '');
  await page.waitForFunction((n) => document.getElementById('records-count').textContent.startsWith(n), all.length.toLocaleString('en'));
  await page.selectOption('#f-sort', 'score-desc');
  const lines = await shownLines();
  const scores = lines.map((l) => cli.get(l).score);
  assert.deepEqual(scores, [...scores].sort((x, y) => y - x));
  assert.equal(scores[0], Math.max(...all.map((v) => v.score)));
  await page.selectOption('#f-sort', 'order');
  assert.deepEqual((await shownLines()).slice(0, 3), [1, 2, 3]);
  assert.deepEqual(b.problems, []);
});
