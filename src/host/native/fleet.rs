//! The native filter's side of the fleet sync ([`crate::fleet`]): one thread per filter
//! configuration that, once a second, exports the engine's local state changes, sends them to
//! the bridge (`envoy.fleet.bridge`: an HTTP `PUT` on a connection of its own to webdis in
//! front of Redis, the same call the Wasm filter makes through an Envoy cluster) and merges
//! the other nodes' deltas from the answer. The engine's lock is held to export and to merge,
//! never during the round trip. The filter has one engine for all of Envoy's workers, so the
//! node publishes once per tick whatever its worker count.
//!
//! What a round trip did goes to the `distill_guard.sync.fleet_*` counters on the next
//! request (Envoy's counters are reached through a request in this ABI); an outage and its
//! end are logged once each (the client's lines: never a key, a prompt or a delta). The
//! thread stops, and is joined, when Envoy destroys the filter configuration: at most one
//! round trip (`fleet.timeout_ms` per connect, write and read) delays that.
//!
//! Deliberately not here: the protocol and the outage logic ([`crate::fleet::Client`]), TLS
//! to the bridge (it listens on the node's network, webdis accepts only `FCALL`).

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use super::abi::{self, Level};
use crate::fleet::config::sanitize_name;
use crate::fleet::{Client, FleetConfig, Outcome, Round};
use crate::host::bridge::put;
use crate::host::envoy::fleet::{round_counts, COUNTERS};
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

/// The sync thread of one filter configuration.
pub struct Sync {
    stop: Option<Sender<()>>,
    thread: Option<JoinHandle<()>>,
    /// What the round trips did, for the counters.
    pub pending: Arc<Pending>,
}

impl Sync {
    /// Starts the thread for `cfg` (with a `bridge`: validated by the configuration parser);
    /// `None` (logged) when there is none or the thread cannot start.
    pub fn start(engine: Arc<Mutex<Engine>>, cfg: FleetConfig) -> Option<Sync> {
        let bridge = cfg.bridge?;
        let mut label = cfg.node_id.as_deref().and_then(sanitize_name).unwrap_or_else(|| "envoy-native".into());
        label.truncate(40);
        // Each configuration is a node of its own (its state starts empty).
        let node = format!("{label}-{:08x}", RandomState::new().build_hasher().finish() as u32);
        let publisher = format!("{node}-1");
        let mut client = Client::new(cfg, &node, &publisher);
        let (stop, stopped) = mpsc::channel::<()>();
        let pending = Arc::new(Pending::default());
        let counts = Arc::clone(&pending);
        let spawned = std::thread::Builder::new().name("distill-guard-fleet".into()).spawn(move || {
            // Returns once the configuration is gone (its sender dropped).
            while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(TICK) {
                if let Some(round) = round_trip(&engine, &mut client, bridge) {
                    for line in &round.log {
                        abi::log(Level::Warn, line);
                    }
                    counts.add(&round);
                }
            }
        });
        match spawned {
            Ok(thread) => {
                abi::log(Level::Info, &format!("distill-guard (native): fleet sync on as node {node}, bridge {bridge}"));
                Some(Sync { stop: Some(stop), thread: Some(thread), pending })
            }
            Err(e) => {
                abi::log(Level::Error, &format!("distill-guard (native): fleet sync off: starting its thread failed ({})", e.kind()));
                None
            }
        }
    }
}

impl Drop for Sync {
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
