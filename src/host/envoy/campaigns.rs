//! One campaign report for all the worker VMs of an Envoy, through shared data.
//!
//! Each worker VM tracks the requests it served (its engine's [`Tracker`]); Envoy spreads
//! connections over workers, so a campaign's accounts, and one account's requests, land on
//! several. Every `envoy.campaigns.interval_s` each worker with a worker index (the state
//! sync's, [`super::sync`]) publishes its tracker's snapshot ([`Tracker::snapshot`]) when a
//! peer serves too, and the lowest-indexed worker among those that published lately reports:
//! its own tracker merged with every fresh peer snapshot ([`Tracker::merge_snapshot`], one
//! peer per tick: [`Merging`]), so
//! a campaign whose accounts no single worker saw enough of is still reported, once (a
//! worker reports from its second interval on, once its peers have published theirs). A peer's requests reach the report at most one interval late
//! (its latest snapshot). A VM without a
//! worker index (state off, or it never served) reports what it saw itself, as does a lone
//! worker, which publishes nothing.
//!
//! Shared-data keys (values little-endian):
//! ```text
//! distill_guard.campaigns.at.<w>    u64 ms when worker w last published its snapshot
//! distill_guard.campaigns.snap.<w>  worker w's latest tracker snapshot
//! ```
//! A peer whose snapshot is older than [`FRESH_INTERVALS`] intervals (it stopped, or belongs
//! to a VM that no longer serves) is left out; a snapshot that does not decode is skipped and
//! counted. Deliberately not here: the request path (a worker's tracker is fed there), the
//! log format ([`super::wire::report_lines`]).

use super::apply::Status;
use super::sync::{read_counter, SharedData, ACTIVE_KEY, MAX_WORKERS, TICK_MS, WORKERS_KEY};
use crate::campaign::Tracker;

/// A snapshot older than this many report intervals (plus two ticks) is stale.
pub const FRESH_INTERVALS: u64 = 2;

/// Shared-data key of worker `w`'s publication time.
pub fn at_key(w: u32) -> String {
    format!("distill_guard.campaigns.at.{w}")
}

/// Shared-data key of worker `w`'s snapshot.
pub fn snap_key(w: u32) -> String {
    format!("distill_guard.campaigns.snap.{w}")
}

/// What a worker does with the report this interval.
#[derive(Debug)]
pub enum Turn {
    /// Log its own tracker's report (no index, or alone).
    Own,
    /// Another worker reports for this one: log nothing.
    Peer(u32),
    /// This worker's first publication: its peers' first snapshots may not be there yet (and
    /// a lower peer may report for it), so it logs nothing yet.
    First,
    /// Merge the peers' snapshots into a copy of its tracker ([`Merging::step`], one peer per
    /// call), then log its report.
    Merge(Merging),
}

/// A report being merged: a copy of the reporter's tracker and the peers still to merge, one
/// per tick, so that the reporter pauses for one peer's merge at a time (~10 ms in V8 with full
/// tables) rather than for all of them at once.
#[derive(Debug)]
pub struct Merging {
    tracker: Box<Tracker>,
    /// Peers still to merge (the last first).
    pending: Vec<u32>,
    workers: u32,
    refused: u32,
}

impl Merging {
    /// Merges the next peer's latest snapshot (a snapshot that does not decode is counted as
    /// refused; a peer that left none is skipped); true when no peer is left.
    pub fn step<S: SharedData>(&mut self, s: &mut S) -> Result<bool, Failure> {
        if let Some(w) = self.pending.pop() {
            match s.get(&snap_key(w)).map_err(|e| ("reading a peer's campaign snapshot", e))? {
                Some((v, _)) if self.tracker.merge_snapshot(&v).is_ok() => self.workers += 1,
                Some(_) => self.refused += 1,
                // A worker that reported until now (this one was stale) has published none.
                None => {}
            }
        }
        Ok(self.pending.is_empty())
    }

    /// The merged tracker so far.
    pub fn tracker(&self) -> &Tracker {
        &self.tracker
    }

    /// Trackers merged so far, the reporter's included.
    pub fn workers(&self) -> u32 {
        self.workers
    }

    /// Peer snapshots refused so far.
    pub fn refused(&self) -> u32 {
        self.refused
    }
}

/// What went wrong with shared data this interval (the report falls back to [`Turn::Own`]).
pub type Failure = (&'static str, Status);

fn read_u64(v: &[u8]) -> Option<u64> {
    Some(u64::from_le_bytes(v.get(..8)?.try_into().ok()?))
}

/// The report turn of worker `me` (`None`: no index) at `now_ms`, with a report every
/// `interval_ms`.
pub fn turn<S: SharedData>(s: &mut S, own: &Tracker, me: Option<u32>, now_ms: u64, interval_ms: u64) -> Result<Turn, Failure> {
    let Some(me) = me.filter(|&m| m < MAX_WORKERS) else { return Ok(Turn::Own) };
    // A worker with an index has served and counts itself active: alone, it reports its own.
    if read_counter(s, ACTIVE_KEY, "reading the active-VM counter")? < 2 {
        return Ok(Turn::Own);
    }
    let workers = read_counter(s, WORKERS_KEY, "reading the worker counter")?;
    let published = s.get(&at_key(me)).map_err(|e| ("reading the campaign snapshot time", e))?.is_some();
    let fresh_ms = FRESH_INTERVALS * interval_ms + 2 * u64::from(TICK_MS);
    let (mut fresh, mut lower) = (Vec::new(), None);
    for w in (0..workers.min(MAX_WORKERS)).filter(|&w| w != me) {
        let at = match s.get(&at_key(w)).map_err(|e| ("reading a peer's campaign snapshot time", e))? {
            Some((v, _)) => read_u64(&v).unwrap_or(0),
            None => continue,
        };
        if now_ms.saturating_sub(at) > fresh_ms {
            continue;
        }
        if w < me {
            lower = Some(w);
            break;
        }
        fresh.push(w);
    }
    // The reporter only says it is alive: no one reads its snapshot. A worker's first
    // publication reports nothing: its peers may not have published their first snapshot yet
    // (and a lower peer may not have published at all).
    let reports = lower.is_none() && published;
    if !reports {
        s.set(&snap_key(me), &own.snapshot(), 0).map_err(|e| ("publishing the campaign snapshot", e))?;
    }
    s.set(&at_key(me), &now_ms.to_le_bytes(), 0).map_err(|e| ("publishing the campaign snapshot time", e))?;
    if let Some(w) = lower {
        return Ok(Turn::Peer(w));
    }
    if !reports {
        return Ok(Turn::First);
    }
    fresh.reverse();
    Ok(Turn::Merge(Merging { tracker: Box::new(own.clone()), pending: fresh, workers: 1, refused: 0 }))
}

#[cfg(test)]
mod tests {
    use super::super::testing::Store;
    use super::*;
    use crate::campaign::Settings;
    use crate::score::{Action, Reason, Verdict};
    use crate::signal::Signal;
    use crate::state::Observation;

    const MIN: u64 = 60_000;

    /// Three trackers, each with 5 of a 15-account campaign's accounts (under min_accounts 10).
    fn trackers() -> Vec<Tracker> {
        let v = Verdict { action: Action::Tag, score: 70, reasons: vec![Reason { signal: Signal::ProxyVia, strength: 1.0, points: 25.0 }], ..Default::default() };
        let mut t: Vec<Tracker> = (0..3).map(|_| Tracker::new(Settings { accounts: 256, clusters: 256, ..Settings::default() })).collect();
        for i in 0..300u64 {
            let obs = Observation { now_ms: 1_000_000 + i, account: Some(100 + i % 15), hfp: 7, env: Some(0xE1), ..Default::default() };
            t[(i % 3) as usize].record(&obs, &v);
        }
        t
    }

    /// A merging turn stepped to its end: (the campaign's accounts, trackers merged, refused).
    fn finish(s: &mut Store, turn: Turn) -> Option<(u64, u32, u32)> {
        let Turn::Merge(mut m) = turn else { return None };
        let mut steps = 0;
        while !m.step(s).unwrap() {
            steps += 1;
        }
        assert!(steps < 64, "one peer per step");
        let t = m.tracker();
        Some((t.report(t.last_ms()).campaigns.first().map_or(0, |c| c.accounts.count), m.workers(), m.refused()))
    }

    fn accounts(s: &mut Store, turn: Turn) -> Option<(u64, u32)> {
        finish(s, turn).map(|(a, w, _)| (a, w))
    }

    /// Shared data where `n` workers have indexes and serve.
    fn store(n: u32) -> Store {
        let mut s = Store::default();
        s.set(WORKERS_KEY, &n.to_le_bytes(), 0).unwrap();
        s.set(ACTIVE_KEY, &n.to_le_bytes(), 0).unwrap();
        s
    }

    #[test]
    fn the_lowest_fresh_worker_reports_everyones_campaign_once() {
        let mut s = store(3);
        let t = trackers();
        assert!(t.iter().all(|t| t.report(t.last_ms()).campaigns.is_empty()));
        // First interval: every worker publishes, none reports (their peers' first snapshots
        // may not be there yet); 2 sees 1, a lower fresh peer.
        assert!(matches!(turn(&mut s, &t[1], Some(1), 10 * MIN, MIN).unwrap(), Turn::First));
        assert!(matches!(turn(&mut s, &t[2], Some(2), 10 * MIN + 300, MIN).unwrap(), Turn::Peer(1)));
        assert!(matches!(turn(&mut s, &t[0], Some(0), 10 * MIN + 600, MIN).unwrap(), Turn::First));
        // Next interval: 1 and 2 defer to 0, whose report has all three.
        assert!(matches!(turn(&mut s, &t[1], Some(1), 11 * MIN, MIN).unwrap(), Turn::Peer(0)));
        assert!(matches!(turn(&mut s, &t[2], Some(2), 11 * MIN, MIN).unwrap(), Turn::Peer(0)));
        let snap0 = s.map.get(&snap_key(0)).cloned();
        let Turn::Merge(mut m) = turn(&mut s, &t[0], Some(0), 11 * MIN + 5, MIN).unwrap() else { panic!("0 reports") };
        assert_eq!(s.map.get(&snap_key(0)).cloned(), snap0, "the reporter publishes only its time");
        // One peer per step (per tick): two peers, two steps.
        assert!(!m.step(&mut s).unwrap() && m.workers() == 2);
        assert!(m.step(&mut s).unwrap() && m.workers() == 3);
        assert_eq!(m.tracker().report(m.tracker().last_ms()).campaigns[0].accounts.count, 15);
        let r0 = turn(&mut s, &t[0], Some(0), 12 * MIN, MIN).unwrap();
        assert_eq!(accounts(&mut s, r0), Some((15, 3)));
    }

    #[test]
    fn stale_peers_are_left_out_and_bad_snapshots_counted() {
        let mut s = store(3);
        let t = trackers();
        turn(&mut s, &t[0], Some(0), MIN, MIN).unwrap();
        // Worker 0 stopped publishing: after two intervals (and two ticks) 1 reports, from its
        // second publication on.
        assert!(matches!(turn(&mut s, &t[1], Some(1), 2 * MIN, MIN).unwrap(), Turn::Peer(0)));
        let r = turn(&mut s, &t[1], Some(1), MIN + 2 * MIN + 3000, MIN).unwrap();
        assert_eq!(accounts(&mut s, r), Some((0, 1)));
        // A garbled snapshot from worker 2 is skipped and counted; the rest still merge.
        assert!(matches!(turn(&mut s, &t[2], Some(2), 5 * MIN, MIN).unwrap(), Turn::Peer(1)));
        s.map.get_mut(&snap_key(2)).unwrap().0.truncate(20);
        let r = turn(&mut s, &t[1], Some(1), 5 * MIN + 10, MIN).unwrap();
        assert_eq!(finish(&mut s, r).map(|(_, w, refused)| (w, refused)), Some((1, 1)));
    }

    #[test]
    fn no_index_or_no_peer_reports_its_own_and_publishes_nothing() {
        let mut s = store(3);
        let t = trackers();
        assert!(matches!(turn(&mut s, &t[0], None, MIN, MIN).unwrap(), Turn::Own));
        let mut alone = store(1);
        assert!(matches!(turn(&mut alone, &t[0], Some(0), MIN, MIN).unwrap(), Turn::Own));
        assert_eq!(s.map.len() + alone.map.len(), 4, "nothing published");
        let mut broken = Store { fail_set: Some("distill_guard.campaigns".into()), ..store(2) };
        assert_eq!(turn(&mut broken, &t[0], Some(0), MIN, MIN).unwrap_err(), ("publishing the campaign snapshot", Status(10)));
    }
}
