#!/usr/bin/env bash
# Edge worker load bench: what the distill-guard worker costs in a real workerd, against a
# pass-through worker, in one run.
#   usage: benches/edge_load.sh [--duration S] [--repeats N] [--configs "pass dg"] [--kinds "post get"]
#                               [--no-build]
# Configurations (one workerd process each, one after the other, interleaved over the rounds):
#   pass     benches/edge/passthrough.mjs: forwards `new Request(request.url, request)` to the origin
#   passtee  the same worker teeing a request body: one branch to the origin, the other read to its
#            end in ctx.waitUntil() (no engine): what learning from a body as it streams past costs
#   passhead the same worker doing what edge/worker.mjs does for a request allowed at its headers but
#            the engine call (the request head built, the headers copied, seven verdict headers set,
#            fetch(url, init)): dg - passhead is the engine's header phase in workerd
#   dg       edge/worker.mjs + edge/pkg with filters/default.json (proxy.trusted_hops = 1)
#   dg@DIR   the same policy with the worker in DIR (worker.mjs, record.mjs, pkg/): another build
#            of the worker, e.g. an older commit's, to compare in one run
#   shadow   edge/worker.mjs with filters/shadow.json (trusted_hops 1)
#   structured  edge/worker.mjs with filters/default.json and output.format "structured" (one verdict header)
#   buffered edge/worker.mjs with filters/default.json and the BODY_LEARN=buffer binding (a learned
#            body's prefix read first and forwarded as read, instead of teed)
#   nolearn  edge/worker.mjs with filters/default.json and body.paths [] (no body teed, read or learned
#            from: the header phase alone, so that dg - nolearn is what learning a body costs)
#   never    edge/worker.mjs with filters/default.json and body.inspect "never" (nothing held);
#   sampled  the same with body.heavy_learn_one_in 8 (for the `heavy` kind of load.lua: 200 busy
#            accounts, every one heavy for the state after the warm-up)
# Load: wrk with benches/envoy/load.lua, as in benches/envoy_load.sh: post = POST /v1/messages with
# the official Python SDK's 19 headers and a ~4 KB body, get = GET /v1/models with the same headers;
# 100,000 accounts with their own X-Forwarded-For address and prompt, so the policies let it through.
# Origin: an Envoy answering with direct_response (benches/envoy/origin.yaml.in). workerd is pinned to
# core 0 (PROXY_CPU), the origin and wrk share core 1 (CLIENT_CPU).
# Throughput: wrk -t1 -c32 for S seconds (default 10) after a 2 s warm-up -> requests/s, and the CPU
# time workerd spent per request (utime + stime of the process, all threads, from /proc/PID/stat).
# Each round runs every configuration (interleaved); the table gives medians over --repeats rounds
# (default 3) and paired columns: each round's ratio to / CPU difference from that round's `pass`.
# Raw results: test-output/bench/edge_load.jsonl.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
DURATION=10 REPEATS=3 CONFIGS="pass dg" KINDS="post get" BUILD=1
while [ $# -gt 0 ]; do
  case "$1" in
    --duration) DURATION=$2; shift 2 ;;
    --repeats) REPEATS=$2; shift 2 ;;
    --configs) CONFIGS=$2; shift 2 ;;
    --kinds) KINDS=$2; shift 2 ;;
    --no-build) BUILD=0; shift ;;
    *) sed -n '2,9p' "$0" >&2; exit 2 ;;
  esac
done
PORT_BASE=${PORT_BASE:-18700}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/dg-edge-load.XXXXXX")
# shellcheck source=benches/envoy_lib.sh
. "$ROOT/benches/envoy_lib.sh"
WORKERD=$ROOT/node_modules/@cloudflare/workerd-linux-64/bin/workerd
WORKERD_PID=
stop_workerd() {
  [ -n "$WORKERD_PID" ] || return 0
  kill "$WORKERD_PID" 2>/dev/null || true
  wait "$WORKERD_PID" 2>/dev/null || true
  WORKERD_PID=
}
trap 'stop_workerd; stop_all; rm -rf "$WORK"' EXIT
trap 'exit 130' INT TERM
OUT=$ROOT/test-output/bench
mkdir -p "$OUT"
RAW=$OUT/edge_load.jsonl
: > "$RAW"

if [ "$BUILD" = 1 ]; then
  scripts/setup.sh bench web
  scripts/build.sh web
fi
[ -x "$WORKERD" ] || { echo "no workerd: run scripts/setup.sh web" >&2; exit 2; }
case " $CONFIGS " in *" pass "*) ;; *) echo "--configs must include pass (the reference)" >&2; exit 2 ;; esac
for p in shadow default; do
  python3 -c 'import json,sys; p=json.load(open(sys.argv[1])); p.setdefault("proxy", {})["trusted_hops"] = 1; json.dump(p, open(sys.argv[2], "w"))' \
    "filters/$p.json" "$WORK/$p.json"
done
# Variants of the default policy: `structured` (one verdict header), `nolearn` (body.paths []),
# `never` (body.inspect never), `sampled` (never, and body.heavy_learn_one_in 8).
python3 - "$WORK" <<'PY'
import json, sys
w = sys.argv[1]
for name, edits in [("structured", [("output", "format", "structured")]), ("nolearn", [("body", "paths", [])]),
                    ("never", [("body", "inspect", "never")]),
                    ("sampled", [("body", "inspect", "never"), ("body", "heavy_learn_one_in", 8)])]:
    p = json.load(open(f"{w}/default.json"))
    for section, key, value in edits:
        p.setdefault(section, {})[key] = value
    json.dump(p, open(f"{w}/{name}.json", "w"))
PY
log "load average before: $(cut -d' ' -f1-3 /proc/loadavg); workerd $("$WORKERD" --version 2>&1 | head -1)"

# start_workerd CONFIG: lays out the worker's files in $WORK/w and starts workerd on LISTEN_PORT.
start_workerd() {
  local cfg=$1 dir=$WORK/w src policy
  rm -rf "$dir"; mkdir -p "$dir"
  case "$cfg" in
    pass|passtee|passhead) cp benches/edge/passthrough.mjs "$dir/worker.mjs"; cp edge/record.mjs "$dir/"
      echo '{}' > "$dir/policy.json"
      [ "$cfg" = passtee ] && echo tee > "$dir/pass_mode"
      [ "$cfg" = passhead ] && echo head > "$dir/pass_mode" ;;
    dg|shadow|structured|buffered|nolearn|never|sampled|dg@*)
      src=$ROOT/edge; case "$cfg" in dg@*) src=$(readlink -f "${cfg#dg@}") ;; esac
      [ -f "$src/pkg/distill_guard_bg.wasm" ] || { echo "no $src/pkg: run scripts/build.sh web" >&2; exit 2; }
      cp "$src"/*.mjs "$dir/"; cp -r "$src/pkg" "$dir/pkg"
      policy=$WORK/default.json; case "$cfg" in shadow|structured|nolearn|never|sampled) policy=$WORK/$cfg.json ;; esac
      cp "$policy" "$dir/policy.json"
      [ "$cfg" = buffered ] && echo buffer > "$dir/body_learn" ;;
    *) echo "unknown configuration $cfg" >&2; exit 2 ;;
  esac
  python3 - "$dir" "$LISTEN_PORT" "$ORIGIN_PORT" <<'PY'
import os, sys
d, listen, origin = sys.argv[1:]
mods = [f'(name = "{f}", esModule = embed "{f}")' for f in sorted(os.listdir(d)) if f.endswith(".mjs")]
if os.path.isdir(os.path.join(d, "pkg")):
    mods += ['(name = "pkg/distill_guard.js", esModule = embed "pkg/distill_guard.js")',
             '(name = "pkg/distill_guard_bg.wasm", wasm = embed "pkg/distill_guard_bg.wasm")']
# worker.mjs first: the main module.
mods.sort(key=lambda m: 0 if '"worker.mjs"' in m else 1)
extra = ''.join(f', (name = "{name}", text = "{open(os.path.join(d, f)).read().strip()}")'
                for f, name in [("body_learn", "BODY_LEARN"), ("pass_mode", "PASS_MODE")] if os.path.exists(os.path.join(d, f)))
open(os.path.join(d, "config.capnp"), "w").write(f'''using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [(name = "w", worker = .w), (name = "origin", external = (address = "127.0.0.1:{origin}", http = ()))],
  sockets = [(name = "http", address = "127.0.0.1:{listen}", http = (), service = "w")],
);
const w :Workerd.Worker = (
  modules = [{", ".join(mods)}],
  compatibilityDate = "2025-09-01",
  bindings = [(name = "POLICY", text = embed "policy.json"), (name = "ORIGIN", service = "origin"){extra}],
);
''')
PY
  (cd "$dir" && exec taskset -c "$PROXY_CPU" "$WORKERD" serve config.capnp > "$WORK/workerd.log" 2>&1) &
  WORKERD_PID=$!
  for _ in $(seq 1 100); do
    if curl -s -o /dev/null "http://127.0.0.1:$LISTEN_PORT/ready" 2>/dev/null; then return 0; fi
    kill -0 "$WORKERD_PID" 2>/dev/null || { log "workerd exited (log: $WORK/workerd.log)"; tail -5 "$WORK/workerd.log" >&2; exit 1; }
    sleep 0.1
  done
  log "workerd not ready after 10 s"; exit 1
}

wrk_run() { # KIND CONNECTIONS SECONDS -> one JSON line
  BENCH_KIND=$1 taskset -c "$CLIENT_CPU" wrk -t1 -c"$2" -d"$3"s --timeout 5s \
    -s "$ROOT/benches/envoy/load.lua" "http://127.0.0.1:$LISTEN_PORT" | tail -1
}
# utime + stime of the workerd process (its threads included). The subshell's exec makes
# WORKERD_PID the workerd process itself.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$WORKERD_PID/stat"; }
field() { python3 -c 'import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$1" "$2"; }

start_origin
for round in $(seq 1 "$REPEATS"); do
  for cfg in $CONFIGS; do
    start_workerd "$cfg"
    for kind in $KINDS; do
      wrk_run "$kind" 32 2 >/dev/null # warm-up: connections, isolate, engine, state
      t0=$(cpu_ticks) o0=$(origin_counts)
      tp=$(wrk_run "$kind" 32 "$DURATION")
      upstream=$(origin_reuse "$o0")
      cpu_us=$(python3 -c "import os; print(round(($(cpu_ticks) - $t0) * 1e6 / os.sysconf('SC_CLK_TCK') / max(1, $(field "$tp" requests)), 1))")
      echo "{\"round\":$round,\"config\":\"$cfg\",\"kind\":\"$kind\",\"throughput\":$tp,\"cpu_us_per_req\":$cpu_us,\"upstream_cx_per_rq\":$upstream,\"load\":\"$(cut -d' ' -f1 /proc/loadavg)\"}" >> "$RAW"
      log "round $round $cfg/$kind: $(field "$tp" rps) req/s, $cpu_us CPU us/req, non-2xx $(field "$tp" status_err); upstream cx/rq $upstream (load $(cut -d' ' -f1 /proc/loadavg))"
    done
    stop_workerd
  done
done
stop_all
log "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"

python3 - "$RAW" "$DURATION" "$REPEATS" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
med = statistics.median
names = {"pass": "pass-through worker", "passtee": "pass-through worker, body teed and read",
         "passhead": "pass-through worker, head built and tags set (no engine)",
         "dg": "distill-guard, default.json", "shadow": "distill-guard, shadow.json",
         "structured": "distill-guard, default.json, structured header", "buffered": "distill-guard, default.json, BODY_LEARN=buffer",
         "nolearn": "distill-guard, default.json, no body learned",
         "never": "distill-guard, default.json, nothing held",
         "sampled": "distill-guard, nothing held, heavy_learn_one_in 8"}
agg = {}
for r in rows:
    a = agg.setdefault((r["kind"], r["config"]), {"rps": [], "cpu": [], "err": 0})
    t = r["throughput"]
    a["rps"].append(t["rps"]); a["cpu"].append(r["cpu_us_per_req"])
    a["err"] += sum(t[k] for k in ("status_err", "connect_err", "read_err", "timeouts"))
loads = [float(r["load"]) for r in rows]
print(f"Median of {sys.argv[3]} interleaved rounds; wrk -t1 -c32 -d{sys.argv[2]}s; workerd pinned to one core. "
      f"1-min load average during the runs: {min(loads):.2f}..{max(loads):.2f}.\n")
by_round = {(r["round"], r["kind"], r["config"]): r for r in rows}
def paired(kind, cfg):
    ratios, added = [], []
    for (rnd, k, c), r in by_round.items():
        b = by_round.get((rnd, k, "pass"))
        if k == kind and c == cfg and b:
            ratios.append(r["throughput"]["rps"] / max(1e-9, b["throughput"]["rps"]))
            added.append(r["cpu_us_per_req"] - b["cpu_us_per_req"])
    return ratios, added
print("| request | configuration | req/s | workerd CPU us/req | non-2xx | paired x pass-through (range) | paired added CPU us/req (range) |")
print("|---|---|---:|---:|---:|---:|---:|")
for (kind, cfg), a in sorted(agg.items(), key=lambda kv: (kv[0][0] != "post", kv[0][1] != "pass")):
    base, _, d = cfg.partition("@")
    label = names.get(base, base) + (f" ({d.rstrip('/').rsplit('/', 1)[-1]})" if d else "")
    ratios, added = paired(kind, cfg)
    pr = f"{med(ratios):.2f} ({min(ratios):.2f}..{max(ratios):.2f})" if ratios else "-"
    pa = f"{med(added):+.1f} ({min(added):+.0f}..{max(added):+.0f})" if added else "-"
    print(f"| {kind} | {label} | {med(a['rps']):,.0f} | {med(a['cpu']):.1f} | {a['err']} | {pr} | {pa} |")
reuse = [r.get("upstream_cx_per_rq", 0) for r in rows]
print(f"\nOrigin connections opened per request: {max(reuse):.4f} at most (0 when workerd keeps its connections).")
if max(reuse) > 0.05:
    print("WARNING: workerd opened origin connections per request: every number above carries TCP connects.")
PY
