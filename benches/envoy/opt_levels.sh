#!/usr/bin/env bash
# Builds the Envoy module at several rustc opt-levels and wasm-opt pass sets, for
# benches/envoy/module_v8.mjs and benches/envoy_load.sh (`default@build/opt/NAME.wasm`).
#   usage: benches/envoy/opt_levels.sh [VARIANT...]     (default: z s 2 3 s-O3 3-O3)
# A variant is RUSTC_LEVEL[-WASMOPT]: RUSTC_LEVEL is the `wasm` profile's opt-level (z, s, 1, 2, 3);
# WASMOPT the wasm-opt optimization flag (default Oz, which scripts/build.sh runs as -Oz --gufa -Oz).
# Each rustc level builds in its own target dir (target/opt-LEVEL), so variants do not rebuild each other.
# Prints name, bytes and path of each module; the modules go to build/opt/.
set -euo pipefail
cd "$(dirname "$0")/../.."
mkdir -p build/opt
FEATURES=(--enable-bulk-memory --enable-bulk-memory-opt --enable-nontrapping-float-to-int --enable-sign-ext
  --enable-mutable-globals --enable-reference-types --enable-multivalue --strip-debug --strip-producers)
UNUSED='proxy_on_response_*,proxy_on_log,proxy_on_done,proxy_on_http_call_response,proxy_on_queue_ready,proxy_on_grpc_*,proxy_on_new_connection,proxy_on_downstream_*,proxy_on_upstream_*,proxy_on_foreign_function'
[ $# -eq 0 ] && set -- z s 2 3 s-O3 3-O3
for v in "$@"; do
  level=${v%%-*}; passes=Oz; [ "$v" != "$level" ] && passes=${v#*-}
  CARGO_PROFILE_WASM_OPT_LEVEL=$level CARGO_TARGET_DIR=target/opt-$level \
    cargo build -q --profile wasm --target wasm32-wasip1 --lib --no-default-features
  case "$passes" in Oz) opt=(-Oz --gufa -Oz) ;; *) opt=("-$passes") ;; esac
  node_modules/binaryen/bin/wasm-opt --remove-exports "--pass-arg=remove-exports@$UNUSED" "${opt[@]}" "${FEATURES[@]}" \
    "target/opt-$level/wasm32-wasip1/wasm/distill_guard.wasm" -o "build/opt/$v.wasm"
  echo "$v $(stat -c %s "build/opt/$v.wasm") build/opt/$v.wasm"
done
