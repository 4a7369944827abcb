#!/usr/bin/env python3
"""Writes N synthetic replay records (JSONL) for throughput benchmarks.

usage: gen_records.py N {headers|body4k} > file.jsonl
Records vary the account, client IP and time like real traffic; headers are the 12 headers of
the official Python SDK; body4k adds a ~4 KB Messages body.
"""
import json
import sys

n, kind = int(sys.argv[1]), sys.argv[2]
line = '    rows = db.query("SELECT id, name FROM users WHERE org_id = %s", org_id)\n'
code = line * 50
body = json.dumps({
    "model": "claude-sonnet-4-5", "max_tokens": 4096, "temperature": 0.2,
    "system": "You are a senior engineer.",
    "messages": [{"role": "user", "content": "Refactor the function below to remove the N+1 query.\n```python\n" + code[:3700] + "```"}],
})
out = sys.stdout
for i in range(n):
    key = f"sk-ant-api03-{i % 25000:08x}-bench"
    rec = {
        "ts_ms": 1_745_280_000_000 + i * 7,
        "method": "POST" if kind == "body4k" else "GET",
        "path": "/v1/messages" if kind == "body4k" else "/v1/models",
        "headers": [["Host", "api.example.com"], ["Accept-Encoding", "gzip, deflate"], ["Connection", "keep-alive"],
                    ["Accept", "application/json"], ["Content-Type", "application/json"],
                    ["User-Agent", "Anthropic/Python 0.40.0"], ["X-Stainless-Lang", "python"],
                    ["X-Stainless-Package-Version", "0.40.0"], ["X-Stainless-OS", "Linux"], ["X-Stainless-Arch", "x64"],
                    ["anthropic-version", "2023-06-01"], ["x-api-key", key]],
        "peer": {"ip": f"198.51.{(i * 7) % 256}.{(i * 13) % 256}", "asn": 64500 + i % 300},
    }
    if kind == "body4k":
        rec["body"] = body
    out.write(json.dumps(rec, separators=(",", ":")) + "\n")
