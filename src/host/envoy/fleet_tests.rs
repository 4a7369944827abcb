//! Unit tests of the Envoy fleet glue: the leader lease, the node name, and two Envoys (one
//! with two workers) syncing real states through the store model, checked against one
//! state fed all the traffic.

use super::super::testing::Store;
use super::*;
use crate::fleet::testing::Store as FleetStore;
use crate::signal::{Levels, Signal};
use crate::state::{Observation, State, StateConfig};

#[test]
fn one_worker_leads_and_another_takes_over_a_lapsed_lease() {
    let mut s = Store::default();
    assert_eq!(lead(&mut s, 1, 1_000), Ok(true));
    assert_eq!(lead(&mut s, 2, 1_500), Ok(false));
    assert_eq!(lead(&mut s, 1, 2_000), Ok(true), "renewed");
    assert_eq!(lead(&mut s, 2, 2_000 + LEASE_MS - 1), Ok(false));
    assert_eq!(lead(&mut s, 2, 2_000 + LEASE_MS), Ok(true), "taken over");
    assert_eq!(lead(&mut s, 1, 2_001 + LEASE_MS), Ok(false));
    // A race on the lease: the other writer wins, this one follows.
    s.race_once = Some(LEADER_KEY.into());
    assert_eq!(lead(&mut s, 2, 3_000 + LEASE_MS), Ok(false));
    let mut broken = Store { fail_get: Some(LEADER_KEY.into()), ..Store::default() };
    assert!(lead(&mut broken, 1, 0).is_err());
}

#[test]
fn the_workers_of_one_envoy_share_one_node_name() {
    let mut s = Store::default();
    let a = node_name(&mut s, "gw.eu-1", 0xab).unwrap();
    assert_eq!(a, "gw_eu-1-000000ab");
    assert_eq!(node_name(&mut s, "other", 0xcd).unwrap(), a);
    assert_eq!(node_name(&mut Store::default(), "", 1).unwrap(), "envoy-00000001");
    assert_eq!(node_name(&mut Store::default(), &"x".repeat(99), 1).unwrap().len(), 40 + 9);
    let mut bad = Store::default();
    bad.map.insert(NODE_KEY.into(), (b"no/slash".to_vec(), 1));
    assert!(node_name(&mut bad, "n", 1).is_err());
}

/// One worker VM: its sync, its fleet part, its state.
struct Worker {
    sync: Sync,
    fleet: FleetWorker,
    state: State,
}

fn worker(s: &mut Store, node: &str, cfg: &StateConfig) -> Worker {
    let me = super::super::sync::claim_worker(s).unwrap();
    Worker { sync: Sync::new(me).unwrap(), fleet: FleetWorker::new(FleetConfig::default(), node, &format!("{node}-{me}")), state: State::new(cfg) }
}

/// One tick of a worker, with its round trip (if it leads) answered at once.
fn tick(w: &mut Worker, s: &mut Store, store: &mut FleetStore, now: u64) -> Option<Round> {
    let (role, failure) = w.fleet.role(s, w.sync.worker(), true, now);
    assert_eq!(failure, None);
    let mut r = w.sync.tick_as(s, &mut w.state, true, role);
    assert_eq!((r.host_errors, r.decode_errors), (0, 0), "{r:?}");
    let call = w.fleet.begin::<State>(&mut r, now)?;
    let reply = store.call(&call);
    let (round, failure) = w.fleet.finish(s, &mut w.sync, &mut w.state, Outcome::Http(200, &reply), now);
    assert_eq!(failure, None);
    Some(round)
}

fn obs(now_ms: u64, i: u64) -> Observation {
    Observation { now_ms, account: Some(i), hfp: 7 + i % 2, prefix: Some(42 + i % 3), asn: Some(64_500), template: Some(99), env: Some(5), elicitation: i % 4 == 0, ..Observation::default() }
}

fn levels(st: &State, now_ms: u64) -> Vec<(Signal, f64)> {
    let mut lv = Levels::default();
    st.measure(&obs(now_ms, 1), &mut lv);
    lv.iter().collect()
}

#[test]
fn two_envoys_one_with_two_workers_reach_what_one_state_fed_everything_reaches() {
    let cfg = StateConfig::default();
    let (mut sa, mut sb) = (Store::default(), Store::default());
    let mut store = FleetStore::default();
    let mut a = vec![worker(&mut sa, "a", &cfg), worker(&mut sa, "a", &cfg)];
    let mut b = vec![worker(&mut sb, "b", &cfg)];
    // Both workers of `a` serve from the start (a worker that starts serving later misses
    // what its leader published for the fleet alone before: see sync.rs).
    for w in a.iter_mut() {
        w.sync.mark_active(&mut sa).unwrap();
    }
    let mut one = State::new(&cfg);
    let t = 1_700_000_000_000;
    let mut lv = Levels::default();
    let mut now = t;
    for i in 0..120u64 {
        // Twice each: clusters count returning accounts.
        for o in [obs(t + i, i + 1), obs(t + i, i + 1)] {
            one.observe(&o, &mut lv);
            match i % 3 {
                0 => a[0].state.observe(&o, &mut lv),
                1 => a[1].state.observe(&o, &mut lv),
                _ => b[0].state.observe(&o, &mut lv),
            }
        }
        if i % 30 == 29 {
            now += 1_000;
            for w in a.iter_mut() {
                tick(w, &mut sa, &mut store, now);
            }
            tick(&mut b[0], &mut sb, &mut store, now);
        }
    }
    let leaders = a.iter().filter(|w| w.fleet.leading()).count();
    assert_eq!(leaders, 1, "one leader per Envoy");
    // Four more ticks each: a follower's delta reaches its leader, the store, the other
    // leader, and that node's followers.
    for _ in 0..4 {
        now += 1_000;
        for w in a.iter_mut() {
            tick(w, &mut sa, &mut store, now);
        }
        tick(&mut b[0], &mut sb, &mut store, now);
    }
    let want = levels(&one, t + 200);
    assert!(want.iter().any(|(s, n)| *s == Signal::ClusterAccountsPerPrefix && *n >= 30.0), "{want:?}");
    for (name, w) in [("a0", &a[0]), ("a1", &a[1]), ("b0", &b[0])] {
        assert_eq!(levels(&w.state, t + 200), want, "worker {name}: every level (distinct counts and counters) as one state fed everything");
        assert_eq!(w.state.active_accounts(t + 200), one.active_accounts(t + 200));
    }
    // Quiet from now on: nothing more is stored, nothing travels back.
    let stored = store.log.len();
    for _ in 0..3 {
        now += 1_000;
        for w in a.iter_mut() {
            tick(w, &mut sa, &mut store, now);
        }
        tick(&mut b[0], &mut sb, &mut store, now);
    }
    assert_eq!(store.log.len(), stored);
    assert_eq!(levels(&a[1].state, t + 200), want);
}

#[test]
fn an_idle_vm_never_leads() {
    let mut s = Store::default();
    let mut w = FleetWorker::new(FleetConfig::default(), "n", "n-0");
    assert_eq!(w.role(&mut s, 0, false, 1).0, Role::Follower);
    assert!(s.map.get(LEADER_KEY).is_none());
    assert_eq!(w.role(&mut s, 0, true, 2).0, Role::Leader { hold_local: false });
    let mut report = TickReport::default();
    assert!(w.begin::<State>(&mut report, 2).is_some());
    // A round trip under way: no second one.
    assert!(w.begin::<State>(&mut report, 3).is_none());
}
