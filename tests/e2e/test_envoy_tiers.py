"""End-to-end tests of the filter's two phases in a real Envoy: a request decided at its headers
goes upstream at once (the origin sees its headers before the client has sent the body) and its
body is learned from as it streams past (the next request of the same account shows the
body-derived `account.elicitation_share`); a request whose header-phase score is in the policy's
gray zone is held and decided on its body (403 before the origin sees anything); `always` and
`never` do as named; a body past `body.max_bytes` streams through unread; odd bodies and request
trailers are handled.

The origin here is a small raw HTTP/1.1 server in this file that notes the moment each request's
headers arrive, before it reads the body: what the tests need to tell a held request from one
that was let through. The clients are raw sockets, so that the body can be sent at a chosen moment.
Everything binds 127.0.0.1 on free ports and is stopped at the end of each test.

Run after `scripts/build.sh envoy`:  .venv/bin/python -m pytest -q tests/e2e/test_envoy_tiers.py
"""

import hashlib
import json
import queue
import socket
import threading
import time

import pytest

from conftest import Envoy

# Learning made visible: one elicitation (`"logprobs": true`) in an account's two requests is
# an elicitation share of 0.5, which fires `account.elicitation_share` on its next request.
LEARN = {"state": {"min_account_requests": 1}, "signals": {"account_elicitation_share": {"weight": 60}},
         "output": {"client_reasons": True}}
# A gray zone only a `Via` header (weight 60) reaches; a logprobs body then denies.
GRAY = {**LEARN, "thresholds": {"tag": 95, "throttle": 99, "deny": 100}, "body": {"gray_zone": {"from": 50, "to": 90}},
        "signals": {**LEARN["signals"], "proxy_via": {"weight": 60}, "prompt_logprobs": {"weight": 100}}}
UA = "python-requests/2.32.3"


class RawOrigin:
    """An HTTP/1.1 origin on a free 127.0.0.1 port: notes each request's path as soon as its
    headers arrive (`heads`), then reads the body (Content-Length or chunked, trailers
    skipped), records it and answers 200 with a JSON echo."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.heads = queue.Queue()
        self.records = []
        self.conns = []
        self.closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.closed:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(c)
            threading.Thread(target=self._serve, args=(c,), daemon=True).start()

    def _serve(self, c):
        f = c.makefile("rb")
        try:
            while True:
                line = f.readline()
                if not line:
                    return
                method, path, _ = line.decode("latin-1").split(" ", 2)
                headers = []
                while (h := f.readline()) not in (b"\r\n", b"\n", b""):
                    k, _, v = h.decode("latin-1").partition(":")
                    headers.append([k.strip().lower(), v.strip()])
                self.heads.put(path)
                get = lambda k: next((v for n, v in headers if n == k), None)
                if "chunked" in (get("transfer-encoding") or "").lower():
                    body = b""
                    while (size := int(f.readline().split(b";")[0].strip() or b"0", 16)) > 0:
                        body += f.read(size)
                        f.readline()
                    while f.readline() not in (b"\r\n", b"\n", b""):
                        pass
                else:
                    body = f.read(int(get("content-length") or 0))
                echo = {"method": method, "path": path, "headers": headers, "body_len": len(body),
                        "body_sha256": hashlib.sha256(body).hexdigest()}
                self.records.append(echo)
                data = json.dumps(echo).encode()
                c.sendall(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n%s" % (len(data), data))
        except (OSError, ValueError):
            return
        finally:
            f.close()

    def saw_head(self, timeout):
        """True when a request's headers arrived within `timeout` seconds."""
        try:
            self.heads.get(timeout=timeout)
            return True
        except queue.Empty:
            return False

    def close(self):
        self.closed = True
        self.sock.close()
        for c in self.conns:
            try:
                c.close()
            except OSError:
                pass


@pytest.fixture
def tiers(tmp_path, wasm, native_filter):
    """Factory: `tiers(policy, trailers=False)` starts a RawOrigin and an Envoy in front of it
    (with `trailers`, Envoy parses HTTP/1.1 request trailers); returns (envoy, origin)."""
    started = []

    def make(policy, trailers=False):
        origin = RawOrigin()
        started.append(origin)
        d = tmp_path / f"tiers{len(started)}"
        d.mkdir()
        envoy = Envoy(d, origin.port, policy=policy, native=native_filter)
        started.append(envoy)
        if trailers:
            text = envoy.config.read_text()
            anchor = "          common_http_protocol_options:"
            assert anchor in text
            envoy.config.write_text(text.replace(anchor, "          http_protocol_options: { enable_trailers: true }\n" + anchor, 1))
        envoy.start()
        return envoy, origin

    yield make
    for thing in reversed(started):
        thing.close()


def head(path, account, body_len=None, extra=(), method="POST"):
    lines = [f"{method} {path} HTTP/1.1", "Host: api.example.com", f"User-Agent: {UA}", "Accept: */*",
             "Content-Type: application/json", f"x-api-key: {account}", *extra]
    if body_len is not None:
        lines.append(f"Content-Length: {body_len}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def read_response(s):
    """Reads one response with a Content-Length body: (status, {header: value}, body bytes)."""
    f = s.makefile("rb")
    status = int(f.readline().split()[1])
    headers = {}
    while (h := f.readline()) not in (b"\r\n", b""):
        k, _, v = h.decode("latin-1").partition(":")
        headers[k.strip().lower()] = v.strip()
    body = f.read(int(headers.get("content-length", 0)))
    f.close()
    return status, headers, body


def post_in_two_steps(envoy, origin, path, account, body, extra=(), wait=1.0):
    """Sends the headers, waits up to `wait` s for the origin to see them, then sends the body.
    Returns (origin saw the headers before the body was sent, status, headers, body)."""
    with socket.create_connection(("127.0.0.1", envoy.port), timeout=10) as s:
        s.sendall(head(path, account, len(body), extra))
        early = origin.saw_head(wait)
        s.sendall(body)
        status, headers, out = read_response(s)
    return early, status, headers, out


def reasons_of(envoy, account):
    """The reasons the filter gives a plain GET of `account` (from the tags the origin got)."""
    with socket.create_connection(("127.0.0.1", envoy.port), timeout=10) as s:
        s.sendall(head("/v1/models", account, method="GET"))
        status, _, body = read_response(s)
    assert status == 200, body
    echo = json.loads(body)
    value = next(v for k, v in echo["headers"] if k == "x-distill-reasons")
    return value.split(",")


def message(content="hello", logprobs_at=None):
    """A Messages body; `logprobs_at` puts `"logprobs": true` first or last."""
    doc = {"model": "m", "max_tokens": 16, "messages": [{"role": "user", "content": content}]}
    if logprobs_at == "first":
        doc = {"logprobs": True, **doc}
    elif logprobs_at == "last":
        doc["logprobs"] = True
    return json.dumps(doc).encode()


def assert_vm_alive(envoy):
    log = envoy.log()
    assert "panicked" not in log and "Function: proxy_on" not in log, log[-3000:]


def counters(envoy, n, timeout=5.0):
    """The filter's counters once `n` requests are counted (they reach Envoy on a 1 s tick)."""
    deadline = time.monotonic() + timeout
    while True:
        s = envoy.stats()
        if s.get("wasmcustom.distill_guard.requests", 0) >= n or time.monotonic() > deadline:
            return s
        time.sleep(0.1)


def test_ordinary_post_goes_upstream_at_once_and_its_body_is_learned(tiers):
    envoy, origin = tiers(LEARN)
    early, status, _, out = post_in_two_steps(envoy, origin, "/v1/messages", "acct-elicit", message(logprobs_at="first"))
    assert early, "the origin only saw the headers once the body was sent: the request was held"
    assert status == 200, out
    assert json.loads(out)["body_sha256"] == hashlib.sha256(message(logprobs_at="first")).hexdigest()
    # The body was read as it passed: the account's next request carries its evidence.
    assert "account.elicitation_share" in reasons_of(envoy, "acct-elicit")
    # A clean body teaches nothing.
    early, status, _, _ = post_in_two_steps(envoy, origin, "/v1/messages", "acct-clean", message())
    assert early and status == 200
    assert "account.elicitation_share" not in reasons_of(envoy, "acct-clean")
    stats = counters(envoy, 4)
    assert stats["wasmcustom.distill_guard.requests"] == 4
    assert stats["wasmcustom.distill_guard.body.learned"] == 2
    assert stats["wasmcustom.distill_guard.body.held"] == 0
    assert stats["wasmcustom.distill_guard.internal_error"] == 0
    assert_vm_alive(envoy)


def test_gray_zone_request_is_held_and_decided_on_its_body(tiers):
    envoy, origin = tiers(GRAY)
    via = ["Via: 1.1 squid"]
    early, status, _, out = post_in_two_steps(envoy, origin, "/v1/messages", "acct-gray", message(logprobs_at="last"), via)
    assert not early, "a gray-zone request went upstream before its body was read"
    assert status == 403, out
    assert "prompt.logprobs" in json.loads(out)["reasons"]
    assert origin.records == []
    # The same request with a clean body: held, then forwarded whole.
    early, status, _, out = post_in_two_steps(envoy, origin, "/v1/messages", "acct-gray2", message("x" * 3000), via)
    assert not early and status == 200
    assert json.loads(out)["body_len"] == len(message("x" * 3000))
    # Without the Via header the same account is decided at its headers.
    early, status, _, _ = post_in_two_steps(envoy, origin, "/v1/messages", "acct-gray2", message())
    assert early and status == 200
    stats = counters(envoy, 3)
    assert (stats["wasmcustom.distill_guard.body.held"], stats["wasmcustom.distill_guard.body.learned"]) == (2, 1)
    assert stats["wasmcustom.distill_guard.action.deny"] == 1
    assert_vm_alive(envoy)


def test_a_held_body_sent_a_byte_at_a_time_is_decided_once_on_all_of_it(tiers):
    """A gray-zone request whose chunked body arrives one byte per chunk, a few milliseconds
    apart (many body callbacks): held until the whole body is there, then decided on it once.
    The marker is in the body's last bytes."""
    envoy, origin = tiers(GRAY)
    body = message(logprobs_at="last")
    with socket.create_connection(("127.0.0.1", envoy.port), timeout=20) as s:
        s.sendall(head("/v1/messages", "acct-drip", extra=["Via: 1.1 squid", "Transfer-Encoding: chunked"]))
        for i in range(len(body)):
            s.sendall(b"1\r\n" + body[i:i + 1] + b"\r\n")
            if i % 8 == 0:
                time.sleep(0.002)
        s.sendall(b"0\r\n\r\n")
        status, _, out = read_response(s)
    assert status == 403, out
    assert "prompt.logprobs" in json.loads(out)["reasons"]
    assert origin.records == []
    stats = counters(envoy, 1)
    assert stats["wasmcustom.distill_guard.body.held"] == 1 and stats["wasmcustom.distill_guard.action.deny"] == 1
    assert_vm_alive(envoy)


def test_always_holds_every_api_request_and_never_holds_none(tiers):
    envoy, origin = tiers({**LEARN, "body": {"inspect": "always"}})
    early, status, _, _ = post_in_two_steps(envoy, origin, "/v1/messages", "acct-a", message())
    assert not early and status == 200
    # Off the API paths nothing is held, even with `always`.
    early, status, _, _ = post_in_two_steps(envoy, origin, "/upload", "acct-a", message())
    assert early and status == 200

    envoy, origin = tiers({**GRAY, "body": {"inspect": "never", "gray_zone": {"from": 50, "to": 90}}})
    early, status, _, out = post_in_two_steps(envoy, origin, "/v1/messages", "acct-n", message(logprobs_at="first"), ["Via: 1.1 squid"])
    assert early, "`never` held a request"
    assert status == 200, out  # decided at the headers: the logprobs body is not judged...
    assert "account.elicitation_share" in reasons_of(envoy, "acct-n")  # ...but learned from
    assert_vm_alive(envoy)


def test_body_past_the_cap_streams_through_unread(tiers):
    envoy, origin = tiers({**LEARN, "body": {"max_bytes": 4096}})
    filler = "lorem ipsum " * 20_000  # ~240 KB
    for account, where, learned in [("acct-early", "first", True), ("acct-late", "last", False)]:
        body = message(filler, logprobs_at=where)
        with socket.create_connection(("127.0.0.1", envoy.port), timeout=10) as s:
            s.sendall(head("/v1/messages", account, len(body)))
            for i in range(0, len(body), 60_000):
                s.sendall(body[i:i + 60_000])
                time.sleep(0.05)
            status, _, out = read_response(s)
        assert status == 200
        assert json.loads(out)["body_sha256"] == hashlib.sha256(body).hexdigest()
        assert ("account.elicitation_share" in reasons_of(envoy, account)) == learned, account
    # A prefix gathered over several chunks: the marker is in the third write, within the cap.
    body = message("y" * 3000, logprobs_at="last")
    assert len(body) < 4096
    with socket.create_connection(("127.0.0.1", envoy.port), timeout=10) as s:
        s.sendall(head("/v1/messages", "acct-chunks", len(body)))
        for i in range(0, len(body), 1200):
            s.sendall(body[i:i + 1200])
            time.sleep(0.1)
        assert read_response(s)[0] == 200
    assert "account.elicitation_share" in reasons_of(envoy, "acct-chunks")
    assert_vm_alive(envoy)


def test_heavy_learn_one_in_skips_some_bodies_of_a_busy_account(tiers):
    """`body.heavy_learn_one_in: 4`: an account's first 20 requests (light) have their bodies
    learned; of its later ones about one in four; every body still reaches the origin whole."""
    envoy, origin = tiers({"body": {"inspect": "never", "heavy_learn_one_in": 4}})
    body = message("what is the derivative of x squared")
    with socket.create_connection(("127.0.0.1", envoy.port), timeout=10) as s:
        for _ in range(60):
            s.sendall(head("/v1/messages", "acct-busy", len(body)) + body)
            status, _, out = read_response(s)
            assert status == 200 and json.loads(out)["body_len"] == len(body), out
    stats = counters(envoy, 60)
    learned, skipped = stats["wasmcustom.distill_guard.body.learned"], stats["wasmcustom.distill_guard.body.skipped"]
    assert learned + skipped == 60 and stats["wasmcustom.distill_guard.body.held"] == 0, stats
    assert 20 <= skipped <= 38, (learned, skipped)
    assert stats["wasmcustom.distill_guard.internal_error"] == 0
    assert_vm_alive(envoy)


@pytest.mark.parametrize("body", [b"\xff\xfe\x00\x80 not utf-8 \xc3\x28", b"{not json at all", b'{"model": "m", "messages": [{"role": "user", "content": "cut', b"[]", b""])
def test_odd_bodies_pass_whole_and_the_vm_survives(tiers, body):
    envoy, origin = tiers(LEARN)
    early, status, _, out = post_in_two_steps(envoy, origin, "/v1/messages", "acct-odd", body)
    assert status == 200, out
    echo = json.loads(out)
    assert (echo["body_len"], echo["body_sha256"]) == (len(body), hashlib.sha256(body).hexdigest())
    assert early or not body  # an empty body ends with the headers: nothing to hold anyway
    assert reasons_of(envoy, "acct-odd") is not None
    stats = counters(envoy, 2)
    assert stats["wasmcustom.distill_guard.internal_error"] == 0
    assert_vm_alive(envoy)


def chunked_with_trailers(envoy, path, account, body, extra=()):
    """A chunked POST whose body ends with a trailer: the body's last chunk does not end the
    stream, the trailers do. Returns (status, body)."""
    lines = [f"POST {path} HTTP/1.1", "Host: api.example.com", f"User-Agent: {UA}", "Content-Type: application/json",
             f"x-api-key: {account}", "Transfer-Encoding: chunked", "Trailer: x-checksum", *extra]
    data = ("\r\n".join(lines) + "\r\n\r\n").encode()
    for i in range(0, len(body), 700):
        part = body[i:i + 700]
        data += b"%x\r\n%s\r\n" % (len(part), part)
    data += b"0\r\nx-checksum: abc\r\n\r\n"
    with socket.create_connection(("127.0.0.1", envoy.port), timeout=10) as s:
        s.sendall(data)
        status, _, out = read_response(s)
    return status, out


def test_requests_with_trailers_are_learned_from_or_decided_at_the_trailers(tiers):
    envoy, origin = tiers(GRAY, trailers=True)
    body = message("z" * 2000, logprobs_at="last")
    status, out = chunked_with_trailers(envoy, "/v1/messages", "acct-trailer", body)
    assert status == 200, out
    assert json.loads(out)["body_sha256"] == hashlib.sha256(body).hexdigest()
    assert "account.elicitation_share" in reasons_of(envoy, "acct-trailer")
    # Held (gray zone): the verdict comes at the trailers.
    status, out = chunked_with_trailers(envoy, "/v1/messages", "acct-trailer2", body, ["Via: 1.1 squid"])
    assert status == 403, out
    assert len(origin.records) == 2  # the first POST and the GET, not the denied one
    assert_vm_alive(envoy)
