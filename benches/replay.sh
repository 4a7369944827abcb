#!/usr/bin/env bash
# Replay throughput on one core: header-only records and 4 KB Messages records, default policy
# (state on). usage: benches/replay.sh [N]   (default 1,000,000 records each)
# Prints records per second of wall time and per second of CPU time (user + sys) of the replay
# process: on a machine shared with other jobs the second is the steadier number.
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-1000000}
cargo build -q --release --bin distill-guard
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
for kind in headers body4k; do
  python3 benches/gen_records.py "$n" "$kind" > "$tmp/$kind.jsonl"
  TIMEFORMAT="%R %U %S"
  t=$( { time taskset -c 0 target/release/distill-guard replay --policy filters/default.json "$tmp/$kind.jsonl" > "$tmp/out.jsonl" 2>/dev/null; } 2>&1 )
  python3 - "$kind" "$n" $t "$(stat -c %s "$tmp/$kind.jsonl")" <<'PY'
import sys
kind, n, real, user, sys_, size = sys.argv[1], int(sys.argv[2]), *map(float, sys.argv[3:6]), int(sys.argv[6])
print(f"replay {kind:8s}: {n} records in {real:.2f} s = {n / real:,.0f} records/s on one core, "
      f"{n / (user + sys_):,.0f} per CPU second ({size / n:.0f} B/record)")
PY
done
