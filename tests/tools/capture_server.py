#!/usr/bin/env python3
"""Capture real client header shapes on loopback for tests/data/clients.json.

A raw-socket HTTP/1.1 server on 127.0.0.1 that records each request line and its headers
in wire order with their original case (no HTTP library in between), plus the body. It
answers with a minimal valid Anthropic / OpenAI JSON response so SDKs do not retry, and
`Connection: close` so every request comes on a fresh connection.

  capture_server.py serve [PORT]           print each captured request as a JSON line
  capture_server.py collect OUT.json       run every client below against it, write OUT

`collect` needs: curl; a venv with requests httpx aiohttp anthropic openai (PY env var,
default .venv/bin/python); node with the npm packages openai and @anthropic-ai/sdk
installed in NODE_DIR (env var); optionally go and chromium. Missing clients are skipped.
API keys are the fixed dummy `sk-test-REDACTED`; any other `sk-...` value is redacted.
Only loopback traffic: nothing here talks to any other address.
"""
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading

KEY = "sk-test-REDACTED"
BODY_A = '{"model":"claude-test","max_tokens":16,"messages":[{"role":"user","content":"hi"}]}'
BODY_O = '{"model":"gpt-test","messages":[{"role":"user","content":"hi"}]}'
RESP_A = {"id": "msg_1", "type": "message", "role": "assistant", "model": "claude-test",
          "content": [{"type": "text", "text": "ok"}], "stop_reason": "end_turn",
          "stop_sequence": None, "usage": {"input_tokens": 1, "output_tokens": 1}}
RESP_O = {"id": "c1", "object": "chat.completion", "created": 0, "model": "gpt-test",
          "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"},
                       "finish_reason": "stop", "logprobs": None}],
          "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}
PAGE = """<!doctype html><html><head><link rel="icon" href="data:,"></head><body><script>
fetch('/v1/messages', {method: 'POST', headers: {'content-type': 'application/json'},
  body: JSON.stringify({model: 'claude-test', max_tokens: 16,
                        messages: [{role: 'user', content: 'hi'}]})})
  .then(r => r.text()).then(t => { document.body.textContent = 'done ' + t.length; });
</script></body></html>"""


def redact(v):
    return re.sub(r"sk-[A-Za-z0-9_\-]{4,}", KEY, v)


def read_request(conn):
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return None
        data += chunk
    head, rest = data.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    method, path, version = lines[0].split(" ", 2)
    headers = []
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers.append([name, redact(value.strip())])
    length = next((int(v) for n, v in headers if n.lower() == "content-length"), 0)
    chunked = any(n.lower() == "transfer-encoding" and "chunked" in v.lower() for n, v in headers)
    body = rest
    if chunked:
        while not body.endswith(b"0\r\n\r\n"):
            chunk = conn.recv(65536)
            if not chunk:
                break
            body += chunk
        body = dechunk(body)
    else:
        while len(body) < length:
            chunk = conn.recv(65536)
            if not chunk:
                break
            body += chunk
    return {"method": method, "path": path, "http_version": version, "headers": headers,
            "body": redact(body.decode("utf-8", "replace")) if body else None}


def dechunk(b):
    out = b""
    while b:
        size_line, _, b = b.partition(b"\r\n")
        size = int(size_line.split(b";")[0] or b"0", 16)
        if size == 0:
            break
        out += b[:size]
        b = b[size + 2:]
    return out


def respond(conn, req):
    if req["path"].startswith("/v1/messages"):
        body, ctype = json.dumps(RESP_A).encode(), "application/json"
    elif req["path"].startswith("/v1/chat/completions"):
        body, ctype = json.dumps(RESP_O).encode(), "application/json"
    elif req["method"] == "GET" and req["path"] in ("/", "/page"):
        body, ctype = PAGE.encode(), "text/html; charset=utf-8"
    else:
        body, ctype = b"{}", "application/json"
    head = ("HTTP/1.1 200 OK\r\nContent-Type: %s\r\nContent-Length: %d\r\n"
            "request-id: req_1\r\nConnection: close\r\n\r\n" % (ctype, len(body)))
    conn.sendall(head.encode() + body)


class Server:
    def __init__(self, port=0):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", port))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.captured = []
        self.lock = threading.Lock()

    def serve(self, on_request=None):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self.handle, args=(conn, on_request), daemon=True).start()

    def handle(self, conn, on_request):
        with conn:
            conn.settimeout(5)
            try:
                req = read_request(conn)
                if req is None:
                    return
                with self.lock:
                    self.captured.append(req)
                if on_request:
                    on_request(req)
                respond(conn, req)
            except (OSError, ValueError):
                pass

    def take(self):
        with self.lock:
            out, self.captured = self.captured, []
        return out


def sh(cmd, **kw):
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=60, **kw)
    except (OSError, subprocess.TimeoutExpired) as e:
        print("  skipped:", cmd[0], e, file=sys.stderr)
        return None


def version_of(cmd):
    r = sh(cmd)
    return r.stdout.strip().splitlines()[0] if r and r.returncode == 0 and r.stdout.strip() else None


PY_CLIENTS = {
    "python-requests": ("requests", """import requests
requests.post(U+'/v1/messages', json={'model':'claude-test','max_tokens':16,'messages':[{'role':'user','content':'hi'}]},
  headers={'x-api-key': K, 'anthropic-version': '2023-06-01'})"""),
    "python-httpx": ("httpx", """import httpx
httpx.post(U+'/v1/messages', json={'model':'claude-test','max_tokens':16,'messages':[{'role':'user','content':'hi'}]},
  headers={'x-api-key': K, 'anthropic-version': '2023-06-01'})"""),
    "aiohttp": ("aiohttp", """import aiohttp, asyncio
async def main():
    async with aiohttp.ClientSession() as s:
        async with s.post(U+'/v1/messages', json={'model':'claude-test','max_tokens':16,'messages':[{'role':'user','content':'hi'}]},
                          headers={'x-api-key': K, 'anthropic-version': '2023-06-01'}) as r:
            await r.read()
asyncio.run(main())"""),
    "python-urllib": ("urllib", """import urllib.request, json
req = urllib.request.Request(U+'/v1/messages', data=json.dumps({'model':'claude-test','max_tokens':16,'messages':[{'role':'user','content':'hi'}]}).encode(),
  headers={'x-api-key': K, 'anthropic-version': '2023-06-01', 'content-type': 'application/json'})
urllib.request.urlopen(req).read()"""),
    "anthropic-sdk-python": ("anthropic", """import anthropic
c = anthropic.Anthropic(api_key=K, base_url=U, max_retries=0)
c.messages.create(model='claude-test', max_tokens=16, messages=[{'role':'user','content':'hi'}])"""),
    "openai-sdk-python": ("openai", """import openai
c = openai.OpenAI(api_key=K, base_url=U+'/v1', max_retries=0)
c.chat.completions.create(model='gpt-test', messages=[{'role':'user','content':'hi'}])"""),
}

NODE_CLIENTS = {
    "node-fetch": ("node", "undici", """await fetch(U+'/v1/messages', {method:'POST', headers:{'x-api-key':K,'anthropic-version':'2023-06-01','content-type':'application/json'}, body: B}).then(r=>r.text());"""),
    "openai-sdk-js": ("openai-sdk-js", "openai", """const OpenAI = (await import('openai')).default;
const c = new OpenAI({apiKey:K, baseURL:U+'/v1', maxRetries:0});
await c.chat.completions.create({model:'gpt-test', messages:[{role:'user',content:'hi'}]});"""),
    "anthropic-sdk-js": ("anthropic-sdk-js", "@anthropic-ai/sdk", """const Anthropic = (await import('@anthropic-ai/sdk')).default;
const c = new Anthropic({apiKey:K, baseURL:U, maxRetries:0});
await c.messages.create({model:'claude-test', max_tokens:16, messages:[{role:'user',content:'hi'}]});"""),
}

GO_SRC = """package main
import ("net/http"; "os"; "strings")
func main() {
  req, _ := http.NewRequest("POST", os.Args[1]+"/v1/messages", strings.NewReader(os.Args[2]))
  req.Header.Set("x-api-key", "%s"); req.Header.Set("anthropic-version", "2023-06-01")
  req.Header.Set("content-type", "application/json")
  resp, err := http.DefaultClient.Do(req); if err == nil { resp.Body.Close() }
}
""" % KEY


JAVA_SRC = """import java.net.URI; import java.net.http.*;
public class Main { public static void main(String[] a) throws Exception {
  HttpClient c = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
  HttpRequest r = HttpRequest.newBuilder(URI.create(a[0] + "/v1/messages"))
    .header("x-api-key", "%s").header("anthropic-version", "2023-06-01")
    .header("content-type", "application/json").POST(HttpRequest.BodyPublishers.ofString(a[1])).build();
  c.send(r, HttpResponse.BodyHandlers.ofString());
} }
""" % KEY


# Shapes NOT captured here (no such browser on this machine): typical desktop wire order as
# publicly documented, marked "source": "documented". Tests must not treat them as ground truth.
DOCUMENTED = [
    {"name": "firefox-nav", "family": "firefox", "version": "Firefox 128 (desktop)", "method": "GET", "path": "/",
     "http_version": "HTTP/1.1", "headers": [
         ["Host", "example.test"],
         ["User-Agent", "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"],
         ["Accept", "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,image/png,image/svg+xml,*/*;q=0.8"],
         ["Accept-Language", "en-US,en;q=0.5"], ["Accept-Encoding", "gzip, deflate, br, zstd"],
         ["Connection", "keep-alive"], ["Upgrade-Insecure-Requests", "1"], ["Sec-Fetch-Dest", "document"],
         ["Sec-Fetch-Mode", "navigate"], ["Sec-Fetch-Site", "none"], ["Sec-Fetch-User", "?1"],
         ["Priority", "u=0, i"]], "body": None},
    {"name": "firefox-fetch", "family": "firefox", "version": "Firefox 128 (desktop)", "method": "POST",
     "path": "/v1/messages", "http_version": "HTTP/1.1", "headers": [
         ["Host", "example.test"],
         ["User-Agent", "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"],
         ["Accept", "*/*"], ["Accept-Language", "en-US,en;q=0.5"], ["Accept-Encoding", "gzip, deflate, br, zstd"],
         ["Referer", "https://example.test/"], ["Content-Type", "application/json"], ["Content-Length", "83"],
         ["Origin", "https://example.test"], ["Connection", "keep-alive"], ["Sec-Fetch-Dest", "empty"],
         ["Sec-Fetch-Mode", "cors"], ["Sec-Fetch-Site", "same-origin"], ["Priority", "u=4"]], "body": BODY_A},
    {"name": "safari-nav", "family": "safari", "version": "Safari 17 (macOS)", "method": "GET", "path": "/",
     "http_version": "HTTP/1.1", "headers": [
         ["Host", "example.test"], ["Sec-Fetch-Site", "none"], ["Connection", "keep-alive"],
         ["Upgrade-Insecure-Requests", "1"], ["Sec-Fetch-Mode", "navigate"],
         ["Accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"],
         ["User-Agent", "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Safari/605.1.15"],
         ["Accept-Language", "en-US,en;q=0.9"], ["Sec-Fetch-Dest", "document"],
         ["Accept-Encoding", "gzip, deflate"]], "body": None},
]


def collect(out_path):
    try:
        srv = Server(18099)
    except OSError:
        srv = Server()
    threading.Thread(target=srv.serve, daemon=True).start()
    url = "http://127.0.0.1:%d" % srv.port
    results = []

    def add(name, family, version, reqs, note=None):
        for i, r in enumerate(reqs):
            entry = {"name": name if len(reqs) == 1 else "%s#%d" % (name, i + 1), "family": family,
                     "version": version, "source": "captured"}
            entry.update(r)
            if note:
                entry["note"] = note
            results.append(entry)
        print("%-22s %s: %d request(s)" % (name, version, len(reqs)), file=sys.stderr)

    cv = version_of(["curl", "--version"])
    if cv:
        cv = " ".join(cv.split()[:2])
        sh(["curl", "-s", "-o", "/dev/null", url + "/v1/models"])
        add("curl-get", "curl", cv, srv.take(), "curl URL (plain GET)")
        sh(["curl", "-s", "-o", "/dev/null", url + "/v1/messages", "-H", "x-api-key: " + KEY,
            "-H", "anthropic-version: 2023-06-01", "-H", "content-type: application/json", "-d", BODY_A])
        add("curl-post", "curl", cv, srv.take(), "curl -H x-api-key -H anthropic-version -H content-type -d JSON")

    wv = version_of(["wget", "--version"])
    if wv:
        sh(["wget", "-q", "-O", "/dev/null", "--header=x-api-key: " + KEY, "--header=anthropic-version: 2023-06-01",
            "--header=content-type: application/json", "--post-data=" + BODY_A, url + "/v1/messages"])
        add("wget-post", "wget", " ".join(wv.split()[:3]), srv.take(), "wget --header ... --post-data JSON")

    if shutil.which("java"):
        d = tempfile.mkdtemp()
        with open(os.path.join(d, "Main.java"), "w") as f:
            f.write(JAVA_SRC)
        ver = version_of(["java", "-version"]) or (sh(["java", "-version"]) or subprocess.CompletedProcess([], 0, "", "")).stderr.splitlines()[0]
        r = sh(["java", "Main.java", url, BODY_A], cwd=d)
        if r and r.returncode != 0:
            print("  java failed: %s" % r.stderr[-300:], file=sys.stderr)
        add("java-httpclient", "java", ver, srv.take(), "java.net.http.HttpClient, version pinned to HTTP/1.1 "
            "(its default h2c upgrade headers only appear on cleartext)")
        shutil.rmtree(d, ignore_errors=True)

    py = os.environ.get("PY", ".venv/bin/python")
    for name, (mod, code) in PY_CLIENTS.items():
        ver = version_of([py, "-c", "import sys, %s as m; print(%s)" % (
            "urllib.request" if mod == "urllib" else mod,
            "'python ' + sys.version.split()[0]" if mod == "urllib" else "m.__version__")])
        r = sh([py, "-c", "U=%r\nK=%r\n%s" % (url, KEY, code)])
        if r and r.returncode != 0:
            print("  %s failed: %s" % (name, r.stderr[-300:]), file=sys.stderr)
        add(name, name, ver, srv.take())

    node_dir = os.environ.get("NODE_DIR")
    if shutil.which("node"):
        for name, (family, pkg, code) in NODE_CLIENTS.items():
            if pkg == "undici":
                ver = "node " + (version_of(["node", "--version"]) or "?") + " undici " + (
                    version_of(["node", "-p", "process.versions.undici"]) or "?")
            elif node_dir:
                ver = version_of(["node", "-e", "console.log(require(require('path').join('%s','node_modules','%s','package.json')).version)" % (node_dir, pkg)])
            else:
                continue
            script = "const U=%s, K=%s, B=%s;\n%s" % (json.dumps(url), json.dumps(KEY), json.dumps(BODY_A), code)
            with tempfile.NamedTemporaryFile("w", suffix=".mjs", dir=node_dir or None, delete=False) as f:
                f.write(script)
            r = sh(["node", f.name], cwd=node_dir or None)
            os.unlink(f.name)
            if r and r.returncode != 0:
                print("  %s failed: %s" % (name, r.stderr[-300:]), file=sys.stderr)
            add(name, "node" if family == "node" else family, ver, srv.take())

    if shutil.which("go"):
        d = tempfile.mkdtemp()
        with open(os.path.join(d, "main.go"), "w") as f:
            f.write(GO_SRC)
        ver = (version_of(["go", "version"]) or "go ? ?").split()[2]
        r = sh(["go", "run", "main.go", url, BODY_A], cwd=d, env=dict(os.environ, GOFLAGS="-mod=mod", GO111MODULE="off"))
        if r and r.returncode != 0:
            print("  go failed: %s" % r.stderr[-300:], file=sys.stderr)
        add("go-net-http", "go", ver, srv.take())
        shutil.rmtree(d, ignore_errors=True)

    if shutil.which("chromium"):
        ver = version_of(["chromium", "--version"])
        prof = tempfile.mkdtemp()
        sh(["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run", "--user-data-dir=" + prof,
            "--virtual-time-budget=5000", "--dump-dom", url + "/"])
        shutil.rmtree(prof, ignore_errors=True)
        for r in srv.take():
            kind = "navigation GET" if r["method"] == "GET" else "page fetch() POST JSON"
            add("chromium-headless-" + ("nav" if r["method"] == "GET" else "fetch"), "chrome", ver, [r], kind)

    for d in DOCUMENTED:
        results.append(dict(d, source="documented"))
    with open(out_path, "w") as f:
        json.dump({"about": "Real header lists captured on loopback by tests/tools/capture_server.py "
                            "(raw socket, wire order, original case). API keys are dummies. Entries with "
                            "source=documented were not captured: typical shapes from public documentation.",
                   "clients": results}, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    if len(sys.argv) >= 2 and sys.argv[1] == "serve":
        s = Server(int(sys.argv[2]) if len(sys.argv) > 2 else 8099)
        print("listening on 127.0.0.1:%d" % s.port, file=sys.stderr)
        s.serve(lambda r: print(json.dumps(r), flush=True))
    elif len(sys.argv) == 3 and sys.argv[1] == "collect":
        collect(sys.argv[2])
    else:
        print(__doc__)
        sys.exit(2)
