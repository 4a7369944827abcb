//! The proxy-wasm HTTP context: every request of a VM is inspected by the one [`Engine`] its
//! root context built from the plugin configuration (`root.rs`).
//!
//! Per request: the filter reads the header map as bytes, holds the request while it
//! buffers the body prefix of paths the policy reads (decides at the end of the body or at
//! the prefix cap, then lets the rest stream), builds the [`crate::Request`] view, asks the
//! engine, strips client-sent tag headers, and forwards with tags or answers 403 / 429.
//! Headers are only changed while the filter holds them. Responses are never touched.
//! Any failing host call turns into the engine's internal-error verdict (fail open, or
//! deny with `fail_closed`), counted in `distill_guard.internal_error`. JA4 / JA3 are read
//! from filter state only when the plugin configuration's `envoy.tls_fingerprints` says the
//! listener fills it ([`wire::Options`]); ASN and country from the geoip filter's headers
//! when `envoy.geo_headers` says a geoip filter fills them ([`geo`]).
//!
//! Counters are counted in memory and handed to Envoy on the root context's tick, every
//! [`super::sync::TICK_MS`] ([`super::metrics`]), or per request if the tick cannot be set. On
//! the same tick, with `state.enabled`, the root context merges its engine's state with the
//! other worker VMs' (see [`super::sync`]) and the fleet's (see [`super::fleet`]); the
//! request path never touches either. The engine's state is allocated on first use, so a VM
//! that never sees a request (Envoy's main-thread VM) stays small until a peer's delta arrives.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use proxy_wasm::traits::{Context, HttpContext};
use proxy_wasm::types::{Action, LogLevel};

use super::abi::{self, Level};
use super::apply::{self, Failure, Host, Next, Status, Target};
use super::geo;
#[cfg(feature = "fault-injection")]
use super::fault;
use super::metrics::{self, Pending, COUNTERS};
use super::root::Root;
use super::wire::{self, Options, Step};
use crate::request::Peer;
use crate::respond;
use crate::score::{Action as Verdict4, Verdict};
use crate::Engine;

/// Filter-state keys an `envoy.filters.http.set_filter_state` filter fills with
/// `%TLS_JA4_FINGERPRINT%` / `%TLS_JA3_FINGERPRINT%` (see `envoy/envoy-tls.yaml.in`).
pub const JA4_FILTER_STATE: &str = "distill_guard.ja4";
/// See [`JA4_FILTER_STATE`].
pub const JA3_FILTER_STATE: &str = "distill_guard.ja3";

/// Property paths read per request (segments joined by NUL, as the ABI wants them).
const SOURCE_ADDRESS: &[u8] = b"source\0address";
const REQUEST_PROTOCOL: &[u8] = b"request\0protocol";
const JA4_PROPERTY: &[u8] = b"filter_state\0distill_guard.ja4";
const JA3_PROPERTY: &[u8] = b"filter_state\0distill_guard.ja3";

/// Requests this VM has seen: part of each request's reference-id token (`wire::reference_token`).
static SEQUENCE: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

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
    pub(super) fn define(flush_each: bool) -> Result<Metrics, Status> {
        let mut ids = [0u32; COUNTERS];
        for (i, id) in ids.iter_mut().enumerate() {
            *id = abi::define_counter(&metrics::name(i).unwrap_or_default())?;
        }
        Ok(Metrics { ids, pending: Pending::default(), flush_each })
    }

    /// Counts the verdict finally applied to one request.
    fn record(&mut self, v: &Verdict) {
        self.pending.record(v);
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

/// What the root context shares with its HTTP contexts.
#[derive(Default)]
pub(super) struct Shared {
    pub(super) engine: RefCell<Option<Engine>>,
    pub(super) metrics: RefCell<Option<Metrics>>,
    pub(super) options: Cell<Options>,
}

impl Shared {
    pub(super) fn flush_metrics(&self) {
        if let Ok(mut m) = self.metrics.try_borrow_mut() {
            if let Some(m) = m.as_mut() {
                m.flush();
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// Nothing decided; request headers not seen yet.
    Headers,
    /// Headers held, body prefix being buffered.
    Buffering,
    /// Verdict applied (or the request passed without one): stay out of the way.
    Done,
}

pub(super) struct Filter {
    shared: Rc<Shared>,
    stage: Stage,
    /// The header map read at the headers callback, kept while buffering the body.
    held: Option<Vec<u8>>,
}

impl Filter {
    /// The HTTP context of one request.
    pub(super) fn new(shared: Rc<Shared>) -> Filter {
        Filter { shared, stage: Stage::Headers, held: None }
    }
}

impl Context for Filter {}

impl HttpContext for Filter {
    fn on_http_request_headers(&mut self, _num_headers: usize, end_of_stream: bool) -> Action {
        if self.stage != Stage::Headers {
            return Action::Continue;
        }
        let read = abi::request_headers();
        #[cfg(feature = "fault-injection")]
        let read = read.and_then(|b| fault::check(&b, fault::Point::Headers).map(|()| b));
        let buf = match read {
            Ok(b) => b,
            Err(s) => return self.decide(Err(("reading request headers", s)), end_of_stream),
        };
        let wants_body = {
            let path = wire::find_value(&buf, b":path");
            let engine = self.shared.engine.borrow();
            match (path, engine.as_ref()) {
                (Some(p), Some(e)) => e.wants_body(p),
                _ => false,
            }
        };
        self.held = Some(buf);
        match wire::on_headers(wants_body, end_of_stream) {
            Step::Buffer => {
                self.stage = Stage::Buffering;
                Action::Pause
            }
            Step::Decide => self.decide(Ok(Vec::new()), end_of_stream),
        }
    }

    fn on_http_request_body(&mut self, body_size: usize, end_of_stream: bool) -> Action {
        if self.stage != Stage::Buffering {
            return Action::Continue;
        }
        let limit = self.shared.engine.borrow().as_ref().map_or(0, Engine::body_limit);
        match wire::on_body(body_size, limit, end_of_stream) {
            Step::Buffer => Action::Pause,
            Step::Decide => {
                let body = self.read_body(limit);
                self.decide(body, end_of_stream && body_size <= limit)
            }
        }
    }

    fn on_http_request_trailers(&mut self, _num_trailers: usize) -> Action {
        if self.stage != Stage::Buffering {
            return Action::Continue;
        }
        let limit = self.shared.engine.borrow().as_ref().map_or(0, Engine::body_limit);
        let body = self.read_body(limit);
        let complete = body.as_ref().is_ok_and(|b| b.len() < limit);
        self.decide(body, complete)
    }
}

impl Filter {
    /// Up to `limit` bytes of the buffered body.
    fn read_body(&self, limit: usize) -> Result<Vec<u8>, Failure> {
        let read = abi::request_body(limit);
        #[cfg(feature = "fault-injection")]
        let read = read.and_then(|b| self.held.as_deref().map_or(Ok(()), |h| fault::check(h, fault::Point::Body)).map(|()| b));
        read.map_err(|s| ("reading the request body", s))
    }

    /// Builds the view, asks the engine, applies the verdict. Runs at most once per request.
    fn decide(&mut self, body: Result<Vec<u8>, Failure>, body_complete: bool) -> Action {
        self.stage = Stage::Done;
        let shared = Rc::clone(&self.shared);
        let Ok(mut slot) = shared.engine.try_borrow_mut() else {
            abi::log(Level::Error, "distill-guard: engine busy; request passed uninspected");
            return Action::Continue;
        };
        let Some(engine) = slot.as_mut() else {
            abi::log(Level::Error, "distill-guard: no policy configured; request passed uninspected");
            return Action::Continue;
        };
        let headers = match self.held.take() {
            Some(b) => Ok(b),
            None => abi::request_headers().map_err(|s| ("reading request headers", s)),
        };
        let mut host = EnvoyHost;
        let options = shared.options.get();
        let seq = SEQUENCE.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let (next, verdict, reference) = match headers.and_then(|buf| body.map(|body| (buf, body))) {
            Ok((buf, body)) => inspect_and_apply(&mut host, engine, options, &buf, &body, body_complete, seq),
            Err(failure) => {
                let reference = respond::reference(engine.policy(), &wire::reference_token(None, 0, seq));
                let target = Target { forged: &[], reference, filter_state: options.filter_state };
                let (next, verdict) = apply::internal_error(&mut host, engine, failure, target);
                (next, verdict, reference)
            }
        };
        if verdict.enforced >= Verdict4::Throttle {
            abi::log(Level::Debug, &format!("distill-guard: {} ref {reference:016x} score {} reasons {} fp {}", verdict.enforced.as_str(), verdict.score, verdict.reason_codes(), verdict.hfp_hex()));
        }
        if let Ok(mut m) = shared.metrics.try_borrow_mut() {
            if let Some(m) = m.as_mut() {
                m.record(&verdict);
            }
        }
        match next {
            Next::Continue => Action::Continue,
            Next::Stop => Action::Pause,
        }
    }
}

/// Reads the peer facts, builds the request view over the held buffers, inspects, applies;
/// also returns the request's reference id.
fn inspect_and_apply(host: &mut EnvoyHost, engine: &mut Engine, options: Options, buf: &[u8], body: &[u8], body_complete: bool, seq: u64) -> (Next, Verdict, u64) {
    let facts = (|| {
        let (ja4, ja3) = if options.tls_fingerprints {
            let ja4 = abi::property(JA4_PROPERTY).map_err(|s| ("reading the JA4 filter state", s))?;
            let ja3 = abi::property(JA3_PROPERTY).map_err(|s| ("reading the JA3 filter state", s))?;
            (ja4, ja3)
        } else {
            (None, None)
        };
        let proto = abi::property(REQUEST_PROTOCOL).map_err(|s| ("reading request.protocol", s))?;
        let now_ms = abi::now_ms().map_err(|s| ("reading the clock", s))?;
        let headers = wire::parse_pairs(buf).ok_or(("parsing the request header map", Status(u32::MAX)))?;
        Ok((ja4, ja3, proto, now_ms, headers))
    })();
    let (ja4, ja3, proto, now_ms, headers) = match facts {
        Ok(f) => f,
        Err(failure) => {
            let reference = respond::reference(engine.policy(), &wire::reference_token(None, 0, seq));
            let target = Target { forged: &[], reference, filter_state: options.filter_state };
            let (next, verdict) = apply::internal_error(host, engine, failure, target);
            return (next, verdict, reference);
        }
    };
    // Envoy appends x-request-id near the end of the map: searched from there.
    let request_id = headers.iter().rev().find(|h| h.name == b"x-request-id").map(|h| h.value);
    let reference = respond::reference(engine.policy(), &wire::reference_token(request_id, now_ms, seq));
    let mut peer = Peer {
        ja4: ja4.as_deref().and_then(wire::fingerprint_value),
        ja3: ja3.as_deref().and_then(wire::fingerprint_value),
        ..Peer::default()
    };
    if options.geo_headers {
        geo::read_into(&headers, &mut peer);
    }
    let version = proto.as_deref().map(wire::parse_version).unwrap_or_default();
    let mut req = wire::build_request(headers, body, body_complete, peer, version, now_ms);
    // Behind a load balancer (`proxy.trusted_hops` >= 1) X-Forwarded-For names the client and
    // the peer address changes nothing: one host call (and its buffer) fewer per request.
    if engine.needs_peer_address(&req) {
        match abi::property(SOURCE_ADDRESS) {
            Ok(ip) => req.peer.ip = ip.as_deref().and_then(wire::parse_socket_addr),
            Err(s) => {
                let target = Target { forged: &[], reference, filter_state: options.filter_state };
                let (next, verdict) = apply::internal_error(host, engine, ("reading source.address", s), target);
                return (next, verdict, reference);
            }
        }
    }
    let verdict = engine.inspect(&req);
    let forged = wire::forged_tag_names(&req.headers, &engine.policy().output.header_prefix);
    let (next, verdict) = apply::apply(host, engine, verdict, Target { forged: &forged, reference, filter_state: options.filter_state });
    (next, verdict, reference)
}

/// The real host, through the checked calls of `abi`.
struct EnvoyHost;

impl Host for EnvoyHost {
    fn remove_request_header(&mut self, name: &[u8]) -> Result<(), Status> {
        abi::remove_request_header(name)
    }

    fn add_request_header(&mut self, name: &str, value: &str) -> Result<(), Status> {
        abi::add_request_header(name, value)
    }

    fn send_local_response(&mut self, status: u16, headers: &[(String, String)], body: &[u8]) -> Result<(), Status> {
        abi::send_local_response(status, &wire::serialize_pairs(headers), body)
    }

    fn set_filter_state(&mut self, key: &str, value: &[u8]) -> Result<(), Status> {
        abi::set_property(key, value)
    }

    fn log_error(&mut self, message: &str) {
        abi::log(Level::Error, message);
    }
}
