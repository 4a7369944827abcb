#!/usr/bin/env python3
"""Writes N synthetic replay records (JSONL) for throughput benchmarks.

usage: gen_records.py N {headers|body4k} > file.jsonl

Shaped like the common case a deployment sees, so that the default policy allows nearly every
record (the bench measures the allow path, not the tagging path):
- headers: a real client's header list in wire order, the `node-fetch-builtin-post` entry of
  tests/data/clients.json (Node's built-in fetch / undici, 11 headers on the POST; captured),
  with the host, API key and content length filled in. The GET of `headers` records drops
  content-type and content-length, as fetch does without a body (9 headers).
- 25,000 accounts (`x-api-key`), each with its own client address (spread over many /24s) and
  ASN; one record every 7 ms.
- body4k: a ~4 KB Anthropic Messages body, a code-refactoring prompt (a code block of ~3.7 KB)
  whose one-line instruction differs per account, so accounts do not share a prompt template.
"""
import json
import sys

n, kind = int(sys.argv[1]), sys.argv[2]
ACCOUNTS = 25000
line = '    rows = db.query("SELECT id, name FROM users WHERE org_id = %s", org_id)\n'
code = line * 50
WORDS = ("add cache check clean code data error fast field fix handle index join keep limit list load log loop "
         "map merge move name null order page parse path query read remove rename retry row safe save scan sort "
         "split speed state table test text time type update user value write").split()


def mix(a):
    return a * 2654435761 % 2**32


def body(a):
    x, words = mix(a), []
    for _ in range(12):
        x = (x * 1103515245 + 12345) % 2**31
        words.append(WORDS[x % len(WORDS)])
    instruction = "Please " + " ".join(words) + "."
    return json.dumps({
        "model": "claude-sonnet-4-5", "max_tokens": 4096, "temperature": 0.2,
        "system": "You are a senior engineer.",
        "messages": [{"role": "user", "content": instruction + "\n```python\n" + code[:3700] + "```"}],
    })


out = sys.stdout
for i in range(n):
    a = i % ACCOUNTS
    key = f"sk-ant-api03-{a:08x}-bench"
    h = mix(a)
    rec = {
        "ts_ms": 1_745_280_000_000 + i * 7,
        "method": "POST" if kind == "body4k" else "GET",
        "path": "/v1/messages" if kind == "body4k" else "/v1/models",
        "headers": [["host", "api.example.com"], ["connection", "keep-alive"], ["x-api-key", key],
                    ["anthropic-version", "2023-06-01"], ["content-type", "application/json"], ["accept", "*/*"],
                    ["accept-language", "*"], ["sec-fetch-mode", "cors"], ["user-agent", "node"],
                    ["accept-encoding", "gzip, deflate"]],
        "peer": {"ip": f"{10 + h % 200}.{(h >> 8) % 256}.{(h >> 16) % 256}.{1 + (h >> 24) % 254}", "asn": 64500 + h % 3000},
    }
    if kind == "body4k":
        b = body(a)
        rec["headers"].append(["content-length", str(len(b.encode()))])
        rec["body"] = b
    else:
        del rec["headers"][4]
    out.write(json.dumps(rec, separators=(",", ":")) + "\n")
