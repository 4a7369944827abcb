#!/usr/bin/env python3
"""Renders an Envoy config template (envoy/*.yaml.in) for distill-guard (stdlib only).

usage: render.py TEMPLATE OUT --wasm FILE [--policy FILE] [--listen-port N] [--admin-port N]
                 [--origin-port N] [--max-headers N] [--failure-policy P]
                 [--cert FILE --key FILE] [--tls-fingerprints auto|on|off]
                 [--tagged-per-minute N] [--geo-asn-db FILE.mmdb] [--geo-country-db FILE.mmdb]

The policy file's text is embedded as the Wasm plugin configuration (a JSON string is a
valid YAML double-quoted scalar); without --policy the configuration is empty, which the
filter reads as the built-in default policy. It does not validate the policy: the filter
does that when Envoy loads it (`envoy --mode validate -c OUT` shows every error).

Adapter options (not policy settings) travel in the same configuration as a top-level
`envoy` object, which the filter removes before reading the policy. A template asks for them
with a line `# distill-guard envoy options: {...}` (envoy-tls.yaml.in asks for
`{"tls_fingerprints": true}`: its listener puts JA4 / JA3 in filter state); with
--tls-fingerprints on / off the command line decides instead.

With --geo-asn-db and / or --geo-country-db, the `${GEO_FILTERS}` line of a template becomes
envoy/geoip.yaml.in (Envoy's geoip filter and the removal of client-sent geo headers before
it), looking up the client address the policy's `proxy.trusted_hops` names, and the plugin
configuration gets `"geo_headers": true`. Without them that line stays empty.
"""

import argparse
import json
import os
import re
import string
import sys

OPTIONS_LINE = re.compile(r"^#\s*distill-guard envoy options:\s*(\{.*\})\s*$", re.MULTILINE)


GEO_LINE = re.compile(r"^([ \t]*)\$\{GEO_FILTERS\}[ \t]*$", re.MULTILINE)
GEO_TEMPLATE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "geoip.yaml.in")
# The headers envoy/geoip.yaml.in fills and the filter reads (src/host/envoy/geo.rs).
GEO_ASN_HEADER = "x-distill-geo-asn"
GEO_COUNTRY_HEADER = "x-distill-geo-country"


def render(template_text, values):
    """Fills ${NAME} placeholders; a missing value is an error naming it. `GEO_FILTERS` (a
    block of YAML, see geo_filters) is optional and indented like its placeholder line."""
    block = values.get("GEO_FILTERS", "")
    template_text = GEO_LINE.sub(lambda m: indent(block, m.group(1)).replace("$", "$$"), template_text)
    try:
        return string.Template(template_text).substitute(values)
    except KeyError as e:
        raise SystemExit(f"render.py: no value for placeholder {e}") from None


def indent(block, prefix):
    """`block` with every non-empty line prefixed by `prefix` ("" stays "")."""
    return "\n".join(prefix + line if line.strip() else "" for line in block.splitlines())


def trusted_hops(policy_text):
    """The policy's `proxy.trusted_hops` (0 when absent or unreadable: the filter reports it)."""
    try:
        hops = json.loads(policy_text or "{}").get("proxy", {}).get("trusted_hops", 0)
    except (ValueError, AttributeError):
        return 0
    return hops if isinstance(hops, int) and hops >= 0 else 0


def geo_filters(asn_db=None, country_db=None, hops=0):
    """The YAML of envoy/geoip.yaml.in for these databases, looking up the client that
    `proxy.trusted_hops: hops` names; "" without a database."""
    if not asn_db and not country_db:
        return ""
    with open(GEO_TEMPLATE, encoding="utf-8") as f:
        text = f.read().split("\n\n", 1)[-1]  # without the header that documents the template
    q = json.dumps  # a JSON string is a valid YAML double-quoted scalar
    return string.Template(text).substitute({
        "GEO_ASN_DB": q(os.path.abspath(asn_db) if asn_db else ""),
        "GEO_COUNTRY_DB": q(os.path.abspath(country_db) if country_db else ""),
        "GEO_ASN_HEADER": q(GEO_ASN_HEADER if asn_db else ""),
        "GEO_COUNTRY_HEADER": q(GEO_COUNTRY_HEADER if country_db else ""),
        "GEO_XFF_HOPS": str(max(hops - 1, 0)),
    })


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
    geo = geo_filters(args.geo_asn_db, args.geo_country_db, trusted_hops(policy))
    if geo:
        options["geo_headers"] = True
    v = {
        "WASM": os.path.abspath(args.wasm),
        "POLICY_JSON": json.dumps(plugin_config(policy, options), ensure_ascii=False),
        "LISTEN_PORT": str(args.listen_port),
        "ADMIN_PORT": str(args.admin_port),
        "ORIGIN_PORT": str(args.origin_port),
        "MAX_HEADERS": str(args.max_headers),
        "FAILURE_POLICY": args.failure_policy,
        "TAGGED_PER_MINUTE": str(args.tagged_per_minute),
        "GEO_FILTERS": geo,
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
    ap.add_argument("--geo-asn-db", help="MaxMind-format ASN database (GeoLite2-ASN, DB-IP ASN Lite)")
    ap.add_argument("--geo-country-db", help="MaxMind-format country or city database")
    args = ap.parse_args(argv)
    with open(args.template, encoding="utf-8") as f:
        template = f.read()
    text = render(template, values_from(args, template))
    with open(args.out, "w", encoding="utf-8") as f:
        f.write(text)


if __name__ == "__main__":
    main(sys.argv[1:])
