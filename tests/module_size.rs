//! Size budget of the Wasm modules every worker loads: the Envoy filter
//! (`build/distill_guard_envoy.wasm`) and the edge worker's wasm-bindgen module
//! (`pkg-edge/distill_guard_bg.wasm`, built without the simulator) must each stay at or under
//! 400 KB (409,600 bytes). The tuning page's module (`pkg/`, with the simulator) is loaded
//! once by a browser and has no budget here.
//!
//! The modules are built by `scripts/build.sh` (which `scripts/test.sh` runs before
//! `cargo test`). A missing module fails the test, so a broken build step can't pass
//! silently; developers who run `cargo test` without building may set
//! `DG_SKIP_MODULE_SIZE=1` to skip these checks.
//!
//! Also here, on the same built files: the shipped Envoy module carries no fault-injection
//! hook (`src/host/envoy/fault.rs`, cargo feature `fault-injection`), and the tests-only
//! build `build/distill_guard_envoy_fault.wasm` does (so the check looks for the right bytes).

use std::path::Path;

/// The budget for every module, in bytes.
const LIMIT: u64 = 400 * 1024;

fn skipped(relative: &str) -> bool {
    let skip = std::env::var_os("DG_SKIP_MODULE_SIZE").is_some_and(|v| v == "1");
    if skip {
        eprintln!("DG_SKIP_MODULE_SIZE=1: not checking {relative}");
    }
    skip
}

fn read(relative: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(relative);
    match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) => panic!(
            "{relative} is missing ({e}): run scripts/build.sh first (or set DG_SKIP_MODULE_SIZE=1 to skip this check)"
        ),
    }
}

fn check(relative: &str) {
    if skipped(relative) {
        return;
    }
    let size = read(relative).len() as u64;
    eprintln!("{relative}: {size} bytes (limit {LIMIT})");
    assert!(size > 0, "{relative} is empty: rebuild with scripts/build.sh");
    assert!(size <= LIMIT, "{relative} is {size} bytes, over the {LIMIT}-byte (400 KB) budget by {} bytes", size - LIMIT);
}

#[test]
fn envoy_module_within_400_kb() {
    check("build/distill_guard_envoy.wasm");
}

#[test]
fn edge_module_within_400_kb() {
    check("pkg-edge/distill_guard_bg.wasm");
}

/// The request header of `src/host/envoy/fault.rs`.
const FAULT_HEADER: &[u8] = b"x-distill-guard-fault";

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn shipped_envoy_module_has_no_fault_hook() {
    if skipped("build/distill_guard_envoy_fault.wasm") {
        return;
    }
    assert!(
        contains(&read("build/distill_guard_envoy_fault.wasm"), FAULT_HEADER),
        "the fault-injection build lacks {:?}: the check below would prove nothing",
        String::from_utf8_lossy(FAULT_HEADER)
    );
    assert!(
        !contains(&read("build/distill_guard_envoy.wasm"), FAULT_HEADER),
        "build/distill_guard_envoy.wasm contains the fault-injection hook: it must be built without feature fault-injection"
    );
}
