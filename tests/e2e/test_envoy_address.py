"""End-to-end tests of the deployment checks (src/engine/checks.rs) in a real Envoy, with the
Wasm filter and the native filter: a gateway whose `proxy.trusted_hops` does not match its
infrastructure takes its own load balancer for every client (too few hops) or lets clients write
their address (too many); one whose `identity.headers` miss the API's key header has no accounts;
one whose `body.paths` miss the API's paths reads no body. The filter names each in Envoy's log,
once, from the traffic itself, counts it in `distill_guard.deployment.warnings`, and changes no
verdict.

Here the "load balancer" is the test client on 127.0.0.1: a loopback peer with X-Forwarded-For
entries beyond the policy's trusted hops (and a CDN, the entries a balancer would append).

Run after `scripts/build.sh envoy envoy-native native`:  .venv/bin/python -m pytest -q tests/e2e/test_envoy_address.py
"""

import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from test_envoy import tags, wait_for

WINDOW = 256  # requests per judged window (src/proxy/address.rs)
MARK = "warning: client address:"


@pytest.fixture(params=[False, True], ids=["wasm", "native"])
def native_filter(request):
    """Both filters: the check is the engine's, each host only logs its line."""
    return request.param


def send_all(envoy, n, xff, shadow_tags=None, key_header="authorization"):
    """`n` GETs, each its own account (its key in `key_header`), with `xff(i)` as
    X-Forwarded-For (None: no header)."""
    def one(i):
        h = {key_header: f"Bearer sk-address-{i}", "user-agent": "curl/8.5.0", "accept": "*/*"}
        if xff(i) is not None:
            h["x-forwarded-for"] = xff(i)
        r = requests.get(envoy.url + "/v1/models", headers=h, timeout=10)
        assert r.status_code == 200, r.text
        return tags(r.json())
    # Sixteen at a time (the recording origin answers each in tens of milliseconds).
    with ThreadPoolExecutor(16) as pool:
        got = list(pool.map(one, range(n)))
    if shadow_tags is not None:
        shadow_tags.extend(got)


def warnings(envoy):
    return [l for l in envoy.log().splitlines() if MARK in l]


def test_a_load_balancer_taken_for_every_client_is_named_once(stack):
    """`proxy.trusted_hops: 0` behind a balancer: every request from its address, the client in
    X-Forwarded-For. One warning after the first window, not one per window."""
    envoy, _ = stack(policy={"mode": "shadow"})
    seen = []
    send_all(envoy, 3 * WINDOW, lambda i: f"203.0.{i % 200}.7", seen)
    lines = wait_for(lambda: warnings(envoy))
    assert len(lines) == 1, lines
    assert f"100 % of the last {WINDOW} requests came from private addresses (among them 127.0.0.0/24)" in lines[0], lines[0]
    assert "raise proxy.trusted_hops" in lines[0], lines[0]
    # Counted, for alerts (the Wasm filter adds its counts on its one-second tick).
    assert wait_for(lambda: envoy.stats().get("wasmcustom.distill_guard.deployment.warnings") == 1), envoy.stats()
    # Every verdict was made as without the check (shadow: tagged, never blocked).
    assert all(t.get("action") for t in seen)


def test_a_cdn_in_front_of_the_balancer_is_named(stack):
    """`proxy.trusted_hops: 1` where a CDN and the operator's balancer add two entries: the address
    taken is the CDN edge's, public and spread over eight /24s, on behalf of 200 clients. No
    network has most of the requests: the check counts the clients behind the networks."""
    envoy, _ = stack(policy={"mode": "shadow", "proxy": {"trusted_hops": 1}})
    xff = lambda i: f"198.51.{i * 7 % 200}.7, 104.16.{i * 7 % 200 % 8}.{i % 3 + 1}"  # noqa: E731
    send_all(envoy, WINDOW + 10, xff)
    lines = wait_for(lambda: warnings(envoy))
    assert len(lines) == 1, lines
    assert f"100 % of the last {WINDOW} requests came from 8 networks (among them 104.16." in lines[0], lines[0]
    assert "distinct clients named by X-Forwarded-For entries beyond proxy.trusted_hops; if those are your CDN" in lines[0], lines[0]
    assert "198.51." not in envoy.log()  # clients are counted, never named
    # Two trusted hops: the client's own entry, and quiet.
    envoy, _ = stack(policy={"mode": "shadow", "proxy": {"trusted_hops": 2}})
    send_all(envoy, WINDOW + 10, xff)
    time.sleep(1)
    assert warnings(envoy) == [], warnings(envoy)


def test_too_many_trusted_hops_are_named(stack):
    """`proxy.trusted_hops: 2` where one balancer adds one entry: the client's own entry would be
    taken, so a client chooses its address."""
    envoy, _ = stack(policy={"mode": "shadow", "proxy": {"trusted_hops": 2}})
    send_all(envoy, WINDOW + 10, lambda i: f"198.51.{i % 200}.9")
    lines = wait_for(lambda: warnings(envoy))
    assert len(lines) == 1, lines
    assert "fewer X-Forwarded-For entries than proxy.trusted_hops (2)" in lines[0], lines[0]


def test_a_matching_configuration_is_quiet(stack):
    """One balancer, one trusted hop; a tenth of the clients behind their own proxy (two entries)."""
    envoy, _ = stack(policy={"mode": "shadow", "proxy": {"trusted_hops": 1}})
    send_all(envoy, 2 * WINDOW + 10, lambda i: f"192.0.{i % 200}.5" if i % 10 else f"10.0.0.{i % 200}, 192.0.{i % 200}.5")
    # The filter logs on the request path that closes a window: long written by now, if at all.
    time.sleep(1)
    assert warnings(envoy) == [], warnings(envoy)
    assert envoy.stats().get("wasmcustom.distill_guard.deployment.warnings", 0) == 0
    # Quiet because the checks ran and found nothing: two windows judged, counted for alerts.
    assert wait_for(lambda: envoy.stats().get("wasmcustom.distill_guard.deployment.windows", 0) == 2), envoy.stats()


def test_requests_without_an_account_key_are_named(stack):
    """An auth filter before this one replaced the key with its own `x-user-id`: no request has an
    account under the shipped `identity.headers`; with the header listed, none is missing one."""
    envoy, _ = stack(policy={"mode": "shadow", "proxy": {"trusted_hops": 1}})
    send_all(envoy, WINDOW + 10, lambda i: f"192.0.{i % 200}.5", key_header="x-user-id")
    lines = wait_for(lambda: [l for l in envoy.log().splitlines() if "warning: account key:" in l])
    assert len(lines) == 1, lines
    assert "100 % of the last 256 requests carried none of identity.headers (x-api-key, authorization)" in lines[0], lines[0]
    assert "sk-address" not in envoy.log()
    assert wait_for(lambda: envoy.stats().get("wasmcustom.distill_guard.deployment.warnings") == 1), envoy.stats()
    envoy, _ = stack(policy={"mode": "shadow", "proxy": {"trusted_hops": 1}, "identity": {"headers": ["x-user-id"]}})
    send_all(envoy, WINDOW + 10, lambda i: f"192.0.{i % 200}.5", key_header="x-user-id")
    time.sleep(1)
    assert "warning: account key:" not in envoy.log()


def test_bodies_on_paths_the_policy_does_not_read_are_named(stack):
    """An API under /openai: its POST bodies go to paths the shipped body.paths do not list, so no
    body is read and the prompt signals have nothing; listed with a prefix, they are read."""
    body = '{"model":"m","messages":[{"role":"user","content":"hello"}]}'

    def post_all(envoy):
        def one(i):
            r = requests.post(envoy.url + "/openai/v1/chat/completions", data=body, timeout=10,
                              headers={"authorization": f"Bearer sk-body-{i}", "content-type": "application/json",
                                       "x-forwarded-for": f"192.0.{i % 200}.5"})
            assert r.status_code == 200, r.text
        with ThreadPoolExecutor(16) as pool:
            list(pool.map(one, range(WINDOW + 10)))

    policy = {"mode": "shadow", "proxy": {"trusted_hops": 1}}
    envoy, _ = stack(policy=policy)
    post_all(envoy)
    lines = wait_for(lambda: [l for l in envoy.log().splitlines() if "warning: request bodies:" in l])
    assert len(lines) == 1 and "100 % of the last 256 requests sent a body to a path body.paths does not list" in lines[0], lines
    envoy, _ = stack(policy={**policy, "body": {"paths": ["/openai/v1/*"]}})
    post_all(envoy)
    time.sleep(1)
    assert "warning: request bodies:" not in envoy.log()
    assert wait_for(lambda: envoy.stats().get("wasmcustom.distill_guard.body.learned", 0) >= WINDOW), envoy.stats()
