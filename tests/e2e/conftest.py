"""pytest helpers for the end-to-end tests: start and stop the demo origin and a real Envoy
running build/distill_guard_envoy.wasm (or, with `native=True`, the native filter
build/libdistill_guard.so), on free 127.0.0.1 ports, with a policy per test.

Every process started here is a child of the test process and is stopped (SIGTERM, then
SIGKILL) when its fixture ends, so the suite can run twice in a row. Nothing here sends
traffic anywhere but loopback.
"""

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ENVOY_DIR = ROOT / "envoy"
WASM = ROOT / "build" / "distill_guard_envoy.wasm"
# The same filter built with the fault-injection hook (tests only; scripts/build.sh envoy).
FAULT_WASM = ROOT / "build" / "distill_guard_envoy_fault.wasm"
# The native filter, a dynamic module (scripts/build.sh envoy-native; src/host/native/).
NATIVE_LIB = ROOT / "build" / "libdistill_guard.so"
CLI = ROOT / "target" / "release" / "distill-guard"
sys.path.insert(0, str(ENVOY_DIR))
import render  # noqa: E402  (envoy/render.py)

sys.path.insert(0, str(ROOT / "fleet"))
from parts import free_port  # noqa: E402,F401  (fleet/parts.py: tests import it from here too)


def envoy_binary():
    """The Envoy from the project's venv (scripts/setup.sh envoy)."""
    exe = ROOT / ".venv" / "bin" / "envoy"
    if not exe.exists():
        pytest.fail("no .venv/bin/envoy: run scripts/setup.sh envoy")
    return str(exe)




def stop(proc, timeout=10):
    """Stops a child process: SIGTERM, then SIGKILL after `timeout` seconds."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout)


def admin_stats(admin_port, filter_):
    """Counters and gauges of an Envoy admin endpoint matching `filter_`, as {name: int}."""
    with urllib.request.urlopen(f"http://127.0.0.1:{admin_port}/stats?filter={filter_}", timeout=5) as r:
        text = r.read().decode()
    out = {}
    for line in text.splitlines():
        name, _, value = line.partition(": ")
        if value.strip().isdigit():
            out[name] = int(value)
    return out


class Origin:
    """envoy/demo_origin.py on a free port, recording every request to a JSONL file."""

    def __init__(self, tmp):
        self.record_path = tmp / "origin.jsonl"
        self.log_path = tmp / "origin.log"
        self._log = open(self.log_path, "w")
        self.proc = subprocess.Popen(
            [sys.executable, str(ENVOY_DIR / "demo_origin.py"), "--port", "0", "--record", str(self.record_path)],
            stdout=subprocess.PIPE, stderr=self._log, text=True)
        line = self.proc.stdout.readline()
        if not line.startswith("listening on "):
            stop(self.proc)
            raise RuntimeError(f"origin did not start: {line!r} {self.log_path.read_text()}")
        self.port = int(line.rsplit(":", 1)[1])

    def records(self):
        """Requests the origin received, in order (traffic records)."""
        if not self.record_path.exists():
            return []
        return [json.loads(l) for l in self.record_path.read_text().splitlines() if l.strip()]

    def close(self):
        stop(self.proc)
        self.proc.stdout.close()
        self._log.close()


class Envoy:
    """A real Envoy with the distill-guard filter in front of `origin`, `concurrency` worker
    threads (one by default); `geo=(asn_db, country_db)` adds Envoy's geoip filter
    (envoy/geoip.yaml.in) reading those MaxMind-format databases (either may be None);
    `native=True` runs the native filter (envoy/envoy-native.yaml.in) instead of the Wasm one."""

    def __init__(self, tmp, origin_port, policy=None, tls=False, max_headers=2000, cert=None, concurrency=1, wasm=WASM,
                 tagged_per_minute=600, geo=None, native=False):
        self.tmp = tmp
        self.concurrency = concurrency
        self.tls = tls
        self.native = native
        if native and tls:
            raise ValueError("the native filter has no TLS template")
        if native and not NATIVE_LIB.exists():
            pytest.fail(f"{NATIVE_LIB} missing: run scripts/build.sh envoy-native")
        self.port = free_port()
        self.admin_port = free_port()
        self.config = tmp / ("envoy-tls.yaml" if tls else "envoy.yaml")
        self.log_path = tmp / "envoy.log"
        name = "envoy-native.yaml.in" if native else "envoy-tls.yaml.in" if tls else "envoy.yaml.in"
        template = (ENVOY_DIR / name).read_text()
        # The TLS template asks for the adapter option envoy.tls_fingerprints (render.py).
        options = render.template_options(template)
        geo_filters = render.geo_filters(*geo, render.trusted_hops(policy_text(policy))) if geo else ""
        if geo_filters:
            options["geo_headers"] = True
        config = render.plugin_config(policy_text(policy), options)
        values = {
            "WASM": str(wasm),
            "POLICY_JSON": json.dumps(config, ensure_ascii=False),
            "LISTEN_PORT": str(self.port),
            "ADMIN_PORT": str(self.admin_port),
            "ORIGIN_PORT": str(origin_port),
            "MAX_HEADERS": str(max_headers),
            "FAILURE_POLICY": "FAIL_CLOSED",  # a crashed VM answers 503 from then on: visible
            "TAGGED_PER_MINUTE": str(tagged_per_minute),
            "GEO_FILTERS": geo_filters,
        }
        if tls:
            values["CERT"], values["KEY"] = (str(p) for p in cert)
        self.config.write_text(render.render(template, values))
        self.proc = None

    def validate(self):
        """`envoy --mode validate -c CONFIG`: (exit code, combined output)."""
        r = subprocess.run([envoy_binary(), "--mode", "validate", "-c", str(self.config), "--disable-hot-restart"],
                           capture_output=True, text=True, timeout=60, env=self.env)
        return r.returncode, r.stdout + r.stderr

    def start(self, timeout=30):
        """Starts Envoy and waits until the admin says LIVE and the listener accepts."""
        self._log = open(self.log_path, "w")
        self.proc = subprocess.Popen(
            [envoy_binary(), "-c", str(self.config), "--concurrency", str(self.concurrency), "--disable-hot-restart",
             "--log-level", "warn", "--component-log-level", "wasm:info,dynamic_modules:info",
             # Access log lines reach the log within 0.1 s (Envoy's default flush interval is 10 s).
             "--file-flush-interval-msec", "100"],
            stdout=self._log, stderr=subprocess.STDOUT, env=self.env)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise EnvoyExited(self.proc.returncode, self.log())
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.admin_port}/ready", timeout=1) as r:
                    if r.status == 200:
                        with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                            return self
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"envoy not ready after {timeout}s:\n{self.log()}")

    @property
    def env(self):
        """Envoy's environment: the native filter is loaded from build/ (ENVOY_DYNAMIC_MODULES_SEARCH_PATH)."""
        return {**os.environ, "ENVOY_DYNAMIC_MODULES_SEARCH_PATH": str(NATIVE_LIB.parent)}

    @property
    def url(self):
        scheme = "https" if self.tls else "http"
        return f"{scheme}://127.0.0.1:{self.port}"

    def log(self):
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stats(self, filter_="distill_guard"):
        """Counters from the admin endpoint, as {name: int}. The native filter's counters
        (`dynamicmodulescustom.distill_guard.*`) are named as the Wasm filter's
        (`wasmcustom.distill_guard.*`), so that one test reads either filter's."""
        stats = admin_stats(self.admin_port, filter_)
        if not self.native:
            return stats
        native = "dynamicmodulescustom."
        return {("wasmcustom." + k[len(native):] if k.startswith(native) else k): v for k, v in stats.items()}

    def close(self):
        if self.proc is not None:
            stop(self.proc)
            self._log.close()


class EnvoyExited(RuntimeError):
    """Envoy exited while starting (e.g. the filter refused its policy)."""

    def __init__(self, code, log):
        super().__init__(f"envoy exited with {code}:\n{log[-4000:]}")
        self.code = code
        self.log = log


def policy_text(policy):
    """A policy given as dict (serialized), str (verbatim) or None (empty: built-in default)."""
    if policy is None:
        return ""
    if isinstance(policy, str):
        return policy
    return json.dumps(policy)


@pytest.fixture(scope="session")
def wasm():
    if not WASM.exists():
        pytest.fail(f"{WASM} missing: run scripts/build.sh envoy")
    return WASM


@pytest.fixture(scope="session")
def tls_cert(tmp_path_factory):
    """A self-signed certificate for 127.0.0.1 / localhost, made with openssl."""
    d = tmp_path_factory.mktemp("tls")
    cert, key = d / "cert.pem", d / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1", "-days", "2",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    return cert, key


@pytest.fixture
def native_filter():
    """Whether the `stack` and `tiers` fixtures run the native filter instead of the Wasm one
    (tests/e2e/test_envoy_native.py overrides it)."""
    return False


@pytest.fixture
def stack(tmp_path, wasm, tls_cert, native_filter):
    """Factory: `stack(policy=..., tls=False, concurrency=1, wasm=WASM, tagged_per_minute=600, geo=None, native=False)` starts a
    recording origin and Envoy in front of it and returns (envoy, origin). Everything started is stopped at the end
    of the test."""
    started = []

    def make(policy=None, tls=False, max_headers=2000, start=True, concurrency=1, wasm=None, tagged_per_minute=600,
             geo=None, native=native_filter):
        d = tmp_path / f"stack{len(started)}"
        d.mkdir()
        origin = Origin(d)
        started.append(origin)
        envoy = Envoy(d, origin.port, policy=policy, tls=tls, max_headers=max_headers, cert=tls_cert,
                      concurrency=concurrency, wasm=wasm or WASM, tagged_per_minute=tagged_per_minute, geo=geo,
                      native=native)
        started.append(envoy)
        if start:
            envoy.start()
        return envoy, origin

    yield make
    for thing in reversed(started):
        thing.close()
