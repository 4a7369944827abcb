//! Snapshot and merge: trackers that each saw part of the traffic report as one.

use super::super::tests::{campaign_obs, legit_obs, settings, verdict};
use super::super::*;
use crate::sketch::codec::DecodeError;

/// The traffic of `tests::mixed` and a templated campaign whose bodies are learned after
/// the verdict, every request handed to `pick(i)` of `trackers` (the worker that served it).
fn feed(trackers: &mut [Tracker], pick: impl Fn(u64) -> usize) {
    let n = trackers.len();
    for i in 0..4000u64 {
        let t = &mut trackers[pick(i) % n];
        t.record(&campaign_obs(1_000 + i % 40, i, 0xE1), &verdict(true, 70));
        let u = 50_000 + i % 400;
        t.record(&legit_obs(u, i), &verdict(i % 100 == 7, 35));
        let obs = campaign_obs(3_000 + i % 25, i, 0xE3 + i % 2);
        t.record(&obs, &verdict(true, 60));
        t.learn(&Observation { template: Some(0xAAAA_BBBB_CCCC_DDDD), elicitation: i % 4 == 0, ..obs }, true);
    }
}

fn merged(parts: &[Tracker]) -> Tracker {
    let mut all = parts[0].clone();
    for p in &parts[1..] {
        all.merge_snapshot(&p.snapshot()).unwrap();
    }
    all
}

#[test]
fn trackers_that_split_the_traffic_report_as_one_after_merging() {
    // With tables large enough for every key and with the tests' smaller cluster table, which
    // one-off keys overflow (each campaign request has a new prefix and ASN).
    for s in [Settings { clusters: 16_384, ..settings() }, settings()] {
        let mut whole = [Tracker::new(s)];
        feed(&mut whole, |_| 0);
        let want = whole[0].report(whole[0].last_ms());
        assert_eq!(want.campaigns_total, 2, "{want:#?}");
        // Requests spread over two and over three trackers, an account's requests on several.
        for (n, pick) in [(2usize, &(|i: u64| (i / 3) as usize) as &dyn Fn(u64) -> usize), (3, &|i: u64| (i * 7 / 5) as usize)] {
            let mut parts: Vec<Tracker> = (0..n).map(|_| Tracker::new(s)).collect();
            feed(&mut parts, pick);
            let alone = parts[0].report(parts[0].last_ms());
            assert!(alone.campaigns.iter().all(|c| c.requests.flagged < 4000), "each part saw a part");
            let m = merged(&parts);
            let got = m.report(m.last_ms());
            assert_eq!((got.requests, got.flagged, got.accounts_tracked), (want.requests, want.flagged, want.accounts_tracked));
            // Everything but which of a campaign's one-off keys are listed: an account links
            // through its strongest key per kind, chosen over the merged counts here and
            // request by request in one tracker (ties among keys of two accounts each).
            let facts = |r: &Report| r.campaigns.iter().map(|c| Campaign { keys: c.keys[..1].to_vec(), keys_total: 0, ..c.clone() }).collect::<Vec<_>>();
            assert_eq!(facts(&got), facts(&want), "{n} trackers");
        }
    }
}

#[test]
fn a_snapshot_merged_into_an_empty_tracker_reports_the_same() {
    for s in [settings(), Settings { window_s: 600, ..settings() }] {
        let mut t = [Tracker::new(s)];
        feed(&mut t, |_| 0);
        let mut copy = Tracker::new(s);
        copy.merge_snapshot(&t[0].snapshot()).unwrap();
        assert_eq!(copy.report(t[0].last_ms()), t[0].report(t[0].last_ms()));
        assert_eq!(copy.snapshot().len(), t[0].snapshot().len());
        // An empty tracker's snapshot changes nothing.
        let before = copy.snapshot();
        copy.merge_snapshot(&Tracker::new(s).snapshot()).unwrap();
        assert_eq!(copy.snapshot(), before);
    }
}

#[test]
fn a_bad_snapshot_is_refused_whole_and_changes_nothing() {
    let mut parts = [Tracker::new(settings()), Tracker::new(settings())];
    feed(&mut parts, |i| i as usize);
    let good = parts[1].snapshot();
    let mut t = parts[0].clone();
    let before = t.snapshot();
    // Every cut of a valid snapshot: refused.
    for cut in (0..good.len()).step_by(7) {
        assert!(t.merge_snapshot(&good[..cut]).is_err(), "cut at {cut}");
    }
    let mut trailing = good.clone();
    trailing.push(0);
    assert_eq!(t.merge_snapshot(&trailing), Err(DecodeError::Invalid("bytes after the snapshot")));
    let mut magic = good.clone();
    magic[0] ^= 1;
    assert!(t.merge_snapshot(&magic).is_err());
    // Another window: its epochs would not line up.
    let other = Tracker::new(Settings { window_s: 60, ..settings() }).snapshot();
    assert!(matches!(t.merge_snapshot(&other), Err(DecodeError::Invalid(w)) if w.starts_with("window")));
    // Flipped bytes anywhere: refused or merged, never a panic; refused ones change nothing.
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    for _ in 0..3000 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let mut bad = good.clone();
        let at = (x % bad.len() as u64) as usize;
        bad[at] ^= (x >> 32) as u8 | 1;
        let mut probe = t.clone();
        if probe.merge_snapshot(&bad).is_err() {
            assert_eq!(probe.snapshot(), before);
        }
    }
    assert_eq!(t.snapshot(), before);
    assert!(t.merge_snapshot(b"").is_err() && t.merge_snapshot(&[0xFF; 64]).is_err());
}

#[test]
fn a_full_trackers_snapshot_stays_bounded() {
    // A flood of one-off flagged accounts fills both tables.
    let s = Settings { accounts: 2048, clusters: 512, ..Settings::default() };
    let mut t = Tracker::new(s);
    for i in 0..50_000u64 {
        t.record(&campaign_obs(i, i, i / 100), &verdict(true, 90));
    }
    let bytes = t.snapshot();
    // Per account at most ~200 bytes (counts, nine links, a few reasons); per key its counts
    // and two sparse or packed sketches (at most 2 x 261 bytes).
    assert!(bytes.len() < 2048 * 200 + 512 * 600, "{} bytes", bytes.len());
    let mut copy = Tracker::new(s);
    copy.merge_snapshot(&bytes).unwrap();
    assert_eq!(copy.report(t.last_ms()), t.report(t.last_ms()));
}


#[test]
fn a_campaign_each_worker_sees_too_little_of_is_found_in_the_merge() {
    // 16 accounts, each served by one of two trackers: 8 each, under min_accounts (10).
    let mut parts = [Tracker::new(settings()), Tracker::new(settings())];
    for i in 0..1600u64 {
        let a = 1_000 + i % 16;
        parts[(a % 2) as usize].record(&campaign_obs(a, i, 0xE1), &verdict(true, 70));
    }
    assert!(parts.iter().all(|p| p.report(p.last_ms()).campaigns_total == 0));
    let m = merged(&parts);
    let r = m.report(m.last_ms());
    assert_eq!(r.campaigns_total, 1);
    assert_eq!((r.campaigns[0].accounts.count, r.campaigns[0].requests.flagged), (16, 1600));
}

