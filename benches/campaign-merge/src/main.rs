//! The campaign report's cost to the Envoy filter's reporting worker, with the tracker's
//! tables full (the default settings: 16,384 flagged accounts, 4,096 cluster keys): encoding a
//! snapshot (every worker, each interval), cloning the tracker, merging one peer's snapshot
//! (the reporter, per peer) and building the report. Three rounds; `run.sh` runs it natively
//! and as wasm32-wasip1 in Node's V8 (the engine Envoy runs the filter in).

use distill_guard::campaign::{Settings, Tracker};
use distill_guard::score::{Action, Reason, Verdict};
use distill_guard::signal::Signal;
use distill_guard::state::Observation;
use std::time::Instant;

fn main() {
    let s = Settings::default();
    let v = Verdict { action: Action::Tag, score: 90, reasons: vec![Reason { signal: Signal::ProxyVia, strength: 1.0, points: 25.0 }], ..Default::default() };
    let mut t = Tracker::new(s);
    for i in 0..200_000u64 {
        let obs = Observation { now_ms: 1_772_409_600_000 + i * 1000, account: Some(i), hfp: 0xC0FFEE, prefix: Some(i.wrapping_mul(0x9E37_79B9_7F4A_7C15)), asn: Some(4_200_000_000 + (i % 300) as u32), env: Some(i / 100), template: Some(i.wrapping_mul(0xD6E8_FEB8_6659_FD93) / 7), anchor: Some(i / 13), ..Default::default() };
        t.record(&obs, &v);
    }
    for round in 0..3 {
        let t0 = Instant::now();
        let b = t.snapshot();
        let enc = t0.elapsed();
        let t1 = Instant::now();
        let mut c = t.clone();
        let clone = t1.elapsed();
        let t2 = Instant::now();
        c.merge_snapshot(&b).unwrap();
        let merge = t2.elapsed();
        let t3 = Instant::now();
        let r = c.report(c.last_ms());
        let report = t3.elapsed();
        println!("round {round}: snapshot {} bytes; encode {:?}, clone {:?}, merge {:?}, report {:?} ({} campaigns)", b.len(), enc, clone, merge, report, r.campaigns_total);
    }
}
