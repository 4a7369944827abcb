#!/usr/bin/env bash
# Replay throughput on one core: header-only records and 4 KB Messages records, default policy
# (state on). usage: benches/replay.sh [N]   (default 1,000,000 records each)
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-1000000}
cargo build -q --release --bin distill-guard
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
for kind in headers body4k; do
  python3 benches/gen_records.py "$n" "$kind" > "$tmp/$kind.jsonl"
  start=$(date +%s.%N)
  taskset -c 0 target/release/distill-guard replay --policy filters/default.json "$tmp/$kind.jsonl" > "$tmp/out.jsonl" 2>/dev/null
  end=$(date +%s.%N)
  python3 - "$kind" "$n" "$start" "$end" "$(stat -c %s "$tmp/$kind.jsonl")" <<'PY'
import sys
kind, n, s, e, size = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5])
print(f"replay {kind:8s}: {n} records in {e - s:.2f} s = {n / (e - s):,.0f} records/s on one core ({size / n:.0f} B/record)")
PY
done
