"""End-to-end tests of ASN and country in Envoy: Envoy's own geoip filter (MaxMind provider)
reads a small database this test builds with PyPI mmdb-writer (envoy/geo_db.py), fills
`x-distill-geo-asn` / `x-distill-geo-country` (envoy/geoip.yaml.in, rendered by render.py), and
the distill-guard filter maps them into the request's peer (src/host/envoy/geo.rs).

The "clients" sit behind a load balancer that appends their address to X-Forwarded-For, so the
policy trusts one hop (`proxy.trusted_hops: 1`) and the geoip filter looks up the same entry.
Two ASN signals show what reached the engine: `account.asn_rotation` (an account's requests
from a network it had not used; measured from its second request once the account has one older
than the rate slot: the policy here makes the slot one second, and the tests pause [`AGE`] after
an account's first request) and
`cluster.accounts_per_asn` with a ramp that makes any known ASN fire on a returning account,
so a request without an ASN lacks it.

Run after `scripts/build.sh envoy native`:  .venv/bin/python -m pytest -q tests/e2e/test_envoy_geoip.py
"""

import os
import subprocess
import time

import geo_db  # envoy/geo_db.py (on the path through conftest); needs mmdb-writer: scripts/setup.sh envoy
import pytest
import requests

from conftest import Envoy
from test_envoy import assert_vm_alive, tags

ROTATION, PER_ASN = "account.asn_rotation", "cluster.accounts_per_asn"
# Seconds after an account's first request before rotation is read (two one-second rate slots).
AGE = 2.1
# (network, ASN, country, AS name): the test's own Internet. 10.0.0.0/8 is not in it.
NETS = [
    ("127.0.0.0/8", 64500, "DE", "loopback"),
    ("192.0.2.0/24", 64501, "FR", "net one"),
    ("198.51.100.0/24", 64502, "JP", "net two"),
    ("203.0.113.0/24", 64503, "BR", "net three"),
    ("2001:db8::/32", 64504, "US", "net six"),
]


def policy(trusted_hops=1, **envoy_options):
    """Tags on any reason; the two ASN signals graded so that they show whether an ASN arrived."""
    pol = {
        "name": "geoip e2e",
        "thresholds": {"tag": 1, "throttle": 100, "deny": 100},
        "proxy": {"trusted_hops": trusted_hops},
        "state": {"rate_slot_s": 1},
        "signals": {
            "account_asn_rotation": {"weight": 40, "from": 0, "full": 1},
            "cluster_accounts_per_asn": {"weight": 1, "from": 0, "full": 1},
        },
    }
    return {"envoy": envoy_options, **pol} if envoy_options else pol


@pytest.fixture
def dbs(tmp_path):
    """(asn_db, country_db) built from NETS."""
    asn, country = tmp_path / "asn.mmdb", tmp_path / "country.mmdb"
    geo_db.build(NETS, str(asn), str(country))
    return asn, country


def send(envoy, key, xff=None, headers=None, post=False):
    """One request of account `key` (as a load balancer would forward it); returns (reasons, echo)."""
    h = {"x-api-key": key, **({"x-forwarded-for": xff} if xff is not None else {}), **(headers or {})}
    if post:
        r = requests.post(envoy.url + "/v1/messages", headers=h, timeout=10,
                          json={"model": "m", "max_tokens": 64, "messages": [{"role": "user", "content": f"hello from {key}"}]})
    else:
        r = requests.get(envoy.url + "/v1/models", headers=h, timeout=10)
    assert r.status_code == 200, r.text
    echo = r.json()
    return set(tags(echo)["reasons"][0].split(",")), echo


def account(envoy, key, *xffs, post=False):
    """Sends one request per X-Forwarded-For value, pausing [`AGE`] after the first; returns the
    reasons of each."""
    first = send(envoy, key, xffs[0], post=post)[0]
    time.sleep(AGE)
    return [first] + [send(envoy, key, xff, post=post)[0] for xff in xffs[1:]]


def test_asn_signals_fire_with_the_geo_database_only(stack, dbs):
    geo, origin = stack(policy=policy(), geo=dbs)
    plain, _ = stack(policy=policy())
    for envoy, has_geo in [(geo, True), (plain, False)]:
        # One account hopping networks (POSTs: the body is held, behind the geoip filter's pause).
        hop = account(envoy, "hopper", "192.0.2.7", "198.51.100.7", "203.0.113.7", post=True)
        home = account(envoy, "homebody", "192.0.2.8", "192.0.2.9", "192.0.2.10")
        assert (ROTATION in hop[1] and ROTATION in hop[2]) == has_geo, hop
        assert ROTATION not in hop[0] and not any(ROTATION in r for r in home), (hop, home)
        assert (PER_ASN in home[1]) == has_geo, home
    # The geo headers are internal: the origin never sees them; X-Forwarded-For passes as sent.
    for rec in origin.records():
        names = [n.lower() for n, _ in rec["headers"]]
        assert not any(n.startswith("x-distill-geo") for n in names), names
    assert any(v == "198.51.100.7" for rec in origin.records() for n, v in rec["headers"] if n.lower() == "x-forwarded-for")
    hits = geo.stats("maxmind")
    assert hits.get("http.ingress.maxmind.asn_db.hit", 0) >= 6 and hits.get("http.ingress.maxmind.country_db.hit", 0) >= 6, hits
    assert_vm_alive(geo)


def test_without_a_geo_database_a_network_is_the_client_prefix(stack):
    """No geoip filter: `cluster.asn_rotation_share` reads a prefix new to its account as a new
    network. Six light accounts on one client environment (an official SDK's installation
    headers), each request from a /24 of its own (a pool), give a new account on that
    environment the signal on its first request; six on another SDK version that each keep
    to their address do not."""
    share = "cluster.asn_rotation_share"
    pol = {**policy(), "state": {"rate_slot_s": 1, "min_requests": 6},
           "signals": {"cluster_asn_rotation_share": {"weight": 40}}}
    envoy, _ = stack(policy=pol)
    def sdk(version):  # an official SDK's installation headers: a client environment
        return {"user-agent": f"OpenAI/Python {version}", "x-stainless-lang": "python", "x-stainless-os": "Linux",
                "x-stainless-arch": "x64", "x-stainless-runtime": "CPython", "x-stainless-runtime-version": "3.12.4",
                "x-stainless-package-version": version}
    pool, people = sdk("1.50.0"), sdk("1.51.0")
    for a in range(6):
        for r in range(2):
            send(envoy, f"pool-{a}", f"192.0.{a * 2 + r}.7", headers=pool)
            send(envoy, f"person-{a}", f"198.51.{a}.8", headers=people)
    assert share in send(envoy, "pool-new", "192.0.99.7", headers=pool)[0]
    assert share not in send(envoy, "person-new", "198.51.99.8", headers=people)[0]


def test_geoip_follows_the_policys_trusted_hops(stack, dbs):
    """Two balancers (proxy.trusted_hops 2): the client is the second entry from the right, and
    render.py gives the geoip filter xff_num_trusted_hops 1 so that it looks up the same one."""
    envoy, _ = stack(policy=policy(trusted_hops=2), geo=dbs)
    hop = account(envoy, "two-hops", "192.0.2.7, 10.0.0.1", "198.51.100.7, 10.0.0.1")
    assert ROTATION in hop[1], hop
    still = account(envoy, "two-hops-still", "192.0.2.7, 10.0.0.1", "192.0.2.7, 10.0.0.2")
    assert ROTATION not in still[1] and PER_ASN in still[1], still


def test_client_sent_geo_headers_are_never_trusted(stack, dbs):
    envoy, origin = stack(policy=policy(), geo=dbs)
    forged = {"x-distill-geo-asn": "64999", "x-distill-geo-country": "XX"}
    # Unknown address: Envoy's geoip filter sets nothing (and would leave a client's copy in
    # place); the copy was removed before it, so the request has no ASN at all.
    send(envoy, "forger-miss", "192.0.2.7")
    time.sleep(AGE)
    reasons, _ = send(envoy, "forger-miss", "10.9.9.9", headers=forged)
    assert ROTATION not in reasons and PER_ASN not in reasons, reasons
    # Known address: the looked-up ASN counts, not the forged one.
    send(envoy, "forger-hit", "192.0.2.7")
    time.sleep(AGE)
    reasons, _ = send(envoy, "forger-hit", "192.0.2.8", headers=forged)
    assert ROTATION not in reasons and PER_ASN in reasons, reasons
    assert not any(n.lower().startswith("x-distill-geo") for rec in origin.records() for n, _ in rec["headers"])


def test_without_the_removal_a_forged_header_would_count_and_bad_values_are_ignored(stack):
    """Why envoy/geoip.yaml.in removes client copies first: with `envoy.geo_headers` on and no
    geoip filter in front, the filter believes whatever the headers say (so never do that).
    Malformed values give no ASN and never crash the VM."""
    envoy, origin = stack(policy=policy(geo_headers=True))
    send(envoy, "liar", headers={"x-distill-geo-asn": "64601"})
    time.sleep(AGE)
    reasons, _ = send(envoy, "liar", headers={"x-distill-geo-asn": "AS64602"})
    assert ROTATION in reasons, reasons
    for i, bad in enumerate(["", "0", "-1", "AS", "4294967296", "99999999999999999999999", "1.5", "64500, 64501",
                             "\u00ff\u00fe", "x" * 4000]):
        key = f"bad-{i}"
        send(envoy, key, headers={"x-distill-geo-asn": bad, "x-distill-geo-country": bad})
        reasons, _ = send(envoy, key, headers={"x-distill-geo-asn": bad, "x-distill-geo-country": "Germany"})
        assert ROTATION not in reasons and PER_ASN not in reasons, (bad, reasons)
    # Two copies of the header are ambiguous: no ASN.
    send(envoy, "twice", headers={"x-distill-geo-asn": "64700"})
    r = subprocess.run(["curl", "-sS", envoy.url + "/v1/models", "-H", "x-api-key: twice",
                        "-H", "x-distill-geo-asn: 64701", "-H", "x-distill-geo-asn: 64702"], capture_output=True, timeout=30)
    assert r.returncode == 0 and b"asn_rotation" not in r.stdout, r.stdout
    assert not any(n.lower().startswith("x-distill-geo") for rec in origin.records() for n, _ in rec["headers"])
    assert_vm_alive(envoy)


def test_unknown_or_bad_client_addresses_give_no_asn_and_no_crash(stack, dbs):
    envoy, _ = stack(policy=policy(), geo=dbs)
    reasons = account(envoy, "unknown-net", "10.1.1.1", "10.1.1.2")
    assert PER_ASN not in reasons[1] and ROTATION not in reasons[1], reasons
    # No address in X-Forwarded-For: Envoy looks up the peer (127.0.0.1, AS64500), as the engine
    # takes the peer then; an IPv6 client is looked up too.
    assert PER_ASN in account(envoy, "garbage-xff", "garbage", "unknown")[1]
    assert PER_ASN in account(envoy, "v6", "2001:db8::7", "2001:db8::8")[1]
    assert ROTATION in account(envoy, "v4-then-v6", "192.0.2.7", "2001:db8::7")[1]
    assert_vm_alive(envoy)


def test_a_database_moved_over_the_old_one_is_reloaded(stack, dbs, tmp_path):
    asn_db, country_db = dbs
    envoy, _ = stack(policy=policy(), geo=dbs)
    send(envoy, "renumbered", "192.0.2.7")
    time.sleep(AGE)
    new = tmp_path / "asn.new.mmdb"
    geo_db.build([("192.0.2.0/24", 64599, None, "renumbered")], str(new))
    os.replace(new, asn_db)  # what an updater does: write a new file, then rename it over the old
    deadline = time.monotonic() + 10
    key = "maxmind.asn_db." + str(asn_db) + ".db_reload_success"
    while envoy.stats("maxmind").get(key, 0) < 1 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert envoy.stats("maxmind").get(key, 0) >= 1, envoy.stats("maxmind")
    reasons, _ = send(envoy, "renumbered", "192.0.2.7")
    assert ROTATION in reasons, reasons  # same address, the new database's ASN


def test_validate_accepts_the_geo_config_and_names_a_missing_database(tmp_path, dbs):
    asn_db, country_db = dbs
    for sub, geo, ok in [("good", (asn_db, None), True), ("missing", (tmp_path / "nowhere.mmdb", country_db), False)]:
        d = tmp_path / sub
        d.mkdir()
        code, out = Envoy(d, 1, policy=policy(), geo=geo).validate()
        assert (code == 0) == ok, out[-2000:]
        if not ok:
            assert "Unable to open Maxmind database file" in out and "nowhere.mmdb" in out, out[-2000:]
