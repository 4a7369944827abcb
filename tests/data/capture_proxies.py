#!/usr/bin/env python3
"""Captures what real forward proxies (Debian's squid and tinyproxy) add to a request.

Writes tests/data/proxies.json, read by the unit test in src/proxy/mod.rs. Needs
`apt-get install -y squid tinyproxy curl` and python3 with `requests`. Every process binds
127.0.0.1 only, uses a config in a temp dir (no system config or service is touched), and
is stopped before the script exits. Usage: python3 tests/data/capture_proxies.py

Each scenario sends one request (curl or python-requests) through one proxy configuration
to a local capture server that records the request line and headers in wire order. The
expected `proxy.*` signals and client IPs are written here by hand from the proxies'
documented behaviour, not computed by the code under test.
"""
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

import requests

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "proxies.json")
BODY = json.dumps({"model": "claude-x", "max_tokens": 64,
                   "messages": [{"role": "user", "content": "Say hello."}]})
API_KEY = "test-key-not-a-secret"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Capture:
    """A one-request-per-connection HTTP/1.1 server that records raw header lines."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.sock.settimeout(0.5)
        self.port = self.sock.getsockname()[1]
        self.seen = []
        self.stop = False
        self.thread = threading.Thread(target=self.loop, daemon=True)
        self.thread.start()

    def loop(self):
        while not self.stop:
            try:
                conn, addr = self.sock.accept()
            except socket.timeout:
                continue
            with conn:
                conn.settimeout(5)
                buf = b""
                while b"\r\n\r\n" not in buf and len(buf) < 1 << 20:
                    chunk = conn.recv(65536)
                    if not chunk:
                        break
                    buf += chunk
                head, _, rest = buf.partition(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                method, target, version = (lines[0].split(" ", 2) + ["", ""])[:3]
                headers = []
                for line in lines[1:]:
                    name, _, value = line.partition(":")
                    headers.append([name, value.strip()])
                length = next((int(v) for n, v in headers if n.lower() == "content-length"), 0)
                while len(rest) < length:
                    chunk = conn.recv(65536)
                    if not chunk:
                        break
                    rest += chunk
                self.seen.append({"method": method, "target": target, "version": version,
                                  "peer_ip": addr[0], "headers": headers,
                                  "body_bytes": len(rest)})
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")

    def close(self):
        self.stop = True
        self.thread.join()
        self.sock.close()


def wait_port(port, proc, what):
    deadline = time.time() + 15
    while time.time() < deadline:
        if proc.poll() is not None:
            sys.exit(f"{what} exited early with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    sys.exit(f"{what} did not listen on {port}")


def start_squid(tmp, extra):
    port = free_port()
    conf = os.path.join(tmp, "squid.conf")
    with open(conf, "w") as f:
        f.write(f"""http_port 127.0.0.1:{port}
acl local src 127.0.0.1/32
http_access allow local
http_access deny all
cache deny all
cache_mem 8 MB
cache_store_log none
access_log {tmp}/squid-access.log
cache_log {tmp}/squid-cache.log
pid_filename {tmp}/squid.pid
coredump_dir {tmp}
visible_hostname dg-test-squid
shutdown_lifetime 1 seconds
dns_nameservers 127.0.0.1
{extra}
""")
    proc = subprocess.Popen(["squid", "-N", "-f", conf], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_port(port, proc, "squid")
    return proc, port


def start_tinyproxy(tmp, extra):
    port = free_port()
    conf = os.path.join(tmp, "tinyproxy.conf")
    with open(conf, "w") as f:
        f.write(f"""Port {port}
Listen 127.0.0.1
Timeout 30
MaxClients 16
Allow 127.0.0.1
PidFile "{tmp}/tinyproxy.pid"
LogFile "{tmp}/tinyproxy.log"
LogLevel Info
{extra}
""")
    proc = subprocess.Popen(["tinyproxy", "-d", "-c", conf], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_port(port, proc, "tinyproxy")
    return proc, port


def stop(proc):
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


PROXY_USER = "dg-user:not-a-secret"


def send_curl(cap, proxy, extra_headers, proxy_auth=False):
    cmd = ["curl", "-s", "-o", "/dev/null", "--max-time", "10", "-X", "POST",
           f"http://127.0.0.1:{cap.port}/v1/messages",
           "-H", "content-type: application/json", "-H", f"x-api-key: {API_KEY}", "--data", BODY]
    if proxy:
        cmd[1:1] = ["-x", f"http://127.0.0.1:{proxy}", "--noproxy", ""]
    if proxy_auth:
        cmd[1:1] = ["-U", PROXY_USER]
    for h in extra_headers:
        cmd += ["-H", h]
    subprocess.run(cmd, check=True, env={**os.environ, "no_proxy": "", "NO_PROXY": ""})


def send_python(cap, proxy, extra_headers, proxy_auth=False):
    s = requests.Session()
    s.trust_env = False
    cred = PROXY_USER + "@" if proxy_auth else ""
    proxies = {"http": f"http://{cred}127.0.0.1:{proxy}"} if proxy else {}
    headers = {"x-api-key": API_KEY, "content-type": "application/json"}
    headers.update(dict(h.split(": ", 1) for h in extra_headers))
    s.post(f"http://127.0.0.1:{cap.port}/v1/messages", data=BODY, headers=headers,
           proxies=proxies, timeout=10)


CLIENT_XFF = ["X-Forwarded-For: unknown, [2001:db8::1]:443", "X-Real-IP: 198.51.100.7"]

# (id, proxy kind, proxy config extra lines, client, extra client headers,
#  expected signals with trusted_hops = 0, expected client ip by trusted_hops)
SCENARIOS = [
    ("direct-curl", None, "", "curl", [], [], {"0": "127.0.0.1", "1": "127.0.0.1"}),
    ("direct-python", None, "", "python-requests", [], [], {"0": "127.0.0.1", "1": "127.0.0.1"}),
    # Squid defaults: `via on`, `forwarded_for on` (appends the client address); squid also
# adds `Cache-Control: max-age=259200` (its default refresh_pattern maximum) to every request.
    ("squid-default-curl", "squid", "", "curl", [],
     ["proxy.via", "proxy.xff_hops", "proxy.vendor_header"], {"0": "127.0.0.1", "1": "127.0.0.1"}),
    ("squid-default-python", "squid", "", "python-requests", [],
     ["proxy.via", "proxy.xff_hops", "proxy.vendor_header"], {"0": "127.0.0.1", "1": "127.0.0.1"}),
    # A client that already sends forwarding headers: squid appends to X-Forwarded-For.
    ("squid-default-curl-client-xff", "squid", "", "curl", CLIENT_XFF,
     ["proxy.via", "proxy.xff_hops", "proxy.client_ip_header", "proxy.vendor_header"],
     {"0": "127.0.0.1", "1": "127.0.0.1", "2": "2001:db8::1", "3": "127.0.0.1"}),
    # `forwarded_for off` sends the literal `unknown`: a hop without an address.
    ("squid-xff-off-python", "squid", "forwarded_for off", "python-requests", [],
     ["proxy.via", "proxy.xff_hops", "proxy.vendor_header"], {"0": "127.0.0.1", "1": "127.0.0.1"}),
    # An anonymizing squid (`via off`, `forwarded_for delete`) still adds Cache-Control.
    ("squid-anonymous-curl", "squid", "via off\nforwarded_for delete", "curl", [],
     ["proxy.vendor_header"], {"0": "127.0.0.1", "1": "127.0.0.1"}),
    # Tinyproxy defaults: Via; `XTinyproxy Yes` adds X-Tinyproxy with the client address.
    ("tinyproxy-xtinyproxy-curl", "tinyproxy", "XTinyproxy Yes", "curl", [],
     ["proxy.via", "proxy.vendor_header"], {"0": "127.0.0.1", "1": "127.0.0.1"}),
    ("tinyproxy-default-python", "tinyproxy", "", "python-requests", [],
     ["proxy.via"], {"0": "127.0.0.1", "1": "127.0.0.1"}),
    ("tinyproxy-default-curl-client-xff", "tinyproxy", "", "curl", CLIENT_XFF,
     ["proxy.via", "proxy.xff_hops", "proxy.client_ip_header"],
     {"0": "127.0.0.1", "1": "2001:db8::1", "2": "127.0.0.1"}),
    # Proxy credentials (curl -U, requests' user:pass@proxy) are for the proxy: squid drops
    # Proxy-Authorization, tinyproxy without BasicAuth forwards it to the origin.
    ("squid-default-curl-proxyauth", "squid", "", "curl+proxyauth", [],
     ["proxy.via", "proxy.xff_hops", "proxy.vendor_header"], {"0": "127.0.0.1", "1": "127.0.0.1"}),
    ("tinyproxy-default-python-proxyauth", "tinyproxy", "", "python-requests+proxyauth", [],
     ["proxy.via", "proxy.authorization"], {"0": "127.0.0.1", "1": "127.0.0.1"}),
    # What a client configured for a forward proxy sends to it (the capture server plays the
    # proxy): what an origin sees behind a relay that passes the request through unchanged.
    ("as-proxy-curl-proxyauth", "capture", "", "curl+proxyauth", [],
     ["proxy.connection_header", "proxy.authorization"], {"0": "127.0.0.1", "1": "127.0.0.1"}),
    ("as-proxy-python-proxyauth", "capture", "", "python-requests+proxyauth", [],
     ["proxy.authorization"], {"0": "127.0.0.1", "1": "127.0.0.1"}),
    # `DisableViaHeader Yes` without XTinyproxy: no header artifact.
    ("tinyproxy-novia-python", "tinyproxy", "DisableViaHeader Yes", "python-requests", [],
     [], {"0": "127.0.0.1", "1": "127.0.0.1"}),
]


def version(cmd):
    out = subprocess.run(cmd, capture_output=True, text=True)
    return (out.stdout or out.stderr).strip().splitlines()[0]


def main():
    cap = Capture()
    results = []
    try:
        for sid, kind, extra, client, client_headers, expect, client_ip in SCENARIOS:
            tmp = tempfile.mkdtemp(prefix="dg-proxy-")
            os.chmod(tmp, 0o777)  # squid drops privileges to its own user
            proc, port = None, None
            try:
                if kind == "squid":
                    proc, port = start_squid(tmp, extra)
                elif kind == "tinyproxy":
                    proc, port = start_tinyproxy(tmp, extra)
                elif kind == "capture":
                    port = cap.port
                before = len(cap.seen)
                send = send_curl if client.startswith("curl") else send_python
                send(cap, port, client_headers, proxy_auth=client.endswith("+proxyauth"))
                deadline = time.time() + 5
                while len(cap.seen) == before and time.time() < deadline:
                    time.sleep(0.05)
                if len(cap.seen) != before + 1:
                    sys.exit(f"{sid}: capture server saw {len(cap.seen) - before} requests")
                got = cap.seen[-1]
                results.append({"id": sid, "proxy": kind or "none",
                                "proxy_config": extra.splitlines(), "client": client,
                                **got, "expect_signals": expect,
                                "expect_client_ip": client_ip})
            finally:
                if proc:
                    stop(proc)
                shutil.rmtree(tmp, ignore_errors=True)
    finally:
        cap.close()
    doc = {
        "source": "captured",
        "description": "Requests as received by a local capture server, sent by real clients "
                       "through real forward proxies on 127.0.0.1 (tests/data/capture_proxies.py). "
                       "Headers in wire order; expect_signals are for trusted_hops = 0, "
                       "expect_client_ip maps trusted_hops to the effective client IP.",
        "tools": {"squid": version(["squid", "-v"]), "tinyproxy": version(["tinyproxy", "-v"]),
                  "curl": version(["curl", "--version"]),
                  "python-requests": requests.__version__},
        "requests": results,
    }
    with open(OUT, "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    print(f"wrote {len(results)} requests to {OUT}")


if __name__ == "__main__":
    main()
