// Golden parity: the wasm-bindgen build (loaded in Node) and the native CLI give the same
// verdict for every line of tests/data/golden_requests.jsonl under the same policy (JA4H on).
// Needs www/pkg (scripts/build.sh web) and target/release/distill-guard (scripts/build.sh native).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const ROOT = path.resolve(import.meta.dirname, '../..');
const DATA = path.join(ROOT, 'tests/data/golden_requests.jsonl');
const CLI = path.join(ROOT, 'target/release/distill-guard');
const PKG = path.join(ROOT, 'www/pkg');

// Lists that make proxy, network and fingerprint signals fire on the golden records.
const POLICY = JSON.stringify({
  name: 'golden',
  thresholds: { tag: 15, throttle: 40, deny: 70 },
  fingerprints: { ja4h: true },
  body: { max_bytes: 2048 },
  networks: { datacenter: ['203.0.113.0/24'], known_proxy: ['198.18.0.0/15'], tor: ['185.220.101.0/24'] },
  allow: { cidrs: ['192.0.2.73/32'] },
  block: { fingerprints: ['t13d301000_01455d0db58d_5ac7197df9d2'] },
});

async function loadWasm() {
  const m = await import(path.join(PKG, 'distill_guard.js'));
  m.initSync({ module: fs.readFileSync(path.join(PKG, 'distill_guard_bg.wasm')) });
  return m;
}

function native() {
  assert.ok(fs.existsSync(CLI), `${CLI} missing: run scripts/build.sh native`);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dg-golden-'));
  try {
    const policy = path.join(dir, 'policy.json');
    fs.writeFileSync(policy, POLICY);
    const out = execFileSync(CLI, ['replay', '--policy', policy, DATA], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    return out.trim().split('\n').map((l) => JSON.parse(l));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

// The fields the brief names, compared one by one for readable failures.
function assertSame(w, n, what) {
  for (const k of ['line', 'error', 'action', 'enforced', 'score', 'reasons', 'label']) {
    assert.deepEqual(w[k], n[k], `${what}: ${k}`);
  }
  for (const k of ['hfp', 'client', 'ja4h', 'ja4', 'ja3', 'account', 'template']) {
    assert.deepEqual(w.fp?.[k], n.fp?.[k], `${what}: fp.${k}`);
  }
  assert.deepEqual(w, n, `${what}: whole verdict`);
}

test('golden file is varied: records, bad lines, labels', () => {
  const lines = fs.readFileSync(DATA, 'utf8').split('\n').filter((l) => l.trim());
  assert.ok(lines.length >= 30, `${lines.length} lines`);
  const parsed = lines.map((l) => { try { return JSON.parse(l); } catch { return null; } });
  assert.ok(parsed.filter((r) => r === null).length >= 1);
  assert.ok(new Set(parsed.map((r) => r?.label && JSON.stringify(r.label))).size >= 4);
});

test('wasm inspectBatch equals native replay, line by line', async () => {
  const wasm = await loadWasm();
  const want = native();
  const got = JSON.parse(new wasm.Engine(POLICY).inspectBatch(fs.readFileSync(DATA, 'utf8')));
  assert.equal(got.length, want.length);
  got.forEach((w, i) => assertSame(w, want[i], `line ${want[i].line}`));
  assert.ok(want.filter((v) => v.error).length >= 5, 'bad lines are reported as errors');
  assert.ok(want.some((v) => v.action && v.action !== 'allow'), 'some record is flagged');
  assert.ok(want.filter((v) => v.fp).every((v) => typeof v.fp.ja4h === 'string'), 'ja4h is on');
});

test('wasm inspect (one record at a time, same engine) equals native replay', async () => {
  const wasm = await loadWasm();
  const want = native();
  const engine = new wasm.Engine(POLICY);
  const lines = fs.readFileSync(DATA, 'utf8').split('\n');
  for (const n of want) {
    const text = lines[n.line - 1];
    if (n.error) {
      assert.throws(() => engine.inspect(text), (e) => e instanceof Error && e.message === n.error, `line ${n.line}`);
      continue;
    }
    assertSame({ line: n.line, ...JSON.parse(engine.inspect(text)) }, n, `line ${n.line}`);
  }
});

test('wasm simulate equals native simulate (same scenario, seed, count)', async () => {
  const wasm = await loadWasm();
  // The third: records without ASN and country (Envoy without a geo database).
  for (const [name, seed, n, without] of [['datacenter_pool', 11, 1500], ['spoofed_browser', 3, 800], ['datacenter_pool', 12, 1500, 'asn,country']]) {
    const file = path.join(ROOT, 'scenarios', `${name}.json`);
    const want = execFileSync(CLI, ['simulate', '--scenario', file, '--seed', String(seed), '--requests', String(n),
      ...(without ? ['--without', without] : [])], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], maxBuffer: 1 << 28 });
    const got = wasm.simulate(fs.readFileSync(file, 'utf8'), seed, n, without);
    assert.equal(got.includes('"asn"'), !without, name);
    assert.equal(got.split('\n').length, n + 1, name);
    assert.ok(got === want, `${name}: wasm and native simulations differ`);
    // And the engine scores them identically (state included) through both builds.
    const policy = fs.readFileSync(path.join(ROOT, 'filters/default.json'), 'utf8');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dg-golden-'));
    try {
      fs.writeFileSync(path.join(dir, 'sim.jsonl'), got);
      const nat = execFileSync(CLI, ['replay', '--policy', path.join(ROOT, 'filters/default.json'), path.join(dir, 'sim.jsonl')],
        { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], maxBuffer: 1 << 28 }).trim().split('\n').map((l) => JSON.parse(l));
      const web = JSON.parse(new wasm.Engine(policy).inspectBatch(got));
      assert.equal(web.length, nat.length);
      web.forEach((w, i) => assertSame(w, nat[i], `${name} line ${nat[i].line}`));
      assert.ok(nat.some((v) => v.action !== 'allow'), `${name}: nothing flagged`);
    } finally { fs.rmSync(dir, { recursive: true, force: true }); }
  }
  assert.throws(() => wasm.simulate('{"campaigns": [{"pool": {"kind": "x"}}]}', 1), /campaigns\[0\]\.pool\.kind/);
  assert.throws(() => wasm.simulate('{}', -1), /seed/);
  assert.throws(() => wasm.simulate('{}', 1, 10, 'asn,moon'), /without: unknown peer field "moon"/);
});
