# Shared by benches/envoy_load.sh and benches/envoy_memory.sh (sourced, not run).
# Renders the bench configs, starts / stops the origin and the Envoy under test, all on 127.0.0.1.
# Expects: ROOT (repo root), WORK (temp dir), PORT_BASE.

ENVOY=$ROOT/.venv/bin/envoy
# The distill-guard module under test (scripts/build.sh envoy writes it; DG_WASM overrides).
DG_WASM=${DG_WASM:-$ROOT/build/distill_guard_envoy.wasm}
LISTEN_PORT=$PORT_BASE ADMIN_PORT=$((PORT_BASE + 1)) ORIGIN_PORT=$((PORT_BASE + 2)) ORIGIN_ADMIN_PORT=$((PORT_BASE + 3))
ORIGIN_PID= PROXY_PID=
# Core pinning on a 2-core machine: the Envoy under test gets core 0 to itself; the origin and
# the load generator share core 1. PROXY_CPU / CLIENT_CPU override.
PROXY_CPU=${PROXY_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}

log() { echo "[bench] $*" >&2; }

# render TEMPLATE OUT NAME=VALUE...   fills ${NAME} placeholders (unknown ones are an error)
render() {
  python3 - "$@" <<'PY'
import string, sys
tpl, out, *pairs = sys.argv[1:]
values = dict(p.split("=", 1) for p in pairs)
text = string.Template(open(tpl).read()).substitute(values)
open(out, "w").write(text)
PY
}

# filter_yaml CONFIG OUT   writes the http_filters entries of one configuration
#   none | noop | noop-native | lua | probe:OP:N (benches/hostcall-probe) | POLICY_FILE (distill-guard with
#   that policy; the native filter when DG_NATIVE is set)
filter_yaml() {
  local cfg=$1 out=$2
  case "$cfg" in
    none) : > "$out" ;;
    lua) cp "$ROOT/benches/envoy/filter-lua.yaml.in" "$out" ;;
    noop-native) render "$ROOT/benches/envoy/filter-native.yaml.in" "$out" MODULE=noop_native CONFIG_JSON='""' ;;
    noop) render "$ROOT/benches/envoy/filter-wasm.yaml.in" "$out" ROOT_ID=noop \
            WASM="${NOOP_WASM:-$ROOT/benches/noop-filter/target/wasm32-wasip1/release/noop_filter.wasm}" CONFIG_JSON='""' ;;
    probe:*) render "$ROOT/benches/envoy/filter-wasm.yaml.in" "$out" ROOT_ID=probe \
            WASM="$ROOT/benches/hostcall-probe/target/wasm32-wasip1/release/hostcall_probe.wasm" "CONFIG_JSON=\"${cfg#probe:}\"" ;;
    *) local json; json=$(python3 -c 'import json,sys; print(json.dumps(open(sys.argv[1]).read()))' "$cfg")
       if [ -n "${DG_NATIVE:-}" ]; then # the native filter (a dynamic module) with this policy
         render "$ROOT/benches/envoy/filter-native.yaml.in" "$out" MODULE=distill_guard "CONFIG_JSON=$json"
       else
         render "$ROOT/benches/envoy/filter-wasm.yaml.in" "$out" ROOT_ID=distill_guard \
           WASM="$DG_WASM" "CONFIG_JSON=$json"
       fi ;;
  esac
}

wait_ready() { # ADMIN_PORT PID NAME
  for _ in $(seq 1 100); do
    if curl -fs "http://127.0.0.1:$1/ready" >/dev/null 2>&1; then return 0; fi
    kill -0 "$2" 2>/dev/null || { log "$3 exited during start-up (log: $WORK/$3.log)"; tail -5 "$WORK/$3.log" >&2; return 1; }
    sleep 0.1
  done
  log "$3 not ready after 10 s"; return 1
}

start_origin() {
  render "$ROOT/benches/envoy/origin.yaml.in" "$WORK/origin.yaml" ORIGIN_PORT=$ORIGIN_PORT ORIGIN_ADMIN_PORT=$ORIGIN_ADMIN_PORT
  taskset -c "$CLIENT_CPU" "$ENVOY" -c "$WORK/origin.yaml" --concurrency 1 --disable-hot-restart \
    --base-id $((PORT_BASE + 1)) --log-level error > "$WORK/origin.log" 2>&1 &
  ORIGIN_PID=$!
  wait_ready "$ORIGIN_ADMIN_PORT" "$ORIGIN_PID" origin
}

# The origin's connections and requests so far ("CX RQ", from its admin counters), and connections
# per request since such a reading (`origin_reuse "CX RQ"`): about 0 when the host under test keeps
# its upstream connections; 1 would put a TCP connect per request into every number.
origin_counts() {
  curl -fs "http://127.0.0.1:$ORIGIN_ADMIN_PORT/stats?filter=^http.origin.downstream_(cx|rq)_total$" |
    awk -F': ' '$1 ~ /cx_total$/ {c=$2} $1 ~ /rq_total$/ {r=$2} END {print c + 0, r + 0}'
}
origin_reuse() {
  origin_counts | awk -v before="$1" '{split(before, b, " "); printf "%.4f", ($2 > b[2] ? ($1 - b[1]) / ($2 - b[2]) : 0)}'
}

start_proxy() { # CONFIG [CONCURRENCY]   (EXTRA_FILTERS / ROUTE_EXTRA: files appended after the filter / to the route)
  filter_yaml "$1" "$WORK/filters.yaml"
  [ -z "${EXTRA_FILTERS:-}" ] || cat "$EXTRA_FILTERS" >> "$WORK/filters.yaml"
  render "$ROOT/benches/envoy/proxy.yaml.in" "$WORK/proxy.yaml" LISTEN_PORT=$LISTEN_PORT ADMIN_PORT=$ADMIN_PORT \
    ORIGIN_PORT=$ORIGIN_PORT "HTTP_FILTERS=$(cat "$WORK/filters.yaml")" "ROUTE_EXTRA=$(cat "${ROUTE_EXTRA:-/dev/null}")"
  ENVOY_DYNAMIC_MODULES_SEARCH_PATH=${DG_NATIVE_DIR:-$ROOT/build} taskset -c "$PROXY_CPU" "$ENVOY" -c "$WORK/proxy.yaml" --concurrency "${2:-1}" --disable-hot-restart \
    --base-id "$PORT_BASE" --log-level error > "$WORK/proxy.log" 2>&1 &
  PROXY_PID=$!
  wait_ready "$ADMIN_PORT" "$PROXY_PID" proxy
}

stop_proxy() {
  [ -n "$PROXY_PID" ] || return 0
  kill "$PROXY_PID" 2>/dev/null || true
  wait "$PROXY_PID" 2>/dev/null || true
  PROXY_PID=
}

stop_all() {
  stop_proxy
  if [ -n "$ORIGIN_PID" ]; then kill "$ORIGIN_PID" 2>/dev/null || true; wait "$ORIGIN_PID" 2>/dev/null || true; ORIGIN_PID=; fi
}

# Builds what the benches load: the distill-guard Envoy module, the no-op filter, the host-call probe.
build_modules() {
  (cd "$ROOT" && scripts/setup.sh bench && scripts/build.sh envoy envoy-native)
  (cd "$ROOT/benches/noop-filter" && cargo build -q --release --target wasm32-wasip1)
  # The no-op filter with the Envoy module's export list (scripts/build.sh lean-noop): what
  # exporting only the request callbacks saves, alone (config noop@build/noop_lean.wasm).
  (cd "$ROOT" && scripts/build.sh lean-noop)
  (cd "$ROOT/benches/hostcall-probe" && cargo build -q --release --target wasm32-wasip1)
  (cd "$ROOT/benches/noop-native" && cargo build -q --release)
}
