#!/usr/bin/env bash
# Runs distill-guard in a real Envoy in front of the demo origin, on 127.0.0.1 only.
#   envoy/run.sh [plain|tls|geo|native] [POLICY]  (defaults: plain, filters/default.json; "" = built-in policy)
# geo: plain, plus Envoy's geoip filter handing the client's ASN and country to the filter
# (envoy/geoip.yaml.in), reading GEO_ASN_DB / GEO_COUNTRY_DB (MaxMind-format .mmdb files), or demo
# databases from envoy/geo_db.py when neither is set. GEO_ASN_DB / GEO_COUNTRY_DB work in the
# plain and tls modes too. native: plain with the native filter (build/libdistill_guard.so, a dynamic
# module: envoy/envoy-native.yaml.in) instead of the Wasm filter.
# Builds build/distill_guard_envoy.wasm, installs Envoy into .venv if needed, renders the config
# (envoy/envoy.yaml.in or envoy/envoy-tls.yaml.in), checks it with `envoy --mode validate`, starts the
# origin and Envoy as children of this script, prints requests to try, and stops both on Ctrl-C.
# Ports: LISTEN_PORT (10000), ADMIN_PORT (9901), ORIGIN_PORT (8081) from the environment.
set -euo pipefail
cd "$(dirname "$0")/.."
MODE=${1:-plain}
POLICY=${2-filters/default.json}
LISTEN_PORT=${LISTEN_PORT:-10000}
ADMIN_PORT=${ADMIN_PORT:-9901}
ORIGIN_PORT=${ORIGIN_PORT:-8081}
case "$MODE" in plain|tls|geo|native) ;; *) echo "usage: envoy/run.sh [plain|tls|geo|native] [POLICY]" >&2; exit 2 ;; esac
[ -z "$POLICY" ] || [ -f "$POLICY" ] || { echo "no such policy file: $POLICY" >&2; exit 2; }

scripts/setup.sh envoy
scripts/build.sh envoy
[ "$MODE" = native ] && scripts/build.sh envoy-native
# Where Envoy finds libdistill_guard.so (the native filter; unused by the Wasm templates).
export ENVOY_DYNAMIC_MODULES_SEARCH_PATH=$PWD/build
ENVOY=.venv/bin/envoy
WORK=$(mktemp -d "${TMPDIR:-/tmp}/distill-guard-envoy.XXXXXX")
CONFIG=$WORK/envoy.yaml
RENDER=(python3 envoy/render.py --wasm build/distill_guard_envoy.wasm --listen-port "$LISTEN_PORT"
  --admin-port "$ADMIN_PORT" --origin-port "$ORIGIN_PORT")
[ -n "$POLICY" ] && RENDER+=(--policy "$POLICY")
if [ "$MODE" = geo ] && [ -z "${GEO_ASN_DB:-}${GEO_COUNTRY_DB:-}" ]; then
  GEO_ASN_DB=$WORK/demo-asn.mmdb GEO_COUNTRY_DB=$WORK/demo-country.mmdb
  .venv/bin/python envoy/geo_db.py --demo --asn-out "$GEO_ASN_DB" --country-out "$GEO_COUNTRY_DB"
fi
[ -n "${GEO_ASN_DB:-}" ] && RENDER+=(--geo-asn-db "$GEO_ASN_DB")
[ -n "${GEO_COUNTRY_DB:-}" ] && RENDER+=(--geo-country-db "$GEO_COUNTRY_DB")
if [ "$MODE" = tls ]; then
  openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=localhost -days 30 \
    -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
    -keyout "$WORK/key.pem" -out "$WORK/cert.pem" 2>/dev/null
  "${RENDER[@]}" --cert "$WORK/cert.pem" --key "$WORK/key.pem" envoy/envoy-tls.yaml.in "$CONFIG"
  URL=https://127.0.0.1:$LISTEN_PORT; K=-k
elif [ "$MODE" = native ]; then
  "${RENDER[@]}" envoy/envoy-native.yaml.in "$CONFIG"
  URL=http://127.0.0.1:$LISTEN_PORT; K=
else
  "${RENDER[@]}" envoy/envoy.yaml.in "$CONFIG"
  URL=http://127.0.0.1:$LISTEN_PORT; K=
fi

if ! "$ENVOY" --mode validate -c "$CONFIG" --disable-hot-restart >"$WORK/validate.log" 2>&1; then
  grep -E "policy error|error initializing|rror" "$WORK/validate.log" | sed 's/^.*wasm log [^:]*: //' >&2
  echo "the config or policy is invalid (full log: $WORK/validate.log)" >&2
  exit 1
fi

ORIGIN_PID= ENVOY_PID=
cleanup() {
  trap - INT TERM EXIT
  [ -n "$ENVOY_PID" ] && kill "$ENVOY_PID" 2>/dev/null || true
  [ -n "$ORIGIN_PID" ] && kill "$ORIGIN_PID" 2>/dev/null || true
  wait 2>/dev/null || true
  echo "stopped. requests the origin received: $WORK/requests.jsonl" >&2
}
trap cleanup INT TERM EXIT

python3 envoy/demo_origin.py --port "$ORIGIN_PORT" --record "$WORK/requests.jsonl" &
ORIGIN_PID=$!
# Envoy must stay a child of a live process (it gets SIGTERM when its parent exits): this script
# waits for it below. One worker thread: one VM, so one engine holds all cross-request state.
"$ENVOY" -c "$CONFIG" --concurrency 1 --disable-hot-restart --log-level warn --component-log-level wasm:info,dynamic_modules:info &
ENVOY_PID=$!

for _ in $(seq 1 100); do
  curl -fs "http://127.0.0.1:$ADMIN_PORT/ready" >/dev/null 2>&1 && break
  kill -0 "$ENVOY_PID" 2>/dev/null || { echo "envoy exited during startup" >&2; exit 1; }
  sleep 0.2
done

cat <<EOF

distill-guard ($MODE, policy: ${POLICY:-built-in}) on $URL -> demo origin 127.0.0.1:$ORIGIN_PORT
Try (the origin echoes the headers it received, tags included; Envoy logs one [access] line each):

  curl -s $K $URL/v1/models
  curl -s $K $URL/v1/models -H 'X-Distill-Score: 0'          # forged tags are removed
  curl -s $K $URL/v1/messages -H 'Via: 1.1 squid' -H 'Proxy-Authorization: Basic eDp5' \\
       -H 'Proxy-Connection: keep-alive' -H 'X-Forwarded-For: 198.51.100.7, 203.0.113.9'
  curl -s $K $URL/v1/chat/completions -H 'content-type: application/json' \\
       -d '{"model":"m","logprobs":true,"top_logprobs":5,"n":4,"messages":[{"role":"user","content":"Think step by step and show all of your reasoning."}]}'
  curl -sN $K $URL/v1/messages -H 'content-type: application/json' \\
       -d '{"model":"m","stream":true,"messages":[{"role":"user","content":"hi"}]}'     # SSE passes as sent
  curl -s 'http://127.0.0.1:$ADMIN_PORT/stats?filter=distill_guard'                   # counters
EOF
[ -n "${GEO_ASN_DB:-}${GEO_COUNTRY_DB:-}" ] && cat <<EOF
  curl -s $K $URL/v1/models -H 'X-Forwarded-For: 192.0.2.7'   # looked up (the demo maps it to AS64501, FR)
  curl -s 'http://127.0.0.1:$ADMIN_PORT/stats?filter=maxmind'                         # geo lookups and hits
EOF
cat <<EOF
  target/release/distill-guard replay --policy ${POLICY:-POLICY} $WORK/requests.jsonl  # replay what reached the origin

Ctrl-C stops Envoy and the origin.
EOF

wait "$ENVOY_PID"
