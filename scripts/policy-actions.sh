#!/usr/bin/env bash
# What each policy does to the simulated traffic of every scenario, by action: the share of the
# legitimate requests tagged, throttled and denied, and per campaign the share of its requests
# throttled or denied (warm-up included; `quality` reports what is flagged, this what is enforced).
#   usage: scripts/policy-actions.sh SEEDS POLICY...      e.g. scripts/policy-actions.sh 61,62,63 filters/default.json filters/strict.json
# Simulates each scenario of scenarios/ once per seed (into a temporary directory), then replays
# the records through each policy with target/release/distill-guard (built or brought up to date first).
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 2 ] || { sed -n '2,7p' "$0" >&2; exit 2; }
seeds=$1; shift
for p in "$@"; do [ -f "$p" ] || { echo "no such policy: $p" >&2; exit 2; }; done
bin=target/release/distill-guard
cargo build --release -q
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for s in ${seeds//,/ }; do
  for f in scenarios/*.json; do
    "$bin" simulate --scenario "$f" --seed "$s" --out "$work/$(basename "$f" .json)-$s.jsonl" 2>/dev/null
  done
done
for p in "$@"; do
  for r in "$work"/*.jsonl; do
    # replay's summary on stderr: "  label NAME: N records, flagged ...; allow A, tag T, throttle H, deny D"
    "$bin" replay --policy "$p" "$r" 2>&1 >/dev/null | grep '^  label ' | sed "s|^|$(basename "$r" .jsonl) |"
  done | python3 -c '
import collections, re, sys
legit, camp = collections.Counter(), collections.defaultdict(collections.Counter)
for line in sys.stdin:
    m = re.match(r"(\S+)\s+label (\S+): (\d+) records.*allow (\d+), tag (\d+), throttle (\d+), deny (\d+)", line)
    if not m:
        continue
    run, label = m.group(1), m.group(2)
    n, _, tag, thr, deny = map(int, m.groups()[2:])
    if label == "legit":
        legit.update(n=n, tag=tag, thr=thr, deny=deny)
    elif not run.startswith("poisoning-"):
        camp[label].update(n=n, acted=thr + deny)
pct = lambda a, b: 100.0 * a / b if b else 0.0
n = legit["n"]
flagged = legit["tag"] + legit["thr"] + legit["deny"]
print("%s: legitimate %d requests: flagged %.3f %% (tagged %.3f %%, throttled %.3f %%, denied %.3f %%)" % (sys.argv[1], n, pct(flagged, n), pct(legit["tag"], n), pct(legit["thr"], n), pct(legit["deny"], n)))
print("  campaign requests throttled or denied: " + ", ".join("%s %.1f %%" % (k, pct(v["acted"], v["n"])) for k, v in sorted(camp.items())))
' "$p"
done
