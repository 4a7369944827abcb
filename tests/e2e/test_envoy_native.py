"""End-to-end tests of the native Envoy filter (build/libdistill_guard.so, a dynamic module Envoy
loads: src/host/native/) in a real Envoy, with real clients and the recording origins.

The native filter runs the same engine and applies verdicts with the same code as the Wasm
filter, so most of the Wasm filter's end-to-end tests are run here again, unchanged, against it:
this module imports them and overrides the `native_filter` fixture, which makes the `stack` and
`tiers` fixtures start Envoy with envoy/envoy-native.yaml.in instead of envoy/envoy.yaml.in. The
tests left out need what the native filter does not have (TLS templates, the fault-injection
build, VM reloads) or run it in their own module (the fleet sync: test_fleet.py); the tests below
check what is its own.

Run after `scripts/build.sh envoy envoy-native native`:  .venv/bin/python -m pytest -q tests/e2e/test_envoy_native.py
"""

import hashlib
import json
import socket
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from conftest import Envoy, EnvoyExited
# The Wasm filter's tests that apply as they are (collected here a second time, natively).
from test_envoy import (  # noqa: F401
    tags,
    test_allow_adds_tags_and_strips_client_sent_ones,
    test_blocked_fingerprint_denied_before_origin,
    test_body_longer_than_content_length,
    test_body_marker_in_a_later_chunk_is_seen,
    test_body_markers_decide_before_origin,
    test_body_shorter_than_content_length_never_reaches_origin,
    test_clean_body_on_api_path_is_forwarded_whole,
    test_client_address_from_x_forwarded_for_or_the_peer,
    test_concurrent_held_requests_do_not_mix,
    test_default_policy_from_empty_configuration,
    test_empty_body_on_api_path,
    test_five_megabyte_body_streams_through,
    test_hfp_parity_with_replay_of_what_the_origin_received,
    test_hfp_tells_clients_apart,
    test_invalid_json_policy_is_refused,
    test_bad_policy_keeps_the_filter_from_starting,
    test_many_forged_tag_headers_all_removed,
    test_non_utf8_header_value,
    test_proxy_artifacts_are_tagged_and_forwarded,
    test_proxy_headers_denied_before_origin,
    test_shadow_mode_tags_but_never_blocks,
    test_sse_response_arrives_in_several_chunks,
    test_thousand_headers,
    test_throttle_answers_429_with_retry_after,
    test_verdict_comes_from_the_prefix_then_the_rest_streams,
    test_without_trusted_hops_the_client_is_the_connections_peer,
)
from test_envoy_output import (  # noqa: F401
    test_blocked_client_learns_only_a_reference,
    test_both_formats_carry_the_same_verdict,
    test_campaign_option_errors_name_their_path,
    test_campaign_report_log_lines,
    test_client_reasons_is_an_opt_in,
    test_filter_state_feeds_the_access_log,
    test_local_rate_limit_keys_on_the_cluster_of_tagged_requests,
    test_routes_that_skip_the_filter,
    test_shipped_hash_key_is_warned_about_once,
    test_structured_format_sends_one_rfc_9651_header,
)
from test_envoy_routes import (  # noqa: F401
    test_a_route_reads_bodies_the_global_policy_does_not_wait_for,
    test_one_request_shape_gets_each_routes_action,
)
from test_envoy_tiers import (  # noqa: F401
    tiers,
    test_a_held_body_sent_a_byte_at_a_time_is_decided_once_on_all_of_it,
    test_always_holds_every_api_request_and_never_holds_none,
    test_body_past_the_cap_streams_through_unread,
    test_gray_zone_request_is_held_and_decided_on_its_body,
    test_heavy_learn_one_in_skips_some_bodies_of_a_busy_account,
    test_odd_bodies_pass_whole_and_the_vm_survives,
    test_ordinary_post_goes_upstream_at_once_and_its_body_is_learned,
    test_requests_with_trailers_are_learned_from_or_decided_at_the_trailers,
)


@pytest.fixture
def native_filter():
    return True


def test_the_native_filter_is_what_runs(stack):
    """The imported tests really run the dynamic module: Envoy loaded it, no Wasm VM exists,
    and its counters are Envoy's dynamic-module stats."""
    envoy, _ = stack(policy={"output": {"client_reasons": True}})
    r = requests.get(envoy.url + "/v1/models", headers={"x-api-key": "native-1"}, timeout=10)
    assert r.status_code == 200 and tags(r.json())["action"] == ["allow"]
    log = envoy.log()
    assert "distill-guard (native): policy" in log and "Dynamic module ABI version" in log, log[-2000:]
    assert "wasm" not in envoy.config.read_text().split("http_filters:", 1)[1].split("router", 1)[0]
    raw = requests.get(f"http://127.0.0.1:{envoy.admin_port}/stats?filter=distill_guard.requests", timeout=5).text
    assert "dynamicmodulescustom.distill_guard.requests: 1" in raw, raw


def test_fleet_sync_without_the_bridge_address_is_refused_with_its_path(stack):
    """The native filter calls the bridge itself: `envoy.fleet.bridge` is required (an Envoy
    cluster, `upstream`, is what the Wasm filter uses)."""
    envoy, origin = stack(policy={"envoy": {"fleet": {"upstream": "fleet_store"}}}, start=False)
    with pytest.raises(EnvoyExited) as e:
        envoy.start()
    assert "envoy.fleet.bridge" in e.value.log and "required by the native filter" in e.value.log, e.value.log[-2000:]
    assert origin.records() == []


def test_rendered_native_config_validates(stack):
    envoy, _ = stack(policy={"mode": "shadow"}, start=False)
    code, out = envoy.validate()
    assert code == 0, out[-3000:]


def test_worker_threads_share_one_state_at_once(stack):
    """One engine per filter configuration, shared by Envoy's worker threads: with two workers,
    each request reads the union of both workers' traffic at once, with no sync tick to wait for.
    The policy of test_envoy_sync.py: a request scores the number of returning accounts
    counted from its prefix (127.0.0.0/24). Every account sends twice, each request on its own
    connection (the kernel spreads them over both workers); the second request of the i-th
    account scores i + 1, which no worker reaches alone."""
    from test_envoy_sync import N, get, per_worker_connections, policy

    envoy, _ = stack(policy=policy(), concurrency=2)
    before = per_worker_connections(envoy)
    first = [int(get(envoy, i)["x-distill-score"]) for i in range(N)]
    assert all(s <= 3 for s in first), first
    second = [int(get(envoy, i)["x-distill-score"]) for i in range(N)]
    workers = {w: n - before.get(w, 0) for w, n in per_worker_connections(envoy).items()}
    assert len(workers) == 2 and min(workers.values()) > 0, f"every connection went to one worker: {workers}"
    assert all(abs(s - (i + 1)) <= 3 for i, s in enumerate(second)), (second, workers)
    assert int(get(envoy, "new")["x-distill-score"]) >= N - 3
    assert "panicked" not in envoy.log()


def test_two_workers_learning_bodies_at_once_feed_the_one_state(tmp_path):
    """Envoy's worker threads read learned bodies outside the shared engine's lock and record
    what they found under it: 16 clients POST at once, 6 requests each, every one on its own
    connection (the kernel spreads them over both workers); every body reaches the origin
    whole and is learned, and each account's next GET carries what its own bodies taught:
    the accounts whose bodies asked for logprobs are tagged `account.elicitation_share`, the
    others are not. Shadow mode: sixteen accounts behind one address and one client print
    rightly reach the cluster signals, and whether the sum crosses the throttle threshold
    depends on how the requests interleave (a loaded machine throttled some)."""
    from test_envoy_sync import per_worker_connections
    from test_envoy_tiers import LEARN, RawOrigin, counters, head, message, read_response, reasons_of

    origin = RawOrigin()
    envoy = Envoy(tmp_path, origin.port, policy={**LEARN, "mode": "shadow", "body": {"inspect": "never"}},
                  native=True, concurrency=2)
    try:
        envoy.start()
        before = per_worker_connections(envoy)
        accounts = [f"acct-{i}" for i in range(16)]

        def send(i):
            body = message(f"task {i} in its own words", logprobs_at="first" if i % 2 == 0 else None)
            seen = []
            for _ in range(6):
                with socket.create_connection(("127.0.0.1", envoy.port), timeout=10) as s:
                    s.sendall(head("/v1/messages", accounts[i], len(body)) + body)
                    status, _, out = read_response(s)
                seen.append((status, json.loads(out).get("body_sha256") == hashlib.sha256(body).hexdigest()))
            return seen

        with ThreadPoolExecutor(len(accounts)) as pool:
            results = [r for rs in pool.map(send, range(len(accounts))) for r in rs]
        assert results == [(200, True)] * 96, results
        workers = {w: n - before.get(w, 0) for w, n in per_worker_connections(envoy).items()}
        assert len(workers) == 2 and min(workers.values()) > 0, f"every connection went to one worker: {workers}"
        stats = counters(envoy, 96)
        assert (stats["wasmcustom.distill_guard.body.learned"], stats["wasmcustom.distill_guard.body.held"]) == (96, 0), stats
        assert stats["wasmcustom.distill_guard.internal_error"] == 0, stats
        for i, account in enumerate(accounts):
            assert ("account.elicitation_share" in reasons_of(envoy, account)) == (i % 2 == 0), (account, reasons_of(envoy, account))
        assert "panicked" not in envoy.log()
    finally:
        envoy.close()
        origin.close()
