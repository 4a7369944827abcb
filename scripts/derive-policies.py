#!/usr/bin/env python3
"""Writes filters/shadow.json and filters/strict.json from filters/default.json.

Both are the default policy's fitted weights and settings with a few documented changes, so a
refit of the default carries over (tests/policies.rs fails when they drift from it):

- shadow.json: the default policy, observed only (`mode: shadow`): every verdict is computed and
  tagged as the default would, none enforced. What to run before enforcing the default.
- strict.json: the default's weights and tag threshold, earlier throttles and denials,
  and heavier weights on the contradictions no genuine client makes (a User-Agent, SDK or
  language claim its headers contradict, checked against real captures; a proxy that leaks its
  credentials or its client's Proxy-Connection header to the origin).

It also writes the `POLICY` line of edge/wrangler.toml: shadow.json behind Cloudflare (one trusted
X-Forwarded-For hop, the verdict in one structured header).

Usage: python3 scripts/derive-policies.py [--check]   (--check: exit 1 if a file would change)
"""
import copy
import json
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
FILTERS = ROOT / "filters"

STRICT_THRESHOLDS = {"tag": 30, "throttle": 55, "deny": 80}
STRICT_RETRY_AFTER_S = 120
STRICT_WEIGHTS = {
    "client_ua_mismatch": 45,
    "client_sdk_mismatch": 45,
    "client_lang_mismatch": 45,
    "proxy_authorization": 45,
    "proxy_connection_header": 30,
}


def derive(default):
    shadow = copy.deepcopy(default)
    shadow["name"] = "shadow (the default policy observed only: computed and tagged, never enforced)"
    shadow["mode"] = "shadow"

    strict = copy.deepcopy(default)
    strict["name"] = "strict (the default's weights and tag threshold; throttles from 55, denies from 80; header contradictions weigh more)"
    strict["thresholds"] = dict(STRICT_THRESHOLDS)
    strict.setdefault("throttle", {})["retry_after_s"] = STRICT_RETRY_AFTER_S
    for name, weight in STRICT_WEIGHTS.items():
        strict["signals"][name] = {"weight": max(weight, default["signals"].get(name, {}).get("weight", 0))}
    return {"shadow.json": shadow, "strict.json": strict}


def wrangler_line(shadow):
    """The `POLICY = '...'` line of edge/wrangler.toml (a TOML literal string: no quote inside)."""
    edge = copy.deepcopy(shadow)
    edge["name"] = "edge (shadow.json behind Cloudflare)"
    edge["proxy"] = {"trusted_hops": 1}
    edge["output"] = dict(edge.get("output", {}), format="structured")
    text = json.dumps(edge, separators=(", ", ": "), ensure_ascii=True)
    assert "'" not in text and "\n" not in text, "the policy cannot be a TOML literal string"
    return f"POLICY = '{text}'"


def main():
    check = "--check" in sys.argv[1:]
    default = json.loads((FILTERS / "default.json").read_text())
    derived = derive(default)
    files = {FILTERS / name: json.dumps(policy, indent=2, ensure_ascii=False) + "\n" for name, policy in derived.items()}
    toml_path = ROOT / "edge" / "wrangler.toml"
    toml = toml_path.read_text().splitlines(keepends=True)
    at = [i for i, line in enumerate(toml) if line.startswith("POLICY = '")]
    if len(at) != 1:
        sys.exit("edge/wrangler.toml: expected one POLICY = '...' line")
    toml[at[0]] = wrangler_line(derived["shadow.json"]) + "\n"
    files[toml_path] = "".join(toml)
    stale = [path for path, text in files.items() if not (path.exists() and path.read_text() == text)]
    names = ", ".join(str(p.relative_to(ROOT)) for p in stale)
    if check:
        if stale:
            print(f"{names} differ from what scripts/derive-policies.py makes of filters/default.json: run it", file=sys.stderr)
            sys.exit(1)
        return
    for path in stale:
        path.write_text(files[path])
        print(f"wrote {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
