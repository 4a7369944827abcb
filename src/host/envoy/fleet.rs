//! The Envoy side of the fleet sync ([`crate::fleet`]): which worker VM talks to the store,
//! and how what it reads reaches the other workers.
//!
//! One worker per Envoy leads ([`lead`]: a lease in shared data, renewed every tick, taken
//! over when its holder stops renewing for [`LEASE_MS`]; only a VM that has served requests
//! leads, so never the main-thread VM). On its tick the leader collects its own local delta
//! and the local deltas of its peers that the worker sync brought it ([`super::sync::Role`]),
//! and sends them to the store in one `dispatch_http_call`, which also brings back the other
//! nodes' deltas. It merges those, then writes the answer into the fleet ring for its peers
//! ([`super::sync::Sync::publish_fleet`]); they merge it on their next tick. So a node
//! makes one round trip per tick whatever its worker count, the store never sees a delta
//! twice, and no node reads its own deltas back.
//!
//! Latency: a request is in every other node's leader after at most two ticks (the leader's
//! next tick publishes it, the other leaders' next tick reads it) when it reached the leader
//! itself (`--concurrency 1`), one more when it reached another worker (the worker sync
//! hands it to the leader first), and in the other nodes' followers one tick after that.
//!
//! Host-independent (the [`SharedData`] trait and `now_ms`); `fleet_root.rs` makes the call.
//! Deliberately not here: HTTP, the state's contents, anything on the request path.

use super::apply::{Failure, Status};
use super::sync::{Deltas, Role, SharedData, Sync, TickReport, CAS_MISMATCH, TICK_MS};
use crate::fleet::config::{is_name, sanitize_name};
use crate::fleet::{Call, Client, FleetConfig, Outcome, Round};

/// The fleet counters (both Envoy filters), in [`round_counts`] order.
pub const COUNTERS: [&str; 7] = [
    "distill_guard.sync.fleet_published",
    "distill_guard.sync.fleet_applied",
    "distill_guard.sync.fleet_refused",
    "distill_guard.sync.fleet_missed",
    "distill_guard.sync.fleet_errors",
    "distill_guard.sync.fleet_bytes_out",
    "distill_guard.sync.fleet_bytes_in",
];

/// What a round trip adds to each of [`COUNTERS`].
pub fn round_counts(r: &Round) -> [u64; COUNTERS.len()] {
    [r.published, r.applied, r.refused, r.missed, u64::from(r.failed), r.bytes_out, r.bytes_in]
}

/// Shared-data key of the leader lease: `u32 worker | u64 renewed at (ms)`.
pub const LEADER_KEY: &str = "distill_guard.fleet.leader";
/// Shared-data key of this Envoy's node name in the fleet.
pub const NODE_KEY: &str = "distill_guard.fleet.node";
/// A lease not renewed for this long may be taken over.
pub const LEASE_MS: u64 = 3 * TICK_MS as u64;
/// Longest node label kept (a random suffix makes the name unique).
const LABEL_MAX: usize = 40;
/// See `sync::CREATE_ONLY`.
const CREATE_ONLY: u32 = u32::MAX;

fn lease(worker: u32, at_ms: u64) -> [u8; 12] {
    let mut v = [0u8; 12];
    v[..4].copy_from_slice(&worker.to_le_bytes());
    v[4..].copy_from_slice(&at_ms.to_le_bytes());
    v
}

fn read_lease(v: &[u8]) -> Option<(u32, u64)> {
    let w = u32::from_le_bytes(v.get(..4)?.try_into().ok()?);
    let at = u64::from_le_bytes(v.get(4..12)?.try_into().ok()?);
    Some((w, at))
}

/// True when worker `me` holds the leader lease at `now_ms` (taking or renewing it).
pub fn lead<S: SharedData>(s: &mut S, me: u32, now_ms: u64) -> Result<bool, Failure> {
    let (value, cas) = match s.get(LEADER_KEY).map_err(|e| ("reading the fleet leader lease", e))? {
        None => {
            return match s.set(LEADER_KEY, &lease(me, now_ms), CREATE_ONLY) {
                Ok(()) => Ok(true),
                Err(CAS_MISMATCH) => Ok(false),
                Err(e) => Err(("taking the fleet leader lease", e)),
            }
        }
        Some(x) => x,
    };
    let (holder, at) = read_lease(&value).unwrap_or((u32::MAX, 0));
    if holder != me && now_ms.saturating_sub(at) < LEASE_MS {
        return Ok(false);
    }
    match s.set(LEADER_KEY, &lease(me, now_ms), cas) {
        Ok(()) => Ok(true),
        Err(CAS_MISMATCH) => Ok(false),
        Err(e) => Err(("renewing the fleet leader lease", e)),
    }
}

/// This Envoy's name in the fleet: `<label>-<8 hex digits>`, made once per Envoy process by
/// the first VM that asks (from `random`) and read by the others, so that the workers of one
/// Envoy are one node and a restarted Envoy is a new one.
pub fn node_name<S: SharedData>(s: &mut S, label: &str, random: u32) -> Result<String, Failure> {
    let mut label = sanitize_name(label).unwrap_or_else(|| "envoy".into());
    label.truncate(LABEL_MAX);
    for _ in 0..2 {
        if let Some((v, _)) = s.get(NODE_KEY).map_err(|e| ("reading the fleet node name", e))? {
            return match std::str::from_utf8(&v) {
                Ok(n) if is_name(n) => Ok(n.to_string()),
                _ => Err(("reading the fleet node name", Status(3))),
            };
        }
        let name = format!("{label}-{random:08x}");
        match s.set(NODE_KEY, name.as_bytes(), CREATE_ONLY) {
            Ok(()) => return Ok(name),
            Err(CAS_MISMATCH) => continue, // another VM named it first
            Err(e) => return Err(("naming the fleet node", e)),
        }
    }
    Err(("naming the fleet node (contention)", CAS_MISMATCH))
}

/// One worker VM's part in the fleet: its store client (used while it leads) and whether
/// it leads. Lives as long as the VM, across policy swaps.
#[derive(Debug)]
pub struct FleetWorker {
    client: Client,
    leading: bool,
}

impl FleetWorker {
    /// A worker of node `node`; its store entries carry `publisher` (new for each client).
    pub fn new(cfg: FleetConfig, node: &str, publisher: &str) -> FleetWorker {
        FleetWorker { client: Client::new(cfg, node, publisher), leading: false }
    }

    /// The settings.
    pub fn config(&self) -> &FleetConfig {
        self.client.config()
    }

    /// The node's name.
    pub fn node(&self) -> &str {
        self.client.node()
    }

    /// True while this worker leads.
    pub fn leading(&self) -> bool {
        self.leading
    }

    /// This worker's role this tick: it leads when it has served and holds the lease.
    /// Losing the lead drops what it had not published yet (counted in the next round).
    pub fn role<S: SharedData>(&mut self, s: &mut S, me: u32, served: bool, now_ms: u64) -> (Role, Option<Failure>) {
        let (lead_now, failure) = if served {
            match lead(s, me, now_ms) {
                Ok(l) => (l, None),
                Err(f) => (false, Some(f)),
            }
        } else {
            (false, None)
        };
        self.leading = lead_now;
        if lead_now {
            (Role::Leader { hold_local: !self.client.wants_local() }, failure)
        } else {
            (Role::Follower, failure)
        }
    }

    /// After the worker sync's tick: hands the local deltas it collected to the client and
    /// starts a round trip (leader only, one at a time).
    pub fn begin<D: Deltas>(&mut self, report: &mut TickReport, now_ms: u64) -> Option<Call> {
        if !self.leading {
            return None;
        }
        if let Some(d) = report.local.take() {
            self.client.queue::<D>(d);
        }
        for d in report.forward.drain(..) {
            self.client.queue::<D>(d);
        }
        self.client.begin(now_ms)
    }

    /// Ends the round trip: merges the other nodes' deltas into `state` and hands the answer
    /// to the other workers through the fleet ring.
    pub fn finish<S: SharedData, D: Deltas>(&mut self, s: &mut S, sync: &mut Sync, state: &mut D, outcome: Outcome<'_>, now_ms: u64) -> (Round, Option<Failure>) {
        let round = self.client.finish(state, outcome, now_ms);
        let failure = match outcome {
            Outcome::Http(200, answer) if round.applied > 0 => sync.publish_fleet(s, answer).err(),
            _ => None,
        };
        (round, failure)
    }
}

#[cfg(test)]
#[path = "fleet_tests.rs"]
mod tests;
