// Comparing two policies on one capture in real Chromium: what each flags and which records
// change action, checked against two native `replay` runs; the records table filtered to the
// records that differ; and the campaigns panel, checked against the CLI's `distill-guard
// campaigns` on the same capture.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { ROOT, CLI, openBrowser, rendered, shot, replay, sampleText } from './www-harness.mjs';

let b, page;
before(async () => { b = await openBrowser(); page = b.page; });
after(async () => { await b?.close(); });

const num = (s) => Number(s.replace(/[,%]/g, ''));

test('compare: A (tuned) against B (the loaded policy): shares per role and the records that differ', async () => {
  await page.goto(`${b.base}/index.html`);
  let g = await rendered(page);
  await page.fill('#w-prompt_cot', '45'); // policy A: one weight raised
  g = await rendered(page, g);
  const fileA = path.join(b.profile, 'a.json');
  fs.writeFileSync(fileA, await page.inputValue('#export-json'));
  await page.click('#tab-compare');
  await page.selectOption('#compare-select', 'base');
  await page.click('#compare-run');
  await page.waitForSelector('#compare-table');

  const sample = path.join(b.profile, 'sample.jsonl');
  fs.writeFileSync(sample, sampleText());
  const a = await replay(fileA, sample);
  const bb = await replay(path.join(ROOT, 'filters/default.json'), sample);
  const differs = [...a.keys()].filter((l) => a.get(l).action !== bb.get(l).action);
  assert.ok(differs.length > 0, 'raising prompt.cot changes some actions');
  assert.equal(num((await page.textContent('#compare-differs')).split(' ')[0]), differs.length);
  const flaggedShare = (m, pred) => {
    const v = [...m.values()].filter(pred);
    return +(100 * v.filter((x) => x.action !== 'allow').length / v.length).toFixed(1);
  };
  const rows = await page.$$eval('#compare-table tbody tr', (trs) => trs.map((tr) => [...tr.cells].map((c) => c.textContent)));
  const camp = rows.find((r) => r[0] === 'campaign');
  assert.equal(num(camp[1]), flaggedShare(a, (v) => v.label !== 'legit'));
  assert.equal(num(camp[2]), flaggedShare(bb, (v) => v.label !== 'legit'));
  await shot(page, 'www-compare.png', { fullPage: true });

  await page.click('#compare-show');
  assert.equal(await page.getAttribute('#tab-records', 'aria-selected'), 'true');
  assert.ok(await page.isChecked('#f-differs'));
  assert.equal(num((await page.textContent('#records-count')).split(' ')[0]), differs.length);
  const shown = await page.$$eval('.rt-row:not([hidden])', (r) => r.map((x) => Number(x.children[0].textContent)));
  assert.deepEqual(shown, differs.slice(0, shown.length));
  await page.waitForFunction((l) => document.getElementById('drilldown').dataset.line === String(l), differs[0]);
});

test('campaigns panel: the CLI\'s campaign report of the capture, with labels and account ids', async () => {
  await page.click('#tab-campaigns');
  await page.waitForSelector('#campaigns-summary');
  const sample = path.join(b.profile, 'sample.jsonl');
  fs.writeFileSync(sample, sampleText());
  const policy = path.join(b.profile, 'tuned.json');
  fs.writeFileSync(policy, await page.inputValue('#export-json'));
  const out = execFileSync(CLI, ['campaigns', '--policy', policy, '--format', 'json', sample], { maxBuffer: 1 << 28, stdio: ['ignore', 'pipe', 'ignore'] });
  const cli = JSON.parse(out);
  assert.ok(cli.campaigns.length > 0, 'the sample has a campaign');
  const blocks = await page.$$eval('#campaigns details.campaign', (ds) => ds.map((d) => ({
    id: d.dataset.id, summary: d.querySelector('summary').textContent, ids: d.querySelector('textarea').value.split('\n'),
  })));
  assert.equal(blocks.length, cli.campaigns.length);
  for (const [i, c] of cli.campaigns.entries()) {
    assert.equal(blocks[i].id, c.id);
    assert.deepEqual(blocks[i].ids, c.accounts.sample.slice(0, blocks[i].ids.length));
    assert.match(blocks[i].summary, new RegExp(`confidence ${c.confidence} · ${c.accounts.count} accounts`));
  }
  // Labels of the capture per campaign: the sample's campaign accounts, few legitimate ones.
  assert.match(blocks[0].summary, /labels: .*sdk_mimic \d+/);
  await shot(page, 'www-campaigns.png', { fullPage: true });
  assert.deepEqual(b.problems, []);
});
