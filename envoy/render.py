#!/usr/bin/env python3
"""Renders an Envoy config template (envoy/*.yaml.in) for distill-guard (stdlib only).

usage: render.py TEMPLATE OUT --wasm FILE [--policy FILE] [--listen-port N] [--admin-port N]
                 [--origin-port N] [--max-headers N] [--failure-policy P]
                 [--cert FILE --key FILE] [--tls-fingerprints auto|on|off]
                 [--tagged-per-minute N]

The policy file's text is embedded as the Wasm plugin configuration (a JSON string is a
valid YAML double-quoted scalar); without --policy the configuration is empty, which the
filter reads as the built-in default policy. It does not validate the policy: the filter
does that when Envoy loads it (`envoy --mode validate -c OUT` shows every error).

Adapter options (not policy settings) travel in the same configuration as a top-level
`envoy` object, which the filter removes before reading the policy. A template asks for them
with a line `# distill-guard envoy options: {...}` (envoy-tls.yaml.in asks for
`{"tls_fingerprints": true}`: its listener puts JA4 / JA3 in filter state); with
--tls-fingerprints on / off the command line decides instead.
"""

import argparse
import json
import os
import re
import string
import sys

OPTIONS_LINE = re.compile(r"^#\s*distill-guard envoy options:\s*(\{.*\})\s*$", re.MULTILINE)


def render(template_text, values):
    """Fills ${NAME} placeholders; a missing value is an error naming it."""
    try:
        return string.Template(template_text).substitute(values)
    except KeyError as e:
        raise SystemExit(f"render.py: no value for placeholder {e}") from None


def template_options(template_text):
    """The adapter options a template asks for (its `# distill-guard envoy options:` line)."""
    m = OPTIONS_LINE.search(template_text)
    return json.loads(m.group(1)) if m else {}


def plugin_config(policy_text, options):
    """The plugin configuration: the policy text, plus an `envoy` member with `options` when
    there are any (an `envoy` object already in the text wins key by key). A policy that is not
    a JSON object is returned as is (the filter reports it)."""
    if not options:
        return policy_text
    if not policy_text.strip():
        return json.dumps({"envoy": options})
    try:
        doc = json.loads(policy_text)
    except ValueError:
        return policy_text
    if not isinstance(doc, dict):
        return policy_text
    own = doc.pop("envoy", {})
    merged = {**options, **own} if isinstance(own, dict) else own
    return json.dumps({"envoy": merged, **doc}, ensure_ascii=False)


def values_from(args, template_text=""):
    policy = ""
    if args.policy:
        with open(args.policy, encoding="utf-8") as f:
            policy = f.read()
    options = template_options(template_text)
    if args.tls_fingerprints != "auto":
        options["tls_fingerprints"] = args.tls_fingerprints == "on"
    v = {
        "WASM": os.path.abspath(args.wasm),
        "POLICY_JSON": json.dumps(plugin_config(policy, options), ensure_ascii=False),
        "LISTEN_PORT": str(args.listen_port),
        "ADMIN_PORT": str(args.admin_port),
        "ORIGIN_PORT": str(args.origin_port),
        "MAX_HEADERS": str(args.max_headers),
        "FAILURE_POLICY": args.failure_policy,
        "TAGGED_PER_MINUTE": str(args.tagged_per_minute),
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
    ap.add_argument("--tagged-per-minute", type=int, default=600,
                    help="local rate limit of each cluster of tagged requests (envoy.yaml.in)")
    ap.add_argument("--cert")
    ap.add_argument("--key")
    ap.add_argument("--tls-fingerprints", choices=["auto", "on", "off"], default="auto",
                    help="read JA4/JA3 from filter state (auto: as the template asks)")
    args = ap.parse_args(argv)
    with open(args.template, encoding="utf-8") as f:
        template = f.read()
    text = render(template, values_from(args, template))
    with open(args.out, "w", encoding="utf-8") as f:
        f.write(text)


if __name__ == "__main__":
    main(sys.argv[1:])
