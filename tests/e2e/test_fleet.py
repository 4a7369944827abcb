"""Fleet sync end to end, real parts only: redis-server with the store function, webdis (the
HTTP bridge, FCALL only), three Envoy nodes (`--concurrency 1`, their own base ids and ports,
the filter config from a watched file: ECDS) and one workerd running the edge worker, all on
127.0.0.1 (fleet/parts.py starts them; every test stops what it started).

The test policy weighs one signal: `cluster.accounts_per_prefix` (every request comes from
127.0.0.0/24: the Envoys' peer address, the worker's `x-test-client-ip`), linear from 0 to 100
with weight 100, so a request's score is the number of distinct accounts its node knows from
that prefix; tagging starts at TAG. Clusters count returning accounts only, so a node sends
an account's first request twice (the first one primes it, `Node.get`). A campaign split round-robin over the four nodes shows each
node a quarter of its accounts (under TAG), the fleet all of them (over TAG).

Run after `scripts/build.sh envoy envoy-native web native`:  .venv/bin/python -m pytest -q tests/e2e/test_fleet.py
"""

import json
import subprocess
import sys
import threading
import time

import pytest
import requests

from conftest import CLI, ROOT, Origin
from test_envoy_sync import campaign_lines, signal_keys, wait_for

sys.path.insert(0, str(ROOT / "fleet"))
import parts  # noqa: E402  (fleet/parts.py)

TAG = 30
SIGNAL = "cluster_accounts_per_prefix"
TICK = 1.0
NAMESPACE = "e2e"


def policy(**extra):
    signals = {k: {"weight": 0} for k in signal_keys()}
    signals[SIGNAL] = {"weight": 100, "from": 0, "full": 100}
    # 512 registers: distinct counts this small are exact or nearly (linear counting).
    p = {"name": "fleet e2e", "thresholds": {"tag": TAG, "throttle": 99, "deny": 100}, "signals": signals,
         "state": {"precision": 9}}
    p.update(extra)
    return p


FLEET = {"namespace": NAMESPACE, "timeout_ms": 500, "max_reply_bytes": 65536}


def plugin_config(pol, bridge_port=None):
    """The plugin configuration (`pol`'s own `envoy` options kept); with `bridge_port`, the
    native filter's (it calls the bridge at that address itself)."""
    fleet = FLEET if bridge_port is None else {**FLEET, "bridge": f"127.0.0.1:{bridge_port}"}
    return json.dumps({**pol, "envoy": {**pol.get("envoy", {}), "fleet": fleet}})


class Node:
    """One node as a client sees it."""

    def __init__(self, name, url, sent, primed, edge=False, envoy=None):
        self.name, self.url, self.sent, self.primed, self.edge, self.envoy = name, url, sent, primed, edge, envoy

    def get(self, account, headers=None, timeout=10):
        """One GET on its own connection; (status, tags the origin received). A new account
        sends one more GET first: clusters count an account from its second request on."""
        if account not in self.primed:
            self.primed.add(account)
            status, tags = self.get(account, headers, timeout)
            if status != 200:
                return status, tags
        self.sent.append(f"fleet-e2e-{account}")
        h = {"x-api-key": f"fleet-e2e-{account}", "connection": "close", "user-agent": "fleet-e2e/1.0"}
        if self.edge:
            h["x-test-client-ip"] = "127.0.0.1"
        h.update(headers or {})
        r = requests.get(self.url + "/v1/models", headers=h, timeout=timeout)
        if r.status_code != 200:
            return r.status_code, {}
        tags = {n.lower(): v for n, v in r.json()["headers"] if n.lower().startswith("x-distill-")}
        return 200, tags

    def score(self, account, headers=None):
        status, tags = self.get(account, headers)
        assert status == 200, (self.name, status)
        return int(tags["x-distill-score"])


class Fleet:
    """Redis, the bridge, an origin, Envoys (three Wasm-filter nodes by default; the ones named
    in `native` run the native filter) and a workerd (unless `edge` is false), started on
    __init__."""

    def __init__(self, tmp, pol, names=("a", "b", "c"), native=(), edge=True):
        self.tmp = tmp
        self.started = []
        self.policy = pol
        self.redis = self._start(parts.Redis(tmp))
        self.bridge = self._start(parts.Bridge(tmp, self.redis.port))
        self.origin = Origin(tmp)
        self.started.append(self.origin)
        self.envoys = []
        for name in names:
            config = plugin_config(pol, self.bridge.port if name in native else None)
            e = parts.FleetEnvoy(tmp, name, self.origin.port, self.bridge.port, config, native=name in native)
            self.envoys.append(self._start(e))
        self.workerd = None
        if edge:
            self.workerd = self._start(parts.Workerd(tmp, self.origin.port, self.bridge.port, json.dumps(pol), FLEET))
        self.sent = []  # API keys, in the order the requests went out
        primed = set()
        self.nodes = [Node(e.name, e.url, self.sent, primed, envoy=e) for e in self.envoys]
        if edge:
            self.nodes.append(Node("edge", self.workerd.url, self.sent, primed, edge=True))

    def _start(self, part):
        self.started.append(part)
        part.start()
        return part

    def close(self):
        for p in reversed(self.started):
            try:
                p.stop() if hasattr(p, "stop") else p.close()
            except Exception:  # noqa: BLE001  (stop everything we can)
                pass

    def store_view(self):
        """`distill-guard fleet-view` of what the store holds."""
        reply = self.tmp / "store-reply.raw"
        reply.write_bytes(parts.read_store(self.bridge, NAMESPACE))
        pol = self.tmp / "policy.json"
        pol.write_text(json.dumps(self.policy))
        out = subprocess.run([str(CLI), "fleet-view", "--policy", str(pol), str(reply)], capture_output=True, text=True,
                             check=True).stdout
        return json.loads(out)

    def one_node_score(self, keys):
        """The score one node fed the requests with API keys `keys` gives the last one: the
        same records through one engine (`distill-guard replay`)."""
        records = self.tmp / "all-requests.jsonl"
        with open(records, "w") as f:
            for i, key in enumerate(keys):
                f.write(json.dumps({"ts_ms": int(time.time() * 1000) - len(keys) + i, "method": "GET",
                                    "path": "/v1/models", "headers": [["x-api-key", key]],
                                    "peer": {"ip": "127.0.0.1"}}) + "\n")
        pol = self.tmp / "policy.json"
        pol.write_text(json.dumps(self.policy))
        out = subprocess.run([str(CLI), "replay", "--policy", str(pol), str(records)], capture_output=True, text=True,
                             check=True).stdout
        return json.loads(out.splitlines()[-1])["score"]

    def gauges(self):
        """The fleet-view gauge of the Wasm-filter nodes (the native filter has none)."""
        return {e.name: e.stats().get("distill_guard.sync.fleet_active_accounts") for e in self.envoys if not e.native}


@pytest.fixture
def fleet(tmp_path, wasm):
    if not (ROOT / "edge" / "pkg" / "distill_guard_bg.wasm").exists():
        pytest.fail("edge/pkg missing: run scripts/build.sh web")
    f = Fleet(tmp_path, policy())
    yield f
    f.close()


def warm_up(fleet):
    """One request per node (so every node serves, and every Envoy elects its leader), then
    two ticks."""
    for n in fleet.nodes:
        n.score(f"warm-{n.name}")
    time.sleep(2.5 * TICK)
    return len(fleet.nodes)


def campaign_is_flagged_on_every_node(fleet, known, n_accounts):
    """Sends `n_accounts` new accounts round-robin over the nodes, 10 requests a second (`known`
    accounts already counted), and checks that each node, whose own share stays under TAG,
    flags them within two ticks of the fleet crossing TAG."""
    nodes = fleet.nodes
    events = []  # (time, node, fleet count after it, score)
    for i in range(n_accounts):
        node = nodes[i % len(nodes)]
        t = time.monotonic()
        events.append((t, node.name, known + i + 1, node.score(f"camp-{i}")))
        time.sleep(max(0.0, t + 0.1 - time.monotonic()))
    crossed = next(t for t, _, count, _ in events if count >= TAG)
    for node in nodes:
        mine = [e for e in events if e[1] == node.name]
        assert len(mine) + 1 < TAG, "the test needs each node's own share under the ramp"
        assert all(s <= count + 3 for _, _, count, s in mine), mine
        flagged = next((t for t, _, _, s in mine if s >= TAG), None)
        assert flagged is not None, (node.name, mine)
        delay = flagged - crossed
        print(f"{node.name}: flagged {delay:.2f} s after the fleet crossed {TAG} accounts")
        # Two ticks, plus the gap to this node's next request (a node is probed every 0.1 s x nodes).
        assert delay <= 2 * TICK + 0.5, (node.name, delay)


def log_lines(text, needle):
    return [l for l in text.splitlines() if needle in l]


def test_a_campaign_split_over_the_fleet_is_flagged_everywhere_and_survives_a_store_outage(fleet):
    known = warm_up(fleet)
    nodes = fleet.nodes
    # Campaign: 56 accounts round-robin (each node sees 14; the fleet crosses TAG at about the
    # 26th, and 30 more requests follow: three seconds to watch).
    n_accounts = 56
    campaign_is_flagged_on_every_node(fleet, known, n_accounts)

    # What the store holds agrees with what the filters report. The edge node syncs after a
    # request, at most once a second: the accounts it saw since its last round trip reach the
    # store with its next request (an account it already counted), as after the outage below.
    time.sleep(1.2 * TICK)
    for n in nodes:
        n.score(f"warm-{n.name}")
    time.sleep(2.5 * TICK)
    view = fleet.store_view()
    total = known + n_accounts
    print("store view:", view, "gauges:", fleet.gauges())
    assert abs(view["active_accounts"] - total) <= 0.03 * total, view
    assert view["refused"] == 0
    assert len(view["nodes"]) == len(nodes), view
    for name, g in fleet.gauges().items():
        assert g is not None and abs(g - view["active_accounts"]) <= 1, (name, g, view)

    # The store dies: no request fails, every node goes on counting its own traffic.
    before = {n.name: n.score(f"probe-before-{n.name}") for n in nodes}
    fleet.redis.kill()
    statuses, local = [], {n.name: [] for n in nodes}
    for i in range(12):  # three seconds
        node = nodes[i % len(nodes)]
        status, tags = node.get(f"outage-{i}")
        statuses.append(status)
        if status == 200:
            local[node.name].append(int(tags["x-distill-score"]))
        time.sleep(0.25)
    assert set(statuses) == {200}, statuses
    for n in nodes:
        scores = local[n.name]
        assert scores and scores[-1] >= before[n.name] + len(scores) - 3, (n.name, before[n.name], scores)
    for e in fleet.envoys:
        s = e.stats()
        assert s.get("distill_guard.sync.fleet_errors", 0) >= 2, s
        assert len(log_lines(e.log(), "fleet: store unreachable")) == 1, log_lines(e.log(), "fleet:")
    assert len(log_lines(fleet.workerd.log(), "fleet: store unreachable")) == 1, log_lines(fleet.workerd.log(), "fleet")

    # The store comes back (empty): the nodes publish what they held, and converge.
    fleet.redis.start()
    for i in range(8):
        nodes[i % len(nodes)].score(f"after-{i}")
        time.sleep(0.25)
    time.sleep(3 * TICK)
    for n in nodes:
        n.score(f"nudge-{n.name}")  # the edge node syncs on requests only
    time.sleep(2.5 * TICK)
    total = len(set(fleet.sent))
    assert total + len(nodes) + 1 < 100, "the scores must not reach the ramp's end"
    view = fleet.store_view()
    gauges = fleet.gauges()
    print("after the outage: store view", view, "gauges", gauges, "expected about", total)
    assert abs(view["active_accounts"] - total) <= 0.03 * total, (view, total)
    for name, g in gauges.items():
        assert abs(g - view["active_accounts"]) <= 1, (name, g, view)
    # Every node gives a new account the score one node fed all the traffic would give it
    # (the same registers: equal, not just close). The edge node merges after a request.
    nodes[3].score("final-edge-sync")
    time.sleep(2.5 * TICK)
    seen = list(fleet.sent)
    for n in nodes:
        s = n.score(f"final-{n.name}")
        want = fleet.one_node_score(seen + fleet.sent[-2:])  # its two requests
        print(f"{n.name}: final score {s}, one node fed everything: {want} ({total} accounts so far)")
        assert abs(s - want) <= 1, (n.name, s, want)
    for e in fleet.envoys:
        assert len(log_lines(e.log(), "fleet: store back after")) == 1, log_lines(e.log(), "fleet:")
        assert "panic" not in e.log().lower()
        assert e.stats().get("distill_guard.internal_error", 0) == 0


def test_a_policy_push_reaches_every_node_without_a_failed_request_and_keeps_the_state(fleet):
    warm_up(fleet)
    envoys = [n for n in fleet.nodes if not n.edge]
    for i in range(30):
        envoys[i % 3].score(f"seed-{i}")
    time.sleep(2.5 * TICK)
    status, tags = envoys[0].get("fp-probe")
    hfp = tags["x-distill-fp"]
    before = {n.name: n.score(f"before-{n.name}") for n in envoys}
    assert all(s >= 30 for s in before.values()), before

    # Clients keep sending (new connections and keep-alive) while every node gets a new policy:
    # the client's header fingerprint on the block list, same state section.
    failures, sent = [], [0]
    stop = threading.Event()

    def client(node, keep_alive):
        session = requests.Session() if keep_alive else requests
        k = 0
        while not stop.is_set():
            # Three accounts per client: the prefix count stays far from the ramp's end.
            h = {"x-api-key": f"fleet-e2e-push-{node.name}-{keep_alive}-{k % 3}", "user-agent": "fleet-e2e/1.0"}
            if not keep_alive:
                h["connection"] = "close"
            try:
                r = session.get(node.url + "/v1/models", headers=h, timeout=10)
                if r.status_code != 200:
                    failures.append((node.name, r.status_code))
            except requests.RequestException as e:
                failures.append((node.name, repr(e)))
            sent[0] += 1
            k += 1
            time.sleep(0.02)

    threads = [threading.Thread(target=client, args=(n, ka)) for n in envoys for ka in (False, True)]
    for t in threads:
        t.start()
    try:
        time.sleep(1.0)
        new = policy(block={"fingerprints": [hfp]})
        new["signals"]["fp_listed"] = {"weight": 5}
        for e in fleet.envoys:
            e.push(plugin_config(new))
        deadline = time.monotonic() + 10
        pushed = set()
        while time.monotonic() < deadline and len(pushed) < 3:
            for n in envoys:
                _, tags = n.get(f"after-push-{n.name}-{time.monotonic()}")
                if "fp.listed" in tags.get("x-distill-reasons", ""):
                    pushed.add(n.name)
            time.sleep(0.2)
        assert pushed == {n.name for n in envoys}, pushed
        time.sleep(1.0)
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert not failures, failures[:10]
    assert sent[0] > 50
    # The state survived the swap: the prefix count is still the fleet's (plus what came since).
    for n in envoys:
        _, tags = n.get(f"after-{n.name}")
        reasons = tags["x-distill-reasons"].split(",")
        assert "fp.listed" in reasons and "cluster.accounts_per_prefix" in reasons, tags
        assert int(tags["x-distill-score"]) >= before[n.name] + 5, (n.name, before[n.name], tags)
    for e in fleet.envoys:
        assert log_lines(e.log(), "cross-request state kept"), e.log()[-3000:]
        assert "panic" not in e.log().lower()


def real_delta(bridge):
    """One state delta the store holds (its bytes), read from a store answer."""
    body = parts.read_store(bridge, NAMESPACE)
    packed = body[body.index(b"\r\n") + 2:-2]
    at = 5 + 2 + packed[6]  # "DGFR", version, flags, cursor length, cursor
    count, at = int.from_bytes(packed[at:at + 4], "little"), at + 4
    for _ in range(count):
        n = packed[at]
        at += 1 + n
        size = int.from_bytes(packed[at:at + 4], "little")
        batch, at = packed[at + 4:at + 4 + size], at + 4 + size
        if batch[5:7] != b"\x00\x00":
            size = int.from_bytes(batch[7:11], "little")
            return batch[11:11 + size]
    raise AssertionError("no delta in the store")


def batch_of(*deltas):
    out = b"DGFB\x01" + len(deltas).to_bytes(2, "little")
    for d in deltas:
        out += len(d).to_bytes(4, "little") + d
    return out


def test_the_store_is_hostile_input(fleet):
    warm_up(fleet)
    for i in range(20):
        fleet.nodes[i % 4].score(f"seed-{i}")
    time.sleep(2.5 * TICK)

    # The bridge runs the store function only, for the configured address only.
    b = fleet.bridge
    for path in ["/GET/k.raw", "/SET/k/v.raw", "/FLUSHALL.raw", "/XADD/x/*/f/v.raw", "/EVAL/return%201/0.raw",
                 "/FUNCTION/FLUSH.raw", "/CONFIG/SET/dir/tmp.raw", "/KEYS/*.raw"]:
        status, body = b.put(path, b"x")
        assert status == 403, (path, status, body[:100])
    status, _ = b.put(parts.store_path(NAMESPACE, "x"), parts.EMPTY_BATCH, source="127.0.0.2")
    assert status == 403, "FCALL from an address the ACL does not name"
    assert fleet.redis.command("DBSIZE") >= 1

    # Hostile entries written straight into the store's log (not through the bridge): garbage,
    # lying frames, a real delta cut short or with its tail changed, an entry over
    # fleet.max_reply_bytes, an overlong node name with control characters.
    real = real_delta(b)
    hostile = [
        (b"evil\x1b[2J\n", b"not a batch at all"),
        (b"evil-2", batch_of(b"DGSD\x04" + b"\xff" * 7)),
        (b"evil-3", b"DGFB\x01\x05\x00" + (3).to_bytes(4, "little") + b"abc"),
        (b"evil-4", batch_of(real[:-5], real[:-1] + bytes([real[-1] ^ 0x55]) + b"\x00")),
        (b"evil-5", b"DGFB\x01\x00\x00" + b"\x00" * 70000),
        (b"\x07" * 300, batch_of(b"")),
    ]
    log_key = f"distill_guard:{{{NAMESPACE}}}:log"
    for node, batch in hostile:
        fleet.redis.command("XADD", log_key, "*", "n", node, "p", "evil", "b", batch)
    time.sleep(2.5 * TICK)
    fleet.nodes[3].score("nudge-edge")  # the edge node syncs after requests only
    time.sleep(2.5 * TICK)
    # Nothing of them was merged: every node still gives a new account the score one node fed
    # all the real traffic gives it. The earlier nodes' checking requests may or may not have
    # reached a node by its turn (a loaded machine syncs later): its score lies between the
    # two.
    seen = list(fleet.sent)
    for n in fleet.nodes:
        before = list(fleet.sent)
        s = n.score(f"after-{n.name}")
        own = fleet.sent[-2:]  # its two requests
        lo, hi = sorted((fleet.one_node_score(seen + own), fleet.one_node_score(before + own)))
        assert lo - 1 <= s <= hi + 1, (n.name, s, lo, hi)
    for e in fleet.envoys:
        s = e.stats()
        print(e.name, {k: v for k, v in s.items() if k.startswith("distill_guard.sync.fleet")})
        assert s.get("distill_guard.sync.fleet_refused", 0) >= 5, s
        assert s.get("distill_guard.sync.fleet_missed", 0) >= 1, "the oversized entry was skipped"
        assert s.get("distill_guard.internal_error", 0) == 0
        assert len(log_lines(e.log(), "fleet: refused a delta from node")) == 1, log_lines(e.log(), "fleet")
        assert "panic" not in e.log().lower()
        assert "\x1b" not in e.log() and "\x07" not in e.log(), "node names from the store are printed escaped"
    assert len(log_lines(fleet.workerd.log(), "fleet: refused a delta")) == 1, fleet.workerd.log()[-3000:]


@pytest.fixture
def mixed_fleet(tmp_path, wasm):
    if not (ROOT / "build" / "libdistill_guard.so").exists():
        pytest.fail("build/libdistill_guard.so missing: run scripts/build.sh envoy-native")
    f = Fleet(tmp_path, policy(), names=("w", "n1", "n2"), native=("n1", "n2"), edge=False)
    yield f
    f.close()


def test_native_filter_nodes_sync_with_the_fleet_and_ride_out_a_store_outage(mixed_fleet):
    """Two native-filter nodes and one Wasm-filter node in one fleet: a campaign split over them
    is flagged on each within two ticks of the fleet crossing the threshold, the store holds
    every node's deltas, and an outage of the store fails no request and is logged once."""
    fleet = mixed_fleet
    known = warm_up(fleet)
    nodes = fleet.nodes
    n_accounts = 45  # 15 per node, under TAG; the fleet crosses it at about the 27th
    campaign_is_flagged_on_every_node(fleet, known, n_accounts)

    time.sleep(2.5 * TICK)
    view = fleet.store_view()
    total = known + n_accounts
    assert abs(view["active_accounts"] - total) <= 0.03 * total, view
    assert view["refused"] == 0 and len(view["nodes"]) == len(nodes), view
    for e in fleet.envoys:
        if e.native:
            s = e.stats()
            assert s.get("distill_guard.sync.fleet_published", 0) > 0 and s.get("distill_guard.sync.fleet_applied", 0) > 0, s
            # One per filter configuration: ECDS's default config, then the watched file's.
            assert log_lines(e.log(), "fleet sync on as node"), e.log()[-2000:]

    # The store dies: no request fails; the native nodes count the failed round trips and log
    # the outage once; when it is back they log that once and publish what they held.
    fleet.redis.kill()
    statuses = []
    for i in range(12):
        statuses.append(nodes[i % len(nodes)].get(f"outage-{i}")[0])
        time.sleep(0.25)
    assert set(statuses) == {200}, statuses
    natives = [e for e in fleet.envoys if e.native]
    for e in natives:
        assert e.stats().get("distill_guard.sync.fleet_errors", 0) >= 2, e.stats()
        assert len(log_lines(e.log(), "fleet: store unreachable")) == 1, log_lines(e.log(), "fleet")
    fleet.redis.start()
    for i in range(6):
        nodes[i % len(nodes)].score(f"after-{i}")
        time.sleep(0.25)
    # Converged within a few ticks (each node republishes on its own tick once it sees the store back).
    total = len(set(fleet.sent))

    def converged():
        view = fleet.store_view()
        return view if abs(view["active_accounts"] - total) <= 0.03 * total else None
    view = wait_for(converged, timeout=6 * TICK) or fleet.store_view()
    assert abs(view["active_accounts"] - total) <= 0.03 * total, (view, total)
    for e in natives:
        assert len(log_lines(e.log(), "fleet: store back after")) == 1, log_lines(e.log(), "fleet")
        assert "panic" not in e.log().lower()
        assert e.stats().get("distill_guard.internal_error", 0) == 0


def test_a_policy_push_to_a_native_node_keeps_its_state_and_its_fleet_node(mixed_fleet):
    """A new filter configuration of the native filter (pushed through ECDS) takes over its
    predecessor's state when the `state` section is unchanged, and its fleet client with it:
    the node keeps its name and store cursor (the store still lists three nodes) and its next
    new account scores on everything it knew. A changed `state` section starts empty."""
    fleet = mixed_fleet
    known = warm_up(fleet)
    w, n1, n2 = fleet.nodes
    for i in range(24):
        fleet.nodes[i % 3].score(f"seed-{i}")
    time.sleep(2.5 * TICK)
    # The fleet's 28 accounts (n1 served 10 of them itself), a few less where two share a register.
    before = n1.score("before-push")
    assert before >= known + 20, before
    n1.envoy.push(plugin_config({**policy(), "name": "fleet e2e, pushed"}, fleet.bridge.port))
    wait = time.monotonic() + 10
    while "cross-request state kept" not in n1.envoy.log() and time.monotonic() < wait:
        time.sleep(0.1)
    log = n1.envoy.log()
    assert "cross-request state kept" in log and "fleet sync kept as node" in log, log[-3000:]
    # Four new accounts: each adds one to the count unless it lands in an occupied register
    # (~5 % each at 512 registers), and an empty state would lose this node's own third.
    after = [n1.score(f"after-push-{i}") for i in range(4)]
    assert after[-1] >= before + 2, (before, after)
    time.sleep(2.5 * TICK)
    view = fleet.store_view()
    assert len(view["nodes"]) == 3 and view["refused"] == 0, view
    # A changed state section: the new configuration starts empty (and is a new node).
    n2.envoy.push(plugin_config({**policy(), "state": {"precision": 8}}, fleet.bridge.port))
    wait = time.monotonic() + 10
    while "state started empty" not in n2.envoy.log() and time.monotonic() < wait:
        time.sleep(0.1)
    assert "cross-request state started empty (state section changed)" in n2.envoy.log(), n2.envoy.log()[-3000:]
    assert n2.get("after-reset")[0] == 200
    for e in fleet.envoys:
        assert "panic" not in e.log().lower()
        assert e.stats().get("distill_guard.internal_error", 0) == 0


def test_the_fleet_campaign_report_merges_every_nodes_tracker(tmp_path, wasm):
    """`envoy.campaigns` on a fleet: each node stores its campaign tracker snapshot in the
    store every interval (the Wasm filter's reporting worker, the native filter's background
    thread), and `distill-guard campaigns --fleet` merges every node's: a campaign whose 12
    accounts are split 6 / 6 over a Wasm and a native node (each under `min_accounts` 8, so
    neither node's own log reports it) is one campaign of 12 accounts and all 24 requests."""
    if not (ROOT / "build" / "libdistill_guard.so").exists():
        pytest.fail("build/libdistill_guard.so missing: run scripts/build.sh envoy-native")
    signals = {k: {"weight": 0} for k in signal_keys()}
    signals["proxy_via"] = {"weight": 40}
    pol = {"name": "fleet campaigns e2e", "thresholds": {"tag": TAG, "throttle": 99, "deny": 100}, "signals": signals,
           "identity": {"hash_key": "fleet-campaign-e2e"}, "envoy": {"campaigns": {"interval_s": 1, "min_accounts": 8}}}
    fleet = Fleet(tmp_path, pol, names=("w", "n"), native=("n",), edge=False)
    try:
        accounts = set()
        for i in range(24):
            node = fleet.nodes[(i // 2) % 2]  # accounts 0, 2, 4 ... on w; 1, 3, 5 ... on n
            status, tags = node.get(f"camp-{(i // 2) % 12}", headers={"via": "1.1 squid"})
            assert status == 200 and int(tags["x-distill-score"]) >= TAG, (status, tags)
            accounts.add(tags["x-distill-account"])
        assert len(accounts) == 12

        def merged():
            reply = tmp_path / "campaigns-reply.raw"
            reply.write_bytes(parts.read_campaigns(fleet.bridge, NAMESPACE))
            out = subprocess.run([str(CLI), "campaigns", "--fleet", str(reply), "--format", "json", "--min-accounts", "8"],
                                 capture_output=True, text=True)
            assert out.returncode == 0, out.stderr
            report = json.loads(out.stdout)
            return report if report["campaigns_total"] == 1 and report["flagged"] >= 36 else None
        report = wait_for(merged, timeout=10)
        assert report, parts.read_campaigns(fleet.bridge, NAMESPACE)[:200]
        c = report["campaigns"][0]
        assert c["accounts"]["count"] == 12 and set(c["accounts"]["sample"]) == accounts, c
        # Each node primed each of its accounts once (Node.get): 12 + 24 requests, all flagged.
        assert c["requests"] == {"flagged": 36, "all": 36}, c
        for e in fleet.envoys:
            assert campaign_lines(e) == [], (e.name, campaign_lines(e))
            assert "storing the campaign snapshot failed" not in e.log(), e.log()[-2000:]
    finally:
        fleet.close()

