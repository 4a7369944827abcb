#!/usr/bin/env bash
# The campaign report's cost to the reporting worker (src/main.rs), natively and in V8.
#   usage: benches/campaign-merge/run.sh
set -euo pipefail
cd "$(dirname "$0")"
cargo build -q --release
cargo build -q --release --target wasm32-wasip1
echo "native:"
./target/release/campaign-merge
echo "V8 (node $(node --version), wasm32-wasip1):"
node --no-warnings run.mjs target/wasm32-wasip1/release/campaign-merge.wasm
