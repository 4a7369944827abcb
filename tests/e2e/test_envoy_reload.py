"""Policy reload in a real Envoy: the listener (with the distill-guard Wasm filter and its
policy as plugin configuration) comes from a watched file (filesystem LDS, templates
envoy/envoy-lds.yaml.in and envoy/lds-listener.yaml.in). While clients send requests
continuously (keep-alive and new connections), the file is replaced atomically with a
listener carrying another policy; no request may fail, and the new policy must take effect
within a few seconds. A bad policy must be rejected while the old one keeps serving.

Run after `scripts/build.sh envoy native`:  .venv/bin/python -m pytest -q tests/e2e/test_envoy_reload.py
"""

import json
import os
import subprocess
import threading
import time

import httpx
import pytest
import requests

from conftest import ENVOY_DIR, admin_stats, WASM, Origin, envoy_binary, free_port, policy_text, render, stop

VIA = {"Via": "1.1 squid"}
# Policy B: low thresholds, so that a request with a Via header (proxy.via) is denied.
POLICY_B = {"thresholds": {"tag": 5, "throttle": 10, "deny": 20}, "signals": {"proxy_via": {"weight": 100}}}
# A policy the filter refuses (weight out of range).
POLICY_BAD = {"signals": {"proxy_via": {"weight": 250}}}


class LdsEnvoy:
    """Envoy whose listener is read from a watched file; `swap(policy)` replaces that file."""

    def __init__(self, tmp, origin_port):
        self.tmp = tmp
        self.port = free_port()
        self.admin_port = free_port()
        self.lds_dir = tmp / "lds"
        self.lds_dir.mkdir()
        self.lds_path = self.lds_dir / "listener.yaml"
        self.config = tmp / "envoy-lds.yaml"
        self.log_path = tmp / "envoy.log"
        self.swaps = 0
        boot = (ENVOY_DIR / "envoy-lds.yaml.in").read_text()
        self.config.write_text(render.render(boot, {
            "ADMIN_PORT": str(self.admin_port), "ORIGIN_PORT": str(origin_port),
            "LDS_PATH": str(self.lds_path), "LDS_DIR": str(self.lds_dir)}))
        self.proc = None

    def listener(self, policy):
        """The listener resource file's text for `policy`."""
        template = (ENVOY_DIR / "lds-listener.yaml.in").read_text()
        return render.render(template, {
            "WASM": str(WASM), "LISTEN_PORT": str(self.port), "FAILURE_POLICY": "FAIL_CLOSED",
            "POLICY_JSON": json.dumps(policy_text(policy), ensure_ascii=False)})

    def swap(self, policy):
        """Writes the listener for `policy` next to the watched file and renames it over it."""
        self.swaps += 1
        tmp = self.lds_dir / f".listener.{self.swaps}.tmp"
        tmp.write_text(self.listener(policy))
        os.rename(tmp, self.lds_path)

    def start(self, policy, timeout=30):
        self.lds_path.write_text(self.listener(policy))
        self._log = open(self.log_path, "w")
        self.proc = subprocess.Popen(
            [envoy_binary(), "-c", str(self.config), "--concurrency", "2", "--disable-hot-restart",
             # Old filter chains close their connections right after the next response.
             "--drain-strategy", "immediate", "--drain-time-s", "3",
             "--log-level", "warn", "--component-log-level", "wasm:info,config:info"],
            stdout=self._log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"envoy exited with {self.proc.returncode}:\n{self.log()[-4000:]}")
            try:
                if self.stats("listener_manager.lds.update_success").get("listener_manager.lds.update_success", 0) >= 1:
                    requests.get(self.url + "/ready-probe", timeout=2)
                    return self
            except (OSError, requests.RequestException):
                pass
            time.sleep(0.1)
        raise RuntimeError(f"envoy not ready after {timeout}s:\n{self.log()[-4000:]}")

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def log(self):
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stats(self, filter_):
        """Counters/gauges from the admin endpoint matching `filter_`, as {name: int}."""
        return admin_stats(self.admin_port, filter_)

    def counter(self, name):
        return self.stats(name.replace(".", r"\.")).get(name, 0)

    def close(self):
        if self.proc is not None:
            stop(self.proc)
            self._log.close()


@pytest.fixture
def lds_stack(tmp_path, wasm):
    """An origin and an LDS-driven Envoy (not started); both stopped at the end."""
    origin = Origin(tmp_path)
    envoy = LdsEnvoy(tmp_path, origin.port)
    yield envoy, origin
    envoy.close()
    origin.close()


def outcome(resp):
    """'allow' / 'tag' / ... for a request that reached the origin, 'deny' for a local 403,
    else 'status NNN'."""
    if resp.status_code == 200:
        for name, value in resp.json()["headers"]:
            if name.lower() == "x-distill-action":
                return value
        return "untagged"
    if resp.status_code == 403 and resp.json().get("error", {}).get("type") == "forbidden":
        return "deny"
    return f"status {resp.status_code}"


class Clients:
    """Threads sending requests with a Via header until stopped: one python-requests session
    (keep-alive), one httpx client (keep-alive), and one making a new connection per request.
    Every result is recorded as (monotonic time, kind, outcome or error)."""

    def __init__(self, url):
        self.url = url
        self.results = []
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=f, daemon=True) for f in (self._session, self._httpx, self._fresh)]

    def _record(self, kind, fn):
        t = time.monotonic()
        try:
            r = fn()
            res = outcome(r)
        except Exception as e:  # noqa: BLE001 - any client-side failure is a failed request
            res = f"error {type(e).__name__}: {e}"
        with self.lock:
            self.results.append((t, kind, res))

    def _session(self):
        with requests.Session() as s:
            while not self.stop.is_set():
                self._record("session", lambda: s.get(self.url + "/v1/models", headers=VIA, timeout=10))
                time.sleep(0.01)

    def _httpx(self):
        with httpx.Client(timeout=10) as c:
            while not self.stop.is_set():
                self._record("httpx", lambda: c.get(self.url + "/v1/models", headers=VIA))
                time.sleep(0.01)

    def _fresh(self):
        while not self.stop.is_set():
            self._record("fresh", lambda: requests.get(self.url + "/v1/models", headers={**VIA, "Connection": "close"},
                                                       timeout=10))
            time.sleep(0.01)

    def __enter__(self):
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for t in self.threads:
            t.join(15)

    def snapshot(self):
        with self.lock:
            return list(self.results)


def wait_until(pred, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.05)
    return pred()


def test_policy_swap_under_load_drops_nothing(lds_stack):
    envoy, origin = lds_stack
    envoy.start(policy=None)  # policy A: the built-in default, a Via header alone is allowed
    assert envoy.counter("listener_manager.lds.update_success") == 1

    with Clients(envoy.url) as clients:
        time.sleep(2.0)
        t_swap = time.monotonic()
        envoy.swap(POLICY_B)
        assert wait_until(lambda: envoy.counter("listener_manager.lds.update_success") >= 2, 10), envoy.log()[-3000:]
        time.sleep(3.0)
        t_bad = time.monotonic()
        envoy.swap(POLICY_BAD)
        assert wait_until(lambda: envoy.counter("listener_manager.lds.update_rejected") >= 1, 10), envoy.log()[-3000:]
        time.sleep(2.0)
    results = clients.snapshot()

    failed = [r for r in results if not r[2] in ("allow", "deny")]
    assert not failed, failed[:20]
    kinds = {k for _, k, _ in results}
    first_deny = min((r[0] for r in results if r[2] == "deny"), default=float("nan"))
    print(f"reload: {len(results)} requests, 0 failed; first deny {first_deny - t_swap:.2f} s after the swap")
    assert kinds == {"session", "httpx", "fresh"}
    before = [r for r in results if r[0] < t_swap]
    assert len(before) > 20 and all(r[2] == "allow" for r in before), before[-5:]
    # Policy B rules every request started more than 2 s after the swap, on every client.
    after = [r for r in results if t_swap + 2.0 < r[0]]
    assert len(after) > 20 and all(r[2] == "deny" for r in after), [r for r in after if r[2] != "deny"][:5]
    assert {k for _, k, _ in after} == kinds
    # The bad policy was rejected: the listener kept policy B, before and after it.
    after_bad = [r for r in results if r[0] > t_bad]
    assert len(after_bad) > 10 and all(r[2] == "deny" for r in after_bad)
    assert envoy.counter("listener_manager.lds.update_success") == 2
    assert "signals.proxy_via.weight" in envoy.log()
    # Envoy is still up and serving with policy B.
    assert envoy.proc.poll() is None
    assert outcome(requests.get(envoy.url + "/v1/models", headers=VIA, timeout=10)) == "deny"
    # Without the Via header the same client stays below policy B's deny threshold.
    assert outcome(requests.get(envoy.url + "/v1/models", timeout=10)) in ("allow", "tag")
    assert "panicked" not in envoy.log()
