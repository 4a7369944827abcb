// Shared harness of the tuning-page tests (www*.test.mjs): serves www/ with `python3 -m
// http.server` on a free 127.0.0.1 port, drives real Debian Chromium through playwright-core
// (a fresh profile per test file, removed afterwards), and runs the native CLI for reference
// results. Needs www/pkg (scripts/build.sh web) and target/release/distill-guard.
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import zlib from 'node:zlib';
import { chromium } from 'playwright-core';

export const ROOT = path.resolve(import.meta.dirname, '../..');
export const CLI = path.join(ROOT, 'target/release/distill-guard');
export const OUT = path.join(ROOT, 'test-output');
const ARGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
  '--disable-sync', '--no-first-run'];

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

// A served page in a fresh Chromium profile. `problems` collects console errors, page errors,
// failed requests and HTTP errors; `close()` stops everything and removes the profile.
export async function openBrowser({ width = 1400, height = 1000 } = {}) {
  assert.ok(fs.existsSync(path.join(ROOT, 'www/pkg/distill_guard_bg.wasm')), 'www/pkg missing: run scripts/build.sh web');
  assert.ok(fs.existsSync(CLI), 'target/release/distill-guard missing: run scripts/build.sh native');
  const { proc, url } = await serve();
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'dg-chromium-'));
  const context = await chromium.launchPersistentContext(profile, { executablePath: '/usr/bin/chromium', args: ARGS, headless: true,
    viewport: { width, height } });
  const page = context.pages()[0] ?? await context.newPage();
  const problems = [];
  page.on('console', (m) => { if (m.type() === 'error') problems.push(`console: ${m.text()}`); });
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  page.on('requestfailed', (r) => problems.push(`request failed: ${r.url()}`));
  page.on('response', (r) => { if (r.status() >= 400) problems.push(`HTTP ${r.status()}: ${r.url()}`); });
  fs.mkdirSync(OUT, { recursive: true });
  return {
    page, problems, base: url, profile, context,
    async close() {
      await context.close();
      proc.kill('SIGTERM');
      await new Promise((r) => (proc.exitCode !== null ? r() : proc.once('exit', r)));
      fs.rmSync(profile, { recursive: true, force: true });
    },
  };
}

// Waits until a run newer than `afterGen` is shown; returns its generation.
export async function rendered(page, afterGen = 0, timeout = 120000) {
  await page.waitForFunction((g) => {
    const s = document.getElementById('status');
    return s.dataset.state === 'done' && Number(s.dataset.gen) > g;
  }, afterGen, { timeout });
  return Number(await page.getAttribute('#status', 'data-gen'));
}

export const gen = async (page) => Number(await page.getAttribute('#status', 'data-gen') ?? 0);

// The sticky summary as {role: {count, flagged, throttled, denied}} (shares as numbers, %).
export async function summary(page) {
  const rows = await page.$$eval('#summary-table tbody tr', (trs) => trs.map((tr) => [tr.dataset.role, ...[...tr.cells].slice(1).map((c) => c.textContent)]));
  const num = (s) => Number(String(s).replace(/[,%]/g, ''));
  return Object.fromEntries(rows.map(([role, count, flagged, throttled, denied]) =>
    [role, { count: num(count), flagged: num(flagged), throttled: num(throttled), denied: num(denied) }]));
}

export const shot = (page, name, opts = {}) => page.screenshot({ path: path.join(OUT, name), ...opts });

// The sample capture as text (gunzipped).
export const sampleText = () => zlib.gunzipSync(fs.readFileSync(path.join(ROOT, 'www/samples/sample.jsonl.gz'))).toString('utf8');

// `replay` of `input` under `policy`: the output lines whose input line number `pick` accepts
// (all when omitted), as Map(line -> parsed JSON, or the text with keepText); streamed, so
// large outputs are never held whole.
export async function replay(policy, input, { explain = false, pick = () => true, keepText = false } = {}) {
  const p = spawn(CLI, ['replay', '--policy', policy, ...(explain ? ['--explain'] : []), input], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  p.stderr.on('data', (d) => { stderr += d; });
  const out = new Map();
  for await (const line of readline.createInterface({ input: p.stdout })) {
    const n = Number(/"line":(\d+)/.exec(line)?.[1]);
    if (pick(n)) out.set(n, keepText ? line : JSON.parse(line));
  }
  const code = await new Promise((r) => (p.exitCode !== null ? r(p.exitCode) : p.once('exit', r)));
  assert.equal(code, 0, stderr);
  return out;
}

export const checkPolicy = (file) => execFileSync(CLI, ['check-policy', file], { encoding: 'utf8' });
