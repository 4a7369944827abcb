//! Unit tests of the worker sync: a fake shared-data store with Envoy's CAS semantics
//! ([`super::super::testing::Store`]), fake deltas, and two real states.

use super::super::testing::Store;
use super::*;
use crate::fleet::testing::{fake, merged, Fake};
use crate::signal::{Levels, Signal};
use crate::state::{Observation, State, StateConfig};

/// Two workers that have both served requests (so each publishes for the other).
fn active_pair(s: &mut Store, mut a: Sync, mut b: Sync) -> (Sync, Sync) {
    a.mark_active(s).unwrap();
    b.mark_active(s).unwrap();
    (a, b)
}

#[test]
fn workers_claim_distinct_indexes_despite_races() {
    let mut s = Store::default();
    assert_eq!(claim_worker(&mut s), Ok(0));
    assert_eq!(claim_worker(&mut s), Ok(1));
    // Another worker increments between our read and our write: we retry and get the next.
    s.race_once = Some(WORKERS_KEY.into());
    assert_eq!(claim_worker(&mut s), Ok(3));
    assert_eq!(s.map.get(WORKERS_KEY).map(|v| v.0.clone()), Some(4u32.to_le_bytes().to_vec()));
    // Creating the counter never overwrites an existing one.
    assert_eq!(s.set(WORKERS_KEY, &0u32.to_le_bytes(), CREATE_ONLY), Err(CAS_MISMATCH));
    let mut broken = Store { fail_get: Some(WORKERS_KEY.into()), ..Store::default() };
    assert_eq!(claim_worker(&mut broken), Err(("reading the worker counter", Status(10))));
}

#[test]
fn peers_apply_each_others_deltas_once_and_never_their_own() {
    let mut s = Store::default();
    let (a, b) = (Sync::new(claim_worker(&mut s).unwrap()).unwrap(), Sync::new(claim_worker(&mut s).unwrap()).unwrap());
    let (mut a, mut b) = active_pair(&mut s, a, b);
    let (mut fa, mut fb) = (fake(&["a1", "a2"]), fake(&["b1"]));
    let r = a.tick(&mut s, &mut fa, true);
    assert_eq!((r.published, r.applied), (1, 0));
    let r = b.tick(&mut s, &mut fb, true);
    assert_eq!((r.published, r.applied, r.missed), (1, 1, 0));
    assert_eq!(merged(&fb), ["a1"]);
    let r = a.tick(&mut s, &mut fa, true);
    assert_eq!((r.published, r.applied), (1, 1));
    assert_eq!(merged(&fa), ["b1"]);
    // Nothing new from a's side for b but a2; nothing new at all afterwards.
    assert_eq!(b.tick(&mut s, &mut fb, true).applied, 1);
    assert_eq!(merged(&fb), ["a1", "a2"]);
    let r = b.tick(&mut s, &mut fb, true);
    assert_eq!(r, TickReport::default());
    assert_eq!(a.tick(&mut s, &mut fa, true), TickReport::default());
    assert_eq!(merged(&fa), ["b1"], "a never merges its own deltas");
}

#[test]
fn a_lagging_peer_counts_what_the_ring_dropped() {
    let mut s = Store::default();
    let (a, b) = (Sync::new(0).unwrap(), Sync::new(1).unwrap());
    let (mut a, mut b) = active_pair(&mut s, a, b);
    s.map.insert(WORKERS_KEY.into(), (2u32.to_le_bytes().to_vec(), 1));
    let names: Vec<String> = (1..=RING + 3).map(|i| format!("a{i}")).collect();
    let mut fa = Fake { out: names.iter().map(|n| n.as_bytes().to_vec()).collect(), merged: Vec::new() };
    for _ in 0..RING + 3 {
        assert_eq!(a.tick(&mut s, &mut fa, true).published, 1);
    }
    let mut fb = Fake::default();
    let r = b.tick(&mut s, &mut fb, true);
    assert_eq!((r.applied, r.missed, r.published), (RING, 3, 0));
    assert_eq!(merged(&fb).first().copied(), Some("a4"));
    assert_eq!(merged(&fb).last().copied(), Some(names.last().unwrap().as_str()));
}

#[test]
fn corrupt_and_overwritten_slots_are_skipped_and_counted() {
    let mut s = Store::default();
    let (a, b) = (Sync::new(0).unwrap(), Sync::new(1).unwrap());
    let (mut a, mut b) = active_pair(&mut s, a, b);
    s.map.insert(WORKERS_KEY.into(), (2u32.to_le_bytes().to_vec(), 1));
    let mut fa = fake(&["bad", "a2", "a3"]);
    for _ in 0..3 {
        a.tick(&mut s, &mut fa, true);
    }
    // Slot of seq 3 now holds a seq from a later lap: seq 3 is lost.
    let k = slot_key(0, 3);
    let mut v = (3 + RING).to_le_bytes().to_vec();
    v.extend_from_slice(b"later");
    s.map.insert(k, (v, 99));
    let mut fb = Fake::default();
    let r = b.tick(&mut s, &mut fb, true);
    assert_eq!((r.applied, r.decode_errors, r.missed), (1, 1, 1));
    assert_eq!(merged(&fb), ["a2"]);
}

#[test]
fn host_failures_are_reported_and_the_peer_is_retried() {
    let mut s = Store::default();
    let (a, b) = (Sync::new(0).unwrap(), Sync::new(1).unwrap());
    let (mut a, mut b) = active_pair(&mut s, a, b);
    s.map.insert(WORKERS_KEY.into(), (2u32.to_le_bytes().to_vec(), 1));
    let mut fa = fake(&["a1", "a2"]);
    a.tick(&mut s, &mut fa, true);
    let mut fb = Fake::default();
    s.fail_get = Some("distill_guard.delta.".into());
    let r = b.tick(&mut s, &mut fb, true);
    assert_eq!((r.applied, r.host_errors), (0, 1));
    assert_eq!(r.failure, Some(("reading a peer's delta", Status(10))));
    s.fail_get = None;
    a.tick(&mut s, &mut fa, true);
    let r = b.tick(&mut s, &mut fb, true);
    assert_eq!((r.applied, r.missed), (2, 0));
    // A failed publish loses that delta but never stops the worker.
    s.fail_set = Some("distill_guard.delta.1.".into());
    let r = b.tick(&mut s, &mut fake(&["b1"]), true);
    assert_eq!((r.published, r.host_errors), (0, 1));
    assert!(Sync::new(MAX_WORKERS).is_none());
}

fn obs(now_ms: u64, account: u64) -> Observation {
    Observation { now_ms, account: Some(account), hfp: 7, prefix: Some(42), ..Observation::default() }
}

fn accounts_per_prefix(st: &State, now_ms: u64) -> f64 {
    let mut lv = Levels::default();
    st.measure(&obs(now_ms, 1_000_000), &mut lv);
    lv.get(Signal::ClusterAccountsPerPrefix).unwrap_or(0.0)
}

#[test]
fn two_real_states_see_the_union_after_a_tick_each() {
    let cfg = StateConfig::default();
    let (mut x, mut y) = (State::new(&cfg), State::new(&cfg));
    assert_eq!(x.export_delta().len(), EMPTY_DELTA_LEN, "a fresh export is the empty delta");
    let off = StateConfig { enabled: false, ..StateConfig::default() };
    assert_eq!(State::new(&off).export_delta().len(), EMPTY_DELTA_LEN, "a disabled state too");
    let t = 1_700_000_000_000;
    let mut lv = Levels::default();
    for i in 0..40u64 {
        let st = if i % 2 == 0 { &mut x } else { &mut y };
        // Twice each: clusters count returning accounts.
        st.observe(&obs(t + i, i + 1), &mut lv);
        st.observe(&obs(t + i, i + 1), &mut lv);
    }
    let before = accounts_per_prefix(&x, t + 100);
    assert!((15.0..=26.0).contains(&before), "{before}");
    let mut s = Store::default();
    let (a, b) = (Sync::new(claim_worker(&mut s).unwrap()).unwrap(), Sync::new(claim_worker(&mut s).unwrap()).unwrap());
    let (mut a, mut b) = active_pair(&mut s, a, b);
    a.tick(&mut s, &mut x, true);
    assert_eq!(b.tick(&mut s, &mut y, true).applied, 1);
    assert_eq!(a.tick(&mut s, &mut x, true).applied, 1);
    for st in [&x, &y] {
        let after = accounts_per_prefix(st, t + 100);
        assert!((33.0..=48.0).contains(&after), "{after}");
    }
    // Merged data is not re-exported: the next ticks publish nothing.
    assert_eq!(a.tick(&mut s, &mut x, true), TickReport::default());
    assert_eq!(b.tick(&mut s, &mut y, true), TickReport::default());
}

#[test]
fn a_lone_worker_keeps_its_changes_until_a_peer_serves() {
    let mut s = Store::default();
    let (mut a, mut b) = (Sync::new(claim_worker(&mut s).unwrap()).unwrap(), Sync::new(claim_worker(&mut s).unwrap()).unwrap());
    let (mut fa, mut fb) = (fake(&["a1"]), Fake::default());
    // `a` serves, `b` (say the main-thread VM) never does: nothing is published or merged.
    for _ in 0..3 {
        assert_eq!(a.tick(&mut s, &mut fa, true).published, 0);
        assert_eq!(b.tick(&mut s, &mut fb, false), TickReport::default());
    }
    assert_eq!(s.map.get(ACTIVE_KEY).map(|v| v.0.clone()), Some(1u32.to_le_bytes().to_vec()));
    assert!(merged(&fb).is_empty());
    // `b` serves a request: from the next ticks on, `a` publishes what it kept.
    b.tick(&mut s, &mut fb, true);
    assert_eq!(a.tick(&mut s, &mut fa, true).published, 1);
    assert_eq!(b.tick(&mut s, &mut fb, true).applied, 1);
    assert_eq!(merged(&fb), vec!["a1".to_string()]);
    // Marking is counted once per VM.
    a.tick(&mut s, &mut fa, true);
    assert_eq!(s.map.get(ACTIVE_KEY).map(|v| v.0.clone()), Some(2u32.to_le_bytes().to_vec()));
}

#[test]
fn an_idle_vm_merges_but_claims_an_index_only_once_it_serves() {
    let mut s = Store::default();
    let mut a = Sync::new(claim_worker(&mut s).unwrap()).unwrap();
    let mut idle = Sync::idle();
    assert!(!idle.has_index());
    let mut other = Sync::new(claim_worker(&mut s).unwrap()).unwrap();
    other.mark_active(&mut s).unwrap();
    let mut fa = fake(&["a1"]);
    a.tick(&mut s, &mut fa, true);
    let mut fi = Fake::default();
    assert_eq!(idle.tick(&mut s, &mut fi, false).applied, 1, "an idle VM merges");
    assert!(!idle.has_index());
    assert_eq!(s.map.get(WORKERS_KEY).map(|v| v.0.clone()), Some(2u32.to_le_bytes().to_vec()), "and uses no index");
    let mut fi = fake(&["i1"]);
    idle.tick(&mut s, &mut fi, true);
    assert_eq!(idle.worker(), 2);
    let mut fo = Fake::default();
    other.tick(&mut s, &mut fo, true);
    assert_eq!(merged(&fo), ["a1", "i1"]);
}
