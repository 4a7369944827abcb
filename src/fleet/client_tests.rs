//! Unit tests of the fleet client: a model of the store function (`fleet/distill_guard.lua`,
//! same arguments, same reply; the real one runs in the end-to-end tests), fake deltas, and
//! real states that must reach what one state fed all the traffic reaches.

use super::*;
use crate::fleet::protocol;
use crate::fleet::testing::{merged, Fake, Store};
use crate::signal::{Levels, Signal};
use crate::state::{Observation, State, StateConfig};

fn client(node: &str) -> Client {
    Client::new(FleetConfig::default(), node, &format!("{node}-p"))
}

/// One round trip through `store`, with the client exporting first when it wants to.
fn round<D: Deltas>(c: &mut Client, st: &mut D, store: &mut Store, now: u64) -> Round {
    if c.wants_local() {
        let d = st.export_delta();
        c.queue::<D>(d);
    }
    let call = c.begin(now).expect("no round trip under way");
    let reply = store.call(&call);
    c.finish(st, Outcome::Http(200, &reply), now)
}

#[test]
fn nodes_get_each_others_deltas_once_and_never_their_own() {
    let mut s = Store::default();
    let (mut a, mut b) = (client("a"), client("b"));
    let (mut fa, mut fb) = (Fake { out: vec![b"a1".to_vec(), b"a2".to_vec()], ..Fake::default() }, Fake { out: vec![b"b1".to_vec()], ..Fake::default() });
    let r = round(&mut a, &mut fa, &mut s, 1);
    assert_eq!((r.published, r.applied, r.failed), (1, 0, false));
    let r = round(&mut b, &mut fb, &mut s, 2);
    assert_eq!((r.published, r.applied), (1, 1));
    round(&mut a, &mut fa, &mut s, 3);
    round(&mut b, &mut fb, &mut s, 4);
    assert_eq!(merged(&fb), ["a1", "a2"]);
    assert_eq!(merged(&fa), ["b1"], "a never merges its own deltas");
    // Nothing new: an empty batch goes out, nothing is stored or merged.
    let r = round(&mut a, &mut fa, &mut s, 5);
    assert_eq!((r.published, r.applied, r.bytes_out), (0, 0, batch::HEADER_LEN as u64));
    assert_eq!(s.log.len(), 3);
}

#[test]
fn a_failed_round_trip_is_retried_with_the_same_seq_and_never_stored_twice() {
    let mut s = Store::default();
    let (mut a, mut b) = (client("a"), client("b"));
    let mut fa = Fake { out: vec![b"a1".to_vec(), b"a2".to_vec()], ..Fake::default() };
    a.queue::<Fake>(fa.export_delta());
    let call = a.begin(10).unwrap();
    assert!(a.begin(11).is_none(), "one round trip at a time");
    // The store stored it but the answer was lost.
    s.call(&call);
    let r = a.finish(&mut fa, Outcome::Failed("timeout"), 20);
    assert!(r.failed);
    assert_eq!(r.log.len(), 1, "{:?}", r.log);
    assert!(r.log[0].contains("store unreachable (timeout)"));
    assert!(!a.wants_local(), "own changes stay in the state while a batch is unacknowledged");
    // Two more failures: no more log lines.
    for t in [30, 40] {
        let again = a.begin(t).unwrap();
        assert_eq!(again, call, "same path (seq) and body");
        let r = a.finish(&mut fa, Outcome::Http(503, b""), t);
        assert!(r.failed && r.log.is_empty());
    }
    let r = round(&mut a, &mut fa, &mut s, 4_000);
    assert_eq!(r.published, 1);
    assert!(r.log.iter().any(|l| l.contains("store back after 3 failed round trip(s) in 3 s")), "{:?}", r.log);
    assert_eq!(s.log.len(), 1, "stored once");
    let mut fb = Fake::default();
    round(&mut b, &mut fb, &mut s, 4_001);
    assert_eq!(merged(&fb), ["a1"]);
    // Now `a` exports what it held back.
    round(&mut a, &mut fa, &mut s, 5_000);
    round(&mut b, &mut fb, &mut s, 5_001);
    assert_eq!(merged(&fb), ["a1", "a2"]);
}

#[test]
fn a_round_trip_without_answer_is_given_up_after_its_timeout() {
    let mut a = client("a");
    a.begin(0).unwrap();
    assert!(a.begin(2_000).is_none());
    assert!(a.begin(2_600).is_some());
    let r = a.finish(&mut Fake::default(), Outcome::Failed("x"), 2_700);
    assert!(r.failed);
    assert_eq!(r.log.len(), 1, "one outage, one line: {:?}", r.log);
}

#[test]
fn hostile_answers_change_nothing() {
    let mut a = client("a");
    let mut fa = Fake::default();
    let good = batch::encode([&b"ok"[..]]);
    let mixed = batch::encode([&b"bad"[..], &b"fine"[..]]);
    let hostile = protocol::bulk(&protocol::pack("9-9", 0, &[(b"x\x1b[2J", b"not a batch"), (b"y", &mixed), (b"z", &good)]));
    a.begin(1).unwrap();
    let r = a.finish(&mut fa, Outcome::Http(200, &hostile), 1);
    assert_eq!((r.applied, r.refused, r.failed), (2, 2, false));
    assert_eq!(merged(&fa), ["fine", "ok"]);
    assert_eq!(r.log.len(), 1, "{:?}", r.log);
    assert!(r.log[0].contains("\"x?[2J\""), "node names are printed safely: {}", r.log[0]);
    // Unusable replies: nothing merged, counted as a failed round trip.
    for (status, body) in [(200, &b"garbage"[..]), (200, b"-ERR Function not found\r\n"), (403, b""), (200, b"$3\r\n1-1\r\n")] {
        a.begin(2).unwrap();
        let before = fa.merged.len();
        let r = a.finish(&mut fa, Outcome::Http(status, body), 2);
        assert!(r.failed, "{status} {body:?}");
        assert_eq!(fa.merged.len(), before);
    }
    // More entries than asked for: refused whole.
    let cfg = FleetConfig { max_entries: 1, ..FleetConfig::default() };
    let mut small = Client::new(cfg, "s", "s-p");
    small.begin(3).unwrap();
    let r = small.finish(&mut fa, Outcome::Http(200, &hostile), 3);
    assert!(r.failed && r.applied == 0);
}

#[test]
fn the_outbox_is_bounded_and_oversized_deltas_are_dropped() {
    let cfg = FleetConfig { max_outbox_bytes: 10, max_payload_bytes: 1024, ..FleetConfig::default() };
    let mut a = Client::new(cfg, "a", "a-p");
    for d in [&b"1234"[..], b"5678", b"9abc"] {
        a.queue::<Fake>(d.to_vec());
    }
    a.queue::<Fake>(Vec::new());
    let call = a.begin(0).unwrap();
    assert_eq!(batch::decode(&call.body).unwrap(), [&b"5678"[..], b"9abc"]);
    let mut s = Store::default();
    let r = a.finish(&mut Fake::default(), Outcome::Http(200, &s.call(&call)), 0);
    assert_eq!((r.missed, r.published), (1, 2));
    let mut big = Client::new(FleetConfig { max_payload_bytes: 1024, ..FleetConfig::default() }, "b", "b-p");
    big.queue::<Fake>(vec![7; 2000]);
    big.queue::<Fake>(b"small".to_vec());
    let call = big.begin(0).unwrap();
    assert_eq!(batch::decode(&call.body).unwrap(), [&b"small"[..]]);
    let r = big.finish(&mut Fake::default(), Outcome::Http(200, &s.call(&call)), 0);
    assert_eq!(r.missed, 1);
}

#[test]
fn gaps_are_counted() {
    let mut s = Store::default();
    let (mut a, mut b) = (client("a"), client("b"));
    let mut fa = Fake { out: vec![b"a1".to_vec(), b"a2".to_vec()], ..Fake::default() };
    let mut fb = Fake::default();
    round(&mut a, &mut fa, &mut s, 1);
    round(&mut b, &mut fb, &mut s, 2);
    round(&mut a, &mut fa, &mut s, 3);
    s.trim_all();
    let r = round(&mut b, &mut fb, &mut s, 4);
    assert_eq!((r.missed, r.applied), (1, 0));
    assert_eq!(merged(&fb), ["a1"]);
}

#[test]
fn a_store_whose_log_restarted_below_the_cursor_is_read_from_its_start() {
    let mut s = Store::default();
    let (mut a, mut b) = (client("a"), client("b"));
    let mut fa = Fake { out: vec![b"a1".to_vec(), b"a2".to_vec(), b"a3".to_vec()], ..Fake::default() };
    let mut fb = Fake::default();
    round(&mut a, &mut fa, &mut s, 1);
    round(&mut a, &mut fa, &mut s, 2);
    round(&mut b, &mut fb, &mut s, 3);
    let mut fresh = Store::default();
    round(&mut a, &mut fa, &mut fresh, 4);
    let r = round(&mut b, &mut fb, &mut fresh, 5);
    assert!(r.log.iter().any(|l| l.contains("log restarted")), "{:?}", r.log);
    assert_eq!(merged(&fb), ["a1", "a2", "a3"]);
}

fn obs(now_ms: u64, account: u64) -> Observation {
    Observation { now_ms, account: Some(account), hfp: 7, prefix: Some(42), ..Observation::default() }
}

fn accounts_per_prefix(st: &State, now_ms: u64) -> f64 {
    let mut lv = Levels::default();
    st.measure(&obs(now_ms, u64::MAX), &mut lv);
    lv.get(Signal::ClusterAccountsPerPrefix).unwrap_or(0.0)
}

#[test]
fn three_nodes_reach_what_one_node_fed_everything_reaches() {
    let cfg = StateConfig::default();
    let mut nodes: Vec<(Client, State)> = ["a", "b", "c"].iter().map(|n| (client(n), State::new(&cfg))).collect();
    let mut one = State::new(&cfg);
    let mut s = Store::default();
    let t = 1_700_000_000_000;
    let mut lv = Levels::default();
    // 300 accounts round-robin over three nodes, a round trip per node every 30 requests.
    for i in 0..300u64 {
        // Twice each: clusters count returning accounts.
        for o in [obs(t + i, i + 1), obs(t + i, i + 1)] {
            nodes[(i % 3) as usize].1.observe(&o, &mut lv);
            one.observe(&o, &mut lv);
        }
        if i % 30 == 29 {
            for (c, st) in nodes.iter_mut() {
                round(c, st, &mut s, t + i);
            }
        }
    }
    let want = accounts_per_prefix(&one, t + 400);
    assert!((250.0..=350.0).contains(&want), "{want}");
    // Every node's last changes are published on its next round trip, read on the one after.
    for _ in 0..2 {
        for (c, st) in nodes.iter_mut() {
            round(c, st, &mut s, t + 400);
        }
    }
    for (c, st) in &nodes {
        let got = accounts_per_prefix(st, t + 400);
        assert_eq!(got, want, "node {} sees the union: the same registers as one node fed everything", c.node());
        assert_eq!(st.active_accounts(t + 400), one.active_accounts(t + 400));
    }
    // Merged data is never published again: quiet rounds store nothing.
    let stored = s.log.len();
    for (c, st) in nodes.iter_mut() {
        assert_eq!(round(c, st, &mut s, t + 500).published, 0);
    }
    assert_eq!(s.log.len(), stored);
}

#[test]
fn a_node_never_reads_what_its_earlier_publisher_stored() {
    let mut s = Store::default();
    let mut old = Client::new(FleetConfig::default(), "n", "n-1");
    let mut fo = Fake { out: vec![b"o1".to_vec()], ..Fake::default() };
    round(&mut old, &mut fo, &mut s, 1);
    // The node's new client (another worker took over): new publisher, seq from 1 again.
    let mut new = Client::new(FleetConfig::default(), "n", "n-2");
    let mut fnew = Fake { out: vec![b"n1".to_vec()], ..Fake::default() };
    let r = round(&mut new, &mut fnew, &mut s, 2);
    assert_eq!((r.published, r.applied), (1, 0));
    assert_eq!(s.log.len(), 2, "its seq 1 is stored: sequence numbers are per publisher");
    let mut fb = Fake::default();
    round(&mut client("b"), &mut fb, &mut s, 3);
    assert_eq!(merged(&fb), ["o1", "n1"]);
}
