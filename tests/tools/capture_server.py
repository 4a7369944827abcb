#!/usr/bin/env python3
"""A raw-socket HTTP/1.1 capture server on 127.0.0.1 for tests/data/clients.json.

It records each request line and its headers in wire order with their original case (no
HTTP library in between), plus the body, and answers with a minimal valid Anthropic /
OpenAI JSON response so SDKs do not retry, and `Connection: close` so every request comes
on a fresh connection. With a certificate it speaks TLS (HTTP/1.1 only, no ALPN h2), so
browsers send what they send to secure origins.

  capture_server.py serve [PORT]           print each captured request as a JSON line

The per-ecosystem capture scripts (tests/data/capture_*) drive real clients against it
through tests/tools/capture_lib.py. API keys are the fixed dummy `sk-test-REDACTED`; any
other `sk-...` value is redacted. Only loopback traffic.
"""
import json
import re
import socket
import ssl
import sys
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
MODELS = {"object": "list", "data": [{"id": "gpt-test", "object": "model", "created": 0, "owned_by": "x",
                                    "type": "model", "display_name": "test", "created_at": "2025-01-01T00:00:00Z"}],
          "has_more": False, "first_id": "gpt-test", "last_id": "gpt-test"}
RESP_COMPLETE = {"completion": "ok", "stop_reason": "stop_sequence", "model": "claude-test", "stop": None,
                 "log_id": "l1", "exception": None, "truncated": False}
RESP_R = {"id": "resp_1", "object": "response", "created_at": 0, "status": "completed", "model": "gpt-test",
          "output": [{"type": "message", "id": "m1", "status": "completed", "role": "assistant",
                      "content": [{"type": "output_text", "text": "ok", "annotations": []}]}],
          "usage": {"input_tokens": 1, "output_tokens": 1, "total_tokens": 2,
                    "input_tokens_details": {"cached_tokens": 0}, "output_tokens_details": {"reasoning_tokens": 0}}}
PAGE = """<!doctype html><html><head><link rel="icon" href="data:,"></head><body><script>
fetch('/v1/messages', {method: 'POST', headers: {'x-api-key': 'sk-test-REDACTED',
  'anthropic-version': '2023-06-01', 'content-type': 'application/json'},
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
    elif req["path"].startswith("/v1/models"):
        body, ctype = json.dumps(MODELS).encode(), "application/json"
    elif req["path"].startswith("/v1/complete"):
        body, ctype = json.dumps(RESP_COMPLETE).encode(), "application/json"
    elif req["path"].startswith("/v1/responses"):
        body, ctype = json.dumps(RESP_R).encode(), "application/json"
    else:
        body, ctype = b"{}", "application/json"
    head = ("HTTP/1.1 200 OK\r\nContent-Type: %s\r\nContent-Length: %d\r\n"
            "request-id: req_1\r\nConnection: close\r\n\r\n" % (ctype, len(body)))
    conn.sendall(head.encode() + body)


class Server:
    """Listens on 127.0.0.1:`port` (0: any free port); TLS when `cert` and `key` are given."""

    def __init__(self, port=0, cert=None, key=None):
        self.tls = None
        if cert:
            self.tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self.tls.load_cert_chain(cert, key)
            self.tls.set_alpn_protocols(["http/1.1"])
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
                if self.tls:
                    conn = self.tls.wrap_socket(conn, server_side=True)
                req = read_request(conn)
                if req is None:
                    return
                with self.lock:
                    self.captured.append(req)
                if on_request:
                    on_request(req)
                respond(conn, req)
            except (OSError, ValueError, ssl.SSLError):
                pass

    def close(self):
        """Stops listening (the serving thread ends on its next accept)."""
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()

    def take(self):
        with self.lock:
            out, self.captured = self.captured, []
        return out


if __name__ == "__main__":
    if len(sys.argv) >= 2 and sys.argv[1] == "serve":
        s = Server(int(sys.argv[2]) if len(sys.argv) > 2 else 8099)
        print("listening on 127.0.0.1:%d" % s.port, file=sys.stderr)
        s.serve(lambda r: print(json.dumps(r), flush=True))
    else:
        print(__doc__)
        sys.exit(2)
