#!/usr/bin/env python3
"""Captures Rust HTTP stacks from crates.io: reqwest (blocking) and ureq 3 and 2. Copies the
tiny cargo project tests/data/capture_rust/ (its own workspace, never built by the main
crate) to /tmp/dg-capture/rust, builds it there (target in /tmp/dg-capture/rust-target), and writes the `rust` entries of
tests/data/clients.json.
"""
import os
import shutil
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
from capture_lib import BODY_A, Capture, must, prov  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
# stack -> (family, crate name in Cargo.lock, dependency key)
STACKS = {"reqwest": ("none", "reqwest", "reqwest"), "ureq": ("ureq", "ureq", "ureq"), "ureq-2": ("ureq", "ureq", "ureq2")}


def locked_versions(lock):
    """crate name -> versions in Cargo.lock."""
    out, name = {}, None
    for line in open(lock):
        if line.startswith("name = "):
            name = line.split('"')[1]
        elif line.startswith("version = ") and name:
            out.setdefault(name, []).append(line.split('"')[1])
            name = None
    return out


def main():
    cap = Capture("rust")
    proj = os.path.join(cap.dir, "project")
    shutil.copytree(os.path.join(HERE, "capture_rust"), proj)
    # The target dir outlives the run (beside, not inside, the recreated work dir): rebuilds are quick.
    target = cap.dir + "-target"
    must(["cargo", "build", "--release", "--quiet"], cwd=proj, timeout=1800, env=dict(os.environ, CARGO_TARGET_DIR=target))
    exe = os.path.join(target, "release", "dg-capture-rust")
    versions = locked_versions(os.path.join(proj, "Cargo.lock"))
    rustc = must(["rustc", "--version"]).split()[1]
    for stack, (family, crate, dep) in STACKS.items():
        vs = sorted(versions.get(crate, ["?"]), key=lambda v: [int(x) for x in v.split(".") if x.isdigit()])
        v = vs[0] if dep == "ureq2" else vs[-1]
        p = prov(crate, "crates.io", "cargo build of tests/data/capture_rust (%s = %s)" % (dep, v))
        for kind in ("get", "post"):
            cap.run(stack, family, "%s %s (rustc %s)" % (crate, v, rustc), p, kind, [exe, dep, cap.url, kind, BODY_A],
                    "reqwest sends no User-Agent unless the caller sets one" if family == "none" else None)
    cap.write()


if __name__ == "__main__":
    main()
