//! Cost of `State::observe` (the per-request state work) and of one delta exchange.
//!
//! `mixed`: 70% of requests from a hot working set (accounts, fingerprints, prefixes,
//! templates seen before), 30% with keys never seen before. `cold`: every key new (the
//! worst case: every table lookup misses the cache and evicts). Default policy state.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use distill_guard::signal::Levels;
use distill_guard::sketch::mix64;
use distill_guard::state::{Observation, State, StateConfig};

const T0: u64 = 1_700_000_000_000;

fn observation(i: u64, hot_share: u64) -> Observation {
    let r = mix64(i);
    let hot = r % 100 < hot_share;
    let (acct, fp, prefix, tpl) = if hot {
        (r % 2_000, (r >> 8) % 20, (r >> 16) % 500, (r >> 24) % 100)
    } else {
        (1 << 40 | i, 1 << 40 | i, 1 << 40 | i, 1 << 40 | i)
    };
    Observation {
        now_ms: T0 + i * 2,
        account: Some(mix64(acct)),
        hfp: mix64(fp ^ 1),
        ja4: Some(mix64(fp ^ 2)),
        prefix: Some(mix64(prefix ^ 3)),
        asn: Some((prefix % 300) as u32),
        template: Some(mix64(tpl ^ 4) ^ (1 << (r >> 58))),
        anchor: None,
        harness: None,
        elicitation: r & 1 == 0,
        env: Some(mix64(fp ^ 5)),
    }
}

fn bench_observe(c: &mut Criterion) {
    let cfg = StateConfig::default();
    let mut g = c.benchmark_group("state");
    g.throughput(Throughput::Elements(1));
    for (name, hot) in [("observe_mixed", 70u64), ("observe_cold", 0)] {
        let mut state = State::new(&cfg);
        // Warm up with a few million requests so tables are full and evicting.
        for i in 0..3_000_000u64 {
            state.observe(&observation(i, hot), &mut Levels::default());
        }
        let mut i = 3_000_000u64;
        g.bench_function(name, |b| {
            b.iter(|| {
                i += 1;
                let o = observation(i, hot);
                let mut lv = Levels::default();
                state.observe(black_box(&o), &mut lv);
                black_box(lv);
            })
        });
    }
    g.finish();
}

fn bench_exchange(c: &mut Criterion) {
    let cfg = StateConfig::default();
    let mut a = State::new(&cfg);
    let mut b = State::new(&cfg);
    let mut i = 0u64;
    // One tick of a worker at 5k requests/s: export its delta, merge it into a peer.
    c.bench_function("state/tick_5k_requests_export_and_merge", |bench| {
        bench.iter(|| {
            for _ in 0..5_000 {
                i += 1;
                a.observe(&observation(i, 70), &mut Levels::default());
            }
            let d = a.export_delta();
            b.merge_bytes(black_box(&d)).unwrap_or(());
            black_box(d.len())
        })
    });
}

criterion_group!(benches, bench_observe, bench_exchange);
criterion_main!(benches);
