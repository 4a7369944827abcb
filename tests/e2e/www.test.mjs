// The tuning page in real Chromium: the first screen (shipped sample, shipped default policy),
// the policy round trip (slider -> JSON editor -> diff -> export -> `check-policy`, undo, reset,
// reload), threshold order, bad input, the simulator, the 390 px layout and the keyboard.
// Label roles, records, compare and the 150k capture have their own files (www-*.test.mjs).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync, spawnSync } from 'node:child_process';
import { ROOT, CLI, openBrowser, rendered, gen, summary, shot, checkPolicy, replay, sampleText } from './www-harness.mjs';

let b, page;
before(async () => { b = await openBrowser(); page = b.page; });
after(async () => { await b?.close(); });

const shipped = JSON.parse(fs.readFileSync(path.join(ROOT, 'filters/default.json'), 'utf8'));

test('first screen: the sample under the shipped default policy, with a next step', async () => {
  await page.goto(`${b.base}/index.html`);
  await rendered(page);
  assert.equal(await page.inputValue('#policy-select'), 'filters/default.json');
  assert.equal(await page.getAttribute('#status', 'data-records'), '8465');
  const s = await summary(page);
  console.log(`sample under filters/default.json: legitimate ${s.legitimate.flagged}% flagged, campaigns ${s.campaign.flagged}% flagged`
    + ` (time to scored ${await page.getAttribute('#status', 'data-ms')} ms)`);
  // The page's numbers are the CLI's (same engine, same capture).
  const tmp = path.join(b.profile, 'sample.jsonl');
  fs.writeFileSync(tmp, sampleText());
  const cli = await replay(path.join(ROOT, 'filters/default.json'), tmp);
  const legit = [...cli.values()].filter((v) => v.label === 'legit');
  const flagged = legit.filter((v) => v.action !== 'allow').length;
  assert.equal(s.legitimate.count, legit.length);
  assert.equal(s.legitimate.flagged, +(100 * flagged / legit.length).toFixed(flagged / legit.length < 0.01 ? 2 : 1));
  assert.ok(s.legitimate.flagged <= 1, `the default policy flags ${s.legitimate.flagged}% of the sample's legitimate records`);
  assert.ok(s.campaign.flagged >= 90, `the default policy flags only ${s.campaign.flagged}% of the sample's campaign records`);
  assert.match(await page.textContent('#next-text'), /fits this capture|legitimate records are flagged|campaign records pass/);
  const roles = await page.$$eval('#roles tbody tr', (trs) => trs.map((tr) => [tr.dataset.label, tr.querySelector('select').value]));
  assert.deepEqual(Object.fromEntries(roles), { legit: 'legitimate', datacenter_pool: 'campaign', sdk_mimic: 'campaign', spoofed_ua: 'campaign' });
  await shot(page, 'www-overview.png', { fullPage: true });
});

test('policy round trip: slider -> editor -> diff -> export -> check-policy; undo, reset, reload', async () => {
  const was = shipped.signals.prompt_cot.weight;
  let g = await gen(page);
  await page.fill('#w-prompt_cot', '40');
  g = await rendered(page, g);
  const editor = JSON.parse(await page.inputValue('#policy-editor'));
  const exported = JSON.parse(await page.inputValue('#export-json'));
  assert.equal(editor.signals.prompt_cot.weight, 40, 'the editor shows the tuned policy');
  assert.deepEqual(exported, editor, 'export and editor show the same policy');
  assert.deepEqual(await page.$$eval('#policy-diff li', (l) => l.map((x) => x.textContent)), [`signals.prompt_cot.weight: ${was} → 40`]);
  assert.ok(await page.$eval('#w-prompt_cot', (i) => i.closest('label').classList.contains('changed')), 'the changed weight is marked');

  // The editor's change shows in the sliders and the export; the weight edit stays.
  await page.click('#editor-panel summary');
  await page.fill('#policy-editor', JSON.stringify({ ...editor, thresholds: { ...editor.thresholds, tag: 35 } }));
  await page.click('#policy-apply');
  await page.waitForFunction(() => document.getElementById('t-tag').value === '35');
  assert.equal(await page.inputValue('#w-prompt_cot'), '40');
  assert.equal(JSON.parse(await page.inputValue('#export-json')).thresholds.tag, 35);
  g = await rendered(page, g); // the tag threshold feeds account.flag_history: re-scored

  // Thresholds keep their order: the moved one stops at its neighbour, the others stay.
  const t = editor.thresholds;
  await page.fill('#t-tag', String(t.throttle + 5));
  assert.equal(await page.inputValue('#t-tag'), String(t.throttle));
  assert.equal(await page.inputValue('#t-throttle'), String(t.throttle));
  assert.equal(await page.inputValue('#t-deny'), String(t.deny));
  assert.match(await page.textContent('#threshold-note'), /stops at throttle/);
  await page.click('#undo');
  assert.equal(await page.inputValue('#t-tag'), '35');
  await page.click('#undo');
  assert.equal(await page.inputValue('#t-tag'), String(t.tag));
  assert.equal(await page.inputValue('#w-prompt_cot'), '40');
  await page.click('#redo');
  assert.equal(await page.inputValue('#t-tag'), '35');
  g = await rendered(page, g);

  // The export passes the native check and scores the capture as the page does.
  const file = path.join(b.profile, 'exported.json');
  const text = await page.inputValue('#export-json');
  fs.writeFileSync(file, text);
  assert.match(checkPolicy(file), /: ok/);
  assert.equal(await page.$$eval('#export-errors li', (l) => l.length), 0);
  const href = await page.getAttribute('#export-link', 'href');
  assert.equal(await page.evaluate((u) => fetch(u).then((r) => r.text()), href), `${text}\n`, 'the download is the shown text');
  const sample = path.join(b.profile, 'sample.jsonl');
  const cli = [...(await replay(file, sample)).values()];
  const campaign = cli.filter((v) => v.label !== 'legit');
  const s = await summary(page);
  assert.equal(s.campaign.denied, +(100 * campaign.filter((v) => v.action === 'deny').length / campaign.length).toFixed(1));

  // A reload keeps the tuned policy (URL hash), and so does a bare URL (localStorage).
  await page.reload();
  await rendered(page);
  assert.equal(await page.inputValue('#w-prompt_cot'), '40');
  assert.equal(await page.inputValue('#t-tag'), '35');
  assert.match(await page.textContent('#diff-summary'), /^2 changes/);
  assert.match(page.url(), /tuned=/);
  await page.goto(`${b.base}/index.html`);
  await rendered(page);
  assert.equal(await page.inputValue('#w-prompt_cot'), '40');

  // Reset returns to the loaded policy (itself undoable).
  await page.click('#reset');
  assert.equal(await page.inputValue('#w-prompt_cot'), String(was));
  assert.equal(await page.textContent('#diff-summary'), 'no changes from the loaded policy');
  assert.ok(await page.isDisabled('#reset'));
  await page.click('#undo');
  assert.equal(await page.inputValue('#w-prompt_cot'), '40');
  const g0 = await gen(page);
  await page.click('#reset');
  await rendered(page, g0);
});

test('bad input: every policy error with its path; bad capture lines by number, the rest loads', async () => {
  if (!(await page.isVisible('#policy-editor'))) await page.click('#editor-panel summary');
  const before = await page.inputValue('#w-proxy_via');
  await page.fill('#policy-editor', '{"thresholds": {"tag": "high"}, "signals": {"proxy_vai": {"weight": 5}}, "body": {"max_bytes": -1}}');
  await page.click('#policy-apply');
  await page.waitForSelector('#policy-errors li');
  const errors = await page.$$eval('#policy-errors li', (li) => li.map((x) => x.textContent));
  assert.ok(errors.some((e) => e.startsWith('thresholds.tag:')), errors.join('\n'));
  assert.ok(errors.some((e) => e.includes('did you mean "proxy_via"')), errors.join('\n'));
  assert.ok(errors.some((e) => e.startsWith('body.max_bytes:')), errors.join('\n'));
  assert.equal(await page.inputValue('#w-proxy_via'), before, 'nothing applied');
  assert.match(await page.textContent('#editor-state'), /nothing applied/);
  await page.click('#policy-discard');
  assert.equal(await page.$$eval('#policy-errors li', (l) => l.length), 0);

  const g = await gen(page);
  const golden = path.join(ROOT, 'tests/data/golden_requests.jsonl');
  await page.setInputFiles('#capture-file', golden);
  await rendered(page, g);
  const bad = await page.$$eval('#capture-errors li', (li) => li.map((x) => x.textContent));
  const cli = [...(await replay(path.join(ROOT, 'filters/default.json'), golden)).values()];
  const cliErrors = cli.filter((v) => v.error);
  assert.ok(cliErrors.length >= 1);
  assert.equal(bad[0], `line ${cliErrors[0].line}: ${cliErrors[0].error}`);
  assert.equal(Number(await page.getAttribute('#status', 'data-records')), cli.length - cliErrors.length);
  assert.match(await page.textContent('#capture-info'), /unreadable line/);

  // A file that cannot be read at all (a broken gzip) is reported; the loaded capture stays.
  const corrupt = path.join(b.profile, 'corrupt.jsonl.gz');
  fs.writeFileSync(corrupt, Buffer.from([0x1f, 0x8b, 8, 0, 1, 2, 3, 4, 5]));
  const records = await page.getAttribute('#status', 'data-records');
  const rows = await page.$$eval('#summary-table tbody tr', (r) => r.length);
  await page.setInputFiles('#capture-file', corrupt);
  await page.waitForFunction(() => document.getElementById('status').dataset.state === 'error');
  assert.match(await page.textContent('#status'), /could not load corrupt\.jsonl\.gz: .*previous capture stays loaded/);
  assert.equal(await page.getAttribute('#status', 'data-records'), records);
  assert.equal(await page.$$eval('#summary-table tbody tr', (r) => r.length), rows);
  await page.fill('#w-prompt_cot', '18'); // and it still runs
  await rendered(page, await gen(page));
  assert.equal(await page.getAttribute('#status', 'data-records'), records);
});

test('a capture recorded behind a balancer: the page names the client-address finding and what the checks judged as replay does', async () => {
  // 600 requests through one balancer (peer 10.0.0.2, the client in X-Forwarded-For), scored
  // with the shipped policy (proxy.trusted_hops 0): the balancer is taken for every client.
  const file = path.join(b.profile, 'behind-balancer.jsonl');
  fs.writeFileSync(file, Array.from({ length: 600 }, (_, i) => JSON.stringify({
    ts_ms: 1772409600000 + i * 100, method: 'GET', path: '/v1/models',
    headers: [['Host', 'a'], ['User-Agent', 'curl/8.5.0'], ['Authorization', `Bearer k${i}`], ['X-Forwarded-For', `198.51.${i % 200}.7`]],
    peer: { ip: '10.0.0.2' },
  })).join('\n') + '\n');
  const g = await gen(page);
  await page.setInputFiles('#capture-file', file);
  await rendered(page, g);
  const shown = await page.$$eval('#capture-notices li', (li) => li.map((x) => x.textContent));
  const cli = spawnSync(CLI, ['replay', '--policy', path.join(ROOT, 'filters/default.json'), file], { encoding: 'utf8' });
  const lines = cli.stderr.split('\n').filter((l) => l.includes('client address'));
  assert.equal(lines.length, 1, cli.stderr);
  assert.deepEqual(shown, [lines[0]]);
  assert.match(shown[0], /^line 256: warning: client address: 100 % of the last 256 requests came from private addresses/);
  // What the checks judged, in replay's words (its summary line without the pointer upward).
  const judged = cli.stderr.match(/deployment checks: (.*?)(?: \(above, with their input lines\))?\n/)?.[1];
  assert.equal(judged, '2 windows of 256 requests judged, 1 warning line', cli.stderr);
  assert.ok((await page.textContent('#capture-info')).endsWith(`; deployment checks: ${judged}`), await page.textContent('#capture-info'));
  // The sample (no balancer, fewer requests than a window) has no notice, and says it was not judged.
  await page.setInputFiles('#capture-file', path.join(ROOT, 'tests/data/golden_requests.jsonl'));
  await rendered(page, await gen(page));
  assert.equal(await page.$$eval('#capture-notices li', (l) => l.length), 0);
  assert.match(await page.textContent('#capture-info'), /; deployment checks: nothing judged \(fewer than 256 requests\)$/);
});

test('the simulator generates a scenario that the engine scores', async () => {
  assert.equal(await page.isVisible('#sim-panel'), true, 'the Wasm build exports simulate');
  const g = await gen(page);
  await page.click('#sim-panel summary');
  await page.selectOption('#sim-select', 'datacenter_pool.json');
  await page.fill('#sim-seed', '11');
  await page.fill('#sim-limit', '3000');
  await page.click('#sim-run');
  await rendered(page, g);
  assert.equal(await page.getAttribute('#status', 'data-records'), '3000');
  const roles = await page.$$eval('#roles tbody tr', (trs) => trs.map((tr) => [tr.dataset.label, tr.querySelector('select').value]));
  assert.deepEqual(Object.fromEntries(roles), { legit: 'legitimate', datacenter_pool: 'campaign' });
  await page.fill('#sim-scenario', '{"campaigns": [{"pool": {"kind": "x"}}]}');
  await page.click('#sim-run');
  await page.waitForFunction(() => document.getElementById('status').dataset.state === 'error');
  assert.match(await page.textContent('#status'), /campaigns\[0\]\.pool\.kind/);
});

test('the simulator leaves out the network facts a host does not give, as the CLI does', async () => {
  // Envoy without a geo database: no ASN, no country. The page's numbers are the CLI's on the
  // same records (`simulate --without asn,country`, then `replay`), and differ from those
  // with the facts (seed 11's first 3,000 datacenter_pool records: 806 vs 793 campaign flags).
  const sim = path.join(b.profile, 'no-geo.jsonl');
  const cliRun = async (without) => {
    execFileSync(CLI, ['simulate', '--scenario', path.join(ROOT, 'www/scenarios/datacenter_pool.json'), '--seed', '11',
      '--requests', '3000', ...(without ? ['--without', without] : []), '--out', sim], { stdio: 'ignore' });
    const v = [...(await replay(path.join(ROOT, 'filters/default.json'), sim)).values()].filter((r) => r.label !== 'legit');
    return +(100 * v.filter((r) => r.action !== 'allow').length / v.length).toFixed(1);
  };
  const [withGeo, noGeo] = [await cliRun(''), await cliRun('asn,country')];
  assert.notEqual(withGeo, noGeo, 'the run does not tell the two apart');
  assert.ok(fs.readFileSync(sim, 'utf8').split('\n').filter(Boolean).every((l) => JSON.parse(l).peer.asn === undefined));
  await page.goto(`${b.base}/index.html`);
  await rendered(page);
  if (!(await page.isDisabled('#reset'))) { // earlier tests tuned it: back to the shipped policy
    const g = await gen(page);
    await page.click('#reset');
    await rendered(page, g);
  }
  for (const [without, want] of [['asn,country', noGeo], ['', withGeo]]) {
    const g = await gen(page);
    await page.click('#sim-panel summary');
    await page.selectOption('#sim-select', 'datacenter_pool.json');
    await page.fill('#sim-seed', '11');
    await page.fill('#sim-limit', '3000');
    await page.selectOption('#sim-without', without);
    await page.click('#sim-run');
    await rendered(page, g);
    assert.equal((await summary(page)).campaign.flagged, want, `without "${without}"`);
    if (await page.isVisible('#sim-run')) await page.click('#sim-panel summary'); // close it again
  }
});

test('keyboard: tabs, records grid and drill-down without a mouse', async () => {
  await page.goto(`${b.base}/index.html`);
  await rendered(page);
  await page.focus('#tab-overview');
  await page.keyboard.press('ArrowRight');
  assert.equal(await page.getAttribute('#tab-records', 'aria-selected'), 'true');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'tab-records');
  await page.focus('#records');
  await page.keyboard.press('ArrowDown');
  await page.keyboard.press('ArrowDown');
  await page.keyboard.press('Enter');
  await page.waitForFunction(() => document.getElementById('drilldown').dataset.line === '2');
  await page.keyboard.press('End');
  await page.keyboard.press('Enter');
  await page.waitForFunction(() => document.getElementById('drilldown').dataset.line === '8465');
  // Every control in the aside is reachable with Tab (none has a negative tabindex).
  assert.equal(await page.$$eval('#controls [tabindex="-1"]', (l) => l.length), 0);
  assert.deepEqual(b.problems, []);
});

test('390 px wide: no horizontal overflow, the summary stays in view while tuning', async () => {
  await page.setViewportSize({ width: 390, height: 844 });
  await page.goto(`${b.base}/index.html`);
  await rendered(page);
  assert.ok(await page.evaluate(() => document.documentElement.scrollWidth) <= 390);
  await page.locator('#w-prompt_cot').scrollIntoViewIfNeeded();
  const box = await page.locator('#summary-table').boundingBox();
  assert.ok(box && box.y >= 0 && box.y + box.height <= 844, `summary at ${JSON.stringify(box)}`);
  await shot(page, 'www-390.png');
  await page.setViewportSize({ width: 1400, height: 1000 });
  assert.deepEqual(b.problems, []);
});
