#!/usr/bin/env bash
# Regenerates tests/data/clients.json: runs every capture script (each installs its clients
# into /tmp/dg-capture/ECOSYSTEM from Debian, PyPI, npm or crates.io and replaces its own
# ecosystem's entries). Needs root (apt-get) and those registries. CI never runs this: it
# replays the committed file. Usage: tests/data/capture_all.sh [ECOSYSTEM...]
set -euo pipefail
cd "$(dirname "$0")"
all=(debian python node rust browsers)
for eco in "${@:-${all[@]}}"; do
    echo "== capture_$eco" >&2
    python3 "capture_$eco.py"
done
python3 - <<'PY'
import json
d = json.load(open("clients.json"))
stacks = {c["stack"] for c in d["clients"] if c["source"] == "captured"}
print("%d captured stacks, %d requests; missing: %s" % (len(stacks), len(d["clients"]),
      ", ".join(m["stack"] for m in d["missing"]) or "none"))
PY
