//! Size budget of the Wasm modules every worker loads: the Envoy filter
//! (`build/distill_guard_envoy.wasm`) must stay at or under 1 MiB and the edge worker's
//! wasm-bindgen module (`pkg-edge/distill_guard_bg.wasm`, built without the simulator and the
//! tuning page's record API) at or under 600 KB. Both are built for CPU per request (the Envoy
//! module at opt-level 3, `profile.wasm-speed`; the edge module at opt-level 2, as fast in V8,
//! `profile.wasm-edge`); the budgets keep them from growing unnoticed. The tuning page's module
//! (`pkg/`, with the simulator) is loaded once by a browser and has no budget here.
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

/// The Envoy module's budget, in bytes (one copy per Envoy worker VM).
const ENVOY_LIMIT: u64 = 1024 * 1024;
/// The edge worker module's budget, in bytes (Workers limit the script size; an isolate loads it).
const EDGE_LIMIT: u64 = 600 * 1024;

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

fn check(relative: &str, limit: u64) {
    if skipped(relative) {
        return;
    }
    let size = read(relative).len() as u64;
    eprintln!("{relative}: {size} bytes (limit {limit})");
    assert!(size > 0, "{relative} is empty: rebuild with scripts/build.sh");
    assert!(size <= limit, "{relative} is {size} bytes, over the {limit}-byte budget by {} bytes", size - limit);
}

#[test]
fn envoy_module_within_1_mib() {
    check("build/distill_guard_envoy.wasm", ENVOY_LIMIT);
}

#[test]
fn edge_module_within_600_kb() {
    check("pkg-edge/distill_guard_bg.wasm", EDGE_LIMIT);
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

/// An unsigned LEB128 number at `*at`.
fn leb(b: &[u8], at: &mut usize) -> u64 {
    let (mut v, mut shift) = (0u64, 0);
    loop {
        let byte = b[*at];
        *at += 1;
        v |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return v;
        }
        shift += 7;
    }
}

/// The export names of a Wasm module, in order.
fn exports(module: &[u8]) -> Vec<String> {
    assert_eq!(module.get(..4), Some(&b"\0asm"[..]), "not a Wasm module");
    let mut at = 8;
    while at < module.len() {
        let id = module[at];
        at += 1;
        let size = leb(module, &mut at) as usize;
        let end = at + size;
        if id == 7 {
            let mut names = Vec::new();
            for _ in 0..leb(module, &mut at) {
                let len = leb(module, &mut at) as usize;
                names.push(String::from_utf8_lossy(&module[at..at + len]).into_owned());
                at += len + 1; // the name, then the kind byte
                leb(module, &mut at); // the index
            }
            return names;
        }
        at = end;
    }
    Vec::new()
}

/// Envoy crosses into the VM for every stream callback the module exports (and skips the
/// others), so the Envoy modules export the request-side callbacks the filter implements (and
/// the root context's `proxy_on_http_call_response`, for the fleet sync) and nothing else (`UNUSED_PROXY_EXPORTS` in `scripts/build.sh`). A callback added to the
/// filter must be added here, or the build drops it.
#[test]
fn envoy_modules_export_only_the_callbacks_the_filter_implements() {
    let want = [
        "memory",
        "_initialize",
        "proxy_abi_version_0_2_1",
        "proxy_on_configure",
        "proxy_on_context_create",
        "proxy_on_delete",
        "proxy_on_http_call_response",
        "proxy_on_memory_allocate",
        "proxy_on_request_body",
        "proxy_on_request_headers",
        "proxy_on_request_trailers",
        "proxy_on_tick",
        "proxy_on_vm_start",
    ];
    let mut want: Vec<String> = want.iter().map(|s| s.to_string()).collect();
    want.sort();
    for relative in ["build/distill_guard_envoy.wasm", "build/distill_guard_envoy_fault.wasm"] {
        if skipped(relative) {
            return;
        }
        let mut got = exports(&read(relative));
        got.sort();
        assert_eq!(got, want, "{relative}: unexpected exports");
    }
}

/// The edge worker's module exports what `edge/worker.mjs` and `edge/fleet.mjs` call (and the
/// two-phase API the edge tests drive), not the tuning page's record API and catalogues
/// (`src/host/web/tuning.rs`, feature `simulate`), which the page's module (`pkg/`) does export.
#[test]
fn edge_module_leaves_the_tuning_page_api_out() {
    let tuning = ["engine_inspect", "engine_inspectBatch", "engine_policyJson", "engine_counters", "validatePolicy", "defaultPolicy", "signalCatalog", "simulate", "run_new"];
    for (relative, present) in [("pkg/distill_guard_bg.wasm", true), ("pkg-edge/distill_guard_bg.wasm", false)] {
        if skipped(relative) {
            return;
        }
        let got = exports(&read(relative));
        for name in tuning {
            assert_eq!(got.iter().any(|e| e == name), present, "{relative}: export {name} present: {}", !present);
        }
        for name in ["engine_new", "engine_inspectHeaders", "engine_inspectBody", "engine_learnBody", "engine_inspectRequest", "fleetsync_new", "fleetsync_begin", "fleetsync_finish"] {
            assert!(got.iter().any(|e| e == name), "{relative}: export {name} missing");
        }
    }
}
