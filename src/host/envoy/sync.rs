//! State sync between the worker VMs of one Envoy through proxy-wasm shared data, on a tick.
//!
//! Every worker VM keeps its own [`crate::state::State`]. Once it has served a request it
//! claims a small worker index ([`claim_worker`]: a compare-and-swap loop on [`WORKERS_KEY`])
//! and counts itself in [`ACTIVE_KEY`] ([`Sync::mark_active`]); until then it only merges. On each tick
//! ([`Sync::tick`], every [`TICK_MS`]) it publishes its local changes
//! ([`crate::state::State::export_delta`]) into its own ring of [`RING`] slots, but only when
//! another VM has served requests too: a lone worker (`--concurrency 1`) keeps its changes
//! until a peer needs them, so neither it nor the main-thread VM (which never serves a
//! request, but cannot be told apart from an idle worker) pays for the sync, and a peer that
//! becomes active gets everything since start in its first delta (so at start-up, a worker's
//! first requests see what its peers saw before them up to two ticks late). Then it merges
//! every other worker's unseen deltas ([`crate::state::State::merge_bytes`], the operation a
//! fleet uses between nodes). A request seen by one worker is in every worker's state after
//! at most two tick periods (its worker's next tick publishes it, each peer's next tick
//! merges it).
//!
//! With a fleet (see [`super::fleet`]) one worker per Envoy is the leader ([`Role`]): its
//! tick also hands its own delta and the peer deltas it merged to the fleet client, and it
//! writes each store answer it merged (the other nodes' deltas) into one more ring,
//! [`FLEET_SEQ_KEY`], which the followers merge on their ticks. Fleet deltas are never written to a worker's own ring and
//! merged data is never exported again, so nothing travels back to the node it came from.
//!
//! Shared-data keys (all values little-endian):
//! ```text
//! distill_guard.workers          u32 count of indexes handed out
//! distill_guard.active           u32 count of VMs that have served a request
//! distill_guard.seq.<w>          u64 latest published seq of worker w (seqs start at 1)
//! distill_guard.delta.<w>.<s%K>  u64 seq | delta bytes
//! distill_guard.fleet.seq        u64 latest fleet answer seq (written by the fleet leader)
//! distill_guard.fleet.answer.<s%K> u64 seq | a store answer the leader merged (crate::fleet::protocol)
//! ```
//! A peer that fell more than [`RING`] deltas behind, or whose slot was overwritten while
//! being read, loses those deltas: counted as missed, never retried. Deltas only carry a
//! worker's *local* changes, and a worker never reads its own ring, so nothing is applied
//! back to where it came from, and each delta is applied at most once per peer.
//!
//! Host-independent (a [`SharedData`] trait) so the ring bookkeeping is unit-tested natively.
//! Deliberately not here: any per-request work (the request path never touches shared data),
//! and the tick period as a policy field (the policy has none; [`TICK_MS`] is fixed).

use super::apply::{Failure, Status};
use crate::fleet::client::merge_entries;
use crate::fleet::protocol;

/// Tick period of the sync, in ms.
pub const TICK_MS: u32 = 1000;
/// Slots of each worker's ring: a peer may lag this many ticks without losing deltas.
pub const RING: u64 = 8;
/// Most worker indexes synced (later ones run unsynced).
pub const MAX_WORKERS: u32 = 64;
/// The index of a VM that has not claimed one ([`Sync::idle`]).
const IDLE: u32 = u32::MAX;
/// The index of a VM that found every index taken.
const UNSYNCED: u32 = u32::MAX - 1;
/// Shared-data key of the worker counter.
pub const WORKERS_KEY: &str = "distill_guard.workers";
/// Shared-data key of the count of VMs that have served a request.
pub const ACTIVE_KEY: &str = "distill_guard.active";
/// `proxy_set_shared_data`'s status when the CAS did not match.
pub const CAS_MISMATCH: Status = Status(8);
/// Tries of the worker counter's CAS loop before giving up.
const CLAIM_TRIES: u32 = 1000;
/// A CAS no live key has: setting a missing key with it creates the key, setting an
/// existing one fails with [`CAS_MISMATCH`] (hosts ignore the CAS of a missing key).
const CREATE_ONLY: u32 = u32::MAX;

/// The shared-data calls the sync needs (Envoy's `proxy_{get,set}_shared_data`).
pub trait SharedData {
    /// The value and CAS of `key`; `None` when the key does not exist.
    fn get(&mut self, key: &str) -> Result<Option<(Vec<u8>, u32)>, Status>;
    /// Sets `key`; with `cas != 0` only if its CAS is still `cas` (else [`CAS_MISMATCH`]).
    fn set(&mut self, key: &str, value: &[u8], cas: u32) -> Result<(), Status>;
}

pub use crate::fleet::{Deltas, EMPTY_DELTA_LEN};

fn read_u64(v: &[u8]) -> Option<u64> {
    Some(u64::from_le_bytes(v.get(..8)?.try_into().ok()?))
}

fn read_u32(v: &[u8]) -> Option<u32> {
    Some(u32::from_le_bytes(v.get(..4)?.try_into().ok()?))
}

/// Claims a worker index unique among the VMs sharing this shared data: creates the counter
/// if missing, then increments it with compare-and-swap, retrying on [`CAS_MISMATCH`].
pub fn claim_worker<S: SharedData>(s: &mut S) -> Result<u32, Failure> {
    increment(s, WORKERS_KEY, &WORKER_COUNTER)
}

/// What a failure on one shared counter is called.
struct Counter {
    read: &'static str,
    create: &'static str,
    increment: &'static str,
    contention: &'static str,
}

const WORKER_COUNTER: Counter = Counter {
    read: "reading the worker counter",
    create: "creating the worker counter",
    increment: "incrementing the worker counter",
    contention: "worker counter contention",
};

const ACTIVE_COUNTER: Counter = Counter {
    read: "reading the active-VM counter",
    create: "creating the active-VM counter",
    increment: "incrementing the active-VM counter",
    contention: "active-VM counter contention",
};

/// Increments the shared `u32` at `key` (created at 0 if missing); returns its old value.
fn increment<S: SharedData>(s: &mut S, key: &str, c: &Counter) -> Result<u32, Failure> {
    for _ in 0..CLAIM_TRIES {
        match s.get(key).map_err(|e| (c.read, e))? {
            None => match s.set(key, &0u32.to_le_bytes(), CREATE_ONLY) {
                Ok(()) | Err(CAS_MISMATCH) => continue,
                Err(e) => return Err((c.create, e)),
            },
            Some((value, cas)) => {
                let n = read_u32(&value).ok_or((c.read, Status(3)))?;
                let next = n.checked_add(1).ok_or((c.increment, Status(2)))?;
                match s.set(key, &next.to_le_bytes(), cas) {
                    Ok(()) => return Ok(n),
                    Err(CAS_MISMATCH) => continue,
                    Err(e) => return Err((c.increment, e)),
                }
            }
        }
    }
    Err((c.contention, CAS_MISMATCH))
}

/// The value of the shared `u32` at `key` (0 when missing).
pub(super) fn read_counter<S: SharedData>(s: &mut S, key: &str, what: &'static str) -> Result<u32, Failure> {
    match s.get(key) {
        Ok(Some((v, _))) => Ok(read_u32(&v).unwrap_or(0)),
        Ok(None) => Ok(0),
        Err(e) => Err((what, e)),
    }
}

/// What one tick did (the root context adds it to the `distill_guard.sync.*` counters).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct TickReport {
    /// Deltas published (0 or 1).
    pub published: u64,
    /// Peer deltas merged (fleet deltas from the leader's ring included).
    pub applied: u64,
    /// Peer deltas lost (ring overrun, or the peer's slot missing).
    pub missed: u64,
    /// Peer deltas refused by `merge_bytes` (skipped).
    pub decode_errors: u64,
    /// Failed host calls this tick.
    pub host_errors: u64,
    /// The first failed host call, for the log.
    pub failure: Option<Failure>,
    /// [`Role::Leader`] only: this worker's own delta exported this tick, for the fleet.
    pub local: Option<Vec<u8>>,
    /// [`Role::Leader`] only: the peers' deltas merged this tick, for the fleet.
    pub forward: Vec<Vec<u8>>,
}

impl TickReport {
    fn host_error(&mut self, f: Failure) {
        self.host_errors += 1;
        self.failure.get_or_insert(f);
    }
}

/// A worker's part in the fleet sync this tick (see [`super::fleet`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Merges the store answers the leader hands on through [`FLEET_SEQ_KEY`]'s ring.
    Follower,
    /// Talks to the store: collects its own and its peers' local deltas for it. With
    /// `hold_local` (the store has not acknowledged the last batch) it exports its own
    /// changes only when a peer needs them, so they accumulate in its state meanwhile.
    Leader {
        /// Leave own changes in the state unless a peer needs them now.
        hold_local: bool,
    },
}

/// One worker's side of the sync: its index, its latest seq, the latest seq applied per peer.
#[derive(Debug, Clone)]
pub struct Sync {
    me: u32,
    seq: u64,
    applied: Vec<u64>,
    /// Latest fleet answer seq merged (or written, as leader).
    fleet_seen: u64,
    /// Counted in [`ACTIVE_KEY`].
    active: bool,
}

/// Shared-data key of worker `w`'s latest seq.
pub fn seq_key(w: u32) -> String {
    format!("distill_guard.seq.{w}")
}

/// Shared-data key of the ring slot holding worker `w`'s delta `seq`.
pub fn slot_key(w: u32, seq: u64) -> String {
    format!("distill_guard.delta.{w}.{}", seq % RING)
}

/// Shared-data key of the latest fleet answer seq (written by the fleet leader).
pub const FLEET_SEQ_KEY: &str = "distill_guard.fleet.seq";

/// Shared-data key of the ring slot holding fleet answer `seq` (`u64 seq | answer`).
pub fn fleet_slot_key(seq: u64) -> String {
    const KEYS: [&str; RING as usize] = [
        "distill_guard.fleet.answer.0",
        "distill_guard.fleet.answer.1",
        "distill_guard.fleet.answer.2",
        "distill_guard.fleet.answer.3",
        "distill_guard.fleet.answer.4",
        "distill_guard.fleet.answer.5",
        "distill_guard.fleet.answer.6",
        "distill_guard.fleet.answer.7",
    ];
    KEYS[(seq % RING) as usize].to_string()
}

/// Where a ring lives in shared data.
struct RingKeys<'a> {
    seq: &'a str,
    slot: &'a dyn Fn(u64) -> String,
    read: &'static str,
    read_slot: &'static str,
}

/// Hands every value of a ring with seq in `(*done, latest]` to `apply`, counting what was
/// lost; on a failed read, `*done` stays before it so the next tick retries from there.
fn read_ring(s: &mut dyn SharedData, keys: &RingKeys<'_>, done: &mut u64, r: &mut TickReport, apply: &mut dyn FnMut(&[u8], &mut TickReport)) {
    let latest = match s.get(keys.seq) {
        Ok(Some((v, _))) => read_u64(&v).unwrap_or(0),
        Ok(None) => return, // nothing published yet
        Err(e) => return r.host_error((keys.read, e)),
    };
    if latest <= *done {
        return;
    }
    let first = (*done + 1).max(latest.saturating_sub(RING - 1));
    r.missed += first - (*done + 1);
    for seq in first..=latest {
        match s.get(&(keys.slot)(seq)) {
            Ok(Some((v, _))) if read_u64(&v) == Some(seq) => apply(v.get(8..).unwrap_or(&[]), r),
            // Missing, or already overwritten by a newer seq of the same slot.
            Ok(_) => r.missed += 1,
            Err(e) => {
                r.host_error((keys.read_slot, e));
                *done = seq - 1;
                return;
            }
        }
    }
    *done = latest;
}

/// Writes `value` as the next seq of a ring (slot first, then the seq key); returns the seq.
fn write_ring(s: &mut dyn SharedData, seq_key: &str, slot: String, seq: u64, value: &[u8]) -> Result<(), Failure> {
    let mut v = Vec::with_capacity(8 + value.len());
    v.extend_from_slice(&seq.to_le_bytes());
    v.extend_from_slice(value);
    s.set(&slot, &v, 0).map_err(|e| ("publishing a state delta", e))?;
    // If this fails, the next write's seq key still covers this slot.
    s.set(seq_key, &seq.to_le_bytes(), 0).map_err(|e| ("publishing the delta seq", e))
}

impl Sync {
    /// The sync of worker `me` (from [`claim_worker`]); `None` past [`MAX_WORKERS`].
    pub fn new(me: u32) -> Option<Sync> {
        (me < MAX_WORKERS).then(|| Sync { me, seq: 0, applied: vec![0; MAX_WORKERS as usize], fleet_seen: 0, active: false })
    }

    /// The sync of a VM that has no worker index yet: it merges what its peers publish and
    /// claims an index ([`claim_worker`]) on its first tick after serving a request. So VMs
    /// that never serve (the main-thread VM, the VMs Envoy makes to check a new plugin
    /// configuration) never use one up.
    pub fn idle() -> Sync {
        Sync { me: IDLE, seq: 0, applied: vec![0; MAX_WORKERS as usize], fleet_seen: 0, active: false }
    }

    /// True once this VM has a worker index.
    pub fn has_index(&self) -> bool {
        self.me < MAX_WORKERS
    }

    /// Counts this VM among those that serve requests (once; call it when it has served one),
    /// claiming a worker index first if it has none.
    pub fn mark_active<S: SharedData>(&mut self, s: &mut S) -> Result<(), Failure> {
        if self.me == IDLE {
            let me = claim_worker(s)?;
            // Past MAX_WORKERS: serves unsynced, never claims again.
            self.me = if me < MAX_WORKERS { me } else { UNSYNCED };
        }
        if !self.active {
            increment(s, ACTIVE_KEY, &ACTIVE_COUNTER)?;
            self.active = true;
        }
        Ok(())
    }

    /// This worker's index.
    pub fn worker(&self) -> u32 {
        self.me
    }

    /// True once this VM has served a request (and counted itself in [`ACTIVE_KEY`]).
    pub fn is_active(&self) -> bool {
        self.active
    }

    /// [`Sync::tick_as`] a [`Role::Follower`].
    pub fn tick<S: SharedData, D: Deltas>(&mut self, s: &mut S, state: &mut D, served: bool) -> TickReport {
        self.tick_as(s, state, served, Role::Follower)
    }

    /// Publishes `state`'s local changes (when another VM serves requests too), then merges
    /// every peer's unseen deltas, and as a follower the fleet's. `served`: this VM has
    /// served a request.
    pub fn tick_as<S: SharedData, D: Deltas>(&mut self, s: &mut S, state: &mut D, served: bool, role: Role) -> TickReport {
        let mut r = TickReport::default();
        if served {
            if let Err(e) = self.mark_active(s) {
                r.host_error(e);
            }
        }
        // Only local requests make changes, so a VM with changes has served: publish when
        // some other VM has served too (it may need them; idle VMs merge whatever comes).
        let peers = match read_counter(s, ACTIVE_KEY, ACTIVE_COUNTER.read) {
            Ok(n) => n > self.active as u32,
            Err(e) => {
                r.host_error(e);
                false
            }
        };
        let leader = matches!(role, Role::Leader { .. });
        if (peers || role == (Role::Leader { hold_local: false })) && self.has_index() {
            let delta = state.export_delta();
            if !D::is_empty_delta(&delta) {
                if peers {
                    self.publish(s, &delta, &mut r);
                }
                if leader {
                    r.local = Some(delta);
                }
            }
        }
        let workers = match read_counter(s, WORKERS_KEY, WORKER_COUNTER.read) {
            Ok(n) => n.min(MAX_WORKERS),
            Err(e) => {
                r.host_error(e);
                return r;
            }
        };
        let me = self.me;
        for peer in (0..workers).filter(|&p| p != me) {
            self.pull(s, state, peer, leader, &mut r);
        }
        // Fleet batches only once this VM serves: the main-thread VM (which never does)
        // stays unallocated, and a worker that starts serving late merges the ring's last
        // RING batches (earlier ones are counted as missed).
        if !leader && self.active {
            self.pull_fleet(s, state, &mut r);
        }
        r
    }

    fn publish<S: SharedData>(&mut self, s: &mut S, delta: &[u8], r: &mut TickReport) {
        let seq = self.seq + 1;
        match write_ring(s, &seq_key(self.me), slot_key(self.me, seq), seq, delta) {
            Ok(()) => {
                self.seq = seq;
                r.published += 1;
            }
            // A failed slot write loses the delta for the peers (it was drained from the
            // local state); a failed seq write is covered by the next one.
            Err(e @ ("publishing the delta seq", _)) => {
                self.seq = seq;
                r.published += 1;
                r.host_error(e);
            }
            Err(e) => r.host_error(e),
        }
    }

    fn pull<S: SharedData, D: Deltas>(&mut self, s: &mut S, state: &mut D, peer: u32, forward: bool, r: &mut TickReport) {
        let Some(done) = self.applied.get_mut(peer as usize) else { return };
        let slot = |seq| slot_key(peer, seq);
        let keys = RingKeys { seq: &seq_key(peer), slot: &slot, read: "reading a peer's seq", read_slot: "reading a peer's delta" };
        read_ring(s, &keys, done, r, &mut |delta, r| match state.merge_bytes(delta) {
            Ok(()) => {
                r.applied += 1;
                if forward {
                    r.forward.push(delta.to_vec());
                }
            }
            Err(_) => r.decode_errors += 1,
        });
    }

    /// Merges the store answers the fleet leader handed on since the last tick.
    fn pull_fleet<S: SharedData, D: Deltas>(&mut self, s: &mut S, state: &mut D, r: &mut TickReport) {
        let keys = RingKeys { seq: FLEET_SEQ_KEY, slot: &fleet_slot_key, read: "reading the fleet seq", read_slot: "reading a fleet answer" };
        read_ring(s, &keys, &mut self.fleet_seen, r, &mut |value, r| match protocol::answer(value, u32::MAX) {
            Ok(a) => {
                let (ok, bad) = merge_entries(state, &a.entries, &mut |_, _| {});
                r.applied += ok;
                r.decode_errors += bad;
            }
            Err(_) => r.decode_errors += 1,
        });
    }

    /// As the fleet leader: hands a store answer it merged to the other workers (through the
    /// fleet ring). Seqs continue from the ring's latest, whoever wrote it.
    pub fn publish_fleet<S: SharedData>(&mut self, s: &mut S, answer: &[u8]) -> Result<(), Failure> {
        let seq = read_counter_u64(s, FLEET_SEQ_KEY)?.max(self.fleet_seen) + 1;
        write_ring(s, FLEET_SEQ_KEY, fleet_slot_key(seq), seq, answer)?;
        self.fleet_seen = seq;
        Ok(())
    }
}

/// The shared `u64` at `key` (0 when missing).
fn read_counter_u64<S: SharedData>(s: &mut S, key: &str) -> Result<u64, Failure> {
    match s.get(key) {
        Ok(Some((v, _))) => Ok(read_u64(&v).unwrap_or(0)),
        Ok(None) => Ok(0),
        Err(e) => Err(("reading the fleet seq", e)),
    }
}

#[cfg(test)]
#[path = "sync_tests.rs"]
mod tests;
