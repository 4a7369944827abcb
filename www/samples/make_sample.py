#!/usr/bin/env python3
"""Writes www/samples/sample.jsonl: a small labeled capture so the tuning page works before
(and without) the simulator. Deterministic (fixed seed); header shapes come from the real
client captures in tests/data/clients.json. About 10 minutes of traffic:
  legit       browsers, official SDKs, scripts; ~400 accounts, residential addresses
  campaign-a  the official Python SDK on ~150 light accounts from rotating datacenter /24s,
              one JA4, chain-of-thought template prompts sent in synchronized bursts
  campaign-b  a few accounts behind a squid chain (Via, X-Forwarded-For, Proxy-Connection),
              python-requests claiming to be the Anthropic SDK, rubric-grading prompts
Keys are fake; prompts are short.
Usage: python3 www/samples/make_sample.py > www/samples/sample.jsonl
"""
import json
import pathlib
import random

ROOT = pathlib.Path(__file__).resolve().parents[2]
SHAPES = {c["name"]: c["headers"] for c in json.loads((ROOT / "tests/data/clients.json").read_text())["clients"]}
R = random.Random(20261128)
T0 = 1767225600000
TOPICS = ["a haiku about rain", "the French revolution", "binary search", "a birthday message", "sourdough starters",
          "tax brackets", "the Krebs cycle", "a cover letter", "Rust lifetimes", "a bedtime story", "SQL joins", "jet lag"]
TASKS = ["Summarize {}.", "Explain {} simply.", "Write {}.", "Give me three tips about {}.", "What should I know about {}?"]
COT = "Problem {n}: {q} Think step by step and write out your complete reasoning before giving the final answer."
RUBRIC = "You are a strict grader. Score the RESPONSE from 1 to 10 against the rubric (accuracy, depth).\nRESPONSE: {a}"
QUESTIONS = ["If 3x + 7 = {k}, what is x?", "How many primes are below {k}?", "A train leaves at {k} km/h...", "Sum the digits of {k}."]
# (client shape, path, JA4) of legitimate traffic, with weights.
LEGIT = [("chromium-post", "/v1/messages", "t13d1516h2_8daaf6152771_d8a2da3f94cd", 3),
         ("firefox-esr-post", "/v1/messages", "t13d1715h2_5b57614c22b0_3cbfd9057e0d", 1),
         ("anthropic-python-post", "/v1/messages", "t13d1812h1_85036bcba153_375ca2c5e164", 3),
         ("anthropic-node-post", "/v1/messages", "t13d1516h2_8daaf6152771_02713d6af862", 1),
         ("openai-python-post", "/v1/chat/completions", "t13d1812h1_85036bcba153_375ca2c5e164", 2),
         ("python-requests-post", "/v1/messages", "t13d1812h1_85036bcba153_375ca2c5e164", 1),
         ("curl-post", "/v1/messages", "t13d3112h2_e8f1e7e78f70_6bebaf5329ac", 1),
         ("go-net-http-post", "/v1/messages", "t13d1311h2_f57a46bbacb6_e7c285222651", 1)]


def body_for(path, text, **kw):
    if path == "/v1/chat/completions":
        return json.dumps({"model": "gpt-5", "messages": [{"role": "user", "content": text}], **kw})
    return json.dumps({"model": "claude-sonnet-4-5", "max_tokens": kw.pop("max_tokens", 1024),
                       "messages": [{"role": "user", "content": text}], **kw})


def headers(shape, key, body, ua=None, drop=()):
    """A captured header list with this request's host, key, length (and UA) filled in."""
    out = []
    for name, value in SHAPES[shape]:
        low = name.lower()
        if low in drop:
            continue
        if low == "host":
            value = "api.example.com"
        elif low in ("origin", "referer"):
            value = "https://app.example.com" + ("/" if low == "referer" else "")
        elif low == "content-length":
            value = str(len(body.encode()))
        elif low == "x-api-key":
            value = key
        elif low == "authorization":
            value = f"Bearer {key}"
        elif low == "user-agent":
            value = ua or value.replace("HeadlessChrome", "Chrome")
        out.append([name, value])
    return out


def record(ts, path, hdrs, body, peer, label):
    return {"ts_ms": ts, "method": "POST", "path": path, "headers": hdrs, "body": body, "peer": peer, "label": label}


def legit(ts):
    shape, path, ja4, _ = R.choices(LEGIT, weights=[w for *_, w in LEGIT])[0]
    key = f"sk-live-{R.randrange(400):04d}"
    body = body_for(path, R.choice(TASKS).format(R.choice(TOPICS)))
    peer = {"ip": f"198.51.{R.randrange(100)}.{R.randrange(1, 255)}", "ja4": ja4, "asn": 64500 + R.randrange(40)}
    return record(ts, path, headers(shape, key, body), body, peer, "legit")


def campaign_a(ts, burst):
    key = f"sk-farm-{R.randrange(150):04d}"
    text = COT.format(n=R.randrange(10000), q=R.choice(QUESTIONS).format(k=R.randrange(1000)))
    body = body_for("/v1/messages", text, max_tokens=16000, temperature=1.0)
    peer = {"ip": f"203.0.{113 + burst % 6}.{R.randrange(1, 255)}", "ja4": "t13d1812h1_85036bcba153_b26ce05bbdd6", "asn": 64666}
    return record(ts, "/v1/messages", headers("anthropic-python-post", key, body), body, peer, "campaign-a")


def campaign_b(ts):
    key = f"sk-prx-{R.randrange(12):04d}"
    body = body_for("/v1/messages", RUBRIC.format(a=R.choice(TASKS).format(R.choice(TOPICS))), max_tokens=2048)
    h = headers("python-requests-post", key, body, ua="Anthropic/Python 2.14.0")
    h.insert(1, ["Via", "1.1 squid (squid/6.10)"])
    h.insert(2, ["X-Forwarded-For", f"10.{R.randrange(255)}.{R.randrange(255)}.{R.randrange(255)}, 100.64.0.{R.randrange(255)}"])
    h.append(["Proxy-Connection", "keep-alive"])
    return record(ts, "/v1/messages", h, body, {"ip": f"100.64.0.{R.randrange(1, 255)}", "asn": 64777}, "campaign-b")


def main():
    out = [legit(T0 + i * 1000 + R.randrange(1000)) for i in range(600)]  # one per second
    for burst in range(25):  # campaign-a: from minute 2, bursts of 8 within 2 s, every 12 s
        start = T0 + 120_000 + burst * 12_000
        out += [campaign_a(start + R.randrange(2000), burst) for _ in range(8)]
    out += [campaign_b(T0 + 240_000 + i * 5000 + R.randrange(500)) for i in range(40)]  # from minute 4
    out.sort(key=lambda r: r["ts_ms"])
    for r in out:
        print(json.dumps(r, separators=(",", ":")))


if __name__ == "__main__":
    main()
