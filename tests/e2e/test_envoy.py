"""End-to-end tests of the distill-guard proxy-wasm filter in a real Envoy, with real
clients (curl, python requests, httpx) and a recording origin (envoy/demo_origin.py).

Run after `scripts/build.sh envoy native`:  .venv/bin/python -m pytest -q tests/e2e
Each test renders its own Envoy config (its own policy) on free 127.0.0.1 ports.
"""

import hashlib
import json
import socket
import subprocess
import time

import httpx
import pytest
import requests

from conftest import CLI, EnvoyExited

PREFIX = "x-distill-"
TAGS = ("score", "action", "reasons", "fp", "client", "ref")
# Blocked clients are told the verdict only with this opt-in (debugging); tests/e2e/test_envoy_output.py
# checks that nothing leaks without it.
DEBUG = {"client_reasons": True}


def tags(echo):
    """The tag headers the origin received, from the origin's JSON echo: {suffix: [values]}."""
    out = {}
    for name, value in echo["headers"]:
        if name.lower().startswith(PREFIX):
            out.setdefault(name.lower()[len(PREFIX):], []).append(value)
    return out


def curl(*args):
    """Runs curl; returns (status, {header: value}, body text)."""
    r = subprocess.run(["curl", "-sS", "-k", "-D", "-", *args], capture_output=True, timeout=30)
    assert r.returncode == 0, r.stderr
    head, _, body = r.stdout.decode("utf-8", "replace").partition("\r\n\r\n")
    lines = head.split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    return status, headers, body


def raw_request(port, data, read_timeout=5.0, shutdown_write=False):
    """Sends raw bytes on one connection and returns everything read until close/timeout."""
    with socket.create_connection(("127.0.0.1", port), timeout=read_timeout) as s:
        s.sendall(data)
        if shutdown_write:
            s.shutdown(socket.SHUT_WR)
        chunks = []
        try:
            while True:
                d = s.recv(65536)
                if not d:
                    break
                chunks.append(d)
        except socket.timeout:
            pass
    return b"".join(chunks)


def hfp_of(envoy, client="requests"):
    """The header-shape fingerprint the filter reports for a plain GET by `client`."""
    if client == "requests":
        echo = requests.get(envoy.url + "/probe", timeout=10).json()
    elif client == "httpx":
        echo = httpx.get(envoy.url + "/probe", timeout=10, verify=False).json()
    else:
        echo = json.loads(curl(envoy.url + "/probe")[2])
    return tags(echo)["fp"][0]


def assert_vm_alive(envoy):
    """The VM still answers, and it never panicked."""
    r = requests.get(envoy.url + "/alive", timeout=10)
    assert r.status_code == 200, r.text
    assert "action" in tags(r.json())
    log = envoy.log()
    assert "panicked" not in log and "Function: proxy_on" not in log, log[-3000:]


def block_policy(fp, weight=100, **extra):
    return {"signals": {"fp_listed": {"weight": weight}}, "block": {"fingerprints": [fp]}, "output": DEBUG, **extra}


def wait_for(pred, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(0.1)
    return pred()


# --- allow: tags reach the origin, forged tags do not ---------------------------------------

def test_allow_adds_tags_and_strips_client_sent_ones(stack):
    envoy, origin = stack()
    forged = {"X-Distill-Score": "0", "x-distill-action": "allow", "X-DISTILL-Reasons": "none",
              "x-distill-fp": "ffffffffffffffff", "x-distill-trusted": "yes"}
    r = requests.get(envoy.url + "/v1/models", headers=forged, timeout=10)
    assert r.status_code == 200
    t = tags(r.json())
    for name in TAGS:
        assert len(t.get(name, [])) == 1, (name, t)
    assert "trusted" not in t
    assert t["action"] == ["allow"]
    assert t["fp"][0] != "ffffffffffffffff" and len(t["fp"][0]) == 16
    assert 0 <= int(t["score"][0]) <= 100
    # The responses are untouched: no tag headers go back to the client.
    assert not any(k.lower().startswith(PREFIX) for k in r.headers)
    assert len(origin.records()) == 1


def test_client_address_from_x_forwarded_for_or_the_peer(stack):
    """With `proxy.trusted_hops: 1` the client is X-Forwarded-For's last entry; the filter then
    skips reading the peer address (one host call fewer), and reads it when the header is
    absent or gives no address. The peer (127.0.0.1) and 203.0.113.0/24 are listed as
    datacenter ranges, so `ip.datacenter` shows which address the verdict used."""
    pol = {"thresholds": {"tag": 1, "throttle": 99, "deny": 100}, "proxy": {"trusted_hops": 1},
           "networks": {"datacenter": ["203.0.113.0/24", "127.0.0.0/8"]}}
    envoy, origin = stack(policy=pol)

    def reasons(xff=None):
        headers = {"x-api-key": "xff-e2e"} | ({"x-forwarded-for": xff} if xff is not None else {})
        r = requests.get(envoy.url + "/v1/models", headers=headers, timeout=10)
        assert r.status_code == 200, r.text
        return tags(r.json())["reasons"][0].split(",")

    assert "ip.datacenter" in reasons("203.0.113.9")          # the forwarded client is listed
    assert "ip.datacenter" not in reasons("198.51.100.9")     # the forwarded client is not; the peer is ignored
    assert "ip.datacenter" not in reasons("203.0.113.9, 198.51.100.9")  # last entry: the one the balancer saw
    assert "ip.datacenter" in reasons()                       # no header: the peer
    assert "ip.datacenter" in reasons("unknown")              # no address in it: the peer
    assert "panicked" not in envoy.log()


def test_without_trusted_hops_the_client_is_the_connections_peer(stack):
    """With `proxy.trusted_hops: 0` (the default) X-Forwarded-For is whatever the client wrote:
    the client address is the connection's peer (127.0.0.1 here), never the header's last
    entry. Envoy's own downstream address (`source.address`) is that entry while the connection
    manager keeps `use_remote_address: false`, so the templates copy the real peer into filter
    state for the filter. 198.51.100.0/24 is listed as a datacenter range: claiming it gains no
    listing; returning accounts that each claim an address in another /24 still count in the
    peer's /24 (`cluster.accounts_per_prefix` above 2 accounts); an account claiming a new
    address per request does not rotate."""
    pol = {"thresholds": {"tag": 1, "throttle": 99, "deny": 100},
           "signals": {"cluster_accounts_per_prefix": {"weight": 10, "from": 2, "full": 10}},
           "networks": {"datacenter": ["198.51.100.0/24"]},
           # 512 registers: distinct counts this small are exact or nearly (linear counting);
           # one-second rate slots, so that an account is past its first slot (when rotation is
           # read) after a two-second pause.
           "state": {"precision": 9, "rate_slot_s": 1}}
    envoy, _ = stack(policy=pol)

    def reasons(key, xff):
        headers = {"x-api-key": f"peer-e2e-{key}", "x-forwarded-for": xff, "connection": "close"}
        r = requests.get(envoy.url + "/v1/models", headers=headers, timeout=10)
        assert r.status_code == 200, r.text
        return tags(r.json())["reasons"][0].split(",")

    first = reasons("0", "198.51.100.7")
    assert "ip.datacenter" not in first and "proxy.xff_hops" in first, first
    # Each account twice (clusters count returning accounts), each claiming its own /24.
    spread = [[reasons(str(i), f"{192 + i}.0.{i}.7") for _ in range(2)][1] for i in range(1, 6)]
    assert all("cluster.accounts_per_prefix" in r for r in spread[-2:]), spread
    hopper = [reasons("hopper", "203.0.0.9")]
    time.sleep(2.1)
    hopper += [reasons("hopper", f"203.0.{i}.9") for i in range(1, 4)]
    assert not any("account.ip_rotation" in r for r in hopper), hopper
    assert "panicked" not in envoy.log()
    assert "distill_guard.peer is not set" not in envoy.log()


def test_proxy_artifacts_are_tagged_and_forwarded(stack):
    envoy, origin = stack(policy={"signals": {"proxy_via": {"weight": 25}, "proxy_xff_hops": {"weight": 15}}})
    # (Proxy-Connection would be hop-by-hop: Envoy drops it before any filter sees it.)
    r = httpx.get(envoy.url + "/v1/models", headers={"Via": "1.1 squid", "X-Forwarded-For": "198.51.100.7, 203.0.113.9"}, timeout=10)
    assert r.status_code == 200
    t = tags(r.json())
    reasons = t["reasons"][0].split(",")
    assert {"proxy.via", "proxy.xff_hops"} <= set(reasons), reasons
    assert int(t["score"][0]) >= 40 and t["action"] == ["tag"]
    assert dict(r.json()["headers"])["via"] == "1.1 squid"  # the request itself is not rewritten


def test_default_policy_from_empty_configuration(stack):
    envoy, _ = stack(policy=None)
    status, _, body = curl(envoy.url + "/hello")
    assert status == 200
    assert tags(json.loads(body))["action"] == ["allow"]
    assert 'policy "built-in" loaded' in envoy.log()


# --- deny / throttle: answered locally, never reach the origin -------------------------------

def test_proxy_headers_denied_before_origin(stack):
    envoy, origin = stack(policy={"thresholds": {"tag": 5, "throttle": 10, "deny": 20}, "output": DEBUG})
    status, headers, body = curl(envoy.url + "/v1/messages", "-H", "Via: 1.1 squid",
                                 "-H", "Proxy-Authorization: Basic dXNlcjpwYXNz")
    assert status == 403, body
    doc = json.loads(body)
    assert {"proxy.via", "proxy.authorization"} <= set(doc["reasons"])
    assert headers["content-type"] == "application/json"
    assert origin.records() == []


def test_blocked_fingerprint_denied_before_origin(stack):
    envoy, _ = stack()
    fp = hfp_of(envoy, "requests")
    envoy, origin = stack(policy=block_policy(fp))
    # The same request shape as the probe (a GET by python requests): the same hfp.
    r = requests.get(envoy.url + "/v1/models", timeout=10)
    assert r.status_code == 403, r.text
    doc = r.json()
    assert doc["action"] == "deny" and "fp.listed" in doc["reasons"]
    assert doc["error"]["type"] == "forbidden"
    assert origin.records() == []
    # Another client (another header shape) is not on the list.
    status, _, _ = curl(envoy.url + "/v1/models")
    assert status == 200
    assert len(origin.records()) == 1


def test_throttle_answers_429_with_retry_after(stack):
    envoy, _ = stack()
    fp = hfp_of(envoy, "httpx")
    policy = block_policy(fp, weight=60, thresholds={"tag": 10, "throttle": 50, "deny": 101}, throttle={"retry_after_s": 7})
    envoy, origin = stack(policy=policy)
    r = httpx.get(envoy.url + "/v1/models", timeout=10)
    assert r.status_code == 429, r.text
    assert r.headers["retry-after"] == "7"
    assert r.json()["reasons"][0] == "fp.listed"
    assert r.json()["action"] == "throttle"
    assert origin.records() == []


def test_shadow_mode_tags_but_never_blocks(stack):
    envoy, _ = stack()
    fp = hfp_of(envoy, "requests")
    envoy, origin = stack(policy=block_policy(fp, mode="shadow"))
    r = requests.get(envoy.url + "/v1/models", timeout=10)
    assert r.status_code == 200
    t = tags(r.json())
    assert t["action"] == ["deny"] and t["mode"] == ["shadow"] and "fp.listed" in t["reasons"][0]
    assert len(origin.records()) == 1


# --- bodies ---------------------------------------------------------------------------------

# The body tests hold every request for its body (`always`); under the default `suspicious`
# an ordinary request is decided at its headers and its body only learned from.
LOGPROBS_POLICY = {"body": {"inspect": "always"}, "signals": {"prompt_logprobs": {"weight": 100}}, "output": DEBUG}


def test_body_markers_decide_before_origin(stack):
    envoy, origin = stack(policy=LOGPROBS_POLICY)
    body = {"model": "m", "max_tokens": 16, "logprobs": True, "messages": [{"role": "user", "content": "hello"}]}
    r = requests.post(envoy.url + "/v1/messages", json=body, timeout=10)
    assert r.status_code == 403, r.text
    assert "prompt.logprobs" in r.json()["reasons"]
    assert origin.records() == []


def test_body_marker_in_a_later_chunk_is_seen(stack):
    """The filter buffers chunk after chunk: a marker in the third TCP write still counts."""
    envoy, origin = stack(policy=LOGPROBS_POLICY)
    body = json.dumps({"model": "m", "messages": [{"role": "user", "content": "x" * 20000}],
                       "top_logprobs": 5, "logprobs": True}).encode()
    head = (f"POST /v1/chat/completions HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode()
    with socket.create_connection(("127.0.0.1", envoy.port), timeout=10) as s:
        s.sendall(head)
        for i in range(0, len(body), 8000):
            s.sendall(body[i:i + 8000])
            time.sleep(0.1)
        resp = s.recv(65536)
    assert resp.startswith(b"HTTP/1.1 403"), resp[:200]
    assert origin.records() == []


def test_verdict_comes_from_the_prefix_then_the_rest_streams(stack):
    """Past body.max_bytes the filter has decided: a marker after the prefix is not seen, and the
    whole body still reaches the origin."""
    envoy, origin = stack(policy={**LOGPROBS_POLICY, "body": {"inspect": "always", "paths": ["/v1/*"], "max_bytes": 4096}})
    early = {"model": "m", "logprobs": True, "messages": [{"role": "user", "content": "q" * 10000}]}
    late = {"model": "m", "messages": [{"role": "user", "content": "q" * 10000}], "logprobs": True}
    assert requests.post(envoy.url + "/v1/chat/completions", json=early, timeout=10).status_code == 403
    r = requests.post(envoy.url + "/v1/chat/completions", json=late, timeout=10)
    assert r.status_code == 200
    assert r.json()["body_sha256"] == hashlib.sha256(r.request.body).hexdigest()
    assert len(origin.records()) == 1


def test_clean_body_on_api_path_is_forwarded_whole(stack):
    envoy, origin = stack(policy=LOGPROBS_POLICY)
    body = {"model": "m", "max_tokens": 16, "messages": [{"role": "user", "content": "hello"}]}
    r = httpx.post(envoy.url + "/v1/messages", json=body, timeout=10)
    assert r.status_code == 200
    echo = r.json()
    assert echo["body_len"] == len(r.request.content)
    assert tags(echo)["action"] == ["allow"]
    assert json.loads(origin.records()[0]["body"]) == body


@pytest.mark.parametrize("path", ["/v1/messages", "/upload"])
def test_five_megabyte_body_streams_through(stack, path):
    envoy, origin = stack()
    payload = json.dumps({"model": "m", "messages": [{"role": "user", "content": "y" * (5 << 20)}]}).encode()
    r = requests.post(envoy.url + path, data=payload, headers={"content-type": "application/json"}, timeout=60)
    assert r.status_code == 200, r.text[:300]
    echo = r.json()
    assert echo["body_len"] == len(payload)
    assert echo["body_sha256"] == hashlib.sha256(payload).hexdigest()
    assert tags(echo)["action"] == ["allow"]


def test_concurrent_held_requests_do_not_mix(stack):
    """Many requests held and buffered at once in one VM: each gets its own verdict and body."""
    from concurrent.futures import ThreadPoolExecutor
    envoy, origin = stack()

    def one(i):
        body = json.dumps({"model": "m", "messages": [{"role": "user", "content": str(i) * (100_000 + i)}]}).encode()
        r = requests.post(envoy.url + "/v1/messages", data=body, headers={"content-type": "application/json", "x-n": str(i)}, timeout=60)
        return r.status_code, r.json(), hashlib.sha256(body).hexdigest(), str(i)

    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(one, range(32)))
    for status, echo, digest, n in results:
        assert status == 200
        assert echo["body_sha256"] == digest
        assert dict(echo["headers"])["x-n"] == n
        assert len(tags(echo)["action"]) == 1
    assert len(origin.records()) == 32


def test_empty_body_on_api_path(stack):
    envoy, origin = stack()
    r = requests.post(envoy.url + "/v1/messages", data=b"", headers={"content-type": "application/json"}, timeout=10)
    assert r.status_code == 200
    assert r.json()["body_len"] == 0
    assert tags(r.json())["action"] == ["allow"]
    resp = raw_request(envoy.port, b"POST /v1/chat/completions HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
    assert resp.startswith(b"HTTP/1.1 200"), resp[:200]


def test_body_shorter_than_content_length_never_reaches_origin(stack):
    envoy, origin = stack()
    head = b"POST /v1/messages HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n"
    raw_request(envoy.port, head + b'{"model":"m"', read_timeout=3, shutdown_write=True)
    assert origin.records() == []
    assert_vm_alive(envoy)


def test_body_longer_than_content_length(stack):
    envoy, origin = stack()
    # 5 bytes of body, then bytes that are not a valid next request.
    data = b"POST /v1/messages HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\n{\"a\":1}garbage-not-http\r\n\r\n"
    resp = raw_request(envoy.port, data, read_timeout=3)
    assert resp.startswith(b"HTTP/1.1 200"), resp[:200]
    assert b"HTTP/1.1 400" in resp
    recs = origin.records()
    assert len(recs) == 1 and recs[0]["body"] == '{"a":'
    assert_vm_alive(envoy)


# --- responses pass untouched ----------------------------------------------------------------

def test_sse_response_arrives_in_several_chunks(stack):
    envoy, _ = stack()
    arrivals = []
    with httpx.Client(timeout=10) as c:
        with c.stream("POST", envoy.url + "/v1/messages", json={"model": "m", "stream": True, "messages": []}) as r:
            assert r.status_code == 200
            assert r.headers["content-type"] == "text/event-stream"
            for chunk in r.iter_raw():
                arrivals.append((time.monotonic(), chunk))
    text = b"".join(c for _, c in arrivals).decode()
    assert text.count("event: content_block_delta") == 5 and "event: message_stop" in text
    assert len(arrivals) >= 3, arrivals
    assert arrivals[-1][0] - arrivals[0][0] >= 0.3, "the stream was buffered, not streamed"


# --- hostile requests do not crash the VM ----------------------------------------------------

def test_non_utf8_header_value(stack):
    envoy, origin = stack()
    resp = raw_request(envoy.port, b"GET /bin HTTP/1.1\r\nHost: t\r\nX-Bin: \xff\xfe\x80abc\r\nUser-Agent: \xc3\x28\r\nConnection: close\r\n\r\n")
    assert resp.startswith(b"HTTP/1.1 200"), resp[:300]
    echo = json.loads(resp.split(b"\r\n\r\n", 1)[1])
    assert tags(echo)["action"] == ["allow"]
    assert_vm_alive(envoy)
    # Counters reach Envoy on the filter's next tick (1 s): wait for both requests first.
    stats = wait_for(lambda: (s := envoy.stats()).get("wasmcustom.distill_guard.requests") == 2 and s)
    assert stats, envoy.stats()
    assert stats.get("wasmcustom.distill_guard.internal_error") == 0


def test_thousand_headers(stack):
    envoy, origin = stack(max_headers=2000)
    many = {f"x-h-{i:04d}": f"v{i}" for i in range(1000)}
    r = requests.get(envoy.url + "/many", headers=many, timeout=20)
    assert r.status_code == 200, r.text[:300]
    assert sum(1 for k, _ in r.json()["headers"] if k.startswith("x-h-")) == 1000
    assert tags(r.json())["action"] == ["allow"]
    assert_vm_alive(envoy)


def test_many_forged_tag_headers_all_removed(stack):
    envoy, _ = stack()
    raw = b"GET /forged HTTP/1.1\r\nHost: t\r\n" + b"".join(b"X-Distill-Score: %d\r\n" % i for i in range(50)) + b"Connection: close\r\n\r\n"
    resp = raw_request(envoy.port, raw)
    echo = json.loads(resp.split(b"\r\n\r\n", 1)[1])
    assert len(tags(echo)["score"]) == 1


# --- configuration errors --------------------------------------------------------------------

def test_bad_policy_keeps_the_filter_from_starting(stack):
    envoy, origin = stack(policy={"signals": {"proxy_via": {"weight": 250}}, "thresholds": {"tag": 0}}, start=False)
    code, out = envoy.validate()
    assert code != 0
    assert "signals.proxy_via.weight: must be 0..=100, got 250" in out
    assert "thresholds.tag" in out
    with pytest.raises(EnvoyExited) as e:
        envoy.start()
    assert "signals.proxy_via.weight" in e.value.log
    assert origin.records() == []


def test_invalid_json_policy_is_refused(stack):
    envoy, _ = stack(policy='{"mode": "enforce",', start=False)
    code, out = envoy.validate()
    assert code != 0 and "invalid JSON" in out


def test_rendered_configs_validate(stack):
    for tls in (False, True):
        envoy, _ = stack(policy={"mode": "shadow"}, tls=tls, start=False)
        code, out = envoy.validate()
        assert code == 0, out[-3000:]


# --- TLS: JA4 reaches the filter; stats count actions -----------------------------------------

def ja4_from_access_log(envoy, path):
    def find():
        for line in envoy.log().splitlines():
            if line.startswith("[access]") and f" {path} " in line:
                return line.split("ja4=", 1)[1].split()[0]
        return None
    return wait_for(find, timeout=5)


def test_tls_ja4_blocklist_and_stats(stack):
    envoy, _ = stack(tls=True)
    status, _, _ = curl("--http1.1", envoy.url + "/ja4-probe")
    assert status == 200
    ja4 = ja4_from_access_log(envoy, "/ja4-probe")
    assert ja4 and ja4 != "-" and ja4.startswith("t1"), envoy.log()[-2000:]

    envoy, origin = stack(policy=block_policy(ja4), tls=True)
    status, _, body = curl("--http1.1", envoy.url + "/v1/models")
    assert status == 403 and "fp.listed" in json.loads(body)["reasons"]
    # JA4 includes the negotiated ALPN: the same curl over h2 has another JA4 (..h2_..).
    status, _, body = curl("--http2", envoy.url + "/v1/models")
    assert status == 200 and tags(json.loads(body))["action"] == ["allow"]
    with httpx.Client(verify=False, timeout=10) as c:  # another TLS stack, another JA4
        for _ in range(2):
            r = c.get(envoy.url + "/v1/models")
            assert r.status_code == 200 and tags(r.json())["action"] == ["allow"]
    assert len(origin.records()) == 3
    stats = wait_for(lambda: (s := envoy.stats()) and s.get("wasmcustom.distill_guard.requests") == 4 and s)
    assert stats["wasmcustom.distill_guard.requests"] == 4
    assert stats["wasmcustom.distill_guard.action.allow"] == 3
    assert stats["wasmcustom.distill_guard.action.deny"] == 1
    assert stats["wasmcustom.distill_guard.action.throttle"] == 0
    assert stats["wasmcustom.distill_guard.reason.fp.listed"] == 1
    assert stats["wasmcustom.distill_guard.internal_error"] == 0


def test_tls_fingerprints_are_read_only_with_the_adapter_option(stack):
    envoy, _ = stack(tls=True)
    assert curl("--http1.1", envoy.url + "/ja4-probe")[0] == 200
    ja4 = ja4_from_access_log(envoy, "/ja4-probe")
    assert ja4 and ja4 != "-", envoy.log()[-2000:]
    # The same TLS listener and blocklist, with envoy.tls_fingerprints off: the filter never
    # reads the filter state, so the listed JA4 goes unnoticed.
    envoy, origin = stack(policy=block_policy(ja4, envoy={"tls_fingerprints": False}), tls=True)
    status, _, body = curl("--http1.1", envoy.url + "/v1/models")
    assert status == 200 and tags(json.loads(body))["action"] == ["allow"], body
    assert "envoy.tls_fingerprints false" in envoy.log()
    assert len(origin.records()) == 1


def test_h2_over_tls_gets_tags(stack, tmp_path):
    envoy, origin = stack(tls=True)
    status, _, body = curl("--http2", envoy.url + "/v1/models", "-H", "x-distill-action: allow")
    assert status == 200
    t = tags(json.loads(body))
    assert all(len(t[n]) == 1 for n in TAGS)
    assert origin.records()[0]["path"] == "/v1/models"
    # A held, buffered h2 request body (no Content-Length needed on h2) is forwarded whole.
    body = json.dumps({"model": "m", "messages": [{"role": "user", "content": "z" * 200_000}]})
    (tmp_path / "body.json").write_text(body)
    status, _, out = curl("--http2", envoy.url + "/v1/messages", "-H", "content-type: application/json",
                          "--data-binary", f"@{tmp_path / 'body.json'}")
    assert status == 200
    echo = json.loads(out)
    assert echo["body_sha256"] == hashlib.sha256(body.encode()).hexdigest()
    assert tags(echo)["action"] == ["allow"]


# --- fingerprints: what Envoy adds does not change the hfp -----------------------------------

def test_hfp_tells_clients_apart(stack):
    envoy, _ = stack()
    fps = {c: hfp_of(envoy, c) for c in ("requests", "httpx", "curl")}
    assert len(set(fps.values())) == 3, fps
    assert "0" * 16 not in fps.values()


def test_hfp_parity_with_replay_of_what_the_origin_received(stack, tmp_path):
    if not CLI.exists():
        pytest.fail(f"{CLI} missing: run scripts/build.sh native")
    envoy, origin = stack()
    s = requests.Session()
    s.get(envoy.url + "/v1/models", timeout=10)
    s.post(envoy.url + "/v1/messages", json={"model": "m", "messages": []}, headers={"x-api-key": "k-1"}, timeout=10)
    requests.get(envoy.url + "/a", headers={"Accept-Language": "fr", "X-Custom": "1"}, timeout=10)
    records = origin.records()
    assert len(records) == 3
    policy = tmp_path / "policy.json"
    policy.write_text("{}")
    traffic = tmp_path / "seen.jsonl"
    traffic.write_text("".join(json.dumps(r) + "\n" for r in records))
    out = subprocess.run([str(CLI), "replay", "--policy", str(policy), str(traffic)],
                         capture_output=True, text=True, check=True, timeout=60).stdout
    replayed = [json.loads(l)["fp"]["hfp"] for l in out.splitlines()]
    tagged = [next(v for k, v in r["headers"] if k.lower() == "x-distill-fp") for r in records]
    assert "0" * 16 not in tagged
    assert replayed == tagged
