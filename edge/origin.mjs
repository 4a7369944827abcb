// A tiny origin for trying the worker locally (edge/run.sh uses it when envoy/demo_origin.py
// is absent). Echoes what it received as JSON (credential header values redacted); GET /sse,
// or a POST whose JSON body has "stream": true, gets five server-sent events 150 ms apart.
// Binds 127.0.0.1 only. Usage: node edge/origin.mjs [PORT]
import http from 'node:http';

const port = Number(process.argv[2] ?? 8788);
const SECRET = new Set(['authorization', 'x-api-key', 'proxy-authorization', 'cookie']);

function sse(res) {
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
  let n = 0;
  const t = setInterval(() => {
    res.write(`data: {"n": ${n}}\n\n`);
    if (++n === 5) { clearInterval(t); res.end(); }
  }, 150);
}

http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const body = Buffer.concat(chunks);
    let stream = req.url === '/sse';
    try { stream ||= JSON.parse(body.toString()).stream === true; } catch { /* not JSON */ }
    if (stream) return sse(res);
    const headers = Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, SECRET.has(k) ? '<redacted>' : v]));
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ method: req.method, url: req.url, headers, body_bytes: body.length }, null, 1));
  });
}).listen(port, '127.0.0.1', () => console.log(`origin listening on 127.0.0.1:${port}`));
