#!/usr/bin/env bash
# The fleet demo: Redis (with the store function), the webdis bridge and three Envoy nodes
# syncing through it, on 127.0.0.1. Prints requests to try and where to watch the fleet
# counts; Ctrl-C stops everything.  usage: scripts/fleet-demo.sh [POLICY] (default filters/default.json)
# Ports from BASE_PORT (10000): nodes 10000-10002, their admin 10010-10012, webdis 10020,
# Redis 10021, origin 10022. See fleet/demo.py.
set -euo pipefail
cd "$(dirname "$0")/.."
POLICY=${1:-filters/default.json}
[ -f "$POLICY" ] || { echo "no such policy file: $POLICY" >&2; exit 2; }
scripts/setup.sh envoy fleet
scripts/build.sh envoy
# Envoy gets SIGTERM when its parent exits: demo.py stays its parent until Ctrl-C.
exec python3 fleet/demo.py --policy "$POLICY" --base-port "${BASE_PORT:-10000}"
