#!/usr/bin/env bash
# The one test command: installs what the tests need, builds every target, runs every test.
#   unit + integration (cargo test), a build check of the fuzz targets and benches, Envoy end-to-end
#   (pytest, real Envoy + curl/requests/httpx), workerd and Chromium end-to-end (node --test, real workerd + real Chromium).
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

# The crates no test builds (the fuzz targets, the criterion benches, the bench filters and tools):
# they must still compile against the core, or they rot unseen.
echo "== cargo check (fuzz targets, benches), fuzz seeds" >&2
cargo check -q --benches
for d in fuzz benches/campaign-merge benches/hostcall-probe benches/noop-filter benches/noop-native; do
  cargo check -q --manifest-path "$d/Cargo.toml" --all-targets || { echo "cargo check failed in $d" >&2; exit 1; }
done
# shadow.json, strict.json and the Cloudflare example's policy are derived from default.json.
python3 scripts/derive-policies.py --check
# The fuzz seeds and dictionaries are generated from the captures and policies: they must match them.
python3 fuzz/seed_corpus.py
if git rev-parse --git-dir >/dev/null 2>&1 && [ -n "$(git status --porcelain -- fuzz/corpus fuzz/dicts)" ]; then
  git status --short -- fuzz/corpus fuzz/dicts >&2
  echo "the fuzz seeds are out of date with tests/data and filters/: commit what python3 fuzz/seed_corpus.py wrote" >&2
  exit 1
fi

if ls tests/e2e/test_*.py >/dev/null 2>&1; then
  echo "== pytest tests/e2e (Envoy)" >&2
  .venv/bin/python -m pytest -q tests/e2e
fi
if ls tests/e2e/*.test.mjs >/dev/null 2>&1; then
  echo "== node --test tests/e2e (workerd, Chromium)" >&2
  node --test tests/e2e/
fi
echo "all tests passed" >&2
