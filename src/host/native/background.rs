//! The native filter's background work, on one thread per filter configuration (started only
//! when there is some): the fleet sync ([`crate::fleet`]) and the campaign log
//! (`envoy.campaigns`).
//!
//! Fleet sync: once a second the thread exports the engine's local state changes, sends them
//! to the bridge (`envoy.fleet.bridge`: an HTTP `PUT` on a connection of its own to webdis in
//! front of Redis, the same call the Wasm filter makes through an Envoy cluster) and merges the
//! other nodes' deltas from the answer. The filter has one engine for all of Envoy's workers,
//! so the node publishes once per tick whatever its worker count. What a round trip did goes
//! to the `distill_guard.sync.fleet_*` counters on the next request (Envoy's counters are
//! reached through a request in this ABI); an outage and its end are logged once each (the
//! client's lines: never a key, a prompt or a delta).
//!
//! Campaign log: every `envoy.campaigns.interval_s` the thread logs the engine's campaign
//! report, one line per campaign, as the Wasm filter does per worker (here one engine serves
//! every worker, so one report covers the node).
//!
//! The engine's lock is held to export, to merge and to build the report, never during the
//! round trip (the fleet part's is: a new configuration taking it over waits for the round
//! trip under way). The thread stops, and is joined, when Envoy destroys the filter configuration:
//! at most one round trip (`fleet.timeout_ms` per connect, write and read) delays that.
//!
//! Deliberately not here: the protocol and the outage logic ([`crate::fleet::Client`]), the
//! report's contents ([`crate::campaign`]), TLS to the bridge (it listens on the node's
//! network, webdis accepts only `FCALL`).

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::abi::{self, Level};
use crate::fleet::config::sanitize_name;
use crate::fleet::{campaigns, Client, FleetConfig, Outcome, Round};
use crate::host::bridge::put;
use crate::host::envoy::fleet::{round_counts, COUNTERS};
use crate::host::envoy::wire::campaign_lines;
use crate::state::State;
use crate::Engine;

/// Time between two round trips (the Wasm filter's tick).
const TICK: Duration = Duration::from_millis(1000);
/// Room for the HTTP status line and headers around an answer of `fleet.max_reply_bytes`.
const HEAD_ROOM: usize = 64 << 10;

/// Round-trip results not yet added to Envoy's counters, in [`COUNTERS`] order.
#[derive(Default)]
pub struct Pending([AtomicU64; COUNTERS.len()]);

impl Pending {
    fn add(&self, r: &Round) {
        for (c, n) in self.0.iter().zip(round_counts(r)) {
            if n > 0 {
                c.fetch_add(n, Ordering::Relaxed);
            }
        }
    }

    /// Hands what is pending to `add(index in COUNTERS, n)` and clears it.
    pub fn drain(&self, mut add: impl FnMut(usize, u64)) {
        for (i, c) in self.0.iter().enumerate() {
            if c.load(Ordering::Relaxed) > 0 {
                add(i, c.swap(0, Ordering::Relaxed));
            }
        }
    }
}

/// The background thread of one filter configuration.
pub struct Background {
    stop: Option<Sender<()>>,
    thread: Option<JoinHandle<()>>,
    /// What the fleet round trips did, for the counters.
    pub pending: Arc<Pending>,
}

/// The fleet part of a configuration: its store client (node name, cursor, unpublished
/// deltas) and the bridge's address. It passes to the filter's next configuration when that
/// one keeps the state and the fleet settings (`super::handover`).
pub struct Fleet {
    client: Client,
    bridge: SocketAddr,
}

/// A configuration's fleet part, shared with its thread (held for a whole round trip).
pub type FleetSlot = Arc<Mutex<Option<Fleet>>>;

impl Fleet {
    /// A new node for `cfg` (enabled, with a `bridge`: validated by the configuration parser).
    pub fn new(cfg: FleetConfig) -> Option<Fleet> {
        let bridge = cfg.bridge?;
        let mut label = cfg.node_id.as_deref().and_then(sanitize_name).unwrap_or_else(|| "envoy-native".into());
        label.truncate(40);
        let node = format!("{label}-{:08x}", RandomState::new().build_hasher().finish() as u32);
        let publisher = format!("{node}-1");
        abi::log(Level::Info, &format!("distill-guard (native): fleet sync on as node {node}, bridge {bridge}"));
        Some(Fleet { client: Client::new(cfg, &node, &publisher), bridge })
    }

    /// The settings.
    pub fn config(&self) -> &FleetConfig {
        self.client.config()
    }

    /// The node's name in the store.
    pub fn node(&self) -> &str {
        self.client.node()
    }
}

impl Background {
    /// Starts the thread for the fleet part in `fleet` (if any) and the campaign log every
    /// `report_every`; `None` when there is nothing to do or the thread cannot start (logged).
    pub fn start(engine: Arc<Mutex<Engine>>, fleet: FleetSlot, report_every: Option<Duration>) -> Option<Background> {
        if fleet.lock().map_or(true, |f| f.is_none()) && report_every.is_none() {
            return None;
        }
        let (stop, stopped) = mpsc::channel::<()>();
        let pending = Arc::new(Pending::default());
        let counts = Arc::clone(&pending);
        let spawned = std::thread::Builder::new().name("distill-guard-bg".into()).spawn(move || {
            let mut reported = Instant::now();
            let mut campaign_logged = false;
            // Returns once the configuration is gone (its sender dropped).
            while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(TICK) {
                let mut slot = fleet.lock().unwrap_or_else(|p| p.into_inner());
                if let Some(f) = slot.as_mut() {
                    if let Some(round) = round_trip(&engine, &mut f.client, f.bridge) {
                        for line in &round.log {
                            abi::log(Level::Warn, line);
                        }
                        counts.add(&round);
                    }
                }
                drop(slot);
                if let Some(every) = report_every.filter(|&every| reported.elapsed() >= every) {
                    reported = Instant::now();
                    let (lines, snapshot) = {
                        let e = engine.lock().unwrap_or_else(|p| p.into_inner());
                        (campaign_lines(&e), e.campaigns().map(|t| t.snapshot()))
                    };
                    for line in lines {
                        abi::log(Level::Info, &line);
                    }
                    // The node's snapshot for the fleet's campaign report.
                    let slot = fleet.lock().unwrap_or_else(|p| p.into_inner());
                    if let (Some(f), Some(snap)) = (slot.as_ref(), snapshot) {
                        if let Err(why) = store_campaigns(f, &snap, campaigns::ttl_ms(every.as_millis() as u64)) {
                            if !std::mem::replace(&mut campaign_logged, true) {
                                abi::log(Level::Warn, &format!("distill-guard (native): fleet: storing the campaign snapshot failed ({why}); logged once"));
                            }
                        }
                    }
                }
            }
        });
        match spawned {
            Ok(thread) => Some(Background { stop: Some(stop), thread: Some(thread), pending }),
            Err(e) => {
                abi::log(Level::Error, &format!("distill-guard (native): fleet sync and campaign log off: starting their thread failed ({})", e.kind()));
                None
            }
        }
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn now_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

/// Stores the node's campaign tracker snapshot in the store ([`crate::fleet::campaigns`]).
fn store_campaigns(f: &Fleet, snapshot: &[u8], ttl_ms: u64) -> Result<(), String> {
    let cfg = f.config();
    let path = campaigns::path(cfg, f.node(), ttl_ms, true, false);
    match put(f.bridge, &path, snapshot, Duration::from_millis(u64::from(cfg.timeout_ms.max(1000))), HEAD_ROOM) {
        Ok((200, body)) => campaigns::stored(&body),
        Ok((code, _)) => Err(format!("HTTP {code}")),
        Err(why) => Err(why),
    }
}

/// One round trip: `None` when the client had nothing to start.
fn round_trip(engine: &Mutex<Engine>, client: &mut Client, bridge: SocketAddr) -> Option<Round> {
    let call = {
        let mut e = engine.lock().unwrap_or_else(|p| p.into_inner());
        if client.wants_local() {
            let delta = e.state_mut().export_delta();
            client.queue::<State>(delta);
        }
        client.begin(now_ms())?
    };
    let cfg = client.config();
    let limit = cfg.max_reply_bytes as usize + HEAD_ROOM;
    let reply = put(bridge, &call.path, &call.body, Duration::from_millis(u64::from(cfg.timeout_ms)), limit);
    let outcome = match &reply {
        Ok((status, body)) => Outcome::Http(*status, body),
        Err(why) => Outcome::Failed(why),
    };
    let mut e = engine.lock().unwrap_or_else(|p| p.into_inner());
    Some(client.finish(e.state_mut(), outcome, now_ms()))
}
