//! The root context's side of the fleet sync: starts the leader's round trip with
//! `dispatch_http_call` on the tick, reads the answer in `on_http_call_response`, and adds
//! what happened to the `distill_guard.sync.fleet_*` metrics. One per VM, kept across policy
//! swaps (see `root.rs`); the decisions are in [`super::fleet`] and [`crate::fleet`].
//!
//! Logs: the first failure of an outage and the recovery (from the client), the first of
//! each kind of host-call failure; never a key, a prompt or a delta.

use super::abi::{self, Level};
use super::apply::Status;
use super::fleet::{node_name, round_counts, FleetWorker, COUNTERS};
use super::sync::{Role, Sync, TickReport};
use crate::fleet::{campaigns, FleetConfig, Outcome, Round};
use crate::state::State;

/// Gauge (leader only): the fleet view's distinct active accounts.
const ACTIVE_GAUGE: &str = "distill_guard.sync.fleet_active_accounts";

/// A VM's fleet part in Envoy.
pub struct FleetRoot {
    worker: FleetWorker,
    /// The round trip under way.
    token: Option<u32>,
    /// The campaign snapshot call under way.
    campaign_token: Option<u32>,
    counters: Option<[u32; COUNTERS.len()]>,
    gauge: Option<u32>,
    /// Logged already: a host-call failure; a failed campaign snapshot call.
    logged: bool,
    campaign_logged: bool,
}

impl FleetRoot {
    /// The fleet part of a VM, for `cfg`; `None` (logged) when the node cannot be named.
    /// `label`: the node's name before its random suffix.
    pub fn start(cfg: FleetConfig, label: &str) -> Option<FleetRoot> {
        let node = match node_name(&mut super::root::EnvoyShared, label, abi::random_u64() as u32) {
            Ok(n) => n,
            Err((what, Status(s))) => {
                abi::log(Level::Warn, &format!("distill-guard: fleet sync off: {what} failed (status {s})"));
                return None;
            }
        };
        let publisher = format!("{node}-{:08x}", abi::random_u64() as u32);
        let mut ids = [0u32; COUNTERS.len()];
        let mut ok = true;
        for (id, name) in ids.iter_mut().zip(COUNTERS) {
            match abi::define_counter(name) {
                Ok(i) => *id = i,
                Err(_) => ok = false,
            }
        }
        let counters = ok.then_some(ids);
        let gauge = abi::define_gauge(ACTIVE_GAUGE).ok();
        if !ok || gauge.is_none() {
            abi::log(Level::Warn, "distill-guard: fleet metrics undefined");
        }
        abi::log(Level::Info, &format!("distill-guard: fleet sync on as node {node}"));
        Some(FleetRoot { worker: FleetWorker::new(cfg, &node, &publisher), token: None, campaign_token: None, counters, gauge, logged: false, campaign_logged: false })
    }

    /// The settings.
    pub fn config(&self) -> &FleetConfig {
        self.worker.config()
    }

    /// This worker's role this tick (before the worker sync runs).
    pub fn role(&mut self, me: u32, served: bool, now_ms: u64) -> Role {
        let (role, failure) = self.worker.role(&mut super::root::EnvoyShared, me, served, now_ms);
        if let Some((what, Status(s))) = failure {
            self.log_host_failure(what, s);
        }
        role
    }

    /// After the worker sync: as leader, starts the round trip.
    pub fn after_tick(&mut self, report: &mut TickReport, state: &State, now_ms: u64) {
        if !self.worker.leading() {
            return;
        }
        self.gauge(state, now_ms);
        let Some(call) = self.worker.begin::<State>(report, now_ms) else { return };
        let cfg = self.worker.config();
        let headers = vec![
            (":method", "PUT"),
            (":path", call.path.as_str()),
            (":authority", cfg.upstream.as_str()),
            ("content-type", "application/octet-stream"),
        ];
        match abi::dispatch_http_call(&cfg.upstream, headers, &call.body, cfg.timeout_ms) {
            Ok(token) => self.token = Some(token),
            // BadArgument: no such cluster. The client gives the round trip up after its
            // timeout (counted then, as a failed round trip).
            Err(Status(s)) => self.log_host_failure("dispatch_http_call", s),
        }
    }

    /// Stores this node's campaign tracker snapshot for the fleet's campaign report
    /// ([`crate::fleet::campaigns`]), kept by the store until none came for `ttl_ms`.
    pub fn store_campaigns(&mut self, snapshot: &[u8], ttl_ms: u64) {
        let cfg = self.worker.config();
        let path = campaigns::path(cfg, self.worker.node(), ttl_ms, true, false);
        let headers = vec![(":method", "PUT"), (":path", path.as_str()), (":authority", cfg.upstream.as_str()), ("content-type", "application/octet-stream")];
        match abi::dispatch_http_call(&cfg.upstream, headers, snapshot, cfg.timeout_ms.max(1000)) {
            Ok(token) => self.campaign_token = Some(token),
            Err(Status(s)) => self.log_host_failure("dispatch_http_call (campaign snapshot)", s),
        }
    }

    /// The answer of round trip `token` (others are stale: ignored), or of the campaign
    /// snapshot call (checked; a failure is logged once).
    pub fn on_response(&mut self, token: u32, sync: &mut Sync, state: &mut State, body_size: usize, now_ms: u64) {
        if self.campaign_token == Some(token) {
            self.campaign_token = None;
            // The store function answers a store call with its 9-byte header.
            let failure = match abi::http_call_status() {
                Ok(Some(200)) if body_size > 1024 => Some("the answer is not the store function's".to_string()),
                Ok(Some(200)) => match abi::http_call_body(body_size) {
                    Ok(b) => campaigns::stored(&b).err(),
                    Err(_) => Some("the answer is not the store function's".to_string()),
                },
                Ok(Some(code)) => Some(format!("HTTP {code}")),
                _ => Some("no answer".to_string()),
            };
            if let Some(why) = failure {
                if !std::mem::replace(&mut self.campaign_logged, true) {
                    abi::log(Level::Warn, &format!("distill-guard: fleet: storing the campaign snapshot failed ({why}); logged once"));
                }
            }
            return;
        }
        if self.token != Some(token) {
            return;
        }
        self.token = None;
        let max = self.worker.config().max_reply_bytes as usize + (64 << 10);
        let mut body = Vec::new();
        let status = match abi::http_call_status() {
            Ok(Some(code)) if body_size <= max => match abi::http_call_body(body_size) {
                Ok(b) => {
                    body = b;
                    Ok(code)
                }
                Err(_) => Err("answer unreadable"),
            },
            Ok(Some(_)) => Err("answer larger than fleet.max_reply_bytes"),
            Ok(None) => Err("no answer"),
            Err(_) => Err("answer unreadable"),
        };
        let outcome = match status {
            Ok(code) => Outcome::Http(code, &body),
            Err(why) => Outcome::Failed(why),
        };
        let (round, failure) = self.worker.finish(&mut super::root::EnvoyShared, sync, state, outcome, now_ms);
        if let Some((what, Status(s))) = failure {
            self.log_host_failure(what, s);
        }
        self.report(&round);
        self.gauge(state, now_ms);
    }

    /// Sets the fleet view's distinct active accounts gauge.
    fn gauge(&self, state: &State, now_ms: u64) {
        if let Some(g) = self.gauge {
            let _ = abi::set_gauge(g, (state.active_accounts(now_ms) + 0.5) as u64);
        }
    }

    fn report(&mut self, round: &Round) {
        for line in &round.log {
            abi::log(Level::Warn, line);
        }
        if let Some(ids) = self.counters {
            for (id, n) in ids.into_iter().zip(round_counts(round)) {
                if n > 0 {
                    let _ = abi::add(id, n as i64);
                }
            }
        }
    }

    fn log_host_failure(&mut self, what: &str, status: u32) {
        if !std::mem::replace(&mut self.logged, true) {
            abi::log(Level::Warn, &format!("distill-guard: fleet: {what} failed (status {status}); logged once"));
        }
    }
}
