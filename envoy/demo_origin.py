#!/usr/bin/env python3
"""Demo origin for distill-guard behind Envoy (Python standard library only).

Answers every request with a JSON echo of what it received: method, path, the headers in
wire order with their original case, and the body's length and SHA-256. A POST to
/v1/messages whose JSON body has "stream": true is answered with a Server-Sent Events
stream sent in several chunks with small delays. With --record FILE every request is
appended to FILE as one JSONL traffic record (the format of src/traffic.rs), so that
`distill-guard replay` can score exactly what reached the origin.

It binds 127.0.0.1 only. It prints "listening on 127.0.0.1:PORT" once ready (--port 0
picks a free port). It does not implement any real API.
"""

import argparse
import base64
import hashlib
import http.client
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# The stdlib parser refuses more than 100 request headers; the e2e tests send 1,000 through
# Envoy to show the filter copes, so the demo origin accepts them too.
http.client._MAXHEADERS = 10_000

SSE_EVENTS = 5
SSE_DELAY_S = 0.15


class Recorder:
    """Appends traffic records to a JSONL file, one line per request, thread-safe."""

    def __init__(self, path):
        self.path = path
        self.lock = threading.Lock()

    def write(self, record):
        if not self.path:
            return
        line = json.dumps(record, separators=(",", ":")) + "\n"
        with self.lock, open(self.path, "a", encoding="utf-8") as f:
            f.write(line)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "demo-origin/1"
    recorder = Recorder(None)

    def log_message(self, fmt, *args):  # quiet: one line per request on stderr only if asked
        if self.server.verbose:
            sys.stderr.write("origin: " + (fmt % args) + "\n")

    def read_body(self):
        te = (self.headers.get("Transfer-Encoding") or "").lower()
        if "chunked" in te:
            chunks = []
            while True:
                size_line = self.rfile.readline(65537)
                if not size_line:
                    raise ConnectionError("truncated chunked body")
                size = int(size_line.split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline(3)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def handle_any(self):
        try:
            body = self.read_body()
        except (ValueError, ConnectionError):
            self.send_error(400, "bad body")
            return
        headers = [[k, v] for k, v in self.headers.items()]
        self.record(headers, body)
        if self.path == "/__health":
            self.reply(200, {"ok": True})
            return
        if self.command == "POST" and self.path.split("?", 1)[0] == "/v1/messages" and wants_stream(body):
            self.stream_sse()
            return
        self.reply(200, {
            "method": self.command,
            "path": self.path,
            "version": self.request_version,
            "headers": headers,
            "body_len": len(body),
            "body_sha256": hashlib.sha256(body).hexdigest(),
        })

    def record(self, headers, body):
        if self.path == "/__health":
            return
        rec = {
            "ts_ms": int(time.time() * 1000),
            "method": self.command,
            "path": self.path,
            "version": self.request_version,
            "headers": headers,
            "peer": {"ip": self.client_address[0]},
        }
        try:
            rec["body"] = body.decode("utf-8")
        except UnicodeDecodeError:
            rec["body_b64"] = base64.b64encode(body).decode("ascii")
        self.recorder.write(rec)

    def reply(self, status, obj):
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def stream_sse(self):
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        try:
            for i in range(SSE_EVENTS):
                event = f"event: content_block_delta\ndata: {json.dumps({'index': i, 'text': f'part {i}'})}\n\n".encode()
                self.wfile.write(b"%x\r\n%s\r\n" % (len(event), event))
                self.wfile.flush()
                time.sleep(SSE_DELAY_S)
            end = b"event: message_stop\ndata: {}\n\n"
            self.wfile.write(b"%x\r\n%s\r\n0\r\n\r\n" % (len(end), end))
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client went away mid-stream

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_HEAD = handle_any


def wants_stream(body):
    try:
        doc = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return False
    return isinstance(doc, dict) and doc.get("stream") is True


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, default=8081, help="port on 127.0.0.1 (0: any free port)")
    ap.add_argument("--record", metavar="FILE", help="append every request to FILE as JSONL")
    ap.add_argument("--verbose", action="store_true", help="log one line per request to stderr")
    args = ap.parse_args()
    Handler.recorder = Recorder(args.record)
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    server.verbose = args.verbose
    print(f"listening on 127.0.0.1:{server.server_address[1]}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
