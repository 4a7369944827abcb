//! Fuzz target: merging a campaign tracker snapshot (`Tracker::merge_snapshot`), as the Wasm
//! filter's reporting worker does with what its peers left in shared data.
//!
//! The first byte picks how the rest is used: even, the whole snapshot; odd, edits
//! (position, value) applied to a real snapshot of a populated tracker (so the entry
//! decoders are reached). Whatever comes in: no panic; a refused snapshot leaves the tracker
//! exactly as it was (its own snapshot unchanged), and a merged one still reports.
#![no_main]

use std::sync::OnceLock;

use distill_guard::campaign::{Settings, Tracker};
use distill_guard::score::{Action, Reason, Verdict};
use distill_guard::signal::Signal;
use distill_guard::state::Observation;
use libfuzzer_sys::fuzz_target;

const T: u64 = 1_700_000_000_000;

/// A populated tracker (the one merged into) and another's real snapshot.
fn base() -> &'static (Tracker, Vec<u8>) {
    static BASE: OnceLock<(Tracker, Vec<u8>)> = OnceLock::new();
    BASE.get_or_init(|| {
        let s = Settings { accounts: 64, clusters: 64, window_s: 3600, ..Settings::default() };
        let v = Verdict { action: Action::Tag, score: 60, reasons: vec![Reason { signal: Signal::ProxyVia, strength: 1.0, points: 25.0 }], ..Default::default() };
        let mut t = [Tracker::new(s), Tracker::new(s)];
        for i in 0..120u64 {
            let obs = Observation { now_ms: T + i * 1000, account: Some(i % 30), hfp: 7, prefix: Some(i % 5), asn: Some(64_500), env: Some(3), template: Some(0x1234_5678_9abc_def0 ^ (i % 3)), anchor: Some(9), harness: Some(i % 2), elicitation: i % 4 == 0, ..Default::default() };
            t[(i % 2) as usize].record(&obs, &v);
        }
        let snap = t[1].snapshot();
        let [a, _] = t;
        (a, snap)
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else { return };
    let (tracker, real) = base();
    let snap = if mode % 2 == 0 {
        rest.to_vec()
    } else {
        let mut s = real.clone();
        for e in rest.chunks_exact(3).take(64) {
            let at = usize::from(u16::from_le_bytes([e[0], e[1]])) % s.len();
            s[at] = e[2];
        }
        s
    };
    let mut t = tracker.clone();
    match t.merge_snapshot(&snap) {
        Ok(()) => {
            let _ = t.report(t.last_ms());
        }
        Err(_) => assert!(t.snapshot() == tracker.snapshot(), "a refused snapshot changed the tracker"),
    }
});
