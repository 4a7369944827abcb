#!/usr/bin/env bash
# Envoy memory bench: resident memory of Envoy (--concurrency 1) running distill-guard with the
# default policy while 1,000,000 requests that each look new arrive (random accounts, client
# addresses via X-Forwarded-For, header shapes, prompts: benches/envoy/memory.lua).
#   usage: benches/envoy_memory.sh [--requests N] [--step N] [--max-seconds S] [--no-build]
#          (defaults: 1,000,000 requests, a sample every 100,000, at most 1,200 s)
# The policy is filters/default.json with proxy.trusted_hops = 1 (so the X-Forwarded-For address is
# the client); `distill-guard check-policy` prints the state memory bound it implies. VmRSS comes
# from /proc/PID/status: before any request, then each time Envoy's downstream request counter
# passes a multiple of the step. Origin: a second Envoy (direct_response); load: wrk -t1 -c16.
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

if [ "$BUILD" = 1 ]; then
  build_modules
  cargo build -q --release --bin distill-guard
fi
python3 - filters/default.json "$WORK/policy.json" <<'PY'
import json, sys
p = json.load(open(sys.argv[1]))
p.setdefault("proxy", {})["trusted_hops"] = 1
p["name"] = p.get("name", "") + ", trusted_hops 1 (memory bench)"
json.dump(p, open(sys.argv[2], "w"), indent=1)
PY
BOUND=$(target/release/distill-guard check-policy "$WORK/policy.json" 2>&1 || true)
log "check-policy: $BOUND"
log "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"

start_origin
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
python3 - "$OUT/envoy_memory.jsonl" "$BOUND" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
print(f"policy: filters/default.json with proxy.trusted_hops 1; check-policy: {sys.argv[2].strip()}\n")
print("| requests | VmRSS MiB | change vs before MiB | 4xx so far | 5xx so far |")
print("|---:|---:|---:|---:|---:|")
for r in rows:
    print(f"| {r['requests']:,} | {r['rss_kb'] / 1024:.1f} | {(r['rss_kb'] - rows[0]['rss_kb']) / 1024:+.1f} | {r['4xx']:,} | {r['5xx']:,} |")
PY
