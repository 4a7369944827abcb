// End-to-end test of the edge worker: real workerd (npm `workerd`) in front of a local Node
// origin that records what it receives; real clients (Node's fetch/undici and curl).
// Needs edge/pkg (scripts/build.sh web). Everything binds 127.0.0.1 on free ports and is
// stopped at the end, so the file can run twice in a row.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const ROOT = path.resolve(import.meta.dirname, '../..');
const WORKERD = path.join(ROOT, 'node_modules/@cloudflare/workerd-linux-64/bin/workerd');
const EDGE = path.join(ROOT, 'edge');
const run = promisify(execFile);

// --- origin: records every request (headers, body length + sha256); /sse streams 5 events.
function startOrigin() {
  const requests = [];
  const heads = []; // url of each request, as soon as its headers arrive (before its body)
  const server = http.createServer((req, res) => {
    heads.push(req.url);
    const hash = createHash('sha256');
    let bytes = 0;
    req.on('data', (c) => { hash.update(c); bytes += c.length; });
    req.on('end', () => {
      requests.push({ method: req.method, url: req.url, headers: req.headers, bytes, sha256: hash.digest('hex') });
      if (req.url === '/sse') {
        res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
        let n = 0;
        const t = setInterval(() => {
          res.write(`data: {"n": ${n}}\n\n`);
          if (++n === 5) { clearInterval(t); res.end(); }
        }, 150);
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json', 'x-origin': 'yes' });
      res.end('{"ok":true}');
    });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => {
    resolve({ port: server.address().port, requests, heads, close: () => new Promise((r) => { server.closeAllConnections(); server.close(r); }) });
  }));
}

// --- workerd: one socket + worker per named policy, all in one process on ports it picks.
function configText(names, bindings = {}) {
  const worker = (n, i) => `const worker${i} :Workerd.Worker = (
  modules = [
    (name = "worker.mjs", esModule = embed "worker.mjs"),
    (name = "record.mjs", esModule = embed "record.mjs"),
    (name = "fleet.mjs", esModule = embed "fleet.mjs"),
    (name = "pkg/distill_guard.js", esModule = embed "pkg/distill_guard.js"),
    (name = "pkg/distill_guard_bg.wasm", wasm = embed "pkg/distill_guard_bg.wasm"),
  ],
  compatibilityDate = "2025-09-01",
  bindings = [(name = "POLICY", text = embed "policy-${n}.json"), (name = "ORIGIN", service = "origin")${Object.entries(bindings[n] ?? {}).map(([k, v]) => `, (name = "${k}", text = ${JSON.stringify(v)})`).join('')}],
);`;
  return `using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [
    ${names.map((n, i) => `(name = "${n}", worker = .worker${i}),`).join('\n    ')}
    (name = "origin", external = (address = "127.0.0.1:1", http = ())),
  ],
  sockets = [
    ${names.map((n) => `(name = "${n}", address = "127.0.0.1:0", http = (), service = "${n}"),`).join('\n    ')}
  ],
);
${names.map(worker).join('\n')}
`;
}

// `bindings`: extra text bindings per worker name (e.g. { buffered: { BODY_LEARN: 'buffer' } }).
async function startWorkerd(policies, originPort, bindings = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dg-edge-'));
  for (const f of ['worker.mjs', 'record.mjs', 'fleet.mjs']) fs.copyFileSync(path.join(EDGE, f), path.join(dir, f));
  fs.cpSync(path.join(EDGE, 'pkg'), path.join(dir, 'pkg'), { recursive: true });
  const names = Object.keys(policies);
  for (const n of names) fs.writeFileSync(path.join(dir, `policy-${n}.json`), policies[n]);
  fs.writeFileSync(path.join(dir, 'config.capnp'), configText(names, bindings));
  const proc = spawn(WORKERD, ['serve', 'config.capnp', '--control-fd', '3', '--external-addr', `origin=127.0.0.1:${originPort}`],
    { cwd: dir, stdio: ['ignore', 'pipe', 'pipe', 'pipe'] });
  let log = '';
  proc.stdout.on('data', (d) => { log += d; });
  proc.stderr.on('data', (d) => { log += d; });
  const ports = {};
  const started = new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`workerd did not start:\n${log}`)), 20000);
    let buf = '';
    proc.stdio[3].on('data', (d) => {
      buf += d;
      for (const line of buf.split('\n').slice(0, -1)) {
        const ev = JSON.parse(line);
        if (ev.event === 'listen') ports[ev.socket] = ev.port;
      }
      buf = buf.slice(buf.lastIndexOf('\n') + 1);
      if (names.every((n) => ports[n])) { clearTimeout(timer); resolve(); }
    });
    proc.on('exit', (code) => { clearTimeout(timer); reject(new Error(`workerd exited ${code}:\n${log}`)); });
  });
  await started.catch((e) => { proc.kill('SIGKILL'); fs.rmSync(dir, { recursive: true, force: true }); throw e; });
  const stop = () => new Promise((resolve) => {
    if (proc.exitCode !== null) return resolve();
    proc.removeAllListeners('exit');
    proc.on('exit', resolve);
    proc.kill('SIGTERM');
  }).then(() => fs.rmSync(dir, { recursive: true, force: true }));
  return { url: (n) => `http://127.0.0.1:${ports[n]}`, log: () => log, stop };
}

// curl: returns { status, headers (lowercase), body }.
async function curl(url, args = []) {
  const { stdout } = await run('curl', ['-s', '-i', '--max-time', '10', ...args, url], { maxBuffer: 1 << 24 });
  const [head, ...rest] = stdout.split('\r\n\r\n');
  const lines = head.split('\r\n');
  const headers = {};
  for (const l of lines.slice(1)) { const i = l.indexOf(':'); headers[l.slice(0, i).toLowerCase()] = l.slice(i + 1).trim(); }
  return { status: Number(lines[0].split(' ')[1]), headers, body: rest.join('\r\n\r\n') };
}

const MESSAGE = JSON.stringify({ model: 'm', max_tokens: 64, messages: [{ role: 'user', content: 'Hello there' }] });
const fetchMessage = (base, extra = {}) => fetch(`${base}/v1/messages`, {
  method: 'POST', body: MESSAGE, headers: { 'content-type': 'application/json', 'x-api-key': 'sk-test-1', ...extra },
});
const curlModels = (base) => curl(`${base}/v1/models`, ['-H', 'authorization: Bearer sk-test-2']);

let origin;
let wd;
before(async () => { origin = await startOrigin(); });
after(async () => { if (wd) await wd.stop(); await origin.close(); });

const originSaw = (pred) => origin.requests.filter(pred);

test('open policy: tags reach the origin, client-sent tags are removed, bodies and streams pass', async (t) => {
  wd = await startWorkerd({ open: '{"name": "open"}', bad: '{"thresholds": {"tag": "high"}, "bogus": 1}' }, origin.port);
  const base = wd.url('open');

  await t.test('node fetch: tags added, forged tags replaced', async () => {
    const res = await fetchMessage(base, { 'x-distill-score': '99', 'X-Distill-Action': 'allow-me' });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('x-origin'), 'yes');
    const seen = origin.requests.at(-1);
    assert.equal(seen.url, '/v1/messages');
    assert.match(seen.headers['x-distill-score'], /^\d+$/);
    assert.notEqual(seen.headers['x-distill-score'], '99');
    assert.match(seen.headers['x-distill-action'], /^(allow|tag)$/);
    assert.match(seen.headers['x-distill-fp'], /^[0-9a-f]{16}$/);
    assert.ok('x-distill-client' in seen.headers);
    assert.match(seen.headers['x-distill-ref'], /^[0-9a-f]{16}$/);
    assert.equal(seen.sha256, createHash('sha256').update(MESSAGE).digest('hex'));
  });

  await t.test('curl: tags added', async () => {
    const res = await curl(`${base}/v1/models`, ['-H', 'x-distill-fp: forged']);
    assert.equal(res.status, 200);
    const seen = origin.requests.at(-1);
    assert.equal(seen.url, '/v1/models');
    assert.match(seen.headers['x-distill-fp'], /^[0-9a-f]{16}$/);
    assert.equal(seen.headers['user-agent'].startsWith('curl/'), true);
  });

  await t.test('a large body on an API path reaches the origin whole, with its length', async () => {
    const big = randomBytes(300_000);
    const want = createHash('sha256').update(big).digest('hex');
    const res = await fetch(`${base}/v1/messages`, { method: 'POST', body: big, headers: { 'content-type': 'application/json' } });
    assert.equal(res.status, 200);
    let seen = origin.requests.at(-1);
    assert.equal(seen.bytes, 300_000);
    assert.equal(seen.sha256, want);
    assert.equal(seen.headers['content-length'], '300000');
    const file = path.join(os.tmpdir(), `dg-big-${process.pid}.bin`);
    fs.writeFileSync(file, big);
    try {
      const c = await curl(`${base}/v1/chat/completions`, ['-X', 'POST', '-H', 'transfer-encoding: chunked', '--data-binary', `@${file}`]);
      assert.equal(c.status, 200);
    } finally { fs.rmSync(file); }
    seen = origin.requests.at(-1);
    assert.equal(seen.url, '/v1/chat/completions');
    assert.equal(seen.sha256, want);
  });

  await t.test('a streamed response arrives in several chunks over time', async () => {
    const res = await fetch(`${base}/sse`);
    assert.equal(res.headers.get('content-type'), 'text/event-stream');
    const reader = res.body.getReader();
    const times = [];
    let text = '';
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      times.push(Date.now());
      text += new TextDecoder().decode(value);
    }
    assert.equal((text.match(/data: /g) ?? []).length, 5);
    assert.ok(times.length >= 3, `only ${times.length} chunk(s)`);
    assert.ok(times.at(-1) - times[0] >= 300, `chunks arrived within ${times.at(-1) - times[0]} ms`);
  });

  await t.test('a bad policy is reported at startup and every request gets 500 with the errors', async () => {
    const before = origin.requests.length;
    for (let i = 0; i < 2; i++) {
      const res = await fetch(`${wd.url('bad')}/v1/models`);
      assert.equal(res.status, 500);
      const body = await res.json();
      const paths = body.errors.map((e) => e.path).sort();
      assert.deepEqual(paths, ['bogus', 'thresholds.tag']);
      assert.match(body.error.message, /thresholds\.tag: must be a number/);
    }
    const c = await curl(`${wd.url('bad')}/`);
    assert.equal(c.status, 500);
    assert.equal(origin.requests.length, before, 'the origin saw a request behind a bad policy');
    const log = wd.log();
    assert.match(log, /distill-guard: invalid policy \(2 errors\):/);
    assert.match(log, /bogus: unknown field/);
    assert.equal(log.match(/distill-guard: invalid policy/g).length, 1, 'logged once per isolate');
  });
});

// Reason codes, scores and fingerprints must not reach a blocked client (unless the policy opts in).
const SECRETS = ['proxy.', 'client.', 'fp.', 'prompt.', 'cluster.', 'account.', 'rate.', 'ip.', 'score', 'reasons', 'x-distill'];
const leaks = (status, headers, body) => SECRETS.filter((s) => `${status} ${JSON.stringify(headers)} ${body}`.toLowerCase().includes(s));

test('deny (403) and throttle (429 + Retry-After) answer without reaching the origin, telling the client only a reference', async () => {
  // Learn each client's header-shape fingerprint from the tags the origin received...
  const prints = new Set();
  await fetchMessage(wd.url('open'));
  prints.add(origin.requests.at(-1).headers['x-distill-fp']);
  await curlModels(wd.url('open'));
  prints.add(origin.requests.at(-1).headers['x-distill-fp']);
  await wd.stop();
  // ...then list them: `fp.listed` (weight 60) alone reaches deny / throttle.
  const listed = JSON.stringify([...prints]);
  wd = await startWorkerd({
    deny: `{"thresholds": {"tag": 10, "throttle": 30, "deny": 50}, "block": {"fingerprints": ${listed}}}`,
    throttle: `{"thresholds": {"tag": 10, "throttle": 50, "deny": 101}, "throttle": {"retry_after_s": 7}, "block": {"fingerprints": ${listed}}}`,
    debug: `{"thresholds": {"tag": 10, "throttle": 30, "deny": 50}, "block": {"fingerprints": ${listed}}, "output": {"client_reasons": true}}`,
  }, origin.port);
  const before = origin.requests.length;

  const d = await fetchMessage(wd.url('deny'));
  assert.equal(d.status, 403);
  const text = await d.text();
  const body = JSON.parse(text);
  assert.match(body.error.ref, /^[0-9a-f]{16}$/);
  assert.deepEqual(body, { error: { type: 'forbidden', message: 'request blocked', ref: body.error.ref } });
  const headers = Object.fromEntries(d.headers);
  assert.deepEqual(Object.keys(headers).filter((k) => !['content-length', 'content-type', 'date', 'connection', 'keep-alive', 'transfer-encoding'].includes(k)), [], JSON.stringify(headers));
  assert.deepEqual(leaks(d.status, headers, text), []);
  // The operator finds the request by its reference in the worker's log.
  assert.match(wd.log(), new RegExp(`distill-guard: deny ref ${body.error.ref} score \\d+ reasons [^ ]*fp\\.listed`));

  const dc = await curlModels(wd.url('deny'));
  assert.equal(dc.status, 403);
  assert.deepEqual(leaks(dc.status, dc.headers, dc.body), []);

  const th = await fetchMessage(wd.url('throttle'));
  assert.equal(th.status, 429);
  assert.equal(th.headers.get('retry-after'), '7');
  const thText = await th.text();
  assert.deepEqual(JSON.parse(thText).error.type, 'rate_limited');
  assert.deepEqual(leaks(th.status, Object.fromEntries(th.headers), thText), []);
  const tc = await curlModels(wd.url('throttle'));
  assert.equal(tc.status, 429);
  assert.equal(tc.headers['retry-after'], '7');

  // Opt-in for debugging: the verdict and the tags come back.
  const dbg = await fetchMessage(wd.url('debug'));
  assert.equal(dbg.status, 403);
  const dbgBody = await dbg.json();
  assert.ok(dbgBody.reasons.includes('fp.listed'), JSON.stringify(dbgBody));
  assert.equal(dbgBody.action, 'deny');
  assert.equal(dbg.headers.get('x-distill-action'), 'deny');
  assert.equal(dbg.headers.get('x-distill-ref'), dbgBody.error.ref);

  assert.equal(origin.requests.length, before, 'a denied or throttled request reached the origin');
});

// Parses an RFC 9651 dictionary with an independent implementation (PyPI http-sf, in .venv).
async function parseDictionary(text) {
  const py = path.join(ROOT, '.venv/bin/python');
  const code = 'import http_sf,json,sys\nd=http_sf.parse(sys.argv[1].encode(),tltype="dictionary")\n'
    + 'p=lambda v:[p(i[0]) for i in v] if isinstance(v,list) else str(v) if isinstance(v,http_sf.Token) else v\n'
    + 'print(json.dumps({k:p(v) for k,(v,_) in d.items()}))';
  const { stdout } = await run(py, ['-c', code, text]);
  return JSON.parse(stdout);
}

test('structured format: one RFC 9651 header reaches the origin; the shipped hash key is warned about once', async () => {
  await wd.stop();
  wd = await startWorkerd({
    structured: '{"output": {"format": "structured"}, "identity": {"hash_key": "edge-e2e-secret"}}',
    open: '{"name": "open"}',
  }, origin.port);
  const res = await fetchMessage(wd.url('structured'), { 'X-Distill': 'score=0', 'x-distill-score': '1' });
  assert.equal(res.status, 200);
  const seen = origin.requests.at(-1);
  const names = Object.keys(seen.headers).filter((k) => k.startsWith('x-distill'));
  assert.deepEqual(names, ['x-distill'], JSON.stringify(seen.headers));
  const d = await parseDictionary(seen.headers['x-distill']);
  assert.deepEqual(Object.keys(d).slice(0, 5), ['score', 'action', 'reasons', 'fp', 'client']);
  assert.ok(Number.isInteger(d.score) && ['allow', 'tag'].includes(d.action) && Array.isArray(d.reasons));
  assert.match(d.fp, /^[0-9a-f]{16}$/);
  assert.match(d.account, /^[0-9a-f]{16}$/);
  assert.match(d.ref, /^[0-9a-f]{16}$/);
  await fetch(`${wd.url('open')}/v1/models`);
  await fetch(`${wd.url('open')}/v1/models`);
  const log = wd.log();
  assert.equal(log.match(/identity\.hash_key is the shipped placeholder "distill-guard"/g)?.length, 1, log);
  assert.ok(!log.includes('"edge-e2e-secret"'));
});

test('record.mjs on Cloudflare: request.cf feeds the peer, Cloudflare headers stay out', async () => {
  const { requestHead, hostSettings, peerAsn } = await import(path.join(EDGE, 'record.mjs'));
  const request = {
    method: 'POST',
    url: 'https://api.example.com/v1/messages?beta=true',
    headers: new Headers({ 'user-agent': 'curl/8.14.1', 'cf-connecting-ip': '203.0.113.9', 'cf-ray': 'abc', 'x-real-ip': '203.0.113.9',
      'x-forwarded-proto': 'https', 'x-forwarded-for': '203.0.113.9', 'content-type': 'application/json' }),
    cf: { httpProtocol: 'HTTP/2', asn: 64500, country: 'NL', clientTcpRtt: 12, tlsVersion: 'TLSv1.3',
      botManagement: { ja4: 't13d1516h2_8daaf6152771_d8a2da3f94cd', ja3Hash: '773906b0efdefa24a7f2b8eb6985bf37', score: 2 } },
  };
  const head = requestHead(request, hostSettings({}, true), 'ray-abc');
  assert.deepEqual(head.split('\n'), ['POST', 'https://api.example.com/v1/messages?beta=true', 'HTTP/2', '203.0.113.9',
    't13d1516h2_8daaf6152771_d8a2da3f94cd', '773906b0efdefa24a7f2b8eb6985bf37', 'NL', 'ray-abc',
    'content-type', 'application/json', 'user-agent', 'curl/8.14.1', 'x-forwarded-for', '203.0.113.9']);
  assert.equal(peerAsn(request), 64500);
  // Locally (no request.cf) nothing is dropped and no header is trusted for the client IP;
  // a value that could break the format (a newline) never gets into a field.
  const local = requestHead({ ...request, cf: { country: 'N\nL' } }, hostSettings({}, false), 't').split('\n');
  assert.deepEqual(local.slice(0, 8), ['POST', request.url, '', '', '', '', '', 't']);
  assert.equal(local.length, 8 + 2 * 7);
  assert.equal(peerAsn({ cf: { asn: -3 } }), -1);

  // The engine reads it: JA4 / JA3 come through, and a listed JA4 is denied with a reference.
  const m = await import(path.join(EDGE, 'pkg/distill_guard.js'));
  m.initSync({ module: fs.readFileSync(path.join(EDGE, 'pkg/distill_guard_bg.wasm')) });
  const engine = new m.Engine(JSON.stringify({ thresholds: { tag: 10, throttle: 30, deny: 50 },
    block: { fingerprints: ['t13d1516h2_8daaf6152771_d8a2da3f94cd'] } }));
  const out = engine.inspectRequest(head, new TextEncoder().encode('{"model":"m"}'), true, 64500, 1234).split('\n');
  assert.deepEqual(out.slice(0, 3), ['reply', '403', '0']);
  assert.match(JSON.parse(out[3]).error.ref, /^[0-9a-f]{16}$/);
  assert.match(out[4], /^deny ref [0-9a-f]{16} score \d+ reasons [^ ]*fp\.listed/);
  // The two phases say the same: the header score (fp.listed, 60) is in the default gray zone
  // (15..90), so the request is held, and its body phase denies.
  const held = engine.inspectHeaders(head, true, 64500, 1235).split('\n');
  assert.deepEqual(held, ['hold', '0', held[2], '', '', '0']);
  const late = engine.inspectBody(Number(held[2]), new TextEncoder().encode('{"model":"m"}'), true).split('\n');
  assert.deepEqual(late.slice(0, 3), ['reply', '403', '0']);
  // A malformed head is the internal-error verdict (fail open here), never an exception.
  for (const bad of [engine.inspectRequest('GET\n/', new Uint8Array(0), true, -1, 1), engine.inspectHeaders('GET\n/', false, -1, 1)]) {
    const lines = bad.split('\n');
    assert.equal(lines[0], 'forward');
    assert.match(lines[4], /^internal error: request head has fewer than 8 fields/);
    assert.ok(lines.includes('x-distill-error'));
  }
  // Tickets: a stale or unknown one is the internal-error verdict for a held request and
  // nothing for learning; a ticket is good once.
  const open = new m.Engine('{"body": {"inspect": "always"}}');
  const hold = open.inspectHeaders(head, true, -1, 5).split('\n');
  assert.equal(hold[0], 'hold');
  assert.equal(open.parkedRequests(), 1);
  const decided = open.inspectBody(Number(hold[2]), new TextEncoder().encode('{"model":"m"}'), true).split('\n');
  assert.equal(decided[0], 'forward');
  assert.equal(open.parkedRequests(), 0);
  assert.match(open.inspectBody(Number(hold[2]), new Uint8Array(0), true).split('\n')[4], /^internal error: no held request/);
  assert.equal(open.learnBody(Number(hold[2]), new Uint8Array(0), true), false);
  const never = new m.Engine('{"body": {"inspect": "never"}}');
  const fwd = never.inspectHeaders(head, true, -1, 6).split('\n');
  assert.equal(fwd[0], 'forward');
  assert.ok(Number(fwd[2]) > 0, 'a body the engine learns from gets a ticket');
  assert.equal(never.learnBody(Number(fwd[2]), new TextEncoder().encode('{"model":"m"}'), true), true);
  assert.equal(never.parkedRequests(), 0);
  assert.deepEqual(engine.warnings().length, 1);
});

test('policy routes: one request shape gets each route\'s action, weights and mode; the route is tagged', async () => {
  await wd?.stop();
  // Learn the curl shapes' fingerprints (a JSON POST, a GET) through an open policy...
  wd = await startWorkerd({ open: '{"name": "open"}' }, origin.port);
  const post = (base, p) => curl(`${base}${p}`, ['-X', 'POST', '-H', 'content-type: application/json', '--data-binary', '{}']);
  const get = (base, p) => curl(`${base}${p}`);
  await post(wd.url('open'), '/v1/chat/completions');
  const fps = [origin.requests.at(-1).headers['x-distill-fp']];
  await get(wd.url('open'), '/v1/models');
  fps.push(origin.requests.at(-1).headers['x-distill-fp']);
  await wd.stop();
  // ...then list them (fp.listed, 60 points): globally only a tag; the Messages route denies at
  // 50, the batch route computes a throttle at 50 in shadow, the models route weighs the list at 0.
  const policy = {
    thresholds: { tag: 10, throttle: 101, deny: 101 }, block: { fingerprints: fps },
    routes: [
      { name: 'messages', match: { path: '/v1/messages', method: 'POST' }, thresholds: { throttle: 50, deny: 50 } },
      { name: 'batches', match: { prefix: '/v1/messages/batches' }, mode: 'shadow', thresholds: { throttle: 50 } },
      { name: 'models', match: { prefix: '/v1/models', method: ['GET', 'HEAD'] }, signals: { fp_listed: { weight: 0 } } },
    ],
  };
  wd = await startWorkerd({ routes: JSON.stringify(policy) }, origin.port);
  const base = wd.url('routes');
  const seen = () => origin.requests.at(-1).headers;
  const reasons = (h) => h['x-distill-reasons'].split(',');

  let r = await post(base, '/v1/chat/completions');
  assert.equal(r.status, 200, r.body + wd.log());
  let h = seen();
  assert.equal(h['x-distill-action'], 'tag');
  assert.ok(!('x-distill-route' in h), 'no route matched');
  assert.ok(reasons(h).includes('fp.listed'), h['x-distill-reasons']);
  const score = Number(h['x-distill-score']);
  assert.ok(score >= 60, `score ${score}`);

  const before = origin.requests.length;
  r = await post(base, '/v1/messages?beta=true'); // the query is not part of the match
  assert.equal(r.status, 403);
  assert.deepEqual(Object.keys(JSON.parse(r.body).error), ['type', 'message', 'ref']);
  assert.ok(!Object.keys(r.headers).some((k) => k.startsWith('x-distill')), 'nothing about the verdict reaches the client');
  assert.equal(origin.requests.length, before, 'the denied request reached the origin');
  assert.match(wd.log(), /distill-guard: deny ref [0-9a-f]{16} score \d+ reasons [^ ]*fp\.listed/);

  r = await post(base, '/v1/messages/batches');
  assert.equal(r.status, 200, 'shadow mode never blocks');
  h = seen();
  assert.deepEqual([h['x-distill-route'], h['x-distill-action'], h['x-distill-mode']], ['batches', 'throttle', 'shadow']);

  r = await get(base, '/v1/models');
  assert.equal(r.status, 200);
  h = seen();
  assert.equal(h['x-distill-route'], 'models');
  assert.ok(!reasons(h).includes('fp.listed') && Number(h['x-distill-score']) < score, `${h['x-distill-score']} ${h['x-distill-reasons']}`);
  r = await get(base, '/v1/other'); // the same GET off the route: the list counts again
  h = seen();
  assert.ok(!('x-distill-route' in h) && reasons(h).includes('fp.listed'), h['x-distill-reasons']);

  // A client cannot forge the route tag.
  await curl(`${base}/v1/chat/completions`, ['-H', 'x-distill-route: messages']);
  assert.ok(!('x-distill-route' in seen()));
});

// Sends a POST's headers, waits up to `waitMs` for the origin to see them, then sends the body.
// Returns { early: the origin saw the headers before the body was sent, status, body }.
function postInTwoSteps(url, apiKey, body, extra = {}, waitMs = 1000) {
  return new Promise((resolve, reject) => {
    const before = origin.heads.length;
    const req = http.request(url, { method: 'POST', headers: { 'content-type': 'application/json', 'x-api-key': apiKey,
      'content-length': Buffer.byteLength(body), 'user-agent': 'acme-batch/1.0', ...extra } }, (res) => {
      let text = '';
      res.on('data', (d) => { text += d; });
      res.on('end', () => resolve({ early, status: res.statusCode, body: text }));
    });
    req.on('error', reject);
    req.flushHeaders();
    let early = false;
    const started = Date.now();
    const poll = setInterval(() => {
      early = origin.heads.length > before;
      if (early || Date.now() - started >= waitMs) { clearInterval(poll); req.end(body); }
    }, 20);
  });
}

// The reasons the worker gives a GET of `apiKey` (from the tags the origin received).
async function reasonsOf(base, apiKey) {
  const res = await fetch(`${base}/v1/models`, { headers: { 'x-api-key': apiKey, 'user-agent': 'acme-batch/1.0' } });
  assert.equal(res.status, 200);
  await res.arrayBuffer();
  return origin.requests.at(-1).headers['x-distill-reasons'].split(',');
}

test('two phases: an ordinary POST goes to the origin at once and its body is learned; a gray-zone POST is held and decided on its body', async () => {
  await wd.stop();
  // One elicitation (`"logprobs": true`) in an account's two requests fires account.elicitation_share.
  const learn = { state: { min_account_requests: 1 }, signals: { account_elicitation_share: { weight: 60 } } };
  const gray = { ...learn, thresholds: { tag: 95, throttle: 99, deny: 100 }, body: { gray_zone: { from: 50, to: 90 } },
    signals: { ...learn.signals, proxy_via: { weight: 60 }, prompt_logprobs: { weight: 100 } }, output: { client_reasons: true } };
  wd = await startWorkerd({ learn: JSON.stringify(learn), buffered: JSON.stringify(learn), gray: JSON.stringify(gray),
    never: JSON.stringify({ ...gray, body: { inspect: 'never' } }) }, origin.port, { buffered: { BODY_LEARN: 'buffer' } });
  const elicit = JSON.stringify({ logprobs: true, model: 'm', max_tokens: 8, messages: [{ role: 'user', content: 'hello' }] });
  const clean = JSON.stringify({ model: 'm', max_tokens: 8, messages: [{ role: 'user', content: 'hello' }] });

  let r = await postInTwoSteps(`${wd.url('learn')}/v1/messages`, 'sk-learn-1', elicit);
  assert.ok(r.early, 'the origin only saw the request once its body was sent: it was held');
  assert.equal(r.status, 200);
  assert.equal(origin.requests.at(-1).sha256, createHash('sha256').update(elicit).digest('hex'));
  assert.equal(origin.requests.at(-1).headers['content-length'], String(Buffer.byteLength(elicit)));
  await new Promise((ok) => setTimeout(ok, 300)); // learning runs in waitUntil, after the request
  assert.ok((await reasonsOf(wd.url('learn'), 'sk-learn-1')).includes('account.elicitation_share'));
  r = await postInTwoSteps(`${wd.url('learn')}/v1/messages`, 'sk-learn-2', clean);
  assert.ok(r.early && r.status === 200);
  await new Promise((ok) => setTimeout(ok, 300));
  assert.ok(!(await reasonsOf(wd.url('learn'), 'sk-learn-2')).includes('account.elicitation_share'));
  // A body of unknown length (chunked: no Content-Length) is learned as it streams past too (the
  // branch read chunk by chunk; one of a known length within the limit is read whole).
  const chunked = await new Promise((resolve, reject) => {
    const req = http.request(`${wd.url('learn')}/v1/messages`, { method: 'POST', headers: { 'content-type': 'application/json',
      'x-api-key': 'sk-learn-3', 'user-agent': 'acme-batch/1.0' } }, (res) => { res.resume(); res.on('end', () => resolve(res.statusCode)); });
    req.on('error', reject);
    req.write(elicit.slice(0, 10));
    setTimeout(() => req.end(elicit.slice(10)), 50);
  });
  assert.equal(chunked, 200);
  assert.equal(origin.requests.at(-1).sha256, createHash('sha256').update(elicit).digest('hex'));
  assert.equal(origin.requests.at(-1).headers['content-length'], undefined);
  await new Promise((ok) => setTimeout(ok, 300));
  assert.ok((await reasonsOf(wd.url('learn'), 'sk-learn-3')).includes('account.elicitation_share'));

  // BODY_LEARN=buffer: the same POST waits for its body, which is learned from before it goes on.
  r = await postInTwoSteps(`${wd.url('buffered')}/v1/messages`, 'sk-buffer-1', elicit);
  assert.ok(!r.early, 'with BODY_LEARN=buffer the origin saw the request before its body was read');
  assert.equal(r.status, 200);
  assert.equal(origin.requests.at(-1).sha256, createHash('sha256').update(elicit).digest('hex'));
  assert.equal(origin.requests.at(-1).headers['content-length'], String(Buffer.byteLength(elicit)));
  assert.ok((await reasonsOf(wd.url('buffered'), 'sk-buffer-1')).includes('account.elicitation_share'));
  r = await postInTwoSteps(`${wd.url('buffered')}/v1/messages`, 'sk-buffer-2', clean);
  assert.ok(!r.early && r.status === 200);
  assert.ok(!(await reasonsOf(wd.url('buffered'), 'sk-buffer-2')).includes('account.elicitation_share'));

  // Gray zone (the Via header): held until the body is read, then denied on it.
  const seen = origin.requests.length;
  r = await postInTwoSteps(`${wd.url('gray')}/v1/messages`, 'sk-gray-1', elicit, { via: '1.1 squid' });
  assert.ok(!r.early, 'a gray-zone request reached the origin before its body was read');
  assert.equal(r.status, 403);
  assert.ok(JSON.parse(r.body).reasons.includes('prompt.logprobs'), r.body);
  assert.equal(origin.requests.length, seen);
  r = await postInTwoSteps(`${wd.url('gray')}/v1/messages`, 'sk-gray-2', clean, { via: '1.1 squid' });
  assert.ok(!r.early);
  assert.equal(r.status, 200);
  assert.equal(origin.requests.at(-1).sha256, createHash('sha256').update(clean).digest('hex'));

  // `never`: the same gray-zone request is decided at its headers, and its body learned from.
  r = await postInTwoSteps(`${wd.url('never')}/v1/messages`, 'sk-never', elicit, { via: '1.1 squid' });
  assert.ok(r.early);
  assert.equal(r.status, 200);
  await new Promise((ok) => setTimeout(ok, 300));
  assert.ok((await reasonsOf(wd.url('never'), 'sk-never')).includes('account.elicitation_share'));
  assert.doesNotMatch(wd.log(), /engine failure|Uncaught/);
});

test('client address check: a worker that is given no client address says so in its log, once; one that is stays quiet', async () => {
  if (wd) await wd.stop();
  wd = await startWorkerd({ withip: '{"mode": "shadow"}', noip: '{"mode": "shadow"}' }, origin.port, { withip: { CLIENT_IP_HEADER: 'x-client-ip' } });
  const burst = async (name, n) => {
    for (let i = 0; i < n; i += 16) {
      await Promise.all(Array.from({ length: Math.min(16, n - i) }, (_, k) => fetch(`${wd.url(name)}/v1/models`, {
        headers: { authorization: `Bearer sk-address-${i + k}`, 'x-client-ip': `203.0.${(i + k) % 200}.7` },
      }).then((r) => { assert.equal(r.status, 200); return r.arrayBuffer(); })));
    }
  };
  const WINDOW = 256; // requests per judged window (src/proxy/address.rs)
  await burst('withip', WINDOW + 8);
  assert.doesNotMatch(wd.log(), /client address:/);
  await burst('noip', 2 * WINDOW + 8);
  await new Promise((ok) => setTimeout(ok, 200));
  const lines = wd.log().split('\n').filter((l) => l.includes('warning: client address:'));
  assert.equal(lines.length, 1, wd.log());
  assert.match(lines[0], /100 % of the last 256 requests had no client address/);
});
