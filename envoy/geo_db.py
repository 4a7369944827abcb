#!/usr/bin/env python3
"""Builds MaxMind-format ASN and country databases (.mmdb) for Envoy's geoip filter.

usage: geo_db.py (CSV | --demo) [--asn-out FILE.mmdb] [--country-out FILE.mmdb]

Envoy's MaxMind provider reads `autonomous_system_number` from an ASN database and
`country.iso_code` from a country (or city) database: the GeoLite2 and DB-IP Lite schemas.
This writes exactly those fields, from

- a CSV with a header row: `network` (CIDR or one address; or `start_ip` and `end_ip`),
  `asn` (`64500` or `AS64500`; empty = none), `country_code` or `country` (two letters;
  empty = none), optionally `as_name`. IPinfo Lite's CSV has these columns, so this converts
  it for Envoy (IPinfo's own .mmdb names its fields `asn` / `country_code`, which Envoy does
  not read). Built in memory: fine for tests and small tables, slow for a whole-Internet CSV.
- `--demo`: 127.0.0.0/8 and the documentation ranges (192.0.2.0/24, 198.51.100.0/24,
  203.0.113.0/24) in made-up private-use ASNs, for `envoy/run.sh geo`.

Needs PyPI `mmdb-writer` (installed into .venv by `scripts/setup.sh envoy`).
"""

import argparse
import csv
import sys

from mmdb_writer import MMDBWriter, MmdbU32
from netaddr import IPNetwork, IPRange, IPSet

# (network, asn, country, AS name): what `--demo` maps.
DEMO = [
    ("127.0.0.0/8", 64500, "DE", "Demo loopback"),
    ("192.0.2.0/24", 64501, "FR", "Demo net 1"),
    ("198.51.100.0/24", 64502, "JP", "Demo net 2"),
    ("203.0.113.0/24", 64503, "BR", "Demo net 3"),
]


def parse_asn(text):
    """`64500` or `AS64500` -> 64500; empty or anything else -> None."""
    t = (text or "").strip()
    if t[:2].upper() == "AS":
        t = t[2:]
    return int(t) if t.isdigit() and 0 < int(t) < 2**32 else None


def parse_country(text):
    """A two-letter code, upper-cased; anything else -> None."""
    t = (text or "").strip()
    return t.upper() if len(t) == 2 and t.isalpha() and t.isascii() else None


def csv_rows(path):
    """(network set, asn, country, AS name) for each row of a CSV with a header row."""
    with open(path, newline="", encoding="utf-8") as f:
        for n, row in enumerate(csv.DictReader(f), start=2):
            if row.get("network"):
                net = IPSet([IPNetwork(row["network"].strip())])
            elif row.get("start_ip") and row.get("end_ip"):
                net = IPSet(IPRange(row["start_ip"].strip(), row["end_ip"].strip()).cidrs())
            else:
                raise SystemExit(f"{path}:{n}: no network (or start_ip and end_ip)")
            country = row.get("country_code") or row.get("country")
            yield net, parse_asn(row.get("asn")), parse_country(country), (row.get("as_name") or "").strip()


def build(rows, asn_out=None, country_out=None):
    """Writes the ASN and / or country database from (network, asn, country, AS name) rows;
    a network is a CIDR string or a netaddr IPSet. Returns the number of rows used."""
    asn_db = MMDBWriter(ip_version=6, ipv4_compatible=True, database_type="GeoLite2-ASN",
                        languages=["en"], description="built by distill-guard envoy/geo_db.py")
    country_db = MMDBWriter(ip_version=6, ipv4_compatible=True, database_type="GeoLite2-Country",
                            languages=["en"], description="built by distill-guard envoy/geo_db.py")
    used = 0
    for net, asn, country, name in rows:
        net = net if isinstance(net, IPSet) else IPSet([IPNetwork(net)])
        if asn is not None:
            record = {"autonomous_system_number": MmdbU32(asn)}
            if name:
                record["autonomous_system_organization"] = name
            asn_db.insert_network(net, record)
        if country is not None:
            country_db.insert_network(net, {"country": {"iso_code": country}})
        used += asn is not None or country is not None
    if asn_out:
        asn_db.to_db_file(asn_out)
    if country_out:
        country_db.to_db_file(country_out)
    return used


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("csv", nargs="?", help="CSV with network, asn, country_code (e.g. IPinfo Lite)")
    ap.add_argument("--demo", action="store_true", help="the demo ranges instead of a CSV")
    ap.add_argument("--asn-out", help="ASN database to write (name must end in .mmdb)")
    ap.add_argument("--country-out", help="country database to write (name must end in .mmdb)")
    args = ap.parse_args(argv)
    if bool(args.csv) == args.demo:
        ap.error("give a CSV or --demo")
    if not (args.asn_out or args.country_out):
        ap.error("give --asn-out and / or --country-out")
    for out in (args.asn_out, args.country_out):
        if out and not out.endswith(".mmdb"):
            ap.error(f"{out}: Envoy only accepts database files named *.mmdb")
    rows = DEMO if args.demo else csv_rows(args.csv)
    n = build(rows, args.asn_out, args.country_out)
    print(f"geo_db.py: {n} networks -> {', '.join(p for p in (args.asn_out, args.country_out) if p)}", file=sys.stderr)


if __name__ == "__main__":
    main(sys.argv[1:])
