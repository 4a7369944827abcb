// Label roles in real Chromium: the capture's labels listed with sensible defaults (legit-like
// labels legitimate, scenario campaign names and campaign-* labels campaigns, anything else
// such as `poison` or `unknown` ignored), a changed role changing the summary and surviving a
// reload, and an unlabeled capture showing its score and action distributions.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { openBrowser, rendered, gen, summary, shot, sampleText } from './www-harness.mjs';

let b, page;
before(async () => { b = await openBrowser(); page = b.page; });
after(async () => { await b?.close(); });

// The sample's first 1,200 records relabelled in turn; `null` drops the label.
const LABELS = ['benign-users', 'poison', 'unknown', { kind: 'campaign', campaign: 'datacenter_pool' }, 'campaign-x', null];
function relabelled(labels, n = 1200) {
  return sampleText().split('\n').slice(0, n).map((l, i) => {
    const r = JSON.parse(l);
    const label = labels[i % labels.length];
    if (label === null) delete r.label; else r.label = label;
    return JSON.stringify(r);
  }).join('\n');
}

const roles = () => page.$$eval('#roles tbody tr', (trs) => Object.fromEntries(trs.map((tr) =>
  [tr.dataset.label, [tr.querySelector('select').value, tr.querySelector('select').selectedOptions[0].textContent]])));

test('label roles: defaults shown, a changed role moves records between summary rows, kept on reload', async () => {
  await page.goto(`${b.base}/index.html`);
  let g = await rendered(page);
  const file = path.join(b.profile, 'relabelled.jsonl');
  fs.writeFileSync(file, relabelled(LABELS));
  await page.setInputFiles('#capture-file', file);
  g = await rendered(page, g);
  assert.deepEqual(await roles(), {
    'benign-users': ['legitimate', 'legitimate (default)'],
    poison: ['ignored', 'ignored (default)'],
    unknown: ['ignored', 'ignored (default)'],
    datacenter_pool: ['campaign', 'campaign (default)'],
    'campaign-x': ['campaign', 'campaign (default)'],
    '(unlabeled)': ['ignored', 'ignored (default)'],
  });
  let s = await summary(page);
  assert.deepEqual([s.legitimate.count, s.campaign.count, s.ignored.count], [200, 400, 600]);

  await page.selectOption('#roles tr[data-label="poison"] select', 'campaign');
  s = await summary(page);
  assert.deepEqual([s.legitimate.count, s.campaign.count, s.ignored.count], [200, 600, 400]);
  assert.equal(await gen(page), g, 'a role change needs no re-run');
  await shot(page, 'www-roles.png', { fullPage: true });

  await page.reload();
  await rendered(page); // the reload loads the sample again; the chosen role is kept for the label
  await page.setInputFiles('#capture-file', file);
  await rendered(page, await gen(page));
  assert.equal((await roles()).poison[0], 'campaign');
  await page.selectOption('#roles tr[data-label="poison"] select', 'ignored');
  s = await summary(page);
  assert.equal(s.campaign.count, 400);
});

test('an unlabeled capture shows score and action distributions, not "0 of 0"', async () => {
  const file = path.join(b.profile, 'unlabeled.jsonl');
  fs.writeFileSync(file, relabelled([null], 500));
  const g = await gen(page);
  await page.setInputFiles('#capture-file', file);
  await rendered(page, g);
  const s = await summary(page);
  assert.deepEqual(Object.keys(s), ['all']);
  assert.equal(s.all.count, 500);
  assert.match(await page.textContent('#summary-table'), /all records/);
  assert.match(await page.textContent('#next-text'), /No label/);
  await page.click('#next-action');
  assert.equal(await page.getAttribute('#tab-records', 'aria-selected'), 'true');
  assert.equal(await page.inputValue('#f-sort'), 'score-desc');
  await page.waitForSelector('#drilldown h3');
  const scores = await page.$$eval('.rt-row:not([hidden])', (rows) => rows.map((r) => Number(r.children[2].textContent)));
  assert.deepEqual(scores, [...scores].sort((x, y) => y - x), 'highest scores first');
  await page.click('#tab-overview');
  assert.ok(await page.isVisible('#plot-hist'));
  await shot(page, 'www-unlabeled.png', { fullPage: true });
  assert.deepEqual(b.problems, []);
});
