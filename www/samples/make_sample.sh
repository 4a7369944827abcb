#!/usr/bin/env bash
# Regenerates the tuning page's sample capture, www/samples/sample.jsonl.gz, with the campaign
# simulator (the same generator as `distill-guard simulate` and the page's own simulator) from
# www/samples/sample-scenario.json and a fixed seed, then prints what the shipped default policy
# gives on it (replay's per-label summary).
#   usage: www/samples/make_sample.sh [SEED]   (default 7)
set -euo pipefail
cd "$(dirname "$0")/../.."
SEED=${1:-7}
BIN=target/release/distill-guard
[ -x "$BIN" ] || cargo build -q --release --bin distill-guard
OUT=www/samples/sample.jsonl.gz
"$BIN" simulate --scenario www/samples/sample-scenario.json --seed "$SEED" | gzip -9n > "$OUT.tmp"
mv "$OUT.tmp" "$OUT"
echo "wrote $OUT ($(stat -c %s "$OUT") bytes)" >&2
gzip -dc "$OUT" | "$BIN" replay --policy filters/default.json > /dev/null
