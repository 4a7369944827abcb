#!/usr/bin/env bash
# The one test command: installs what the tests need, builds every target, runs every test.
#   unit + integration (cargo test), Envoy end-to-end (pytest, real Envoy + curl/requests/httpx),
#   workerd and Chromium end-to-end (node --test, real workerd + real Chromium).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=never

scripts/setup.sh all
scripts/build.sh all

echo "== cargo test" >&2
mkdir -p test-output
set +e
cargo test --release 2>&1 | tee test-output/cargo-test.log | grep -E "^(test result|running|error|failures)|FAILED|panicked"
status=${PIPESTATUS[0]}
set -e
[ "$status" -eq 0 ] || { echo "cargo test failed (exit $status); full log: test-output/cargo-test.log" >&2; exit 1; }

if ls tests/e2e/test_*.py >/dev/null 2>&1; then
  echo "== pytest tests/e2e (Envoy)" >&2
  .venv/bin/python -m pytest -q tests/e2e
fi
if ls tests/e2e/*.test.mjs >/dev/null 2>&1; then
  echo "== node --test tests/e2e (workerd, Chromium)" >&2
  node --test tests/e2e/
fi
echo "all tests passed" >&2
