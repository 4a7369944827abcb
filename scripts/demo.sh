#!/usr/bin/env bash
# The main job: build the Envoy filter, install Envoy, start it on 127.0.0.1:10000 with the filter in
# front of a demo origin, and print curl lines to try. Ctrl-C stops everything.
#   scripts/demo.sh [plain|tls|geo] [POLICY]     (defaults: plain filters/default.json)
set -euo pipefail
cd "$(dirname "$0")/.."
exec envoy/run.sh "${1:-plain}" "${2:-filters/default.json}"
