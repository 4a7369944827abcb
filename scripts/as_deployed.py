#!/usr/bin/env python3
"""Rewrites a traffic file (JSONL, `distill-guard simulate` / replay format) as a gateway deployed
behind other infrastructure would record it (README "Deployment checks"):

--balancer IP      behind a load balancer: every request's peer becomes IP, the client's address
                   is appended to X-Forwarded-For (after any entries it carried), and the ASN and
                   country are dropped (a geo lookup of the balancer finds none). Replayed with
                   `proxy.trusted_hops: 1` it gives the input's client addresses; with 0 every
                   request comes from the balancer.
--balancer CIDR    behind a CDN or a fleet of balancers on that range (`104.16.0.0/20`: 16 /24s):
                   the same, but each client network (its /24 or /48) reaches the gateway through
                   one address of the range (its nearest edge), the same one every time.
--key-header NAME  behind a filter that checks the API key and replaces it with its own user
                   header: `authorization` / `x-api-key` become NAME (the key's last 16
                   characters, as an opaque user id).
--path-prefix P    an API served under another path: every path gets P in front (`/openai`:
                   `/openai/v1/chat/completions`, which the shipped body.paths do not list).

    python3 scripts/as_deployed.py [--balancer IP|CIDR] [--key-header NAME] [--path-prefix P] < in.jsonl > out.jsonl
"""

import argparse
import hashlib
import ipaddress
import json
import sys

KEY_HEADERS = ("authorization", "x-api-key")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--balancer", help="the balancer's address (the new peer), or a range of edge addresses")
    ap.add_argument("--key-header", help="the header a user id replaces the API key with")
    ap.add_argument("--path-prefix", help="put in front of every path")
    args = ap.parse_args()
    if not args.balancer and not args.key_header and not args.path_prefix:
        ap.error("nothing to do: give --balancer, --key-header and/or --path-prefix")
    edges = None
    if args.balancer:
        try:
            edges = ipaddress.ip_network(args.balancer, strict=False)
        except ValueError as e:
            ap.error(f"--balancer: {e}")
    for n, line in enumerate(sys.stdin, 1):
        if not line.strip():
            continue
        try:
            r = json.loads(line)
        except ValueError as e:
            sys.exit(f"line {n}: not JSON: {e}")
        headers = r.setdefault("headers", [])
        if args.balancer:
            peer = r.get("peer") or {}
            ip = peer.get("ip")
            if ip:
                xff = next((h for h in headers if h[0].lower() == "x-forwarded-for"), None)
                if xff:
                    xff[1] = f"{xff[1]}, {ip}"
                else:
                    headers.append(["x-forwarded-for", ip])
            r["peer"] = {k: v for k, v in peer.items() if k not in ("asn", "country")}
            r["peer"]["ip"] = edge_for(edges, ip)
        if args.key_header:
            r["headers"] = [[args.key_header, v.split()[-1][-16:]] if k.lower() in KEY_HEADERS and v.split() else [k, v]
                            for k, v in headers]
        if args.path_prefix:
            r["path"] = args.path_prefix.rstrip("/") + r.get("path", "/")
        sys.stdout.write(json.dumps(r) + "\n")


def edge_for(edges, client):
    """The address of `edges` a client reaches the gateway through: chosen by the client's /24
    (/48), so a network always uses one edge; a single address for a one-address range."""
    if edges.num_addresses == 1:
        return str(edges.network_address)
    try:
        net = ipaddress.ip_network(f"{client}/{24 if ':' not in client else 48}", strict=False)
        key = str(net.network_address)
    except ValueError:
        key = client or ""
    pick = int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big") % edges.num_addresses
    return str(edges.network_address + pick)


if __name__ == "__main__":
    main()
