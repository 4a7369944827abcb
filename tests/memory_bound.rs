//! The state's memory is bounded by `StateConfig::memory_bound()` and stops growing.
//!
//! Ten million requests with distinct accounts (each twice, as clusters count returning accounts), client /24s, header-shape fingerprints,
//! JA4s, ASNs and prompts go through `distill_guard::Engine` (default policy); then ten
//! million fully populated observations (templates and elicitation included, whatever the
//! prompt scanner returns) go straight into a `State`. Each phase asserts that the process's
//! resident memory (`/proc/self/statm`, 4 KiB pages) grew by at most the bound plus a small
//! slack, and did not keep growing over the second half. Run it in release mode
//! (`cargo test --release --test memory_bound`); unoptimized builds run 1/20 of the requests.
//! Linux only (elsewhere the test only checks that nothing panics).

use std::net::{IpAddr, Ipv4Addr};

use distill_guard::signal::Levels;
use distill_guard::sketch::mix64;
use distill_guard::state::{Observation, State};
use distill_guard::{Engine, Header, Policy, Request};

const PAGE: usize = 4096;
/// Allowance for everything that is not state: the engine's compiled policy, allocator
/// arenas and fragmentation, the test's own buffers.
const SLACK: usize = 8 << 20;
/// Largest growth allowed over the second half of a run.
const SECOND_HALF: usize = 1 << 20;

fn requests() -> u64 {
    if cfg!(debug_assertions) {
        500_000
    } else {
        10_000_000
    }
}

/// Resident bytes of this process, if the platform tells.
fn rss() -> Option<usize> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: usize = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * PAGE)
}

fn check(phase: &str, base: Option<usize>, mid: Option<usize>, end: Option<usize>, bound: usize) {
    let (Some(base), Some(mid), Some(end)) = (base, mid, end) else {
        eprintln!("{phase}: no /proc/self/statm, memory not checked");
        return;
    };
    let grew = end.saturating_sub(base);
    let late = end.saturating_sub(mid);
    eprintln!("{phase}: memory bound {bound} B, resident growth {grew} B, second half {late} B");
    assert!(
        grew <= bound + SLACK,
        "{phase}: grew {grew} B > bound {bound} B + slack {SLACK} B"
    );
    assert!(
        late <= SECOND_HALF,
        "{phase}: still growing: {late} B over the second half"
    );
}

#[test]
fn resident_memory_stays_within_the_bound() {
    let n = requests();
    let bound = Policy::default().state.memory_bound();

    // Phase 1: the whole engine.
    let base = rss();
    let mut engine = Engine::new(Policy::default());
    let mut mid = None;
    let (mut key, mut ua, mut marker, mut ja4, mut body) = (
        String::new(),
        String::new(),
        String::new(),
        String::new(),
        String::new(),
    );
    for i in 0..n {
        use std::fmt::Write;
        let r = mix64(i);
        key.clear();
        let _ = write!(key, "sk-test-{r:016x}");
        ua.clear();
        let _ = write!(ua, "client/{}", i % 100_000);
        marker.clear();
        let _ = write!(marker, "x-c{}", r % 1_000_000);
        ja4.clear();
        let _ = write!(ja4, "t13d1516h2_{:012x}_{:012x}", r >> 16, i);
        body.clear();
        let _ = write!(
            body,
            r#"{{"model":"m","max_tokens":64,"messages":[{{"role":"user","content":"Task {i}: summarize item {r:x} step by step."}}]}}"#
        );
        let mut req = Request::new();
        req.method = b"POST";
        req.path = b"/v1/messages";
        req.headers = vec![
            Header::new("host", "api.example"),
            Header::new("x-api-key", &key),
            Header::new("user-agent", &ua),
            Header::new(&marker, "1"),
            Header::new("content-type", "application/json"),
        ];
        req.body = body.as_bytes();
        // A distinct /24 per request (2^24 of them), a distinct ASN per 100 requests.
        let net = (i as u32).wrapping_mul(2_654_435_761) & 0x00ff_ffff;
        req.peer.ip = Some(IpAddr::V4(Ipv4Addr::from((net << 8) | (r as u32 & 0xff))));
        req.peer.ja4 = Some(&ja4);
        req.peer.asn = Some((i / 100) as u32);
        req.now_ms = 1_700_000_000_000 + i / 4;
        std::hint::black_box(engine.inspect(&req));
        if i == n / 2 {
            mid = rss();
        }
    }
    check("engine", base, mid, rss(), bound);
    assert_eq!(engine.counters().requests, n);
    drop(engine);

    // Phase 2: the state alone, every table fed.
    let cfg = Policy::default().state;
    let base = rss();
    let mut state = State::new(&cfg);
    let mut mid = None;
    for i in 0..n {
        let r = mix64(i ^ 0xabc);
        // Each account twice in a row: clusters count returning accounts.
        let o = Observation {
            now_ms: 1_700_000_000_000 + i / 4,
            account: Some(mix64((i / 2) ^ 0xdef)),
            hfp: mix64(r),
            ja4: Some(mix64(r ^ 1)),
            prefix: Some(mix64(r ^ 2)),
            asn: Some((i / 100) as u32),
            template: Some(mix64(r ^ 3)),
            elicitation: r & 1 == 0,
            env: Some(mix64(r ^ 4)),
            anchor: Some(mix64(r ^ 5)),
            harness: Some(mix64(r ^ 6)),
        };
        let mut lv = Levels::default();
        state.observe(&o, &mut lv);
        std::hint::black_box(&lv);
        if i == n / 2 {
            mid = rss();
        }
    }
    check("state", base, mid, rss(), cfg.memory_bound());
    assert_eq!(
        state.allocated_bytes() + distill_guard::state::OVERHEAD_BYTES,
        cfg.memory_bound()
    );
}
