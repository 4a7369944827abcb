"""End-to-end test of the internal-error path in a real Envoy: fail open by default (the request
reaches the origin, tagged `x-distill-error: internal`), deny with `fail_closed: true` (403 from
the filter, the origin never sees it), counted in `distill_guard.internal_error` either way.

A real Envoy gives no honest way to make a host call fail, so these tests run
build/distill_guard_envoy_fault.wasm: the same filter built with the cargo feature
`fault-injection` (src/host/envoy/fault.rs), where a request header `x-distill-guard-fault:
headers|body` makes the filter treat its read of the header map / of the body as failed and take
exactly the path a real failure would. The shipped module has no such hook
(tests/module_size.rs checks it). A body the filter only learns from (the request was decided at
its headers and forwarded) keeps its verdict when its read fails: the failure is logged and
counted, and nothing is learned.

Run after `scripts/build.sh envoy`:  .venv/bin/python -m pytest -q tests/e2e/test_envoy_fault.py
"""

import time

import pytest
import requests

from conftest import FAULT_WASM

FAULT = "x-distill-guard-fault"
PROMPT = {"model": "m", "max_tokens": 16, "messages": [{"role": "user", "content": "hello"}]}
# Every API request held for its body, so that a failed body read decides the verdict.
HOLD = {"body": {"inspect": "always"}}


@pytest.fixture
def fault_wasm():
    if not FAULT_WASM.exists():
        pytest.fail(f"{FAULT_WASM} missing: run scripts/build.sh envoy")
    return FAULT_WASM


def tags(echo):
    """The x-distill-* headers the origin received: {suffix: [values]}."""
    out = {}
    for name, value in echo["headers"]:
        if name.lower().startswith("x-distill-") and name.lower() != FAULT:
            out.setdefault(name.lower()[len("x-distill-"):], []).append(value)
    return out


def counters_after(envoy, requests_seen, timeout=5.0):
    """Envoy's distill_guard counters once `requests_seen` requests are counted (the filter
    hands its counts to Envoy on its 1 s tick)."""
    deadline = time.monotonic() + timeout
    while True:
        s = envoy.stats()
        if s.get("wasmcustom.distill_guard.requests", 0) >= requests_seen or time.monotonic() > deadline:
            return s
        time.sleep(0.1)


def test_internal_errors_fail_open_by_default(stack, fault_wasm):
    envoy, origin = stack(policy=HOLD, wasm=fault_wasm)
    # Without the header the fault build filters as usual.
    r = requests.get(envoy.url + "/v1/models", timeout=10)
    assert r.status_code == 200
    assert tags(r.json())["action"] == ["allow"] and "error" not in tags(r.json())

    # The header map "could not be read": forwarded, tagged as an internal error; a client-sent
    # tag is still replaced by ours.
    r = requests.get(envoy.url + "/v1/models", headers={FAULT: "headers", "x-distill-score": "99"}, timeout=10)
    assert r.status_code == 200, r.text
    t = tags(r.json())
    assert t["error"] == ["internal"] and t["action"] == ["allow"] and t["score"] == ["0"], t

    # The body "could not be read" (held on an API path): forwarded whole, tagged.
    r = requests.post(envoy.url + "/v1/messages", json=PROMPT, headers={FAULT: "body"}, timeout=10)
    assert r.status_code == 200, r.text
    assert tags(r.json())["error"] == ["internal"]
    assert r.json()["body_sha256"]

    assert len(origin.records()) == 3
    stats = counters_after(envoy, 3)
    assert stats["wasmcustom.distill_guard.requests"] == 3
    assert stats["wasmcustom.distill_guard.internal_error"] == 2
    assert stats["wasmcustom.distill_guard.action.allow"] == 3
    log = envoy.log()
    assert "internal error: reading request headers failed (status 10)" in log, log[-3000:]
    assert "internal error: reading the request body failed (status 10)" in log, log[-3000:]


def test_internal_errors_deny_with_fail_closed(stack, fault_wasm):
    envoy, origin = stack(policy={**HOLD, "fail_closed": True, "output": {"client_reasons": True}}, wasm=fault_wasm)
    r = requests.get(envoy.url + "/v1/models", timeout=10)
    assert r.status_code == 200 and tags(r.json())["action"] == ["allow"]

    for path, kind, body in [("/v1/models", "headers", None), ("/v1/messages", "body", PROMPT)]:
        r = requests.request("POST" if body else "GET", envoy.url + path, json=body, headers={FAULT: kind}, timeout=10)
        assert r.status_code == 403, (kind, r.status_code, r.text)
        assert r.json()["action"] == "deny"
        assert r.headers["x-distill-error"] == "internal"

    assert len(origin.records()) == 1  # only the request without a fault
    stats = counters_after(envoy, 3)
    assert stats["wasmcustom.distill_guard.requests"] == 3
    assert stats["wasmcustom.distill_guard.internal_error"] == 2
    assert stats["wasmcustom.distill_guard.action.deny"] == 2
    assert stats["wasmcustom.distill_guard.action.allow"] == 1
    assert "while failing" not in envoy.log()  # the deny itself was applied, no second failure


def test_a_failed_read_of_a_body_only_learned_from_keeps_the_verdict(stack, fault_wasm):
    """Under the default `body.inspect: suspicious` an ordinary POST is decided at its headers and
    forwarded; its body is read for learning only. A failed read there changes nothing for the
    request (even with `fail_closed`: it already went upstream), and is logged and counted."""
    envoy, origin = stack(policy={"fail_closed": True}, wasm=fault_wasm)
    r = requests.post(envoy.url + "/v1/messages", json=PROMPT, headers={FAULT: "body"}, timeout=10)
    assert r.status_code == 200, r.text
    t = tags(r.json())
    assert t["action"] == ["allow"] and "error" not in t, t
    assert r.json()["body_len"] == len(r.request.body)
    stats = counters_after(envoy, 1)
    assert stats["wasmcustom.distill_guard.requests"] == 1
    assert stats["wasmcustom.distill_guard.internal_error"] == 1
    assert stats["wasmcustom.distill_guard.action.allow"] == 1
    assert "internal error: reading the request body failed (status 10); the body is not learned from" in envoy.log()
