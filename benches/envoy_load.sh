#!/usr/bin/env bash
# Envoy load bench: what the distill-guard filter costs in a real Envoy (--concurrency 1).
#   usage: benches/envoy_load.sh [--duration S] [--repeats N] [--configs "none noop shadow default lua"]
#                                [--kinds "post get"] [--no-build] [--no-latency]
# A distill-guard configuration may name another module to compare builds in one interleaved run:
#   --configs "none default default@build/old.wasm"   (the label then carries the file name)
#   --configs "none noop noop@build/noop_lean.wasm"    (the no-op filter exporting only the request callbacks)
# --no-latency skips phase 2 (for quick CPU-us/req iterations; the latency columns are then empty).
# `probe:OP:N` runs benches/hostcall-probe, which makes N calls of one host function per request
# (OP: headers prop_src prop_proto prop_fs time inc add setmap hold holdbody readbody; see its src/lib.rs):
#   --configs "none noop probe:add:50" --no-latency   -> (probe - noop) / 50 = one add_header's cost.
# Five configurations of the same Envoy, one after the other, on 127.0.0.1 only:
#   none     no filter: the limit                noop  a no-op proxy-wasm filter (benches/noop-filter)
#   shadow   distill-guard, filters/shadow.json  default  distill-guard, filters/default.json
#   stateless  (not run unless named) filters/default.json with state.enabled false
#   nolearn  (not run unless named) filters/default.json with body.paths [] (no body read or learned
#            from: the header phase alone, so that default - nolearn is what learning a body costs)
#   structured (not run unless named) filters/default.json with output.format "structured" (one header)
#   never    (not run unless named) filters/default.json with body.inspect "never" (no request held: every
#            body learned as it streams past); sampled: the same with body.heavy_learn_one_in 8 (for the
#            `heavy` kind: one body in 8 of a heavy account's requests learned)
#   fs       (not run unless named) filters/default.json with the adapter option envoy.filter_state
#   fsrl     (not run unless named) fs plus Envoy's local rate limit keyed on the filter-state cluster
#   skip     (not run unless named) filters/default.json on a route that disables the filter
#   lua      an Envoy Lua filter that only hashes the header-name order (what a user might hand-write)
#   native   (not run unless named) distill-guard's native filter (build/libdistill_guard.so, a dynamic
#            module: src/host/native/) with filters/default.json; native-nolearn, native-structured
#            likewise with those policies; noop-native a dynamic module that does nothing (benches/noop-native);
#            native@DIR: the libdistill_guard.so in DIR (another build)
# Origin: a second Envoy answering with direct_response. Load: wrk (Debian) with benches/envoy/load.lua:
#   post = POST /v1/messages, the 19 headers of the official Python SDK (captured) + a ~4 KB body;
#   get  = GET /v1/models with the same headers; 100,000 accounts, each with its own client address
#   (X-Forwarded-For; the policies are run with proxy.trusted_hops = 1) and its own prompt text, so
#   the load looks like many independent users and the policies let it through (see load.lua).
#   heavy (not run unless named in --kinds) = post from 200 busy accounts (heavy for the state after
#   the warm-up; their rate puts `rate.account` in the gray zone: run it with `never` / `sampled`)
#   campaign (not run unless named in --kinds) = post mixed 60/40 with a campaign's requests behind a
#   proxy chain, held for their body and then allowed, tagged, throttled or denied (see load.lua).
# Phase 1, throughput: wrk -t1 -c32 for S seconds (default 10) after a 2 s warm-up -> requests/s, and
#   the CPU time Envoy spent per request (utime+stime from /proc/PID/stat; robust to other load).
# Phase 2, latency at a fixed rate of ~half the limit: wrk paced with a Lua delay() (1 ms after each
#   response, per connection), the connection count calibrated once on `none` so that it offers half of
#   `none`'s limit; the same offered load goes to every configuration -> p50 / p99 and added vs none.
# Each round runs every configuration once (interleaved, so a burst of other load on the machine hits
# all of them alike); the table gives the median over --repeats rounds (default 3), and paired columns:
# the median over rounds of each round's ratio to / CPU difference from that round's limit.
# The Envoy under test is pinned to core 0; the origin and wrk share core 1 (PROXY_CPU / CLIENT_CPU).
# --concurrency N (default 1) runs the Envoy under test with N worker threads, on cores PROXY_CPU
# (default 0-(N-1) then): for the native filter, whose worker threads share one engine behind a lock.
# Prints a Markdown table; raw wrk results go to test-output/bench/envoy_load.jsonl.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
DURATION=10 REPEATS=3 CONFIGS="none noop shadow default lua" KINDS="post get" BUILD=1 LATENCY=1 CONCURRENCY=1
while [ $# -gt 0 ]; do
  case "$1" in
    --duration) DURATION=$2; shift 2 ;;
    --repeats) REPEATS=$2; shift 2 ;;
    --configs) CONFIGS=$2; shift 2 ;;
    --kinds) KINDS=$2; shift 2 ;;
    --no-build) BUILD=0; shift ;;
    --no-latency) LATENCY=0; shift ;;
    --concurrency) CONCURRENCY=$2; shift 2 ;;
    *) sed -n '2,10p' "$0" >&2; exit 2 ;;
  esac
done
PORT_BASE=${PORT_BASE:-18600}
[[ "$CONCURRENCY" =~ ^[1-9][0-9]?$ ]] || { echo "--concurrency must be 1..99" >&2; exit 2; }
[ "$CONCURRENCY" = 1 ] || PROXY_CPU=${PROXY_CPU:-0-$((CONCURRENCY - 1))}
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
# The policies under test, as shipped except proxy.trusted_hops = 1: the load carries each client's
# address in X-Forwarded-For, as a load balancer in front of Envoy would add it.
for p in shadow default; do
  python3 -c 'import json,sys; p=json.load(open(sys.argv[1])); p.setdefault("proxy", {})["trusted_hops"] = 1; json.dump(p, open(sys.argv[2], "w"))' \
    "filters/$p.json" "$WORK/$p.json"
done
# `stateless`: the default policy with state.enabled false (what the cross-request state costs);
# `nolearn`, `structured`, `never`, `sampled`, `fs` (and `fsrl`), `skip`: see the configurations above.
python3 - "$WORK" <<'PY'
import json, sys
w = sys.argv[1]
base = json.load(open(f"{w}/default.json"))
def variant(name, edit):
    p = json.loads(json.dumps(base)); edit(p); json.dump(p, open(f"{w}/{name}.json", "w"))
variant("stateless", lambda p: p.setdefault("state", {}).update(enabled=False))
variant("nolearn", lambda p: p.setdefault("body", {}).update(paths=[]))
variant("structured", lambda p: p.setdefault("output", {}).update(format="structured"))
variant("never", lambda p: p.setdefault("body", {}).update(inspect="never"))
variant("sampled", lambda p: p.setdefault("body", {}).update(inspect="never", heavy_learn_one_in=8))
variant("fs", lambda p: p.update(envoy={"filter_state": True}))
variant("fsrl", lambda p: p.update(envoy={"filter_state": True}))
variant("skip", lambda p: None)
PY
log "load average before: $(cut -d' ' -f1-3 /proc/loadavg); envoy $("$ENVOY" --version | grep -o '[0-9]*\.[0-9]*\.[0-9]*/' | tr -d /)"

policy_of() {
  local name=${1%%@*}
  case "$name" in native) name=default ;; native-*) name=${name#native-} ;; esac
  case "$name" in shadow|default|stateless|nolearn|structured|never|sampled|fs|fsrl|skip) echo "$WORK/$name.json" ;; *) echo "$name" ;; esac
}
# The distill-guard module of a configuration: `NAME@FILE` names it, else the default build.
wasm_of() { case "$1" in *@*) readlink -f "${1#*@}" ;; *) echo "$DEFAULT_WASM" ;; esac; }
DEFAULT_WASM=$DG_WASM
for cfg in $CONFIGS; do
  case "$cfg" in *@*) [ -e "${cfg#*@}" ] || { echo "no module ${cfg#*@}" >&2; exit 2; } ;; esac
done

wrk_run() { # KIND CONNECTIONS SECONDS [DELAY_MS] -> one JSON line
  BENCH_KIND=$1 BENCH_DELAY_MS=${4:-} taskset -c "$CLIENT_CPU" wrk -t1 -c"$2" -d"$3"s --timeout 5s \
    -s "$ROOT/benches/envoy/load.lua" "http://127.0.0.1:$LISTEN_PORT" | tail -1
}

cpu_ticks() { awk '{print $14 + $15}' "/proc/$PROXY_PID/stat"; } # utime + stime of all Envoy threads

field() { python3 -c 'import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$1" "$2"; }

start_origin
declare -A CONNS
for round in $(seq 1 "$REPEATS"); do
  for cfg in $CONFIGS; do
    DG_WASM=$(wasm_of "$cfg")
    case "$cfg" in noop@*) export NOOP_WASM=$DG_WASM ;; *) unset NOOP_WASM ;; esac
    case "${cfg%%@*}" in native|native-*) export DG_NATIVE=1 ;; *) unset DG_NATIVE ;; esac
    case "$cfg" in
      noop-native) export DG_NATIVE_DIR=$ROOT/benches/noop-native/target/release ;;
      native*@*) export DG_NATIVE_DIR=$(readlink -f "${cfg#*@}") ;; # another build's directory
      *) unset DG_NATIVE_DIR ;;
    esac
    EXTRA_FILTERS= ROUTE_EXTRA=
    case "${cfg%%@*}" in fsrl) EXTRA_FILTERS=$ROOT/benches/envoy/filter-ratelimit.yaml.in ;; skip) ROUTE_EXTRA=$ROOT/benches/envoy/route-disabled.yaml.in ;; esac
    start_proxy "$(policy_of "$cfg")" "$CONCURRENCY"
    for kind in $KINDS; do
      wrk_run "$kind" 32 2 >/dev/null # warm-up: connections, VM, state
      t0=$(cpu_ticks) o0=$(origin_counts)
      tp=$(wrk_run "$kind" 32 "$DURATION")
      upstream=$(origin_reuse "$o0")
      # CPU time the Envoy under test spent per request: less sensitive to other load than req/s.
      cpu_us=$(python3 -c "import os; print(round(($(cpu_ticks) - $t0) * 1e6 / os.sysconf('SC_CLK_TCK') / max(1, $(field "$tp" requests)), 1))")
      if [ "$LATENCY" = 0 ]; then
        lat='{"rps":0,"p50_us":0,"p99_us":0,"status_err":0,"connect_err":0,"read_err":0,"timeouts":0}'
      elif [ -z "${CONNS[$kind]:-}" ]; then
        [ "$cfg" = none ] || { echo "the first configuration must be none" >&2; exit 2; }
        # Calibrate the paced run once: per-connection rate with 1 ms think time, then the
        # connection count that offers half of this limit.
        cal=$(wrk_run "$kind" 4 3 1)
        per=$(python3 -c "print(float('$(field "$cal" rps)') / 4)")
        CONNS[$kind]=$(python3 -c "print(max(1, round($(field "$tp" rps) / 2 / $per)))")
        log "$kind: limit $(field "$tp" rps) req/s; paced runs: ${CONNS[$kind]} connections x 1 ms delay (${per} req/s each)"
      fi
      [ "$LATENCY" = 0 ] || lat=$(wrk_run "$kind" "${CONNS[$kind]}" "$DURATION" 1)
      stats=$(curl -fs "http://127.0.0.1:$ADMIN_PORT/stats?filter=wasmcustom" | grep -v ': 0$' | tr '\n' ' ' || true)
      echo "{\"round\":$round,\"config\":\"$cfg\",\"kind\":\"$kind\",\"throughput\":$tp,\"cpu_us_per_req\":$cpu_us,\"latency\":$lat,\"load\":\"$(cut -d' ' -f1 /proc/loadavg)\",\"upstream_cx_per_rq\":$upstream,\"wasm_stats\":\"${stats% }\"}" >> "$RAW"
      log "round $round $cfg/$kind: $(field "$tp" rps) req/s, $cpu_us CPU us/req; paced $(field "$lat" rps) req/s p50 $(field "$lat" p50_us) us p99 $(field "$lat" p99_us) us; upstream cx/rq $upstream (load $(cut -d' ' -f1 /proc/loadavg))"
    done
    stop_proxy
  done
done
stop_all
log "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"

python3 - "$RAW" "$DURATION" "$REPEATS" "$CONCURRENCY" "$PROXY_CPU" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
med = lambda xs: statistics.median(xs)
names = {"none": "no filter (limit)", "noop": "no-op Wasm filter", "shadow": "distill-guard, shadow.json",
         "default": "distill-guard, default.json", "stateless": "distill-guard, default.json, state off",
         "nolearn": "distill-guard, default.json, no body learned",
         "structured": "distill-guard, default.json, structured header",
         "never": "distill-guard, default.json, nothing held", "sampled": "distill-guard, nothing held, heavy_learn_one_in 8",
         "native-never": "distill-guard native filter, nothing held",
         "native-sampled": "distill-guard native filter, nothing held, heavy_learn_one_in 8", "fs": "distill-guard, default.json, filter state",
         "fsrl": "distill-guard, filter state + local rate limit", "skip": "distill-guard, disabled on the route",
         "lua": "Lua header-order hash", "native": "distill-guard native filter, default.json",
         "noop-native": "no-op native filter (dynamic module)",
         "native-nolearn": "distill-guard native filter, no body learned",
         "native-structured": "distill-guard native filter, structured header"}
agg = {}
for r in rows:
    a = agg.setdefault((r["kind"], r["config"]), {"rps": [], "cpu": [], "p50": [], "p99": [], "paced": [], "err": 0, "load": []})
    t, l = r["throughput"], r["latency"]
    a["rps"].append(t["rps"]); a["cpu"].append(r["cpu_us_per_req"]); a["paced"].append(l["rps"])
    a["p50"].append(l["p50_us"]); a["p99"].append(l["p99_us"]); a["load"].append(float(r["load"]))
    a["err"] += sum(x[k] for x in (t, l) for k in ("status_err", "connect_err", "read_err", "timeouts"))
loads = [float(r["load"]) for r in rows]
print(f"Median of {sys.argv[3]} interleaved rounds. Throughput: wrk -t1 -c32 -d{sys.argv[2]}s; latency: paced wrk, the same "
      f"offered load for every configuration; Envoy --concurrency {sys.argv[4]} pinned to core(s) {sys.argv[5]}. 1-min load average during the "
      f"runs: {min(loads):.2f}..{max(loads):.2f}.\n")
# Paired columns: each round's configuration against the same round's limit (x limit and added CPU),
# then the median (and range) over the rounds: steadier than the difference of medians when the
# machine's speed drifts between rounds.
by_round = {(r["round"], r["kind"], r["config"]): r for r in rows}
def paired(kind, cfg):
    ratios, added = [], []
    for (rnd, k, c), r in by_round.items():
        b = by_round.get((rnd, k, "none"))
        if k == kind and c == cfg and b:
            ratios.append(r["throughput"]["rps"] / max(1e-9, b["throughput"]["rps"]))
            added.append(r["cpu_us_per_req"] - b["cpu_us_per_req"])
    return ratios, added
print("| request | configuration | req/s | x limit | Envoy CPU us/req | added CPU us/req | paced req/s | p50 us | p99 us | added p50 us | added p99 us | non-2xx | paired x limit | paired added CPU us/req (range) |")
print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
for (kind, cfg), a in agg.items():
    b = agg[(kind, "none")]
    rps, cpu, p50, p99 = med(a["rps"]), med(a["cpu"]), med(a["p50"]), med(a["p99"])
    base, _, module = cfg.partition("@")
    label = names.get(base, base) + (f" ({module.rsplit('/', 1)[-1]})" if module else "")
    ratios, added = paired(kind, cfg)
    pr = f"{med(ratios):.2f}" if ratios else "-"
    pa = f"{med(added):+.1f} ({min(added):+.0f}..{max(added):+.0f})" if added else "-"
    print(f"| {kind} | {label} | {rps:,.0f} | {rps / med(b['rps']):.2f} | {cpu:.1f} | {cpu - med(b['cpu']):+.1f} "
          f"| {med(a['paced']):,.0f} | {p50:.0f} | {p99:.0f} | {p50 - med(b['p50']):+.0f} | {p99 - med(b['p99']):+.0f} | {a['err']} | {pr} | {pa} |")
reuse = [r.get("upstream_cx_per_rq", 0) for r in rows]
print(f"\nUpstream connections opened per upstream request: {max(reuse):.4f} at most (0 when the origin keeps its connections).")
if max(reuse) > 0.05:
    print("WARNING: the proxy opened upstream connections per request: every number above carries TCP connects.")
PY
