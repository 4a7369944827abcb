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

use std::path::Path;

/// The budget for every module, in bytes.
const LIMIT: u64 = 400 * 1024;

fn check(relative: &str) {
    if std::env::var_os("DG_SKIP_MODULE_SIZE").is_some_and(|v| v == "1") {
        eprintln!("DG_SKIP_MODULE_SIZE=1: not checking {relative}");
        return;
    }
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(relative);
    let size = match std::fs::metadata(&path) {
        Ok(m) => m.len(),
        Err(e) => panic!(
            "{relative} is missing ({e}): run scripts/build.sh first (or set DG_SKIP_MODULE_SIZE=1 to skip this check)"
        ),
    };
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
