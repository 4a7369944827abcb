"""The fleet's real parts on 127.0.0.1, for tests/e2e/test_fleet.py and scripts/fleet-demo.sh
(standard library only).

- Redis: redis-server (fleet/redis.conf.in) with the store function (fleet/distill_guard.lua)
  loaded on every start; `kill()` is SIGKILL, `start()` again brings an empty store back.
- Bridge: webdis (fleet/webdis.json.in), which accepts FCALL only, from the `allow` CIDR.
- FleetEnvoy: an Envoy node whose filter config is a watched file (ECDS,
  envoy/envoy-fleet.yaml.in); `push(config)` replaces that file.
- Workerd: the edge worker (edge/) with its FLEET binding to the bridge.
- read_store(): a read-only round trip of the store function, as a node makes it.

Every process is a child of the caller and stops with `stop()`; nothing listens beyond
loopback. Nothing here logs keys or prompts.
"""

import json
import os
import shutil
import signal
import socket
import string
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FLEET = ROOT / "fleet"
ENVOY_DIR = ROOT / "envoy"
EDGE = ROOT / "edge"
WASM = ROOT / "build" / "distill_guard_envoy.wasm"
WORKERD = ROOT / "node_modules" / "@cloudflare" / "workerd-linux-64" / "bin" / "workerd"
ENVOY = ROOT / ".venv" / "bin" / "envoy"
FUNCTION = "distill_guard_sync"


_HANDED_OUT = set()


def _ephemeral_range():
    """The kernel's range for outgoing connections' local ports (Linux; else the IANA one)."""
    try:
        low, high = (int(x) for x in Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split())
        return low, high
    except (OSError, ValueError):
        return 49152, 65535


def free_port():
    """A port free on 127.0.0.1 now, outside the kernel's ephemeral range (so that no outgoing
    connection of another process takes it before the server binds it: a port the kernel
    handed out for a bind to port 0 is one it may give the next connect()), and not handed out
    before in this process."""
    low, high = _ephemeral_range()
    a, b = (10000, low - 1) if low > 11000 else (high + 1, 65535)
    for _ in range(200):
        port = int.from_bytes(os.urandom(2), "big") % (b - a + 1) + a
        if port in _HANDED_OUT:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        _HANDED_OUT.add(port)
        return port
    raise RuntimeError(f"no free port in {a}..{b} on 127.0.0.1")


def render(template_path, values):
    """A template with ${NAME} placeholders filled; a missing value is an error."""
    return string.Template(Path(template_path).read_text()).substitute(values)


def wait_port(port, proc, what, timeout=20):
    """Waits until 127.0.0.1:port accepts (or `proc` exits)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{what} not listening on {port} after {timeout}s")


def stop_process(proc, timeout=10):
    """SIGTERM, then SIGKILL after `timeout` seconds."""
    if proc is not None and proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout)


def resp_command(port, *args, timeout=5):
    """One command to Redis over its own protocol; returns the decoded reply (bytes, int,
    list, None) or raises RuntimeError on an error reply."""
    out = [f"*{len(args)}\r\n".encode()]
    for a in args:
        b = a if isinstance(a, bytes) else str(a).encode()
        out.append(f"${len(b)}\r\n".encode() + b + b"\r\n")
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(b"".join(out))
        f = s.makefile("rb")
        return _read_resp(f)


def _read_resp(f):
    line = f.readline()
    kind, rest = line[:1], line[1:].rstrip(b"\r\n")
    if kind == b"+":
        return rest
    if kind == b"-":
        raise RuntimeError(rest.decode(errors="replace"))
    if kind == b":":
        return int(rest)
    if kind == b"$":
        n = int(rest)
        if n < 0:
            return None
        data = f.read(n + 2)
        return data[:-2]
    if kind == b"*":
        n = int(rest)
        return None if n < 0 else [_read_resp(f) for _ in range(n)]
    raise RuntimeError(f"unexpected reply {line!r}")


class Redis:
    """redis-server with the store function loaded."""

    def __init__(self, tmp, port=None):
        self.dir = Path(tmp) / "redis"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.conf = self.dir / "redis.conf"
        self.conf.write_text(render(FLEET / "redis.conf.in", {"PORT": self.port, "DIR": self.dir}))
        self.proc = None
        self._log = None

    def start(self):
        self._log = open(self.dir / "redis.log", "a")
        self.proc = subprocess.Popen(["redis-server", str(self.conf)], stdout=self._log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 20
        while True:
            try:
                if resp_command(self.port, "PING") == b"PONG":
                    break
            except (OSError, RuntimeError):
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"redis-server did not start: {(self.dir / 'redis.log').read_text()[-2000:]}")
                time.sleep(0.1)
        resp_command(self.port, "FUNCTION", "LOAD", "REPLACE", (FLEET / "distill_guard.lua").read_bytes())
        return self

    def kill(self):
        """SIGKILL: the store dies at once, with what it held."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)
        self._close_log()

    def stop(self):
        stop_process(self.proc)
        self._close_log()

    def _close_log(self):
        if self._log is not None:
            self._log.close()
            self._log = None

    def command(self, *args):
        return resp_command(self.port, *args)


class Bridge:
    """webdis in front of `redis_port`, FCALL only, from `allow`."""

    def __init__(self, tmp, redis_port, allow="127.0.0.1/32", port=None):
        self.dir = Path(tmp) / "webdis"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.conf = self.dir / "webdis.json"
        self.conf.write_text(render(FLEET / "webdis.json.in", {
            "PORT": self.port, "REDIS_PORT": redis_port, "ALLOW": allow, "LOG": self.dir / "webdis.log"}))
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen(["webdis", str(self.conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     cwd=self.dir)
        wait_port(self.port, self.proc, "webdis")
        return self

    def stop(self):
        stop_process(self.proc)

    def put(self, path, body, source=None, timeout=5):
        """PUT `path` with `body`; (status, bytes). `source`: the client's source address."""
        import http.client
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout,
                                          source_address=(source, 0) if source else None)
        try:
            conn.request("PUT", path, body=body, headers={"content-type": "application/octet-stream"})
            r = conn.getresponse()
            return r.status, r.read()
        finally:
            conn.close()


def fcall_path(*args):
    """A bridge path calling a store function with `args` (each segment encoded as
    src/fleet/protocol.rs does)."""
    enc = lambda s: "".join(c if c.isalnum() or c in "_-:" else f"%{ord(c):02X}" for c in s)
    return "/FCALL/" + "/".join(enc(str(a)) for a in args) + ".raw"


def store_path(namespace, node, publisher="fleet-view-1", seq=0, cursor="0-0", retention_ms=60000,
               max_entries=100000, max_bytes=64 << 20, store=False):
    """The store function's path for these arguments (as src/fleet/protocol.rs builds it)."""
    log, pub = f"distill_guard:{{{namespace}}}:log", f"distill_guard:{{{namespace}}}:pub:{publisher}"
    return fcall_path(FUNCTION, "2", log, pub, node, publisher, seq, cursor, retention_ms, max_entries, max_bytes, int(store))


EMPTY_BATCH = b"DGFB\x01\x00\x00"


def read_store(bridge, namespace):
    """Everything the store holds for `namespace`, as a node that published nothing reads it:
    the raw answer (for `distill-guard fleet-view`)."""
    status, body = bridge.put(store_path(namespace, "fleet-view"), EMPTY_BATCH)
    if status != 200:
        raise RuntimeError(f"store read: HTTP {status} {body[:200]!r}")
    return body


def campaigns_path(namespace, reader="campaigns-reader", ttl_ms=60000, store=False, read=True):
    """The campaigns function's path (as src/fleet/campaigns.rs builds it)."""
    keys = [f"distill_guard:{{{namespace}}}:campaigns:{k}" for k in ("at", "snap")]
    return fcall_path("distill_guard_campaigns", "2", *keys, reader, ttl_ms, int(store), int(read))


def read_campaigns(bridge, namespace):
    """Every node's latest campaign tracker snapshot the store holds for `namespace`: the raw
    answer (for `distill-guard campaigns --fleet`)."""
    status, body = bridge.put(campaigns_path(namespace), b"")
    if status != 200:
        raise RuntimeError(f"campaigns read: HTTP {status} {body[:200]!r}")
    return body


def filter_config(policy_text, failure_policy="FAIL_CLOSED", indent=16, native=False):
    """The Wasm filter config (envoy/wasm-filter.yaml.in), or the native filter's
    (envoy/native-filter.yaml.in), for a plugin configuration text, indented for its place in
    a template."""
    values = {"WASM": WASM, "FAILURE_POLICY": failure_policy, "POLICY_JSON": json.dumps(policy_text, ensure_ascii=False)}
    text = render(ENVOY_DIR / ("native-filter.yaml.in" if native else "wasm-filter.yaml.in"), values)
    return "\n".join(" " * indent + line for line in text.splitlines())


FILTER_TYPES = {False: "type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm",
                True: "type.googleapis.com/envoy.extensions.filters.http.dynamic_modules.v3.DynamicModuleFilter"}


class FleetEnvoy:
    """An Envoy fleet node; `config` is the plugin configuration text (policy + `envoy.fleet`);
    `native`: the native filter (build/libdistill_guard.so) instead of the Wasm filter."""

    def __init__(self, tmp, name, origin_port, bridge_port, config, base_id=None, concurrency=1, port=None,
                 admin_port=None, failure_policy="FAIL_CLOSED", native=False):
        self.native = native
        self.dir = Path(tmp) / f"envoy-{name}"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.name = name
        self.port, self.admin_port = port or free_port(), admin_port or free_port()
        self.failure_policy = failure_policy
        # Unique among the Envoys of this machine while the admin port is ours.
        self.base_id = self.admin_port if base_id is None else base_id
        self.concurrency = concurrency
        self.ecds_dir = self.dir / "ecds"
        self.ecds_dir.mkdir(exist_ok=True)
        self.ecds_path = self.ecds_dir / "filter.yaml"
        self.pushes = 0
        self.log_path = self.dir / "envoy.log"
        self.bootstrap = self.dir / "envoy.yaml"
        self.bootstrap.write_text(render(ENVOY_DIR / "envoy-fleet.yaml.in", {
            "ADMIN_PORT": self.admin_port, "LISTEN_PORT": self.port, "ORIGIN_PORT": origin_port,
            "BRIDGE_PORT": bridge_port, "NODE_ID": name, "ECDS_PATH": self.ecds_path, "ECDS_DIR": self.ecds_dir,
            "FILTER_TYPE": FILTER_TYPES[native], "FILTER_CONFIG": filter_config(config, failure_policy, 16, native)}))
        self.ecds_path.write_text(self._ecds(config))
        self.proc = None
        self._log = None

    def _ecds(self, config):
        return render(ENVOY_DIR / "ecds-filter.yaml.in", {"FILTER_CONFIG": filter_config(config, self.failure_policy, 4, self.native)})

    def push(self, config):
        """A new filter config: written next to the watched file, then renamed over it."""
        self.pushes += 1
        tmp = self.ecds_dir / f".filter.{self.pushes}.tmp"
        tmp.write_text(self._ecds(config))
        os.rename(tmp, self.ecds_path)

    def start(self, timeout=60):
        self._log = open(self.log_path, "w")
        self.proc = subprocess.Popen(
            [str(ENVOY), "-c", str(self.bootstrap), "--concurrency", str(self.concurrency), "--base-id", str(self.base_id),
             "--disable-hot-restart", "--log-level", "warn", "--component-log-level", "wasm:info,dynamic_modules:info"],
            stdout=self._log, stderr=subprocess.STDOUT, env={**os.environ, "ENVOY_DYNAMIC_MODULES_SEARCH_PATH": str(ROOT / "build")})
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"envoy {self.name} exited with {self.proc.returncode}:\n{self.log()[-4000:]}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.admin_port}/ready", timeout=1) as r:
                    if r.status == 200:
                        with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                            return self
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"envoy {self.name} not ready after {timeout}s:\n{self.log()[-4000:]}")

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def log(self):
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stats(self, filter_="distill_guard"):
        """Counters and gauges matching `filter_`, as {name: int}."""
        with urllib.request.urlopen(f"http://127.0.0.1:{self.admin_port}/stats?filter={filter_}", timeout=5) as r:
            text = r.read().decode()
        out = {}
        for line in text.splitlines():
            name, _, value = line.partition(": ")
            if value.strip().isdigit():
                out[name.replace("wasmcustom.", "").replace("dynamicmodulescustom.", "")] = int(value)
        return out

    def stop(self):
        stop_process(self.proc)
        if self._log is not None:
            self._log.close()
            self._log = None


def workerd_config(port, origin_port, bridge_port):
    """workerd config text: the edge worker with POLICY, FLEET and FLEET_SETTINGS bindings."""
    return f'''using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [
    (name = "guard", worker = .guard),
    (name = "origin", external = (address = "127.0.0.1:{origin_port}", http = ())),
    (name = "fleet", external = (address = "127.0.0.1:{bridge_port}", http = ())),
  ],
  sockets = [(name = "http", address = "127.0.0.1:{port}", http = (), service = "guard")],
);
const guard :Workerd.Worker = (
  modules = [
    (name = "worker.mjs", esModule = embed "worker.mjs"),
    (name = "record.mjs", esModule = embed "record.mjs"),
    (name = "fleet.mjs", esModule = embed "fleet.mjs"),
    (name = "pkg/distill_guard.js", esModule = embed "pkg/distill_guard.js"),
    (name = "pkg/distill_guard_bg.wasm", wasm = embed "pkg/distill_guard_bg.wasm"),
  ],
  compatibilityDate = "2025-09-01",
  bindings = [
    (name = "POLICY", text = embed "policy.json"),
    (name = "FLEET_SETTINGS", text = embed "fleet.json"),
    (name = "CLIENT_IP_HEADER", text = "x-test-client-ip"),
    (name = "ORIGIN", service = "origin"),
    (name = "FLEET", service = "fleet"),
  ],
);
'''


class Workerd:
    """The edge worker in workerd, a fleet node of its own (client IP from x-test-client-ip)."""

    def __init__(self, tmp, origin_port, bridge_port, policy_text, fleet_settings):
        self.dir = Path(tmp) / "workerd"
        self.dir.mkdir(parents=True, exist_ok=True)
        for f in ["worker.mjs", "record.mjs", "fleet.mjs"]:
            shutil.copy(EDGE / f, self.dir / f)
        shutil.copytree(EDGE / "pkg", self.dir / "pkg", dirs_exist_ok=True)
        (self.dir / "policy.json").write_text(policy_text)
        (self.dir / "fleet.json").write_text(json.dumps(fleet_settings))
        self.port = free_port()
        (self.dir / "config.capnp").write_text(workerd_config(self.port, origin_port, bridge_port))
        self.log_path = self.dir / "workerd.log"
        self.proc = None
        self._log = None

    def start(self):
        self._log = open(self.log_path, "w")
        self.proc = subprocess.Popen([str(WORKERD), "serve", "config.capnp", "--verbose"], cwd=self.dir,
                                     stdout=self._log, stderr=subprocess.STDOUT)
        wait_port(self.port, self.proc, "workerd", timeout=60)
        return self

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def log(self):
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self):
        stop_process(self.proc)
        if self._log is not None:
            self._log.close()
            self._log = None


if __name__ == "__main__":
    sys.exit("fleet/parts.py is a library: see scripts/fleet-demo.sh and tests/e2e/test_fleet.py")
