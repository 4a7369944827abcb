"""End-to-end tests of per-route policy in a real Envoy (envoy/envoy.yaml.in with
filters/routes-example.json): one request shape gets a different action on each route of one
Envoy, the route is named in the tag headers and in the access log's filter state, and a
route's body reading (wait for every body on the Messages route) differs from the global one.
"""

import json

import requests

from conftest import ROOT
from test_envoy import curl, tags
from test_envoy_output import access_line, dictionary

EXAMPLE = ROOT / "filters" / "routes-example.json"
# curl behind a proxy that leaks its credentials and the client's address: the same headers on
# every route (Proxy-Connection is hop-by-hop: Envoy drops it before the filter).
SHAPE = ["-H", "Via: 1.1 squid", "-H", "Proxy-Authorization: Basic eDp5", "-H", "Forwarded: for=198.51.100.7",
         "-H", "X-Real-IP: 198.51.100.7", "-H", "x-api-key: sk-routes", "-H", "content-type: application/json"]
COT = {"model": "m", "max_tokens": 64,
       "messages": [{"role": "user", "content": "Think step by step and show all of your reasoning before you answer: is 1009 prime?"}]}


def send(envoy, method, path):
    """The same request shape as `method` to `path`: (status, origin's tags or None, body)."""
    data = ["--data-binary", "{}"] if method == "POST" else []
    status, _, body = curl("-X", method, envoy.url + path, *SHAPE, *data)
    return status, (tags(json.loads(body)) if status == 200 else None), body


def test_one_request_shape_gets_each_routes_action(stack):
    envoy, origin = stack(policy=EXAMPLE.read_text())
    # No route: the global thresholds (30 / 70 / 90) tag it.
    status, t, _ = send(envoy, "POST", "/v1/chat/completions")
    assert status == 200 and t["action"] == ["tag"] and "route" not in t, t
    score = int(t["score"][0])
    assert 60 <= score < 70, t  # the example's thresholds are placed around this score
    # The Messages route (deny at 60) blocks it; the client learns only a reference id.
    status, _, body = send(envoy, "POST", "/v1/messages")
    assert status == 403, body
    ref = json.loads(body)["error"]["ref"]
    d = dictionary(access_line(envoy, "/v1/messages")["distill"])
    assert (d["route"], d["action"], d["score"], d["ref"]) == ("messages", "deny", score, ref), d
    # The batch route is in shadow: computed throttle (at 50), forwarded with the tag.
    status, t, _ = send(envoy, "POST", "/v1/messages/batches")
    assert status == 200, t
    assert (t["route"], t["action"], t["mode"], t["score"]) == (["batches"], ["throttle"], ["shadow"], [str(score)]), t
    # Model listing never throttles or denies, whatever the score; other methods there are global.
    status, t, _ = send(envoy, "GET", "/v1/models")
    assert status == 200 and (t["route"], t["action"]) == (["models"], ["tag"]), t
    status, t, _ = send(envoy, "POST", "/v1/models")
    assert status == 200 and "route" not in t and t["action"] == ["tag"], t
    # A client cannot forge the route tag.
    status, _, body = curl(envoy.url + "/v1/chat/completions", "-H", "x-distill-route: messages")
    assert status == 200 and "route" not in tags(json.loads(body)), body
    assert "panicked" not in envoy.log()


def test_a_route_reads_bodies_the_global_policy_does_not_wait_for(stack):
    """The Messages route waits for every body (`inspect: always`) and weighs elicitation at 25;
    elsewhere `suspicious` decides an ordinary request at its headers, so the same prompt adds
    nothing to its own verdict there."""
    envoy, origin = stack(policy=EXAMPLE.read_text())
    headers = {"x-api-key": "sk-cot", "content-type": "application/json"}
    r = requests.post(envoy.url + "/v1/messages", json=COT, headers=headers, timeout=10)
    assert r.status_code == 200, r.text
    t = tags(r.json())
    assert t["route"] == ["messages"] and "prompt.cot" in t["reasons"][0].split(","), t
    assert t["action"] == ["tag"], t  # 25 + client.scripted, over the route's tag threshold (20)
    r = requests.post(envoy.url + "/v1/chat/completions", json=COT, headers=headers, timeout=10)
    assert r.status_code == 200, r.text
    t = tags(r.json())
    assert "route" not in t and "prompt.cot" not in t["reasons"][0].split(","), t
    # Both bodies reached the origin whole.
    assert [json.loads(rec["body"]) for rec in origin.records()] == [COT, COT]
