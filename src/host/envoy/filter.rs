//! The proxy-wasm root context: one [`Engine`] per VM, built once from the plugin
//! configuration, shared by every request of that VM (the HTTP contexts, one per request,
//! are in [`super::http`]). A policy that does not validate keeps the filter from starting,
//! with every error logged. JA4 / JA3 are read from filter state only when the plugin
//! configuration's `envoy.tls_fingerprints` says the listener fills it ([`wire::Options`]);
//! ASN and country from the geoip filter's headers when `envoy.geo_headers` says a geoip
//! filter fills them ([`super::geo`]).
//!
//! Counters are counted in memory and handed to Envoy on the root context's tick, every
//! [`sync::TICK_MS`] ([`super::metrics`]), or per request if the tick cannot be set. On the
//! same tick, with `state.enabled`, the root context merges its engine's state with the other
//! worker VMs' (see [`super::sync`]), counted in `distill_guard.sync.{published,applied,
//! missed,errors}`. A failing sync logs once per kind and leaves the worker filtering on its
//! own state; the request path never touches it. The engine's state is allocated on first
//! use, so a VM that never sees a request (Envoy's main-thread VM) stays small until a peer's
//! delta arrives.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{ContextType, LogLevel};

use super::abi::{self, Level};
use super::apply::Status;
use super::http::Filter;
use super::metrics::{self, Pending, COUNTERS};
use super::sync::{self, SharedData, Sync};
use super::wire::{self, Options};
use crate::score::Verdict;
use crate::Engine;

/// Filter-state keys an `envoy.filters.http.set_filter_state` filter fills with
/// `%TLS_JA4_FINGERPRINT%` / `%TLS_JA3_FINGERPRINT%` (see `envoy/envoy-tls.yaml.in`).
pub const JA4_FILTER_STATE: &str = "distill_guard.ja4";
/// See [`JA4_FILTER_STATE`].
pub const JA3_FILTER_STATE: &str = "distill_guard.ja3";

proxy_wasm::main! {{
    proxy_wasm::set_log_level(LogLevel::Info);
    proxy_wasm::set_root_context(|_| Box::new(Root { shared: Rc::new(Shared::default()), sync: None, ticks: 0 }));
}}

/// Counter ids (defined once per VM, indexed like [`metrics::name`]) and the increments not
/// yet handed to Envoy.
pub(super) struct Metrics {
    ids: [u32; COUNTERS],
    pending: Pending,
    /// Hand increments over per request: the tick that would flush them is not running.
    flush_each: bool,
}

impl Metrics {
    fn define(flush_each: bool) -> Result<Metrics, Status> {
        let mut ids = [0u32; COUNTERS];
        for (i, id) in ids.iter_mut().enumerate() {
            *id = abi::define_counter(&metrics::name(i).unwrap_or_default())?;
        }
        Ok(Metrics { ids, pending: Pending::default(), flush_each })
    }

    /// Counts the verdict finally applied to one request.
    pub(super) fn record(&mut self, v: &Verdict) {
        self.pending.record(v);
        if self.flush_each {
            self.flush();
        }
    }

    /// Counts with `f` (an internal error that changed no verdict, a held request, a learned
    /// body).
    pub(super) fn count(&mut self, f: impl FnOnce(&mut Pending)) {
        f(&mut self.pending);
        if self.flush_each {
            self.flush();
        }
    }

    /// Adds the pending increments to Envoy's counters.
    fn flush(&mut self) {
        let ids = &self.ids;
        let mut failed = false;
        self.pending.drain(|i, n| failed |= ids.get(i).is_some_and(|&id| abi::add(id, n as i64).is_err()));
        if failed {
            abi::log(Level::Warn, "distill-guard: incrementing a counter failed");
        }
    }
}

/// What the root context shares with its HTTP contexts (`super::http`).
#[derive(Default)]
pub(super) struct Shared {
    /// The VM's engine (none until a policy is configured).
    pub(super) engine: RefCell<Option<Engine>>,
    /// The VM's counters (none when defining them failed).
    pub(super) metrics: RefCell<Option<Metrics>>,
    /// The adapter options of the plugin configuration.
    pub(super) options: Cell<Options>,
}

impl Shared {
    fn flush_metrics(&self) {
        if let Ok(mut m) = self.metrics.try_borrow_mut() {
            if let Some(m) = m.as_mut() {
                m.flush();
            }
        }
    }
}

struct Root {
    shared: Rc<Shared>,
    sync: Option<SyncRoot>,
    /// Ticks since the last campaign report (`envoy.campaigns`).
    ticks: u32,
}

/// Logs the campaign report of this worker's engine, one info line per campaign:
/// `distill-guard: campaign {json}` (the campaign as in `distill-guard campaigns --format
/// json`, with the worker's request counts). Account ids and key hashes only.
fn log_campaigns(engine: &Engine) {
    let Some(t) = engine.campaigns() else { return };
    let r = t.report(t.last_ms());
    for c in &r.campaigns {
        let line = serde_json::json!({"report_ms": r.now_ms, "requests": r.requests, "flagged": r.flagged, "campaigns_total": r.campaigns_total, "campaign": c});
        abi::log(Level::Info, &format!("distill-guard: campaign {line}"));
    }
}

/// The root context's side of the worker sync.
struct SyncRoot {
    sync: Sync,
    /// Counter ids: published, applied, missed, errors (absent when defining them failed).
    metrics: Option<[u32; 4]>,
    /// Logged already: a host-call failure, a refused delta.
    logged: [bool; 2],
}

impl SyncRoot {
    /// Claims a worker index (the tick is already running); `None` (logged) when that fails.
    fn start() -> Option<SyncRoot> {
        let me = match sync::claim_worker(&mut EnvoyShared) {
            Ok(me) => me,
            Err((what, Status(s))) => {
                abi::log(Level::Warn, &format!("distill-guard: state sync off for this worker: {what} failed (status {s})"));
                return None;
            }
        };
        let Some(sync) = Sync::new(me) else {
            abi::log(Level::Warn, &format!("distill-guard: state sync off for worker {me} (at most {} workers sync)", sync::MAX_WORKERS));
            return None;
        };
        let names = ["published", "applied", "missed", "errors"].map(|n| format!("{}.sync.{n}", wire::METRIC_PREFIX));
        let mut ids = [0u32; 4];
        let mut ok = true;
        for (id, name) in ids.iter_mut().zip(&names) {
            match abi::define_counter(name) {
                Ok(i) => *id = i,
                Err(_) => ok = false,
            }
        }
        if !ok {
            abi::log(Level::Warn, "distill-guard: defining the sync metrics failed; syncing without them");
        }
        abi::log(Level::Info, &format!("distill-guard: state sync on as worker {me}, every {} ms", sync::TICK_MS));
        Some(SyncRoot { sync, metrics: ok.then_some(ids), logged: [false; 2] })
    }

    fn tick(&mut self, engine: &mut Engine) {
        let served = engine.counters().requests > 0;
        let r = self.sync.tick(&mut EnvoyShared, engine.state_mut(), served);
        if let Some((what, Status(s))) = r.failure {
            if !std::mem::replace(&mut self.logged[0], true) {
                abi::log(Level::Warn, &format!("distill-guard: state sync: {what} failed (status {s}); logged once, counted in distill_guard.sync.errors"));
            }
        }
        if r.decode_errors > 0 && !std::mem::replace(&mut self.logged[1], true) {
            abi::log(Level::Warn, "distill-guard: state sync: a peer's delta was refused (decode error); logged once, counted in distill_guard.sync.errors");
        }
        if let Some(ids) = self.metrics {
            let counts = [r.published, r.applied, r.missed, r.decode_errors + r.host_errors];
            for (id, n) in ids.into_iter().zip(counts) {
                if n > 0 {
                    let _ = abi::add(id, n as i64);
                }
            }
        }
    }
}

/// Logs `message` at warn level once per Envoy: every VM (one per worker, one on the main
/// thread) configures the plugin, and the first to note the message in shared data logs it
/// (two VMs configuring at the same instant may both log it; a failing shared-data call logs).
fn warn_once(message: &str) {
    let key = format!("distill_guard.warned.{:016x}", xxhash_rust::xxh3::xxh3_64(message.as_bytes()));
    let mut shared = EnvoyShared;
    if let Ok(Some(_)) = shared.get(&key) {
        return;
    }
    let _ = shared.set(&key, b"1", 0);
    abi::log(Level::Warn, message);
}

/// Envoy's shared data, through the checked calls of `abi`.
struct EnvoyShared;

impl SharedData for EnvoyShared {
    fn get(&mut self, key: &str) -> Result<Option<(Vec<u8>, u32)>, Status> {
        abi::get_shared_data(key)
    }

    fn set(&mut self, key: &str, value: &[u8], cas: u32) -> Result<(), Status> {
        abi::set_shared_data(key, value, cas)
    }
}

impl Context for Root {}

/// The last counts reach Envoy when the root context goes: Envoy deletes it when the plugin
/// shuts down (a reload, a removed listener). Not in `on_done`: the module does not export
/// `proxy_on_done` (Envoy then treats every context as done at once, which spares each request
/// one VM entry; `scripts/build.sh`), and the root context's delete follows at once.
impl Drop for Root {
    fn drop(&mut self) {
        self.shared.flush_metrics();
    }
}

impl RootContext for Root {
    fn on_configure(&mut self, _size: usize) -> bool {
        let config = match abi::plugin_configuration() {
            Ok(c) => c,
            Err(Status(s)) => {
                abi::log(Level::Error, &format!("distill-guard: reading the plugin configuration failed (status {s})"));
                return false;
            }
        };
        let Ok(text) = std::str::from_utf8(&config) else {
            abi::log(Level::Error, "distill-guard: policy error: the plugin configuration is not UTF-8");
            return false;
        };
        let text = if text.trim().is_empty() { "{}" } else { text };
        let parsed = wire::split_plugin_config(text).and_then(|(policy, options)| Engine::from_json(&policy).map(|e| (e, options)));
        let (engine, options) = match parsed {
            Ok(e) => e,
            Err(errors) => {
                for e in &errors.0 {
                    abi::log(Level::Error, &format!("distill-guard: policy error: {e}"));
                }
                abi::log(Level::Error, &format!("distill-guard: {} policy error(s); the filter does not start", errors.0.len()));
                return false;
            }
        };
        let p = engine.policy();
        abi::log(
            Level::Info,
            &format!(
                "distill-guard: policy {:?} loaded (mode {:?}, thresholds tag {} / throttle {} / deny {}, fail_closed {}; envoy.tls_fingerprints {}, envoy.filter_state {}, envoy.geo_headers {})",
                p.name, p.mode, p.thresholds.tag, p.thresholds.throttle, p.thresholds.deny, p.fail_closed, options.tls_fingerprints, options.filter_state, options.geo_headers
            ),
        );
        for w in p.warnings() {
            warn_once(&format!("distill-guard: warning: {w}"));
        }
        let (Ok(mut slot), Ok(mut metrics)) = (self.shared.engine.try_borrow_mut(), self.shared.metrics.try_borrow_mut()) else {
            abi::log(Level::Error, "distill-guard: engine busy during configuration");
            return false;
        };
        let state_enabled = engine.policy().state.enabled;
        let mut engine = engine;
        if let Some(c) = options.campaigns {
            engine.track_campaigns(c.settings);
            abi::log(Level::Info, &format!("distill-guard: campaign report every {} s (tracker bound {} bytes)", c.interval_s, c.settings.memory_bound()));
        }
        *slot = Some(engine);
        self.shared.options.set(options);
        // One tick for the counters and the state sync.
        let ticking = match abi::set_tick_period_ms(sync::TICK_MS) {
            Ok(()) => true,
            Err(Status(s)) => {
                abi::log(Level::Warn, &format!("distill-guard: setting the tick period failed (status {s}): counters are updated per request, state sync is off"));
                false
            }
        };
        if state_enabled && ticking && self.sync.is_none() {
            self.sync = SyncRoot::start();
        }
        match metrics.as_mut() {
            Some(m) => m.flush_each = !ticking,
            None => match Metrics::define(!ticking) {
                Ok(m) => *metrics = Some(m),
                Err(Status(s)) => abi::log(Level::Warn, &format!("distill-guard: defining metrics failed (status {s}); running without them")),
            },
        }
        true
    }

    fn on_tick(&mut self) {
        self.shared.flush_metrics();
        let Ok(mut slot) = self.shared.engine.try_borrow_mut() else { return };
        let Some(engine) = slot.as_mut() else { return };
        if let Some(c) = self.shared.options.get().campaigns {
            self.ticks += 1;
            if u64::from(self.ticks) * u64::from(sync::TICK_MS) >= u64::from(c.interval_s) * 1000 {
                self.ticks = 0;
                log_campaigns(engine);
            }
        }
        if let Some(sync) = self.sync.as_mut() {
            sync.tick(engine);
        }
    }

    fn create_http_context(&self, _context_id: u32) -> Option<Box<dyn HttpContext>> {
        Some(Box::new(Filter::new(Rc::clone(&self.shared))))
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }
}
