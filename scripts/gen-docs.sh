#!/usr/bin/env bash
# Regenerates the generated parts of README.md (the reason-code table) from the code.
set -euo pipefail
cd "$(dirname "$0")/.."
table=$(cargo run -q --bin distill-guard -- signals)
python3 - "$table" <<'PY'
import sys
table = sys.argv[1] + "\n"
s = open("README.md").read()
a = s.index("<!-- signals:begin -->") + len("<!-- signals:begin -->\n")
b = s.index("<!-- signals:end -->")
open("README.md", "w").write(s[:a] + table + s[b:])
PY
