#!/usr/bin/env bash
# Builds the Wasm modules.  usage: scripts/build.sh [envoy|web|native|all]...  (default: all)
#   envoy  -> build/distill_guard_envoy.wasm   (wasm32-wasip1, proxy-wasm)
#   web    -> pkg/ (wasm-pack --target web; copied to www/pkg and edge/pkg)
#   native -> target/release/distill-guard
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p build
WASM_OPT_FLAGS=(-Oz --enable-bulk-memory --enable-bulk-memory-opt --enable-nontrapping-float-to-int
  --enable-sign-ext --enable-mutable-globals --enable-reference-types --enable-multivalue)

wasm_opt() { # in out
  local bin=node_modules/binaryen/bin/wasm-opt
  if [ -x "$bin" ]; then "$bin" "${WASM_OPT_FLAGS[@]}" "$1" -o "$2"; else cp "$1" "$2"; fi
}

build_envoy() {
  cargo build -q --release --target wasm32-wasip1 --lib
  wasm_opt target/wasm32-wasip1/release/distill_guard.wasm build/distill_guard_envoy.wasm
  echo "built build/distill_guard_envoy.wasm ($(stat -c %s build/distill_guard_envoy.wasm) bytes)" >&2
}

build_web() {
  # wasm-opt is run by us (with explicit feature flags), not by wasm-pack.
  wasm-pack --quiet build --release --target web --no-opt --out-dir pkg --out-name distill_guard . >&2
  wasm_opt pkg/distill_guard_bg.wasm pkg/distill_guard_bg.opt.wasm && mv pkg/distill_guard_bg.opt.wasm pkg/distill_guard_bg.wasm
  for d in www/pkg edge/pkg; do rm -rf "$d"; mkdir -p "$d"; cp pkg/distill_guard.js pkg/distill_guard_bg.wasm pkg/distill_guard.d.ts "$d"/ 2>/dev/null || cp pkg/distill_guard.js pkg/distill_guard_bg.wasm "$d"/
    echo '{"type": "module"}' > "$d/package.json"; done   # Node loads the ES module without a warning
  # Shipped policies and scenarios for the tuning page: www/{filters,scenarios}/*.json plus an
  # index.json each (generated, gitignored).
  local dir names f
  for dir in filters scenarios; do
    rm -rf "www/$dir"; mkdir -p "www/$dir"; names=()
    for f in "$dir"/*.json; do [ -e "$f" ] && cp "$f" "www/$dir/" && names+=("\"$(basename "$f")\""); done
    (IFS=,; echo "[${names[*]}]") > "www/$dir/index.json"
  done
  echo "built pkg/distill_guard_bg.wasm ($(stat -c %s pkg/distill_guard_bg.wasm) bytes)" >&2
}

build_native() {
  cargo build -q --release --bin distill-guard
}

[ $# -eq 0 ] && set -- all
for what in "$@"; do
  case "$what" in
    envoy) build_envoy ;;
    web) build_web ;;
    native) build_native ;;
    all) build_native; build_envoy; build_web ;;
    *) echo "unknown part: $what" >&2; exit 2 ;;
  esac
done
