"""End-to-end test of the state sync between Envoy's worker VMs (src/host/envoy/sync.rs).

Envoy runs with two worker threads, so two VMs with their own sketches. Requests from N
distinct accounts arrive on separate connections, which the kernel spreads over both workers.
The only weighted signal is `cluster.accounts_per_prefix` (every request comes from
127.0.0.0/24) with a linear ramp 0..100 and weight 100, so a request's score is the number of
distinct accounts its worker has counted from that prefix. Clusters count returning accounts:
every account sends once, the workers sync, and every account sends again (now known to both
workers). After the sync tick (1 s; a request's data reaches every worker within two ticks),
a request of a new account on a fresh connection must score about N: a level only the union
of both workers' traffic reaches (each worker alone saw at most M < N accounts, read from
Envoy's per-worker connection counters).

Run after `scripts/build.sh envoy native`:  .venv/bin/python -m pytest -q tests/e2e/test_envoy_sync.py
"""

import json
import subprocess
import time

import pytest
import requests

from conftest import CLI

N = 60
SIGNAL = "cluster_accounts_per_prefix"


def signal_keys():
    """Every signal's policy key, from `distill-guard signals` (its Markdown table)."""
    out = subprocess.run([str(CLI), "signals"], capture_output=True, text=True, check=True).stdout
    keys = []
    for line in out.splitlines():
        cells = [c.strip().strip("`") for c in line.split("|")]
        if len(cells) > 3 and cells[1] and cells[1] != "code" and not cells[1].startswith("-"):
            keys.append(cells[2])
    assert SIGNAL in keys, keys
    return keys


def policy():
    signals = {k: {"weight": 0} for k in signal_keys()}
    signals[SIGNAL] = {"weight": 100, "from": 0, "full": 100}
    return {
        "name": "sync e2e",
        "thresholds": {"tag": 1, "throttle": 99, "deny": 100},
        "signals": signals,
        # 512 registers: distinct counts this small are exact or nearly (linear counting).
        "state": {"precision": 9},
    }


def get(envoy, account, path="/v1/models", user_agent=None):
    """One GET on its own connection (with `user_agent` when given, else requests' own);
    returns the tags the origin received."""
    headers = {"x-api-key": f"sync-e2e-{account}", "connection": "close"}
    if user_agent is not None:
        headers["user-agent"] = user_agent
    r = requests.get(envoy.url + path, headers=headers, timeout=10)
    assert r.status_code == 200, r.text
    echo = r.json()
    return {n.lower(): v for n, v in echo["headers"] if n.lower().startswith("x-distill-")}


def per_worker_connections(envoy):
    """Downstream connections each worker accepted on the filter's listener."""
    stats = envoy.stats("worker_")
    out = {}
    for name, value in stats.items():
        if name.startswith("listener.127.0.0.1_") and name.endswith(".downstream_cx_total"):
            out[name.split(".")[-2]] = value
    return out


def wait_for(fn, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = fn()
        if v:
            return v
        time.sleep(0.2)
    return fn()


def serve_on_both_workers(envoy, workers=2):
    """Clean GETs of a warm-up account, one connection each, until all `workers` workers have
    served one: until each has claimed its sync index, which a worker does on its first tick
    after serving a request (and logs). Connections accepted per worker do not tell: on a
    loaded machine a worker can accept the fixture's readiness probe (a connection without a
    request) after this call starts."""
    synced = lambda: envoy.log().count("state sync on as worker") >= workers  # noqa: E731
    for k in range(120):
        if synced():
            return
        get(envoy, f"warm-up-{k}")
        time.sleep(0.1)
    assert wait_for(synced), (per_worker_connections(envoy), envoy.log()[-3000:])


def wait_for_sync(envoy, at_least):
    """Until both workers have published and merged `at_least` deltas, and one more tick."""
    stats = wait_for(lambda: (s := envoy.stats()).get("wasmcustom.distill_guard.sync.applied", 0) >= at_least and s)
    assert stats, envoy.stats()
    time.sleep(1.2)
    return stats


def wait_for_quiet_sync(envoy, quiet=2.5, timeout=20.0):
    """Until the workers have published and merged all they have: no delta published or
    merged for `quiet` seconds, over two ticks (a worker with changes publishes on its next
    tick, a peer merges on its next)."""
    keys = ("wasmcustom.distill_guard.sync.published", "wasmcustom.distill_guard.sync.applied")
    deadline = time.monotonic() + timeout
    last, since = None, time.monotonic()
    while time.monotonic() < deadline:
        stats = envoy.stats()
        now = tuple(stats.get(k, 0) for k in keys)
        if now != last:
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= quiet:
            return stats
        time.sleep(0.1)
    raise AssertionError(f"the sync never settled: {envoy.stats()}")


def test_workers_act_on_the_union_after_a_tick(stack):
    envoy, origin = stack(policy=policy(), concurrency=2)
    # First requests: the accounts become known; clusters count them from their next one.
    first = [int(get(envoy, i)["x-distill-score"]) for i in range(N)]
    assert all(s <= 3 for s in first), first
    before = per_worker_connections(envoy)
    wait_for_sync(envoy, 2)
    scores = [int(get(envoy, i)["x-distill-score"]) for i in range(N)]
    # Each request alone saw what its worker saw: never more than the accounts so far.
    assert all(s <= i + 3 for i, s in enumerate(scores)), scores

    now = per_worker_connections(envoy)
    workers = {w: now[w] - before.get(w, 0) for w in now}
    assert len(workers) == 2, workers
    assert sum(workers.values()) == N, workers
    most = max(workers.values())
    assert most < N, f"every connection went to one worker: {workers}"

    # Both workers publish on their next tick and merge on the one after (on a slow run the
    # ticks during the requests may have done it already).
    stats = wait_for_quiet_sync(envoy)
    assert stats["wasmcustom.distill_guard.sync.published"] >= 2
    assert stats.get("wasmcustom.distill_guard.sync.errors", 0) == 0

    # New accounts read the cluster without counting in it (their first request).
    final = [int(get(envoy, f"final-{k}")["x-distill-score"]) for k in range(4)]
    expected = N
    for score in final:
        assert expected - 3 <= score <= expected + 3, (final, workers)
        assert score > most + 5, f"score {score} within reach of one worker ({workers})"
    tags = get(envoy, "final-reasons")
    assert "cluster.accounts_per_prefix" in tags["x-distill-reasons"].split(","), tags

    stats = envoy.stats()
    assert stats["wasmcustom.distill_guard.sync.applied"] > 0
    assert stats.get("wasmcustom.distill_guard.sync.missed", 0) == 0
    assert stats.get("wasmcustom.distill_guard.internal_error", 0) == 0
    assert "panic" not in envoy.log().lower()
    assert len(origin.records()) == 2 * N + 5



def post(envoy, account, logprobs):
    """One Messages POST on its own connection, asking for logprobs and chain-of-thought or
    neither; returns the tags the origin received."""
    headers = {"x-api-key": f"sync-e2e-{account}", "connection": "close", "user-agent": "sync-e2e/1.0"}
    body = {"model": "m", "max_tokens": 8, "messages": [{"role": "user", "content": "hello there"}]}
    if logprobs:
        # Two of the account's own signals (the history records nothing flagged on one alone).
        body["logprobs"] = True
        body["messages"][0]["content"] = "Think step by step before you answer. hello there"
    r = requests.post(envoy.url + "/v1/messages", headers=headers, json=body, timeout=10)
    assert r.status_code == 200, r.text
    return {n.lower(): v for n, v in r.json()["headers"] if n.lower().startswith("x-distill-")}


def test_flag_history_reaches_the_other_worker(stack):
    """`account.flag_history` travels with the state delta: an account flagged on whichever
    workers its requests happened to reach carries that history on every worker after a tick.

    The history counts the account's own behaviour (here its prompts: `prompt.logprobs` and
    `prompt.cot`, two of its own signals), not the client shape every request carries. The level needs three requests' worth of
    (decayed) history: a hair more than three requests. Of five flagged requests at least one
    worker serves at most two, so its first clean request can carry the reason only through
    the sync. Which worker serves which request is the kernel's choice (all five may reach one
    worker, whose fifth then already carries the history): the test reads it from Envoy's
    per-worker connection counters and asserts on the workers that could not have reached the
    level alone."""
    signals = {k: {"weight": 0} for k in signal_keys()}
    signals["prompt_logprobs"] = {"weight": 30}
    signals["prompt_cot"] = {"weight": 20}
    signals["account_flag_history"] = {"weight": 40, "from": 0, "full": 1}
    pol = {"name": "flag history sync e2e", "thresholds": {"tag": 1, "throttle": 99, "deny": 100}, "signals": signals,
           "body": {"inspect": "always"}}
    envoy, origin = stack(policy=pol, concurrency=2)
    # A worker publishes its changes only once another VM has served a request (sync.rs), so
    # first let both workers serve a clean request of another account.
    serve_on_both_workers(envoy)
    account = "flagged"
    flagged = {}
    seen = per_worker_connections(envoy)
    for _ in range(5):
        reasons = post(envoy, account, logprobs=True)["x-distill-reasons"].split(",")
        assert "prompt.logprobs" in reasons and "prompt.cot" in reasons, reasons
        now = per_worker_connections(envoy)
        for w in now:
            flagged[w] = flagged.get(w, 0) + now[w] - seen.get(w, 0)
        seen = now
    assert sum(flagged.values()) >= 5, flagged
    # Both workers publish on their next tick and merge on the one after.
    assert wait_for(lambda: envoy.stats().get("wasmcustom.distill_guard.sync.applied", 0) >= 2)
    time.sleep(2.2)
    # Clean requests, one connection each, until both workers have served one. The first
    # clean request a worker serves must carry the history (later ones would prove less: a
    # worker's own clean requests add to the account's local history).
    first = {}
    for _ in range(40):
        reasons = post(envoy, account, logprobs=False)["x-distill-reasons"].split(",")
        assert "prompt.logprobs" not in reasons, reasons
        now = per_worker_connections(envoy)
        worker = [w for w in now if now[w] != seen.get(w, 0)]
        seen = now
        if len(worker) == 1:
            first.setdefault(worker[0], reasons)
        if len(first) == 2:
            break
    assert len(first) == 2, f"the clean requests all went to one worker: {seen}"
    # A worker that served fewer than three flagged requests has the level only from its peer.
    alone = [w for w in first if flagged.get(w, 0) <= 2]
    assert alone, (flagged, first)
    for worker, reasons in first.items():
        assert "account.flag_history" in reasons, (worker, first, flagged)
    stats = envoy.stats()
    assert stats.get("wasmcustom.distill_guard.sync.errors", 0) == 0
    assert stats.get("wasmcustom.distill_guard.internal_error", 0) == 0


def campaign_lines(envoy):
    """The campaign log lines (`envoy.campaigns`) as parsed JSON, oldest first."""
    marker = "distill-guard: campaign {"
    return [json.loads("{" + l.split(marker, 1)[1]) for l in envoy.log().splitlines() if marker in l]


@pytest.mark.parametrize("workers,interval", [(2, 1), (3, 3)])
def test_one_campaign_report_covers_both_workers(stack, workers, interval):
    """`envoy.campaigns` with two (three) workers: each VM tracks the requests it served, and
    every interval one worker logs the report of every tracker merged (src/host/envoy/campaigns.rs,
    one peer per tick: with three workers over two ticks): one line per campaign, `workers: N`,
    with every flagged request of the campaign whichever worker served it, and all its accounts
    in one campaign."""
    policy = {"thresholds": {"tag": 20, "throttle": 99, "deny": 100}, "signals": {"proxy_via": {"weight": 25}},
              "identity": {"hash_key": "e2e-campaign-key"},
              "envoy": {"campaigns": {"interval_s": interval, "min_accounts": 12}}}
    envoy, _ = stack(policy=policy, concurrency=workers)
    # All have a worker index and count themselves active (logged when a worker claims its
    # index, on its first tick after serving): from then on they share their trackers. (Before,
    # a worker alone logs its own report.)
    serve_on_both_workers(envoy, workers)
    time.sleep(1.2)
    before = per_worker_connections(envoy)
    accounts = set()
    for i in range(32):
        headers = {"x-api-key": f"sk-e2e-camp-{i % 16:04d}", "via": "1.1 squid", "connection": "close"}
        echo = requests.get(envoy.url + f"/c{i}", headers=headers, timeout=10).json()
        tags = {n.lower(): v for n, v in echo["headers"] if n.lower().startswith("x-distill-")}
        accounts.add(tags["x-distill-account"])
    after = per_worker_connections(envoy)
    served = {w: after[w] - before.get(w, 0) for w in after}
    assert sum(1 for n in served.values() if n > 0) >= 2, f"one worker served every request: {served}"
    # A report one interval after the last request has every worker's requests.
    lines = wait_for(lambda: [l for l in campaign_lines(envoy) if l["campaign"]["requests"]["flagged"] == 32 and l["workers"] == workers], timeout=15)
    assert lines, (campaign_lines(envoy), envoy.log()[-3000:])
    c = lines[-1]["campaign"]
    assert c["accounts"]["count"] == 16 and set(c["accounts"]["sample"]) == accounts, c
    assert lines[-1]["campaigns_total"] == 1
    # Only merged reports are logged: no worker logs its own part. (A report may cover fewer than
    # every worker: a worker's first snapshot can come after the reporter's turn, a tick or an
    # interval later.)
    assert all(l["workers"] >= 2 for l in campaign_lines(envoy)), [l["workers"] for l in campaign_lines(envoy)]
    assert "campaign report:" not in envoy.log()
    assert "sk-e2e-camp" not in envoy.log()
