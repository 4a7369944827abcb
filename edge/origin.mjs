// A tiny origin for trying the worker locally (edge/run.sh uses it when envoy/demo_origin.py
// is absent). Echoes what it received as JSON, without header values of credentials;
// GET /sse streams five server-sent events, 200 ms apart.
import http from 'node:http';

const port = Number(process.argv[2] ?? 8000);
const SECRET = new Set(['authorization', 'x-api-key', 'proxy-authorization', 'cookie']);

http.createServer((req, res) => {
  if (req.url === '/sse') {
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    let n = 0;
    const t = setInterval(() => {
      res.write(`data: {"n": ${n}}\n\n`);
      if (++n === 5) { clearInterval(t); res.end(); }
    }, 200);
    return;
  }
  let bytes = 0;
  req.on('data', (c) => { bytes += c.length; });
  req.on('end', () => {
    const headers = Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, SECRET.has(k) ? '<redacted>' : v]));
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ method: req.method, url: req.url, headers, body_bytes: bytes }, null, 1));
  });
}).listen(port, '127.0.0.1', () => console.log(`origin listening on 127.0.0.1:${port}`));
