"""End-to-end tests of what the filter tells whom, in a real Envoy (envoy/envoy.yaml.in):
the structured verdict header (parsed by an independent RFC 9651 implementation, PyPI
`http-sf`), the verdict in filter state (access log, local rate limit on the cluster of
tagged requests), routes that skip the filter, what a blocked client learns (nothing but a
reference id unless `output.client_reasons`), and the warning about the shipped hash key.
"""

import json
import re

import http_sf
import requests

from test_envoy import PREFIX, curl, tags, wait_for

REF = re.compile(r"^[0-9a-f]{16}$")
# Reason codes, scores and fingerprints must not reach a blocked client.
SECRETS = ("proxy.", "client.", "fp.", "prompt.", "cluster.", "account.", "rate.", "ip.", "score", "reasons")


def access_line(envoy, path):
    """The access log line of the (last) request to `path`: {"cluster": ..., "distill": ...}."""
    def find():
        lines = [l for l in envoy.log().splitlines() if l.startswith("[access]") and f" {path} " in l]
        return lines[-1] if lines else None
    line = wait_for(find, timeout=5)
    assert line, envoy.log()[-2000:]
    cluster = line.split(" cluster=", 1)[1].split(" ", 1)[0]
    return {"cluster": cluster, "distill": line.split(" distill=", 1)[1], "code": line.split()[4]}


def dictionary(text):
    """An RFC 9651 dictionary as {key: plain value} (tokens as str, inner lists as lists)."""
    parsed = http_sf.parse(text.encode(), tltype="dictionary")
    plain = lambda v: [plain(i[0]) for i in v] if isinstance(v, list) else str(v) if isinstance(v, http_sf.Token) else v
    return {k: plain(v) for k, (v, _params) in parsed.items()}


def test_structured_format_sends_one_rfc_9651_header(stack):
    envoy, origin = stack(policy={"output": {"format": "structured"}, "proxy": {"trusted_hops": 0}})
    r = requests.get(envoy.url + "/v1/models", headers={"Via": "1.1 squid", "X-Distill": "score=0", "x-api-key": "sk-1"}, timeout=10)
    assert r.status_code == 200
    sent = [(k.lower(), v) for k, v in r.json()["headers"] if k.lower().startswith("x-distill")]
    assert len(sent) == 1 and sent[0][0] == "x-distill", sent  # the forged one is gone, no x-distill-* tags
    d = dictionary(sent[0][1])
    assert list(d)[:5] == ["score", "action", "reasons", "fp", "client"] and list(d)[-1] == "ref", d
    assert isinstance(d["score"], int) and 0 <= d["score"] <= 100
    assert d["action"] in ("allow", "tag")
    assert "proxy.via" in d["reasons"] and all(isinstance(x, str) for x in d["reasons"])
    assert re.match(r"^[0-9a-f]{16}$", d["fp"]) and REF.match(d["account"]) and REF.match(d["ref"])
    assert d["client"] == "python-requests"
    # The same verdict, byte for byte, in filter state for the access log.
    assert access_line(envoy, "/v1/models")["distill"] == sent[0][1]


def test_both_formats_carry_the_same_verdict(stack):
    envoy, _ = stack(policy={"output": {"format": "both"}})
    echo = requests.get(envoy.url + "/v1/models", timeout=10).json()
    t = tags(echo)
    d = dictionary(next(v for k, v in echo["headers"] if k.lower() == "x-distill"))
    assert (str(d["score"]), d["action"], d["fp"], d["ref"]) == (t["score"][0], t["action"][0], t["fp"][0], t["ref"][0])
    assert ",".join(d["reasons"]) == t["reasons"][0]


def test_blocked_client_learns_only_a_reference(stack):
    """Default output: the full 403 / 429 response (status, headers, body) names no reason
    code, score or fingerprint; the reference id it carries finds the verdict in the log."""
    policy = {"thresholds": {"tag": 5, "throttle": 10, "deny": 20}}
    envoy, origin = stack(policy=policy)
    status, headers, body = curl(envoy.url + "/v1/messages", "-H", "Via: 1.1 squid", "-H", "Proxy-Authorization: Basic dXNlcjpwYXNz")
    assert status == 403
    doc = json.loads(body)
    assert doc == {"error": {"type": "forbidden", "message": "request blocked", "ref": doc["error"]["ref"]}}
    assert REF.match(doc["error"]["ref"])
    assert set(headers) <= {"content-type", "content-length", "date", "server"}, headers
    assert not any(s in (body + json.dumps(headers)).lower() for s in SECRETS), (headers, body)
    line = access_line(envoy, "/v1/messages")
    d = dictionary(line["distill"])
    assert d["ref"] == doc["error"]["ref"] and d["action"] == "deny" and "proxy.authorization" in d["reasons"]
    assert line["code"] == "403"
    assert origin.records() == []

    envoy, _ = stack(policy={"thresholds": {"tag": 5, "throttle": 10, "deny": 101}, "throttle": {"retry_after_s": 9}})
    r = requests.get(envoy.url + "/v1/models", headers={"Via": "1.1 squid", "Proxy-Authorization": "Basic eDp5"}, timeout=10)
    assert r.status_code == 429
    assert r.json() == {"error": {"type": "rate_limited", "message": "too many requests; retry later", "ref": r.json()["error"]["ref"]}}
    assert {k.lower() for k in r.headers} <= {"content-type", "content-length", "date", "server", "retry-after"}, r.headers
    assert r.headers["retry-after"] == "9"
    assert not any(s in (r.text + json.dumps(dict(r.headers))).lower() for s in SECRETS)


def test_client_reasons_is_an_opt_in(stack):
    envoy, _ = stack(policy={"thresholds": {"tag": 5, "throttle": 10, "deny": 20}, "output": {"client_reasons": True}})
    r = requests.get(envoy.url + "/v1/models", headers={"Via": "1.1 squid", "Proxy-Authorization": "Basic eDp5"}, timeout=10)
    assert r.status_code == 403
    doc = r.json()
    assert doc["action"] == "deny" and "proxy.authorization" in doc["reasons"] and isinstance(doc["score"], int)
    assert re.match(r"^[0-9a-f]{16}$", doc["fp"])
    assert r.headers["x-distill-ref"] == doc["error"]["ref"]


def test_filter_state_feeds_the_access_log(stack):
    envoy, origin = stack(policy={"thresholds": {"tag": 20, "throttle": 99, "deny": 100}, "signals": {"proxy_via": {"weight": 25}}})
    echo = requests.get(envoy.url + "/plain", timeout=10).json()
    line = access_line(envoy, "/plain")
    d = dictionary(line["distill"])
    assert d["action"] == "allow" and d["ref"] == tags(echo)["ref"][0]
    assert line["cluster"] == "-"  # only tagged requests carry a cluster key
    echo = requests.get(envoy.url + "/tagged", headers={"Via": "1.1 squid"}, timeout=10).json()
    line = access_line(envoy, "/tagged")
    assert dictionary(line["distill"])["action"] == "tag"
    assert line["cluster"] == tags(echo)["fp"][0]


def test_local_rate_limit_keys_on_the_cluster_of_tagged_requests(stack):
    envoy, origin = stack(policy={"thresholds": {"tag": 20, "throttle": 99, "deny": 100}, "signals": {"proxy_via": {"weight": 25}}},
                          tagged_per_minute=2)
    s = requests.Session()
    tagged = [s.get(envoy.url + f"/t{i}", headers={"Via": "1.1 squid"}, timeout=10).status_code for i in range(4)]
    assert tagged == [200, 200, 429, 429], tagged
    assert access_line(envoy, "/t3")["code"] == "429"
    # Another header shape is another cluster with its own bucket; untagged requests are never limited.
    other = [s.get(envoy.url + f"/o{i}", headers={"Via": "1.1 squid", "X-Other": "1"}, timeout=10).status_code for i in range(2)]
    plain = [s.get(envoy.url + f"/p{i}", timeout=10).status_code for i in range(5)]
    assert other == [200, 200] and plain == [200] * 5, (other, plain)
    assert len(origin.records()) == 2 + 2 + 5
    stats = envoy.stats("distill_guard_tagged")
    assert stats.get("distill_guard_tagged.http_local_rate_limit.rate_limited") == 2, stats


def test_routes_that_skip_the_filter(stack):
    """Health checks and static assets: Envoy does not create the filter (route-level
    FilterConfig disabled), so they get no tags, no filter state, and are not counted."""
    envoy, origin = stack()
    for path in ("/healthz", "/static/app.js"):
        r = requests.get(envoy.url + path, timeout=10)
        assert r.status_code == 200
        assert not any(k.lower().startswith("x-distill") for k, _ in r.json()["headers"]), r.json()
        line = access_line(envoy, path)
        assert line["distill"] == "-" and line["cluster"] == "-", line
    r = requests.get(envoy.url + "/static", timeout=10)  # not under /static/: inspected
    assert len(tags(r.json())["action"]) == 1
    stats = wait_for(lambda: (s := envoy.stats()).get("wasmcustom.distill_guard.requests") == 1 and s)
    assert stats, envoy.stats()
    # A client-sent tag on a skipped route is not removed (the filter never runs there): origins
    # must trust tags only on inspected routes.
    r = requests.get(envoy.url + "/healthz", headers={"x-distill-action": "allow"}, timeout=10)
    assert dict((k.lower(), v) for k, v in r.json()["headers"])["x-distill-action"] == "allow"


def test_shipped_hash_key_is_warned_about_once(stack):
    for concurrency in (1, 2):
        envoy, _ = stack(policy=None, concurrency=concurrency)
        warned = wait_for(lambda: envoy.log().count("identity.hash_key is the shipped placeholder"))
        assert warned == 1, envoy.log()[-3000:]
        assert "distill-guard: warning:" in envoy.log()
    envoy, _ = stack(policy={"identity": {"hash_key": "e2e-secret-7"}})
    assert requests.get(envoy.url + "/v1/models", timeout=10).status_code == 200
    assert "shipped placeholder" not in envoy.log()
    assert PREFIX == "x-distill-"


def campaign_lines(envoy):
    """The campaign log lines (`envoy.campaigns`) as parsed JSON, oldest first."""
    marker = "distill-guard: campaign {"
    return [json.loads("{" + l.split(marker, 1)[1]) for l in envoy.log().splitlines() if marker in l]


def test_campaign_report_log_lines(stack):
    """`envoy.campaigns`: every interval the worker logs one line per suspected campaign, the
    same JSON as `distill-guard campaigns`, with account ids (keyed hashes) and no raw key."""
    policy = {"thresholds": {"tag": 20, "throttle": 99, "deny": 100}, "signals": {"proxy_via": {"weight": 25}},
              "identity": {"headers": ["authorization"], "hash_key": "e2e-campaign-key"},
              "envoy": {"campaigns": {"interval_s": 1, "min_accounts": 4}}}
    envoy, origin = stack(policy=policy)
    assert "campaign report every 1 s" in envoy.log()
    s = requests.Session()
    accounts = set()
    for i in range(30):
        key = f"sk-e2e-secret-{i % 6:04d}"
        echo = s.get(envoy.url + f"/c{i}", headers={"Via": "1.1 squid", "Authorization": f"Bearer {key}"}, timeout=10).json()
        accounts.add(tags(echo)["account"][0])
    # Legitimate traffic beside it: other accounts, not flagged, no campaign of their own.
    for i in range(10):
        s.get(envoy.url + f"/l{i}", headers={"Authorization": f"Bearer sk-e2e-legit-{i}"}, timeout=10)
    # A report may fall between two requests: wait for one after the last.
    lines = wait_for(lambda: [l for l in campaign_lines(envoy) if l["campaign"]["requests"]["flagged"] == 30], timeout=8)
    assert lines, envoy.log()[-2000:]
    c = lines[-1]["campaign"]
    assert set(c["accounts"]["sample"]) == accounts and c["accounts"]["count"] == 6, c
    assert c["reasons"][0] == {"code": "proxy.via", "count": 30}, c
    assert {k["kind"] for k in c["keys"]} <= {"client_env", "fp_prefix", "fp_asn", "template", "task", "harness"}
    assert lines[-1]["campaigns_total"] == 1
    text = envoy.log()
    assert "sk-e2e-secret" not in text and "127.0.0.1/" not in text


def test_campaign_option_errors_name_their_path(stack):
    envoy, _ = stack(policy={"envoy": {"campaigns": {"interval_s": 0, "colour": 1}}}, start=False)
    code, out = envoy.validate()
    assert code != 0
    assert "envoy.campaigns.interval_s" in out and "envoy.campaigns.colour" in out, out[-2000:]
