"""Shared driver of the capture scripts (tests/data/capture_*): runs real clients against
the loopback capture server and merges what they sent into tests/data/clients.json.

Each capture script owns one `ecosystem`: it installs its clients into a throwaway
directory (/tmp/dg-capture/ECOSYSTEM, recreated on each run), runs each stack once per
request kind (a GET of /v1/models with `Authorization: Bearer`, and a JSON POST of
/v1/messages with `x-api-key` + `anthropic-version`, or the SDK's own calls), keeps the
first request each run sends, and replaces only its own ecosystem's entries in
clients.json. Nothing here is needed by CI, which replays the committed file.
"""
import json
import os
import shutil
import subprocess
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from capture_server import BODY_A, KEY, Server  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
CLIENTS = os.path.join(ROOT, "tests", "data", "clients.json")
WORK = os.environ.get("DG_CAPTURE_DIR", "/tmp/dg-capture")
FIXED_PORT = "18099"  # the port written in place of the capture server's real (random) one
ECOSYSTEMS = ["debian", "python", "node", "rust", "browsers"]
ABOUT = ("Real HTTP client shapes: request line, headers in wire order with their original case, "
         "and body, captured on loopback by tests/data/capture_* (see tests/data/README.md) from "
         "packages installed from their registries. One entry per request: `stack` names the "
         "client, `name` is STACK-get or STACK-post, `family` is what src/fingerprint/claims.rs "
         "makes of its User-Agent. API keys are dummies; the capture server's port is written as "
         "18099. source=documented entries were not captured (typical shapes from public "
         "documentation); tests never take them as ground truth. "
         "`missing` lists required stacks a registry lacks and what was captured instead.")


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def sh(cmd, timeout=600, **kw):
    """Runs `cmd`; returns the CompletedProcess, or None when it could not run."""
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kw)
    except (OSError, subprocess.TimeoutExpired) as e:
        log("  could not run %s: %s" % (cmd[0], e))
        return None


def must(cmd, **kw):
    """Runs an install step; exits with its output when it fails."""
    r = sh(cmd, **kw)
    if r is None or r.returncode != 0:
        log("install step failed: %s\n%s" % (" ".join(cmd), (r.stdout + r.stderr)[-2000:] if r else ""))
        sys.exit(1)
    return r.stdout


def apt(*packages):
    """Installs Debian packages (idempotent)."""
    missing = [p for p in packages if sh(["dpkg", "-s", p]).returncode != 0]
    if missing:
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        r = sh(["apt-get", "install", "-y", "-qq", *missing], env=env)
        if r is None or r.returncode != 0:
            must(["apt-get", "update", "-qq"])
            must(["apt-get", "install", "-y", "-qq", *missing], env=env)


def deb_version(package):
    """The installed Debian version of `package`."""
    return sh(["dpkg-query", "-W", "-f=${Version}", package]).stdout.strip()


class Capture:
    """One ecosystem's capture run: a fresh work dir, a running server, collected entries."""

    def __init__(self, ecosystem, tls=False):
        self.ecosystem = ecosystem
        self.dir = os.path.join(WORK, ecosystem)
        shutil.rmtree(self.dir, ignore_errors=True)
        os.makedirs(self.dir)
        cert = key = None
        if tls:
            cert, key = self.make_cert()
        self.server = Server(0, cert, key)
        threading.Thread(target=self.server.serve, daemon=True).start()
        scheme = "https" if tls else "http"
        self.url = "%s://127.0.0.1:%d" % (scheme, self.server.port)
        self.entries = []
        self.missing = []

    def make_cert(self):
        """A CA and a server certificate for 127.0.0.1 / localhost, made now (not kept)."""
        d = self.dir
        ca, ca_key, crt, key = (os.path.join(d, n) for n in ("ca.pem", "ca.key", "server.pem", "server.key"))
        must(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
              "/CN=distill-guard capture CA", "-keyout", ca_key, "-out", ca])
        ext = os.path.join(d, "ext.cnf")
        with open(ext, "w") as f:
            f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n"
                    "extendedKeyUsage=serverAuth\n")
        must(["openssl", "req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost",
              "-keyout", key, "-out", os.path.join(d, "server.csr")])
        must(["openssl", "x509", "-req", "-in", os.path.join(d, "server.csr"), "-CA", ca, "-CAkey", ca_key,
              "-CAcreateserial", "-days", "2", "-extfile", ext, "-out", crt])
        self.ca = ca
        return crt, key

    def run(self, stack, family, version, provenance, kind, cmd, note=None, wait=0.0, **kw):
        """Runs `cmd` (one request of `kind`: get or post) and records the first request it sent."""
        self.server.take()
        r = sh(cmd, timeout=kw.pop("timeout", 120), **kw)
        got = self.wait_for(wait)
        if not got:
            log("  %s-%s: no request captured%s" % (stack, kind, (": " + (r.stdout + r.stderr)[-600:]) if r else ""))
            return False
        self.record(stack, family, version, provenance, kind, got[0], note, len(got))
        return True

    def wait_for(self, seconds):
        """Requests captured so far, waiting up to `seconds` for the first."""
        import time
        end = time.time() + seconds
        got = self.server.take()
        while not got and time.time() < end:
            time.sleep(0.2)
            got = self.server.take()
        return got

    def record(self, stack, family, version, provenance, kind, req, note=None, count=1):
        # The server's port is random: name a fixed one so recaptures diff only where clients changed.
        here = "127.0.0.1:%d" % self.server.port
        req = dict(req, headers=[[n, v.replace(here, "127.0.0.1:" + FIXED_PORT)] for n, v in req["headers"]])
        entry = {"name": "%s-%s" % (stack, kind), "stack": stack, "family": family, "version": version,
                 "source": "captured", "ecosystem": self.ecosystem, "provenance": provenance,
                 "scheme": self.url.split(":")[0]}
        entry.update(req)
        if note:
            entry["note"] = note
        self.entries.append(entry)
        log("  %-28s %-10s %s%s" % (entry["name"], family, version, "" if count == 1 else " (%d requests)" % count))

    def lacks(self, stack, why, instead=None):
        """Notes a required stack that could not be captured here."""
        self.missing.append({"stack": stack, "ecosystem": self.ecosystem, "why": why, "instead": instead})
        log("  MISSING %s: %s" % (stack, why))

    def write(self, documented=()):
        """Replaces this ecosystem's entries in clients.json (other ecosystems are kept)."""
        self.server.close()
        import fcntl
        lock = open(os.path.join(WORK, "clients.lock"), "w")
        fcntl.flock(lock, fcntl.LOCK_EX)  # capture scripts may run side by side
        doc = {"about": ABOUT, "missing": [], "clients": []}
        if os.path.exists(CLIENTS):
            with open(CLIENTS) as f:
                doc = json.load(f)
        keep = [c for c in doc.get("clients", []) if c.get("ecosystem") in ECOSYSTEMS and c["ecosystem"] != self.ecosystem]
        mine = self.entries + [dict(d, source="documented", ecosystem=self.ecosystem) for d in documented]
        clients = sorted(keep + mine, key=lambda c: ECOSYSTEMS.index(c["ecosystem"]))
        missing = [m for m in doc.get("missing", []) if m.get("ecosystem") != self.ecosystem] + self.missing
        with open(CLIENTS, "w") as f:
            f.write(dumps({"about": ABOUT, "missing": missing, "clients": clients}))
        lock.close()
        log("%s: %d entries written to %s" % (self.ecosystem, len(mine), os.path.relpath(CLIENTS, ROOT)))


def dumps(doc):
    """JSON with one client per block and one header per line (diff-friendly, compact)."""
    out = ['{\n "about": %s,\n "missing": [' % json.dumps(doc["about"])]
    out.append(",\n".join("  " + json.dumps(m) for m in doc["missing"]))
    out.append(' ],\n "clients": [\n')
    blocks = []
    for c in doc["clients"]:
        fields = []
        for k, v in c.items():
            if k == "headers":
                hs = ",\n".join("    " + json.dumps(h) for h in v)
                fields.append('   "headers": [\n%s\n   ]' % hs)
            else:
                fields.append("   %s: %s" % (json.dumps(k), json.dumps(v)))
        blocks.append("  {\n" + ",\n".join(fields) + "\n  }")
    out.append(",\n".join(blocks))
    out.append("\n ]\n}\n")
    return "".join(out)


def prov(package, registry, install):
    """A provenance record: which package, from which registry, installed how."""
    return {"package": package, "registry": registry, "install": install}


__all__ = ["BODY_A", "KEY", "Capture", "apt", "deb_version", "log", "must", "prov", "sh"]
