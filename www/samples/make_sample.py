#!/usr/bin/env python3
"""Writes www/samples/sample.jsonl: a small labeled capture so the tuning page works before
the simulator exists. Deterministic (fixed seed). 10 minutes of traffic:
  legit       browsers, official SDKs, curl/requests scripts; many accounts, residential IPs
  campaign-a  one SDK build on ~150 light accounts from rotating datacenter /24s, one JA4,
              chain-of-thought template prompts sent in synchronized bursts
  campaign-b  a few accounts behind a squid/tinyproxy chain with rubric-grading prompts,
              SDK User-Agent without its x-stainless-* headers
Keys are fake; prompts are short. Usage: python3 www/samples/make_sample.py > www/samples/sample.jsonl
"""
import json
import random

R = random.Random(20261128)
T0 = 1767225600000
CHROME = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Safari/537.36"
FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0"
TOPICS = ["a haiku about rain", "the French revolution", "binary search", "a birthday message", "sourdough starters",
          "tax brackets", "the Krebs cycle", "a cover letter", "Rust lifetimes", "a bedtime story", "SQL joins", "jet lag"]
TASKS = ["Summarize {}.", "Explain {} simply.", "Write {}.", "Give me three tips about {}.", "What should I know about {}?"]
COT = "Problem {n}: {q} Think step by step and write out your complete reasoning before giving the final answer."
RUBRIC = "You are a strict grader. Score the RESPONSE from 1 to 10 against the rubric (accuracy, depth).\nRESPONSE: {a}"
QUESTIONS = ["If 3x + 7 = {k}, what is x?", "How many primes are below {k}?", "A train leaves at {k} km/h...", "Sum the digits of {k}."]


def msg(text, **kw):
    return json.dumps({"model": "claude-sonnet-4-5", "max_tokens": kw.pop("max_tokens", 1024),
                       "messages": [{"role": "user", "content": text}], **kw})


def chat(text, **kw):
    return json.dumps({"model": "gpt-5", "messages": [{"role": "user", "content": text}], **kw})


def browser(ua, key, body):
    h = [["host", "api.example.com"], ["content-length", str(len(body))], ["user-agent", ua], ["content-type", "application/json"],
         ["accept", "*/*"], ["origin", "https://app.example.com"], ["sec-fetch-site", "same-site"], ["sec-fetch-mode", "cors"],
         ["sec-fetch-dest", "empty"], ["accept-encoding", "gzip, deflate, br, zstd"], ["accept-language", "en-US,en;q=0.9"],
         ["authorization", f"Bearer {key}"]]
    if "Chrome" in ua:
        h.insert(3, ["sec-ch-ua", '"Chromium";v="156", "Not-A.Brand";v="24"'])
        h.insert(4, ["sec-ch-ua-mobile", "?0"])
        h.insert(5, ["sec-ch-ua-platform", '"Windows"'])
    return h


def sdk_py(key, body, stainless=True):
    h = [["host", "api.example.com"], ["accept-encoding", "gzip, deflate"], ["connection", "keep-alive"], ["accept", "application/json"]]
    if stainless:
        h += [["x-stainless-lang", "python"], ["x-stainless-package-version", "0.69.0"], ["x-stainless-os", "Linux"],
              ["x-stainless-arch", "x64"], ["x-stainless-runtime", "CPython"], ["x-stainless-runtime-version", "3.12.3"]]
    h += [["anthropic-version", "2023-06-01"], ["x-api-key", key], ["content-type", "application/json"],
          ["user-agent", "Anthropic/Python 0.69.0"], ["content-length", str(len(body))]]
    return h


def script(ua, key, body):
    return [["host", "api.example.com"], ["user-agent", ua], ["accept", "*/*"], ["authorization", f"Bearer {key}"],
            ["content-type", "application/json"], ["content-length", str(len(body))]]


def record(ts, path, headers, body, peer, label):
    return {"ts_ms": ts, "method": "POST", "path": path, "headers": headers, "body": body, "peer": peer, "label": label}


def legit(ts):
    key = f"sk-live-{R.randrange(400):04d}"
    ip = f"198.51.{R.randrange(100)}.{R.randrange(1, 255)}"
    text = R.choice(TASKS).format(R.choice(TOPICS))
    kind = R.random()
    if kind < 0.35:
        body = msg(text)
        ua = CHROME if R.random() < 0.7 else FIREFOX
        return record(ts, "/v1/messages", browser(ua, key, body), body,
                      {"ip": ip, "ja4": "t13d1516h2_8daaf6152771_d8a2da3f94cd" if ua == CHROME else "t13d1715h2_5b57614c22b0_3cbfd9057e0d", "asn": 64500 + R.randrange(40)}, "legit")
    if kind < 0.75:
        body = msg(text, max_tokens=R.choice([512, 1024, 4096]))
        return record(ts, "/v1/messages", sdk_py(key, body), body, {"ip": ip, "ja4": "t13d1812h1_85036bcba153_375ca2c5e164", "asn": 64500 + R.randrange(40)}, "legit")
    body = chat(text)
    ua = R.choice(["curl/8.14.1", "python-requests/2.32.4", "Go-http-client/1.1"])
    return record(ts, "/v1/chat/completions", script(ua, key, body), body, {"ip": ip, "asn": 64500 + R.randrange(40)}, "legit")


def campaign_a(ts, burst):
    key = f"sk-farm-{R.randrange(150):04d}"
    ip = f"203.0.{113 + burst % 6}.{R.randrange(1, 255)}"
    body = msg(COT.format(n=R.randrange(10000), q=R.choice(QUESTIONS).format(k=R.randrange(1000))), max_tokens=16000, temperature=1.0)
    return record(ts, "/v1/messages", sdk_py(key, body), body, {"ip": ip, "ja4": "t13d1812h1_85036bcba153_b26ce05bbdd6", "asn": 64666}, "campaign-a")


def campaign_b(ts):
    key = f"sk-prx-{R.randrange(12):04d}"
    body = msg(RUBRIC.format(a=R.choice(TASKS).format(R.choice(TOPICS))), max_tokens=2048)
    h = sdk_py(key, body, stainless=False)
    h.insert(1, ["via", "1.1 squid (squid/6.10)"])
    h.insert(2, ["x-forwarded-for", f"10.{R.randrange(255)}.{R.randrange(255)}.{R.randrange(255)}, 100.64.0.{R.randrange(255)}"])
    h.append(["proxy-connection", "keep-alive"])
    return record(ts, "/v1/messages", h, body, {"ip": f"100.64.0.{R.randrange(1, 255)}", "asn": 64777}, "campaign-b")


def main():
    out = []
    for i in range(600):  # legit: steady, one per second
        out.append(legit(T0 + i * 1000 + R.randrange(1000)))
    for burst in range(25):  # campaign-a: from minute 2, bursts of 8 within 2 s, every 12 s
        start = T0 + 120_000 + burst * 12_000
        for _ in range(8):
            out.append(campaign_a(start + R.randrange(2000), burst))
    for i in range(40):  # campaign-b: from minute 4, one every 5 s
        out.append(campaign_b(T0 + 240_000 + i * 5000 + R.randrange(500)))
    out.sort(key=lambda r: r["ts_ms"])
    for r in out:
        print(json.dumps(r, separators=(",", ":")))


if __name__ == "__main__":
    main()
