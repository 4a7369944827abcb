#!/usr/bin/env bash
# Envoy memory bench: resident memory of Envoy (--concurrency 1) running distill-guard with the
# default policy while 1,000,000 requests that each look new arrive (random accounts, client
# addresses via X-Forwarded-For, header shapes, prompts: benches/envoy/memory.lua).
#   usage: benches/envoy_memory.sh [--requests N] [--step N] [--max-seconds S] [--no-build]
#          (defaults: 1,000,000 requests, a sample every 100,000, at most 1,200 s)
# The policy is filters/default.json with proxy.trusted_hops = 1 (so the X-Forwarded-For address is
# the client); `distill-guard check-policy` prints the state memory bound it implies. VmRSS comes
# from /proc/PID/status: before any request, then each time Envoy's downstream request counter
# passes a multiple of the step. For reference, the same Envoy first runs the same policy with
# `state.enabled: false` for 20,000 requests: the difference is what the state holds resident
# (its tables are allocated, and written, up front). Then, idle, VmRSS after start-up with and
# without state at --concurrency 1, 2 and 3: Envoy runs one Wasm VM per worker plus one on the
# main thread, and each holds an engine. Origin: a second Envoy (direct_response); load: wrk -t1 -c16.
# Prints a Markdown table; the series also goes to test-output/bench/envoy_memory.jsonl.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
REQUESTS=1000000 STEP=100000 MAX_SECONDS=1200 BUILD=1
while [ $# -gt 0 ]; do
  case "$1" in
    --requests) REQUESTS=$2; shift 2 ;;
    --step) STEP=$2; shift 2 ;;
    --max-seconds) MAX_SECONDS=$2; shift 2 ;;
    --no-build) BUILD=0; shift ;;
    *) sed -n '2,6p' "$0" >&2; exit 2 ;;
  esac
done
PORT_BASE=${PORT_BASE:-18620}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/dg-envoy-mem.XXXXXX")
# shellcheck source=benches/envoy_lib.sh
. "$ROOT/benches/envoy_lib.sh"
WRK_PID=
trap '[ -n "$WRK_PID" ] && kill "$WRK_PID" 2>/dev/null; stop_all; rm -rf "$WORK"' EXIT
trap 'exit 130' INT TERM
OUT=$ROOT/test-output/bench
mkdir -p "$OUT"

[ "$BUILD" = 1 ] && build_modules
cargo build -q --release --bin distill-guard   # always: a stale CLI would print another policy's bound
python3 - filters/default.json "$WORK/policy.json" <<'PY'
import json, sys
p = json.load(open(sys.argv[1]))
p.setdefault("proxy", {})["trusted_hops"] = 1
p["name"] = p.get("name", "") + ", trusted_hops 1 (memory bench)"
json.dump(p, open(sys.argv[2], "w"), indent=1)
p.setdefault("state", {})["enabled"] = False
json.dump(p, open(sys.argv[2].replace(".json", "-nostate.json"), "w"), indent=1)
PY
BOUND=$(target/release/distill-guard check-policy "$WORK/policy.json" 2>&1 || true)
log "check-policy: $BOUND"
log "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"

rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$PROXY_PID/status"; }
start_origin
start_proxy "$WORK/policy-nostate.json"
sleep 1
NOSTATE_START=$(rss_kb)
taskset -c "$CLIENT_CPU" wrk -t1 -c16 -d300s --timeout 5s -s "$ROOT/benches/envoy/memory.lua" \
  "http://127.0.0.1:$LISTEN_PORT" > "$WORK/wrk0.out" 2>&1 &
WRK_PID=$!
for _ in $(seq 1 3000); do
  n=$(curl -fs "http://127.0.0.1:$ADMIN_PORT/stats?filter=%5Ehttp%5C.bench%5C.downstream_rq_total%24" | grep -o '[0-9]*$' || echo 0)
  [ "${n:-0}" -ge 20000 ] && break
  sleep 0.1
done
kill -INT "$WRK_PID" 2>/dev/null || true; wait "$WRK_PID" 2>/dev/null || true; WRK_PID=
NOSTATE_END=$(rss_kb)
log "state disabled: VmRSS $NOSTATE_START kB at start, $NOSTATE_END kB after ${n:-?} requests"
stop_proxy
declare -A IDLE
for c in 1 2 3; do
  for pol in nostate state; do
    f=$WORK/policy.json; [ $pol = nostate ] && f=$WORK/policy-nostate.json
    start_proxy "$f" "$c"; sleep 2; IDLE[$pol$c]=$(rss_kb); stop_proxy
  done
  log "idle, --concurrency $c: VmRSS ${IDLE[nostate$c]} kB without state, ${IDLE[state$c]} kB with state"
done
start_proxy "$WORK/policy.json"
sleep 1
taskset -c "$CLIENT_CPU" wrk -t1 -c16 -d"${MAX_SECONDS}s" --timeout 5s -s "$ROOT/benches/envoy/memory.lua" \
  "http://127.0.0.1:$LISTEN_PORT" > "$WORK/wrk.out" 2>&1 &
WRK_PID=$!
python3 - "$PROXY_PID" "$WRK_PID" "$ADMIN_PORT" "$REQUESTS" "$STEP" "$MAX_SECONDS" "$OUT/envoy_memory.jsonl" <<'PY'
import json, os, signal, sys, time, urllib.request
pid, wrk, admin, total, step, limit, out = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), int(sys.argv[5]), float(sys.argv[6]), sys.argv[7]

def rss_kb():
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])

def count():
    url = f"http://127.0.0.1:{admin}/stats?filter=%5Ehttp%5C.bench%5C.downstream_rq_(total%7C4xx%7C5xx)%24"
    stats = dict(l.split(": ") for l in urllib.request.urlopen(url, timeout=5).read().decode().split("\n") if ": " in l)
    return {k.rsplit(".", 1)[1]: int(v) for k, v in stats.items()}

start = time.monotonic()
series = [{"requests": 0, "rss_kb": rss_kb(), "seconds": 0.0, "4xx": 0, "5xx": 0}]
sys.stderr.write("[bench] before any request: VmRSS %d kB\n" % series[0]["rss_kb"])
nxt = step
while nxt <= total and time.monotonic() - start < limit:
    c = count()
    if c["downstream_rq_total"] >= nxt:
        row = {"requests": c["downstream_rq_total"], "rss_kb": rss_kb(), "seconds": round(time.monotonic() - start, 1),
               "4xx": c["downstream_rq_4xx"], "5xx": c["downstream_rq_5xx"]}
        series.append(row)
        sys.stderr.write("[bench] %(requests)d requests: VmRSS %(rss_kb)d kB (%(seconds)s s)\n" % row)
        nxt += step
    else:
        time.sleep(0.05)
os.kill(wrk, signal.SIGINT)
with open(out, "w") as f:
    for r in series:
        f.write(json.dumps(r) + "\n")
if nxt <= total:
    sys.exit(f"stopped after {limit} s with only {series[-1]['requests']} requests")
PY
wait "$WRK_PID" 2>/dev/null || true
WRK_PID=
log "wrk: $(tail -1 "$WORK/wrk.out")"
stop_all
log "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
python3 - "$OUT/envoy_memory.jsonl" "$BOUND" "$NOSTATE_START" "$NOSTATE_END" "${IDLE[nostate1]} ${IDLE[state1]} ${IDLE[nostate2]} ${IDLE[state2]} ${IDLE[nostate3]} ${IDLE[state3]}" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
bound = sys.argv[2].strip().split(": ", 1)[-1]
print(f"policy: filters/default.json with proxy.trusted_hops 1: {bound}\n")
print(f"Reference, same policy with state disabled: VmRSS {int(sys.argv[3]) / 1024:.1f} MiB at start, "
      f"{int(sys.argv[4]) / 1024:.1f} MiB after 20,000 requests; with state, before any request: "
      f"{rows[0]['rss_kb'] / 1024:.1f} MiB ({(rows[0]['rss_kb'] - int(sys.argv[4])) / 1024:+.1f} MiB).\n")
print("| requests | VmRSS MiB | change vs before MiB | 4xx so far | 5xx so far |")
print("|---:|---:|---:|---:|---:|")
for r in rows:
    print(f"| {r['requests']:,} | {r['rss_kb'] / 1024:.1f} | {(r['rss_kb'] - rows[0]['rss_kb']) / 1024:+.1f} | {r['4xx']:,} | {r['5xx']:,} |")
idle = [int(x) for x in sys.argv[5].split()]
print("\nIdle after start-up (one engine per Wasm VM: one VM per worker plus one on the main thread):\n")
print("| --concurrency | VmRSS without state MiB | VmRSS with state MiB | difference MiB |")
print("|---:|---:|---:|---:|")
for i, c in enumerate((1, 2, 3)):
    a, b = idle[2 * i], idle[2 * i + 1]
    print(f"| {c} | {a / 1024:.1f} | {b / 1024:.1f} | {(b - a) / 1024:+.1f} |")
PY
