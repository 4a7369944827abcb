#!/usr/bin/env bash
# Envoy load bench: what the distill-guard filter costs in a real Envoy (--concurrency 1).
#   usage: benches/envoy_load.sh [--duration S] [--configs "none noop shadow default lua"] [--kinds "post get"]
#                                [--no-build]
# Five configurations of the same Envoy, one after the other, on 127.0.0.1 only:
#   none     no filter: the limit                noop  a no-op proxy-wasm filter (benches/noop-filter)
#   shadow   distill-guard, filters/shadow.json  default  distill-guard, filters/default.json
#   lua      an Envoy Lua filter that only hashes the header-name order (what a user might hand-write)
# Origin: a second Envoy answering with direct_response. Load: wrk (Debian) with benches/envoy/load.lua:
#   post = POST /v1/messages, the 12 headers of the official Python SDK + a ~4 KB body, 25,000 accounts;
#   get  = GET /v1/models with the same headers.
# Phase 1, throughput: wrk -t1 -c32 for S seconds (default 10) after a 2 s warm-up -> requests/s, and
#   the CPU time Envoy spent per request (utime+stime from /proc/PID/stat; robust to other load).
# Phase 2, latency at a fixed rate of ~half the limit: wrk paced with a Lua delay() (1 ms after each
#   response, per connection), the connection count calibrated once on `none` so that it offers half of
#   `none`'s limit; the same offered load goes to every configuration -> p50 / p99 and added vs none.
# The Envoy under test is pinned to core 0; the origin and wrk share core 1 (PROXY_CPU / CLIENT_CPU).
# Prints a Markdown table; raw wrk results go to test-output/bench/envoy_load.jsonl.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
DURATION=10 CONFIGS="none noop shadow default lua" KINDS="post get" BUILD=1
while [ $# -gt 0 ]; do
  case "$1" in
    --duration) DURATION=$2; shift 2 ;;
    --configs) CONFIGS=$2; shift 2 ;;
    --kinds) KINDS=$2; shift 2 ;;
    --no-build) BUILD=0; shift ;;
    *) sed -n '2,4p' "$0" >&2; exit 2 ;;
  esac
done
PORT_BASE=${PORT_BASE:-18600}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/dg-envoy-load.XXXXXX")
# shellcheck source=benches/envoy_lib.sh
. "$ROOT/benches/envoy_lib.sh"
trap 'stop_all; rm -rf "$WORK"' EXIT
trap 'exit 130' INT TERM
OUT=$ROOT/test-output/bench
mkdir -p "$OUT"
RAW=$OUT/envoy_load.jsonl
: > "$RAW"

[ "$BUILD" = 1 ] && build_modules
case " $CONFIGS " in *" none "*) ;; *) echo "--configs must include none (the limit)" >&2; exit 2 ;; esac
make_body "$WORK/body.json"
export BENCH_BODY=$WORK/body.json
log "load average before: $(cut -d' ' -f1-3 /proc/loadavg); envoy $("$ENVOY" --version | grep -o '[0-9]*\.[0-9]*\.[0-9]*/' | tr -d /)"

policy_of() { case "$1" in shadow) echo filters/shadow.json ;; default) echo filters/default.json ;; *) echo "$1" ;; esac; }

wrk_run() { # KIND CONNECTIONS SECONDS [DELAY_MS] -> one JSON line
  BENCH_KIND=$1 BENCH_DELAY_MS=${4:-} taskset -c "$CLIENT_CPU" wrk -t1 -c"$2" -d"$3"s --timeout 5s \
    -s "$ROOT/benches/envoy/load.lua" "http://127.0.0.1:$LISTEN_PORT" | tail -1
}

cpu_ticks() { awk '{print $14 + $15}' "/proc/$PROXY_PID/stat"; } # utime + stime of all Envoy threads

field() { python3 -c 'import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$1" "$2"; }

start_origin
declare -A LIMIT CONNS
for cfg in $CONFIGS; do
  start_proxy "$(policy_of "$cfg")"
  for kind in $KINDS; do
    wrk_run "$kind" 32 2 >/dev/null # warm-up: connections, VM, state
    t0=$(cpu_ticks)
    tp=$(wrk_run "$kind" 32 "$DURATION")
    # CPU time the Envoy under test spent per request: robust to other load on the machine.
    cpu_us=$(python3 -c "import os; print(round(($(cpu_ticks) - $t0) * 1e6 / os.sysconf('SC_CLK_TCK') / max(1, $(field "$tp" requests)), 1))")
    if [ "$cfg" = none ]; then
      LIMIT[$kind]=$(field "$tp" rps)
      # Calibrate the paced run: per-connection rate with 1 ms think time, then connections for half the limit.
      cal=$(wrk_run "$kind" 4 3 1)
      per=$(python3 -c "print(float('$(field "$cal" rps)') / 4)")
      CONNS[$kind]=$(python3 -c "import math; print(max(1, round(${LIMIT[$kind]} / 2 / $per)))")
      log "$kind: limit ${LIMIT[$kind]} req/s; paced run: ${CONNS[$kind]} connections x 1 ms delay (${per} req/s each)"
    fi
    lat=$(wrk_run "$kind" "${CONNS[$kind]}" "$DURATION" 1)
    stats=$(curl -fs "http://127.0.0.1:$ADMIN_PORT/stats?filter=wasmcustom" | tr '\n' ' ' || true)
    echo "{\"config\":\"$cfg\",\"kind\":\"$kind\",\"throughput\":$tp,\"cpu_us_per_req\":$cpu_us,\"latency\":$lat,\"load\":\"$(cut -d' ' -f1 /proc/loadavg)\",\"wasm_stats\":\"${stats% }\"}" >> "$RAW"
    log "$cfg/$kind: $(field "$tp" rps) req/s, $cpu_us CPU us/req; paced $(field "$lat" rps) req/s p50 $(field "$lat" p50_us) us p99 $(field "$lat" p99_us) us"
  done
  stop_proxy
done
stop_all
log "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"

python3 - "$RAW" "$DURATION" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
limit = {r["kind"]: r for r in rows if r["config"] == "none"}
names = {"none": "no filter (limit)", "noop": "no-op Wasm filter", "shadow": "distill-guard, shadow.json",
         "default": "distill-guard, default.json", "lua": "Lua header-order hash"}
print(f"wrk -t1 -c32 -d{sys.argv[2]}s (throughput); paced wrk, same offered load for all (latency); Envoy --concurrency 1\n")
print("| request | configuration | req/s | x limit | Envoy CPU us/req | added CPU us/req | non-2xx | paced req/s | p50 us | p99 us | added p50 us | added p99 us |")
print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
for r in rows:
    t, l, base = r["throughput"], r["latency"], limit[r["kind"]]["latency"]
    ratio = t["rps"] / limit[r["kind"]]["throughput"]["rps"]
    errs = t["status_err"] + t["connect_err"] + t["read_err"] + t["timeouts"]
    cpu, cpu0 = r["cpu_us_per_req"], limit[r["kind"]]["cpu_us_per_req"]
    print(f"| {r['kind']} | {names.get(r['config'], r['config'])} | {t['rps']:,.0f} | {ratio:.3f} | {cpu:.1f} | {cpu - cpu0:+.1f} | {errs} | {l['rps']:,.0f} "
          f"| {l['p50_us']} | {l['p99_us']} | {l['p50_us'] - base['p50_us']:+d} | {l['p99_us'] - base['p99_us']:+d} |")
PY
