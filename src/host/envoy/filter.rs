//! The filter's entry point and what its contexts share: the root context ([`super::root`],
//! with the fleet's store round trip in [`super::fleet_root`]) builds one [`Engine`] per VM
//! from the plugin configuration and ticks; the HTTP contexts, one per request
//! ([`super::http`]), run the engine's two phases on it. A policy that does not validate
//! keeps the filter from starting, with every error logged. JA4 / JA3 are read from filter
//! state only when the plugin configuration's `envoy.tls_fingerprints` says the listener
//! fills it ([`Options`]); ASN and country from the geoip filter's headers when
//! `envoy.geo_headers` says a geoip filter fills them ([`super::geo`]).
//!
//! Counters are counted in memory and handed to Envoy on the root context's tick, every
//! [`super::sync::TICK_MS`] ([`super::metrics`]), or per request if the tick cannot be set. On
//! the same tick, with `state.enabled`, the root context merges its engine's state with the
//! other worker VMs' (see [`super::sync`]) and the fleet's (see [`super::fleet`]), and with
//! `envoy.campaigns` logs the worker's campaign report every interval; the request path never
//! touches either sync. The engine's state is allocated on first use, so a VM that never sees
//! a request (Envoy's main-thread VM) stays small until a peer's delta arrives.

use std::cell::{Cell, RefCell};

use proxy_wasm::types::LogLevel;

use super::abi::{self, Level};
use super::apply::Status;
use super::metrics::{self, Pending, COUNTERS};
use super::root::Root;
use super::wire::Options;
use crate::score::Verdict;
use crate::Engine;

/// Filter-state keys an `envoy.filters.http.set_filter_state` filter fills with
/// `%TLS_JA4_FINGERPRINT%` / `%TLS_JA3_FINGERPRINT%` (see `envoy/envoy-tls.yaml.in`).
pub const JA4_FILTER_STATE: &str = "distill_guard.ja4";
/// See [`JA4_FILTER_STATE`].
pub const JA3_FILTER_STATE: &str = "distill_guard.ja3";

proxy_wasm::main! {{
    proxy_wasm::set_log_level(LogLevel::Info);
    proxy_wasm::set_root_context(|_| Box::new(Root::new()));
}}

/// Counter ids (defined once per VM, indexed like [`metrics::name`]) and the increments not
/// yet handed to Envoy.
pub(super) struct Metrics {
    ids: [u32; COUNTERS],
    pending: Pending,
    /// Hand increments over per request: the tick that would flush them is not running.
    pub(super) flush_each: bool,
}

impl Metrics {
    /// Defines the counters in Envoy.
    pub(super) fn define(flush_each: bool) -> Result<Metrics, Status> {
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
    /// Hands the pending counts to Envoy.
    pub(super) fn flush_metrics(&self) {
        if let Ok(mut m) = self.metrics.try_borrow_mut() {
            if let Some(m) = m.as_mut() {
                m.flush();
            }
        }
    }
}
