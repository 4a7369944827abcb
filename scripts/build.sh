#!/usr/bin/env bash
# Builds the Wasm modules.  usage: scripts/build.sh [envoy|web|native|all]...  (default: all)
#   envoy  -> build/distill_guard_envoy.wasm   (wasm32-wasip1, proxy-wasm)
#             and build/distill_guard_envoy_fault.wasm (tests only: feature fault-injection)
#   web    -> pkg/ (wasm-pack --target web; copied to www/pkg and edge/pkg)
#   native -> target/release/distill-guard
#   envoy-native -> build/libdistill_guard.so (the native Envoy filter: a dynamic module, host target)
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p build
WASM_FEATURES=(--enable-bulk-memory --enable-bulk-memory-opt --enable-nontrapping-float-to-int
  --enable-sign-ext --enable-mutable-globals --enable-reference-types --enable-multivalue
  --strip-debug --strip-producers)
OPT_SIZE=(-Oz --gufa -Oz)   # the Envoy module (after rustc opt-level 3) and the tuning page's
OPT_SPEED=(-O3)             # the edge worker's (after rustc opt-level 3)

# Envoy (proxy-wasm-cpp-host) skips a stream callback the module does not export, but crosses
# into the VM for every one it does; the proxy-wasm SDK exports all of them. The filter
# implements the request callbacks only (src/host/envoy/http.rs), so the Envoy module drops
# the response, log, done, network, gRPC, queue and foreign-function callbacks (it keeps the
# HTTP-call response, which only the root context's fleet sync receives): four
# VM calls fewer per request (response headers, response body, log, done; without
# proxy_on_done Envoy treats a context as done at once and deletes it, and the root context
# flushes its counters when it is dropped). tests/module_size.rs checks the list.
UNUSED_PROXY_EXPORTS='proxy_on_response_*,proxy_on_log,proxy_on_done,proxy_on_queue_ready,proxy_on_grpc_*,proxy_on_new_connection,proxy_on_downstream_*,proxy_on_upstream_*,proxy_on_foreign_function'

wasm_opt() { # in out [flags: extra passes first, then the optimization level; default OPT_SIZE]
  local bin=node_modules/binaryen/bin/wasm-opt in=$1 out=$2
  shift 2
  [ $# -gt 0 ] || set -- "${OPT_SIZE[@]}"
  if [ -x "$bin" ]; then "$bin" "$@" "${WASM_FEATURES[@]}" "$in" -o "$out"; else cp "$in" "$out"; fi
}
ENVOY_OPT=(--remove-exports "--pass-arg=remove-exports@$UNUSED_PROXY_EXPORTS" "${OPT_SIZE[@]}")

build_envoy() {
  # profile `wasm-speed` (Cargo.toml): opt-level 3, then wasm-opt -Oz (measured fastest in Envoy of
  # rustc z / s / 3 with wasm-opt -Oz: benches/envoy/opt_levels.sh); the budget is 1 MiB
  cargo build -q --profile wasm-speed --target wasm32-wasip1 --lib --no-default-features --features campaigns
  wasm_opt target/wasm32-wasip1/wasm-speed/distill_guard.wasm build/distill_guard_envoy.wasm "${ENVOY_OPT[@]}"
  echo "built build/distill_guard_envoy.wasm ($(stat -c %s build/distill_guard_envoy.wasm) bytes)" >&2
  # The end-to-end tests' module with the fault-injection hook (src/host/envoy/fault.rs): not
  # shipped, not size-checked. Its own target dir, so the two feature sets don't rebuild each other.
  CARGO_TARGET_DIR=target/fault cargo build -q --profile wasm-speed --target wasm32-wasip1 --lib --no-default-features --features campaigns,fault-injection
  wasm_opt target/fault/wasm32-wasip1/wasm-speed/distill_guard.wasm build/distill_guard_envoy_fault.wasm "${ENVOY_OPT[@]}"
  echo "built build/distill_guard_envoy_fault.wasm ($(stat -c %s build/distill_guard_envoy_fault.wasm) bytes, tests only)" >&2
}

build_web() {
  # Two wasm-bindgen builds of the one crate (wasm-opt is run by us with explicit feature flags,
  # not by wasm-pack): pkg/ with the simulator for the tuning page (www/pkg; profile wasm, for
  # size), and pkg-edge/ without it for the edge worker (edge/pkg), which only inspects requests:
  # profile wasm-edge (opt-level 2) and wasm-opt -O3, for CPU per request (600 KB budget).
  wasm-pack --quiet build --profile wasm --target web --no-opt --out-dir pkg --out-name distill_guard . >&2
  CARGO_TARGET_DIR=target/edge wasm-pack --quiet build --profile wasm-edge --target web --no-opt --out-dir pkg-edge \
    --out-name distill_guard . -- --no-default-features >&2
  local p d
  for p in pkg pkg-edge; do
    if [ "$p" = pkg-edge ]; then set -- "${OPT_SPEED[@]}"; else set -- "${OPT_SIZE[@]}"; fi
    wasm_opt "$p/distill_guard_bg.wasm" "$p/distill_guard_bg.opt.wasm" "$@" && mv "$p/distill_guard_bg.opt.wasm" "$p/distill_guard_bg.wasm"
    d=www/pkg; [ "$p" = pkg-edge ] && d=edge/pkg
    rm -rf "$d"; mkdir -p "$d"; cp "$p/distill_guard.js" "$p/distill_guard_bg.wasm" "$d"/; cp "$p/distill_guard.d.ts" "$d"/ 2>/dev/null || true
    echo '{"type": "module"}' > "$d/package.json"   # Node loads the ES module without a warning
  done
  # Shipped policies and scenarios for the tuning page: www/{filters,scenarios}/*.json plus an
  # index.json each (generated, gitignored).
  local dir names f
  for dir in filters scenarios; do
    rm -rf "www/$dir"; mkdir -p "www/$dir"; names=()
    for f in "$dir"/*.json; do [ -e "$f" ] && cp "$f" "www/$dir/" && names+=("\"$(basename "$f")\""); done
    (IFS=,; echo "[${names[*]}]") > "www/$dir/index.json"
  done
  echo "built pkg/distill_guard_bg.wasm ($(stat -c %s pkg/distill_guard_bg.wasm) bytes, tuning page) and pkg-edge/distill_guard_bg.wasm ($(stat -c %s pkg-edge/distill_guard_bg.wasm) bytes, edge worker)" >&2
}

# Benches only: the no-op filter (benches/noop-filter, built by benches/envoy_lib.sh) with the
# Envoy module's export list -> build/noop_lean.wasm.
build_lean_noop() {
  wasm_opt benches/noop-filter/target/wasm32-wasip1/release/noop_filter.wasm build/noop_lean.wasm "${ENVOY_OPT[@]}"
}

build_native() {
  cargo build -q --release --bin distill-guard
}

build_envoy_native() {
  # Its own target dir: the feature set differs from the CLI's, and the .so must not be rebuilt
  # by every cargo test. Envoy loads lib<name>.so from ENVOY_DYNAMIC_MODULES_SEARCH_PATH.
  CARGO_TARGET_DIR=target/envoy-native cargo build -q --release --lib --no-default-features --features envoy-native
  cp target/envoy-native/release/libdistill_guard.so build/libdistill_guard.so
  echo "built build/libdistill_guard.so ($(stat -c %s build/libdistill_guard.so) bytes, native Envoy filter)" >&2
}

[ $# -eq 0 ] && set -- all
for what in "$@"; do
  case "$what" in
    envoy) build_envoy ;;
    web) build_web ;;
    native) build_native ;;
    envoy-native) build_envoy_native ;;
    lean-noop) build_lean_noop ;;
    all) build_native; build_envoy; build_envoy_native; build_web ;;
    *) echo "unknown part: $what" >&2; exit 2 ;;
  esac
done
