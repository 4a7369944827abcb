#!/usr/bin/env bash
# Runs the distill-guard edge worker locally: a demo origin plus workerd in front of it.
#   edge/run.sh [POLICY_FILE]        (default filters/default.json; "-" = built-in defaults)
#   env: PORT=8787 (worker), ORIGIN_PORT=8788 (origin), SKIP_BUILD=1 (reuse edge/pkg)
# The origin is envoy/demo_origin.py when present, else edge/origin.mjs. Both bind
# 127.0.0.1 only and stop when this script stops (Ctrl-C).
set -euo pipefail
cd "$(dirname "$0")/.."
POLICY_FILE=${1:-filters/default.json}
PORT=${PORT:-8787}
ORIGIN_PORT=${ORIGIN_PORT:-8788}
WORKERD=node_modules/@cloudflare/workerd-linux-64/bin/workerd

if [ "${SKIP_BUILD:-0}" != 1 ]; then
  scripts/setup.sh web
  scripts/build.sh web
fi
[ -f edge/pkg/distill_guard_bg.wasm ] || { echo "edge/pkg missing: run scripts/build.sh web" >&2; exit 1; }

if [ "$POLICY_FILE" = "-" ]; then
  unset DISTILL_GUARD_POLICY
else
  DISTILL_GUARD_POLICY=$(cat "$POLICY_FILE")
  export DISTILL_GUARD_POLICY
fi

if [ -f envoy/demo_origin.py ]; then
  python3 envoy/demo_origin.py --port "$ORIGIN_PORT" &
else
  node edge/origin.mjs "$ORIGIN_PORT" &
fi
ORIGIN_PID=$!
trap 'kill "$ORIGIN_PID" 2>/dev/null || true' EXIT

cat >&2 <<MSG
distill-guard worker on http://127.0.0.1:$PORT -> origin 127.0.0.1:$ORIGIN_PORT (policy: $POLICY_FILE)
try:
  curl -si http://127.0.0.1:$PORT/v1/models
  curl -si -H 'Via: 1.1 squid' -H 'Proxy-Connection: keep-alive' http://127.0.0.1:$PORT/v1/models
  curl -sN -X POST -H 'content-type: application/json' -d '{"stream":true,"messages":[]}' http://127.0.0.1:$PORT/v1/messages
MSG
"$WORKERD" serve edge/config.capnp --socket-addr "http=127.0.0.1:$PORT" --external-addr "origin=127.0.0.1:$ORIGIN_PORT"
