#!/usr/bin/env python3
"""Writes the seed corpus fuzz/corpus/<target>/ from the project's own data.

usage: python3 fuzz/seed_corpus.py   (idempotent; seeds are named seed-*, libFuzzer's finds are not touched)
Sources: captured client shapes (tests/data/clients.json), the replay bench's 4 KB body
(benches/gen_records.py), the coding-agent bodies of the prompt bench (benches/prompt_texts/),
the shipped policies (filters/), plus a few hand-made edge cases.
"""
import base64
import json
import pathlib

ROOT = pathlib.Path(__file__).resolve().parent.parent
OUT = ROOT / "fuzz" / "corpus"
CLIENTS = json.loads((ROOT / "tests" / "data" / "clients.json").read_text())["clients"]
# Seed name -> the capture it is made of (the seed names predate the captures' current names).
PICK = {"curl-post": "curl-post", "python-httpx": "python-httpx-post", "anthropic-sdk-python": "anthropic-python-post",
        "openai-sdk-python": "openai-python-post", "anthropic-sdk-js": "anthropic-node-post",
        "go-net-http": "go-net-http-get", "chromium-headless-fetch": "chromium-get", "firefox-nav": "firefox-esr-get"}
ALIASES = {n.lower(): i for i, n in enumerate([  # must match NAMES in fuzz_targets/headers.rs
    "user-agent", "host", ":authority", ":method", ":path", ":scheme", "accept", "accept-language",
    "accept-encoding", "content-type", "content-length", "connection", "cookie", "referer", "origin",
    "x-api-key", "authorization", "anthropic-version", "x-stainless-lang", "x-stainless-runtime",
    "x-stainless-runtime-version", "x-stainless-package-version", "x-stainless-os", "x-stainless-arch",
    "sec-ch-ua", "sec-ch-ua-platform", "sec-fetch-mode", "sec-fetch-site", "via", "forwarded",
    "x-forwarded-for", "proxy-connection"])}

LINE = '    rows = db.query("SELECT id, name FROM users WHERE org_id = %s", org_id)\n'
BODY4K = json.dumps({
    "model": "claude-sonnet-4-5", "max_tokens": 4096, "temperature": 0.2, "system": "You are a senior engineer.",
    "messages": [{"role": "user", "content": "Refactor the function below to remove the N+1 query.\n```python\n"
                  + (LINE * 50)[:3700] + "```"}]})
BODIES = {
    "messages-cot": json.dumps({"model": "claude-opus-4", "max_tokens": 64000, "temperature": 0,
                                "messages": [{"role": "user", "content": "Explain step by step, show your full reasoning."},
                                             {"role": "assistant", "content": "Sure."},
                                             {"role": "user", "content": [{"type": "text", "text": "Now grade this answer from 1 to 10: 42"}]}]}),
    "chat-logprobs": json.dumps({"model": "gpt-4o", "n": 4, "logprobs": True, "top_logprobs": 5,
                                 "messages": [{"role": "system", "content": "Be terse."}, {"role": "user", "content": "Q17: what is 7*8?"}]}),
    "responses": json.dumps({"model": "o3", "input": "Summarize:\n\n\u00e9t\u00e9 \ud83d\ude00 text", "reasoning": {"effort": "high"},
                             "tools": [{"type": "function", "name": "f", "parameters": {}}]}),
    "body4k": BODY4K,
    "cut": BODY4K[:1500],
    "escapes": '{"messages":[{"role":"user","content":"\\u00e9\\ud83d\\ude00\\n\\t\\"x\\" 1e999 -0.0"}],"max_tokens":1e30}',
    "nested": '{"messages":[{"role":"user","content":' + "[" * 64 + "]" * 64 + "}]}",
    # Agent loops, small: the latest user-side turn is a tool result.
    "anthropic-tools": json.dumps({"model": "claude-sonnet-4-5", "max_tokens": 4000, "system": [{"type": "text", "text": "Reason step by step before each tool call.", "cache_control": {"type": "ephemeral"}}],
                                   "tools": [{"name": "bash", "input_schema": {"type": "object", "properties": {"cmd": {"type": "string"}}}}, {"type": "web_search_20250305", "name": "web_search"}],
                                   "messages": [{"role": "user", "content": [{"type": "text", "text": "Fix the failing test in tests/test_a.py"}]},
                                                {"role": "assistant", "content": [{"type": "thinking", "thinking": "t", "signature": "s"}, {"type": "tool_use", "id": "t1", "name": "bash", "input": {"cmd": "pytest"}}]},
                                                {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": [{"type": "text", "text": "1 failed"}], "is_error": True}]}]}),
    "chat-tools": json.dumps({"model": "gpt-4.1", "messages": [{"role": "developer", "content": "Be exact."}, {"role": "user", "content": "Which region grew most? Show your reasoning."},
                                                                {"role": "assistant", "content": None, "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "sql", "arguments": "{}"}}]},
                                                                {"role": "tool", "tool_call_id": "c1", "content": [{"type": "text", "text": "EMEA 4.1M"}]}],
                              "tools": [{"type": "function", "function": {"name": "sql", "parameters": {"type": "object", "properties": {"q": {"type": "string"}}}}}]}),
    "responses-tools": json.dumps({"model": "o4-mini", "instructions": "Think step by step.", "tools": [{"type": "function", "name": "f", "parameters": {"type": "object"}}, {"type": "web_search_preview"}],
                                   "input": [{"role": "user", "content": "Find the cheapest flight LIS-OSL."}, {"type": "reasoning", "summary": []},
                                             {"type": "function_call", "call_id": "c1", "name": "f", "arguments": "{}"}, {"type": "function_call_output", "call_id": "c1", "output": "[]"}]}),
}
# The coding-agent bodies of the prompt bench (about 15 KB each, three APIs).
for api in ["anthropic", "chat", "responses"]:
    BODIES[f"agent-{api}"] = (ROOT / "benches" / "prompt_texts" / f"agent_{api}.json").read_text()


def write(target, name, data):
    d = OUT / target
    d.mkdir(parents=True, exist_ok=True)
    (d / f"seed-{name}").write_bytes(data if isinstance(data, bytes) else data.encode())


def record(c, i):
    rec = {"ts_ms": 1_745_280_000_000 + i * 1000, "method": c["method"], "path": c["path"],
           "version": c["http_version"], "headers": c["headers"],
           "peer": {"ip": f"198.51.100.{i + 1}", "ja4": "t13d1516h2_8daaf6152771_02713d6af862", "asn": 64500 + i}}
    if c["body"]:
        rec["body"] = c["body"]
    return json.dumps(rec, separators=(",", ":"))


def header_bytes(c):
    out = bytearray([1])  # HTTP/1.1, order known
    out += c["method"].encode() + b"\n" + c["path"].encode()
    for n, v in c["headers"]:
        idx = ALIASES.get(n.lower())
        out += b"\n" + (b"@" + bytes([idx]) + b" " if idx is not None and len(out) % 2 else n.encode() + b":") + v.encode()
    return bytes(out)


def edge_head(c, i):
    """A request head as edge/record.mjs builds it: Fetch lowercases and sorts the header names."""
    fields = [c["method"], "https://api.example.com" + c["path"], c["http_version"], f"198.51.100.{i + 1}",
              "t13d1516h2_8daaf6152771_02713d6af862", "", "US", f"tok-{i}"]
    headers = sorted((n.lower(), v) for n, v in c["headers"])
    return "\n".join(fields + [x for nv in headers for x in nv]).encode()


def envoy_map(c):
    """Envoy's serialized header map (proxy-wasm): count, name/value lengths, NUL-terminated data."""
    pairs = [(":authority", "api.example.com"), (":path", c["path"]), (":method", c["method"]), (":scheme", "https")]
    pairs += [(n.lower(), v) for n, v in c["headers"] if n.lower() != "host"] + [("x-request-id", "5f1d0c2e-1")]
    out = bytearray(len(pairs).to_bytes(4, "little"))
    for n, v in pairs:
        out += len(n.encode()).to_bytes(4, "little") + len(v.encode()).to_bytes(4, "little")
    for n, v in pairs:
        out += n.encode() + b"\0" + v.encode() + b"\0"
    return bytes(out)


def main():
    by_name = {c["name"]: c for c in CLIENTS}
    by_name.update({seed: by_name[capture] for seed, capture in PICK.items()})
    for i, n in enumerate(PICK):
        c = by_name[n]
        write("traffic", n, record(c, i) + "\n")
        write("fingerprints", n, header_bytes(c))
    # Multi-record file, base64 body, IPv6 peer, HTTP/2 with pseudo-headers, a 4 KB Messages body.
    sdk = by_name["anthropic-sdk-python"]
    rec = json.loads(record(sdk, 9))
    rec.update({"version": "HTTP/2", "headers": [[":authority", "api.example.com"], [":method", "POST"]] + sdk["headers"],
                "peer": {"ip": "2001:db8::7", "country": "US"}, "body": None})
    del rec["body"]
    rec["body_b64"] = base64.b64encode(BODY4K.encode()).decode()
    write("traffic", "h2-b64-ipv6", json.dumps(rec) + "\n" + record(by_name["curl-get"], 3) + "\n")
    proxied = json.loads(record(by_name["python-requests-post"], 5))
    proxied["headers"] += [["Via", "1.1 squid"], ["X-Forwarded-For", "203.0.113.9, 10.0.0.1"], ["Proxy-Connection", "keep-alive"]]
    proxied["label"] = {"campaign": "c1"}
    write("traffic", "proxied", json.dumps(proxied) + "\n")
    write("fingerprints", "h2-pseudo", b"\x02POST\n/v1/messages\n:authority:api.example.com\n:method:POST\n@\x00 Mozilla/5.0 Chrome/131.0\n@\x18 \"Chromium\";v=\"131\"\n@\x07 en-US,en;q=0.9,\xc3\xa9")
    write("fingerprints", "order-unknown", b"\x05GET\n/\n@\x00 OpenAI/Python 1.55.0\n@\x12 python\n@\x13 CPython\ncookie:a=b; c=d\n")
    for name, body in BODIES.items():
        write("body_scan", name, body)
    # hosts: the edge worker's packed head and Envoy's header map of captured clients, with bodies.
    posts = {"anthropic-sdk-python": BODY4K, "openai-sdk-python": BODIES["chat-tools"],
             "curl-post": BODIES["messages-cot"], "anthropic-sdk-js": BODIES["agent-anthropic"]}
    for i, n in enumerate(PICK):
        c = by_name[n]
        body = posts.get(n, "").encode()
        for host in (0, 1):
            head = edge_head(c, i) if host == 0 else envoy_map(c)
            for sel in ((host | 0x30), (host | 0x04 | 0x08 | 0x70)):  # default engine, 256-byte chunks; held-all, cut, 512
                write("hosts", f"{'edge' if host == 0 else 'envoy'}-{n}-{sel:02x}", bytes([sel]) + len(head).to_bytes(2, "little") + head + body)
    for f in sorted((ROOT / "filters").glob("*.json")):
        write("policy", f.stem, f.read_text())
    write("policy", "empty", "{}")
    write("policy", "typo", '{"thresholds":{"tag":30,"throtle":70},"signals":{"proxy_via":{"weight":-1}}}')
    write("policy", "full", json.dumps({
        "mode": "enforce", "fail_closed": True, "thresholds": {"tag": 10, "throttle": 50, "deny": 95},
        "body": {"paths": ["/v1/messages", "/api/*"], "max_bytes": 100}, "fingerprints": {"ja4h": True},
        "proxy": {"trusted_hops": 2}, "networks": {"datacenter": ["198.51.100.0/24", "2001:db8::/32"], "tor": ["203.0.113.7/32"]},
        "allow": {"accounts": ["00ff00ff00ff00ff"], "cidrs": ["192.0.2.0/24"], "fingerprints": ["0123456789abcdef"]},
        "block": {"fingerprints": ["t13d1516h2_8daaf6152771_02713d6af862"]}}))


def dicts():
    """libFuzzer dictionaries (fuzz/dicts/<target>.dict): tokens the parsers branch on."""
    import re
    d = ROOT / "fuzz" / "dicts"
    d.mkdir(exist_ok=True)

    def esc(t):  # libFuzzer dictionary entry: printable ASCII, with \\, \" and \xNN escapes
        return '"' + "".join(c if 32 <= ord(c) < 127 and c not in '\\"' else
                             ("\\" + c if c in '\\"' else f"\\x{ord(c):02X}") for c in t) + '"'
    sig = re.findall(r'= "([a-z_.]+)", "([a-z_]+)",', (ROOT / "src" / "signal.rs").read_text())
    keys = set()
    def walk(v):
        if isinstance(v, dict):
            for k, x in v.items():
                keys.add(k)
                walk(x)
        elif isinstance(v, list):
            for x in v:
                walk(x)
    for f in (ROOT / "filters").glob("*.json"):
        walk(json.loads(f.read_text()))
    walk(json.loads((OUT / "policy" / "seed-full").read_text()))
    keys |= {k for _, k in sig} | {"weight", "from", "full", "state", "prompt", "enabled", "long_output_tokens"}
    json_tok = ["{", "}", "[", "]", ":", ",", "null", "true", "false", "\\u", "\\ud83d", "1e309", "-0", "0.5"]
    (d / "policy.dict").write_text("\n".join(esc(f'"{k}"') for k in sorted(keys)) + "\n"
                                   + "\n".join(esc(t) for t in json_tok + ["enforce", "shadow", "/24", "::/0"]) + "\n")
    traffic = ["ts_ms", "method", "path", "version", "headers", "body", "body_b64", "peer", "ip", "ja4", "ja3", "asn",
               "country", "label"]
    (d / "traffic.dict").write_text("\n".join(esc(f'"{k}"') for k in traffic) + "\n"
                                    + "\n".join(esc(t) for t in json_tok + ["HTTP/2", "HTTP/1.0", "h3", "::1", "/v1/messages"])
                                    + "\n" + "\n".join(esc(n) for n in ALIASES) + "\n")
    body = ["model", "messages", "role", "user", "assistant", "system", "content", "type", "text", "input", "max_tokens",
            "max_completion_tokens", "temperature", "n", "logprobs", "top_logprobs", "tools", "reasoning", "step by step",
            "chain of thought", "rubric", "grade", "score", "tool", "tool_use", "tool_result", "tool_calls", "function",
            "functions", "function_call", "function_call_output", "custom_tool_call", "reasoning", "developer", "instructions",
            "input_schema", "parameters", "name", "thinking", "cache_control", "tool_use_id", "call_id", "image", "message"]
    hosts = [n for n in ALIASES] + [":authority", ":path", ":method", ":scheme", "x-request-id", "x-distill-score",
                                     "x-distill-action", "x-distill", "HTTP/1.1", "HTTP/2", "https://", "/v1/messages",
                                     "POST", "GET", "\n\n", "\0\0\0\0"]
    (d / "hosts.dict").write_text("\n".join(esc(t) for t in hosts) + "\n" + "\n".join(esc(f'"{k}"') for k in body) + "\n")
    (d / "body_scan.dict").write_text("\n".join(esc(f'"{k}"') for k in body) + "\n" + "\n".join(esc(t) for t in json_tok) + "\n")
    fp = [n for n in ALIASES] + ["Mozilla/5.0", "Chrome/", "Firefox/", "Safari/", "curl/", "python-requests/",
                                  "python-httpx/", "Go-http-client/", "Anthropic/Python", "OpenAI/JS", "node", "python"]
    (d / "fingerprints.dict").write_text("\n".join(esc("\n" + n + ":" if i < len(ALIASES) else n) for i, n in enumerate(fp)) + "\n")


if __name__ == "__main__":
    main()
    dicts()
