#!/usr/bin/env python3
"""Rewrites a traffic file (JSONL, `distill-guard simulate` / replay format) as a gateway behind a
load balancer would record it: every request's peer becomes the balancer (default 10.1.2.3), the
client's address is appended to X-Forwarded-For (after any entries it carried), and the ASN and
country are dropped (a geo lookup of the balancer finds none).

Replaying the output with `proxy.trusted_hops: 1` gives the same client addresses as the input
with 0; with 0 every request comes from the balancer: what a gateway configured for the edge sees
behind one (README "Client addresses").

    python3 scripts/behind_balancer.py [--balancer IP] < in.jsonl > out.jsonl
"""

import argparse
import json
import sys


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--balancer", default="10.1.2.3", help="the balancer's address (the new peer)")
    args = ap.parse_args()
    for n, line in enumerate(sys.stdin, 1):
        if not line.strip():
            continue
        try:
            r = json.loads(line)
        except ValueError as e:
            sys.exit(f"line {n}: not JSON: {e}")
        peer = r.get("peer") or {}
        ip = peer.get("ip")
        if ip:
            headers = r.setdefault("headers", [])
            xff = next((h for h in headers if h[0].lower() == "x-forwarded-for"), None)
            if xff:
                xff[1] = f"{xff[1]}, {ip}"
            else:
                headers.append(["x-forwarded-for", ip])
        r["peer"] = {k: v for k, v in peer.items() if k not in ("asn", "country")}
        r["peer"]["ip"] = args.balancer
        sys.stdout.write(json.dumps(r) + "\n")


if __name__ == "__main__":
    main()
