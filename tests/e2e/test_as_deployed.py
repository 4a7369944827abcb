"""The README's "Deployment checks" commands, as a user runs them: simulated traffic rewritten by
`scripts/as_deployed.py` as a gateway behind a balancer or a CDN records it, replayed with a
`proxy.trusted_hops` that does not match (a warning on stderr with its input line, and the summary's
count) and with one that does (no warning). Also what the script writes: the balancer or one edge
address per client network as the peer, the client's address appended to X-Forwarded-For, no ASN or
country; and a bad input line named by its number.

Run after `cargo build --release`:  .venv/bin/python -m pytest -q tests/e2e/test_as_deployed.py
"""

import ipaddress
import json
import subprocess
import sys

import pytest

from conftest import CLI, ROOT

SCRIPT = ROOT / "scripts" / "as_deployed.py"


def deployed(tmp_path, *args, requests=3000):
    """`simulate | as_deployed.py ARGS` to a file; returns (the simulated records, the file)."""
    sim = subprocess.run([str(CLI), "simulate", "--scenario", str(ROOT / "scenarios" / "residential_proxy_pool.json"),
                          "--seed", "41", "--requests", str(requests)], capture_output=True, check=True).stdout
    out = subprocess.run([sys.executable, str(SCRIPT), *args], input=sim, capture_output=True, check=True).stdout
    path = tmp_path / "deployed.jsonl"
    path.write_bytes(out)
    return [json.loads(l) for l in sim.splitlines()], path


def replay(tmp_path, traffic, trusted_hops):
    policy = tmp_path / f"hops{trusted_hops}.json"
    policy.write_text(json.dumps({"proxy": {"trusted_hops": trusted_hops}}))
    r = subprocess.run([str(CLI), "replay", "--policy", str(policy), str(traffic)], capture_output=True, text=True, check=True)
    return r.stderr


def xff(record):
    return next(v for k, v in record["headers"] if k.lower() == "x-forwarded-for")


@pytest.mark.parametrize("balancer,names", [("10.1.2.3", "private addresses (among them 10.1.2.0/24)"),
                                            ("104.16.0.0/20", "networks (among them 104.16.")])
def test_a_balancer_or_cdn_is_named_until_the_hops_match(tmp_path, balancer, names):
    sim, path = deployed(tmp_path, "--balancer", balancer)
    out = [json.loads(l) for l in path.read_text().splitlines()]
    assert len(out) == len(sim) > 2000
    edges = ipaddress.ip_network(balancer)
    edge_of = {}
    for before, after in zip(sim, out):
        ip = before["peer"]["ip"]
        assert ipaddress.ip_address(after["peer"]["ip"]) in edges
        assert "asn" not in after["peer"] and "country" not in after["peer"]
        assert xff(after).split(",")[-1].strip() == ip
        # A client network always reaches the gateway through one edge address.
        net = ipaddress.ip_network(f"{ip}/{24 if ':' not in ip else 48}", strict=False)
        assert edge_of.setdefault(net, after["peer"]["ip"]) == after["peer"]["ip"]
    if edges.num_addresses > 1:
        assert len({ipaddress.ip_network(f"{e}/24", strict=False) for e in edge_of.values()}) > 8

    err = replay(tmp_path, path, 0)
    warned = [l for l in err.splitlines() if "warning: client address:" in l]
    assert warned and warned[0].startswith("line 256: warning: client address: "), err[-2000:]
    assert names in warned[0], warned[0]
    assert f"judged, {len(warned)} warning line" in err, err[-2000:]
    err = replay(tmp_path, path, 1)
    assert "warning" not in err.replace("no warning", ""), err[-2000:]
    assert "requests judged, no warning" in err, err[-2000:]


def test_a_bad_line_is_named_by_its_number(tmp_path):
    good = json.dumps({"ts_ms": 1, "method": "GET", "path": "/", "headers": [], "peer": {"ip": "198.51.100.7"}})
    r = subprocess.run([sys.executable, str(SCRIPT), "--balancer", "10.0.0.1"], input=f"{good}\n{{oops\n",
                       capture_output=True, text=True)
    assert r.returncode != 0 and "line 2: not JSON" in r.stderr, r
    r = subprocess.run([sys.executable, str(SCRIPT), "--balancer", "10.0.0"], input=good, capture_output=True, text=True)
    assert r.returncode == 2 and "--balancer" in r.stderr, r
