#!/usr/bin/env bash
# Runs every fuzz target for a bounded time and prints libFuzzer's execution counts.
#   usage: fuzz/run.sh [SECONDS_PER_TARGET] [TARGET...]     (default 60 s; all targets)
# Needs only stable Rust: cargo-fuzz is installed when missing and run with RUSTC_BOOTSTRAP=1
# (it passes nightly-only -Z flags). The sanitizer is `none` by default: the targets look for
# panics (every `unwrap`/index/overflow in the core is a panic), and ASan's 2-3x slowdown buys
# little in safe Rust; FUZZ_SANITIZER=address turns it on.
# The committed seeds in fuzz/corpus/<target>/ are read, never written: new inputs go to
# fuzz/target/corpus/<target>/ (kept between runs), crashes to fuzz/artifacts/<target>/.
# FUZZ_DEBUG_ASSERTIONS=1 builds with debug assertions (integer overflow checks, debug_assert!):
# stricter than the shipped release build, where overflow wraps.
# FUZZ_RUNS=N also stops each target after N executions (whichever of time and count comes first).
# Exit status: 0 when no target crashed; 1 otherwise (the crash input's path is printed).
set -euo pipefail
cd "$(dirname "$0")"
secs=${1:-60}
shift || true
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(traffic body_scan fingerprints policy fleet campaign hosts)
sanitizer=${FUZZ_SANITIZER:-none}
flags=(-O --sanitizer "$sanitizer")
[ "${FUZZ_DEBUG_ASSERTIONS:-0}" = 1 ] && flags+=(--debug-assertions)
export RUSTC_BOOTSTRAP=1 CARGO_TERM_COLOR=never

if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "[fuzz] cargo install cargo-fuzz (a few minutes)" >&2
  cargo install -q cargo-fuzz
fi

echo "[fuzz] building ${targets[*]} (sanitizer: $sanitizer)" >&2
for t in "${targets[@]}"; do
  cargo fuzz build "${flags[@]}" "$t"
done

status=0
summary=()
for t in "${targets[@]}"; do
  work=target/corpus/$t
  mkdir -p "$work" "artifacts/$t"
  log=target/fuzz-$t.log
  echo "[fuzz] $t for ${secs}s" >&2
  set +e
  cargo fuzz run "${flags[@]}" "$t" "$work" "corpus/$t" -- \
    -max_total_time="$secs" -dict="dicts/$t.dict" -print_final_stats=1 -rss_limit_mb=2048 \
    -timeout=10 -max_len=65536 -artifact_prefix="artifacts/$t/" ${FUZZ_RUNS:+-runs=$FUZZ_RUNS} > "$log" 2>&1
  rc=$?
  set -e
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
  rate=$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*')
  if [ $rc -ne 0 ]; then
    status=1
    crash=$(grep -o 'Test unit written to [^ ]*' "$log" | tail -1 | sed 's/Test unit written to //')
    summary+=("$t: CRASH after ${execs:-?} executions (exit $rc): fuzz/${crash:-?}; log fuzz/$log")
    grep -m3 -E "panicked at|ERROR: libFuzzer|SUMMARY" "$log" >&2 || true
  else
    summary+=("$t: ${execs:-?} executions (${rate:-?}/s, limit ${secs}s${FUZZ_RUNS:+ or $FUZZ_RUNS runs}), coverage ${cov:-?}, corpus $(ls "$work" | wc -l) + $(ls "corpus/$t" | wc -l) seeds, no crash")
  fi
done
printf '%s\n' "${summary[@]}"
exit $status
