#!/usr/bin/env python3
"""Renders an Envoy config template (envoy/*.yaml.in) for distill-guard (stdlib only).

usage: render.py TEMPLATE OUT --wasm FILE [--policy FILE] [--listen-port N] [--admin-port N]
                 [--origin-port N] [--max-headers N] [--failure-policy P]
                 [--cert FILE --key FILE]

The policy file's text is embedded as the Wasm plugin configuration (a JSON string is a
valid YAML double-quoted scalar); without --policy the configuration is empty, which the
filter reads as the built-in default policy. It does not validate the policy: the filter
does that when Envoy loads it (`envoy --mode validate -c OUT` shows every error).
"""

import argparse
import json
import os
import string
import sys


def render(template_text, values):
    """Fills ${NAME} placeholders; a missing value is an error naming it."""
    try:
        return string.Template(template_text).substitute(values)
    except KeyError as e:
        raise SystemExit(f"render.py: no value for placeholder {e}") from None


def values_from(args):
    policy = ""
    if args.policy:
        with open(args.policy, encoding="utf-8") as f:
            policy = f.read()
    v = {
        "WASM": os.path.abspath(args.wasm),
        "POLICY_JSON": json.dumps(policy, ensure_ascii=False),
        "LISTEN_PORT": str(args.listen_port),
        "ADMIN_PORT": str(args.admin_port),
        "ORIGIN_PORT": str(args.origin_port),
        "MAX_HEADERS": str(args.max_headers),
        "FAILURE_POLICY": args.failure_policy,
    }
    if args.cert:
        v["CERT"] = os.path.abspath(args.cert)
    if args.key:
        v["KEY"] = os.path.abspath(args.key)
    return v


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("template")
    ap.add_argument("out")
    ap.add_argument("--wasm", required=True)
    ap.add_argument("--policy")
    ap.add_argument("--listen-port", type=int, default=10000)
    ap.add_argument("--admin-port", type=int, default=9901)
    ap.add_argument("--origin-port", type=int, default=8081)
    ap.add_argument("--max-headers", type=int, default=100)
    ap.add_argument("--failure-policy", default="FAIL_RELOAD", choices=["FAIL_RELOAD", "FAIL_CLOSED", "FAIL_OPEN"])
    ap.add_argument("--cert")
    ap.add_argument("--key")
    args = ap.parse_args(argv)
    with open(args.template, encoding="utf-8") as f:
        text = render(f.read(), values_from(args))
    with open(args.out, "w", encoding="utf-8") as f:
        f.write(text)


if __name__ == "__main__":
    main(sys.argv[1:])
