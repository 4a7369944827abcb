//! The proxy-wasm HTTP context: one per request, running the engine's two phases
//! ([`crate::engine::Decision`]).
//!
//! At the request headers the filter reads the header map (one host call), builds the
//! [`crate::Request`] view (ASN and country from the geoip filter's headers with
//! `envoy.geo_headers`, [`super::geo`]) and runs the header phase. A final verdict is
//! applied at once (client-sent tag headers stripped, ours added, or a 403 / 429) and the
//! request goes on (`Continue`); when the engine wants to learn from the body, the body
//! callback then copies the body prefix as it streams past (each chunk is let through at
//! once: `Continue`), at most [`crate::Engine::body_limit`] bytes kept per request, and hands it to
//! [`crate::Engine::learn_body`] at the end of the body or at the cap; later chunks are not
//! read. A request the engine holds for its body (`Decision::NeedBody`, a gray-zone score or
//! `body.inspect: always`) is held as before: `Pause` at the headers (the plugin config sets
//! `allow_on_headers_stop_iteration`), the prefix buffered by Envoy until the end of the body
//! or the cap, then [`crate::Engine::inspect_body`] and the verdict applied while the headers
//! are still held.
//!
//! Headers are only changed while the filter holds them: after `Continue` the header map is
//! gone (host calls on it fail), so the learning path never touches it. Any failing host
//! call on the decision path turns into the engine's internal-error verdict (fail open, or
//! deny with `fail_closed`), counted in `distill_guard.internal_error`; a failing read of a
//! body that is only learned from is logged and counted there too, and the request keeps
//! its verdict. Responses are never touched.

use std::rc::Rc;

use proxy_wasm::traits::{Context, HttpContext};
use proxy_wasm::types::Action;

use super::abi::{self, Level};
use super::apply::{self, Failure, Host, Next, Status, Target};
#[cfg(feature = "fault-injection")]
use super::fault;
use super::filter::Shared;
use super::geo;
use super::metrics::Pending;
use super::wire::{self, Options, PrefixReader, Step};
use crate::engine::{Decision, Held, Learn};
use crate::request::Peer;
use crate::score::{Action as Verdict4, Verdict};
use crate::Engine;

/// Property paths read per request (segments joined by NUL, as the ABI wants them).
const SOURCE_ADDRESS: &[u8] = b"source\0address";
/// The connection's peer address as a `set_filter_state` filter copies it
/// (`%DOWNSTREAM_DIRECT_REMOTE_ADDRESS%`, see `envoy/envoy.yaml.in`): Envoy's
/// `source.address` is the downstream remote address, which the connection manager takes
/// from X-Forwarded-For's last entry under its default `use_remote_address: false`, so a
/// client would choose it.
const PEER_PROPERTY: &[u8] = b"filter_state\0distill_guard.peer";
const REQUEST_PROTOCOL: &[u8] = b"request\0protocol";
const JA4_PROPERTY: &[u8] = b"filter_state\0distill_guard.ja4";
const JA3_PROPERTY: &[u8] = b"filter_state\0distill_guard.ja3";

/// Requests this VM has seen: part of each request's reference-id token (`wire::reference_token`).
static SEQUENCE: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Logged already (once per VM): the peer address came from `source.address`.
static PEER_FALLBACK_LOGGED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Where a request is.
enum Stage {
    /// Nothing decided; request headers not seen yet.
    Headers,
    /// Headers held until the body prefix is buffered (the engine asked for it).
    Holding(Box<Holding>),
    /// Verdict applied, request forwarded; the body prefix is copied as it streams past.
    Learning(Learning),
    /// Verdict applied (or the request passed without one): stay out of the way.
    Done,
}

/// A request held for its body.
struct Holding {
    held: Held,
    /// Client-sent tag headers to strip before forwarding.
    forged: Vec<Vec<u8>>,
    reference: u64,
    /// Fault-injection builds: the body read is to fail.
    fault_body: bool,
}

/// A request decided at its headers whose body prefix the engine learns from.
struct Learning {
    learn: Learn,
    prefix: PrefixReader,
    fault_body: bool,
}

/// One request's filter.
pub(super) struct Filter {
    shared: Rc<Shared>,
    stage: Stage,
}

impl Filter {
    /// A filter for one request of the VM whose engine `shared` holds.
    pub(super) fn new(shared: Rc<Shared>) -> Self {
        Filter { shared, stage: Stage::Headers }
    }
}

impl Context for Filter {}

impl HttpContext for Filter {
    fn on_http_request_headers(&mut self, _num_headers: usize, end_of_stream: bool) -> Action {
        if !matches!(self.stage, Stage::Headers) {
            return Action::Continue;
        }
        self.stage = Stage::Done;
        let shared = Rc::clone(&self.shared);
        let Some(mut slot) = engine_slot(&shared) else { return Action::Continue };
        let Some(engine) = slot.as_mut() else { return Action::Continue };
        let options = shared.options.get();
        let seq = SEQUENCE.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let read = abi::request_headers();
        #[cfg(feature = "fault-injection")]
        let read = read.and_then(|b| fault::check(&b, fault::Point::Headers).map(|()| b));
        let decided = match read {
            Ok(buf) => match self.headers_phase(engine, options, &buf, end_of_stream, seq) {
                Some(d) => d,
                None => return Action::Pause, // held for the body
            },
            Err(s) => fail(engine, ("reading request headers", s), options, &[], wire::reference_id(engine.policy(), None, 0, seq)),
        };
        finish(&shared, decided)
    }

    fn on_http_request_body(&mut self, body_size: usize, end_of_stream: bool) -> Action {
        match &mut self.stage {
            Stage::Holding(_) => {
                let limit = self.shared.engine.borrow().as_ref().map_or(0, Engine::body_limit);
                match wire::on_body(body_size, limit, end_of_stream) {
                    Step::Buffer => Action::Pause,
                    Step::Decide => self.decide_held(limit, Some(end_of_stream && body_size <= limit)),
                }
            }
            Stage::Learning(l) => {
                let take = l.prefix.take(body_size);
                if take > 0 {
                    match read_body(take, l.fault_body) {
                        Ok(chunk) => l.prefix.push(chunk),
                        Err(failure) => {
                            self.learning_failed(failure);
                            return Action::Continue;
                        }
                    }
                }
                if let Some(complete) = l.prefix.ready(end_of_stream) {
                    self.learn(complete);
                }
                Action::Continue
            }
            Stage::Headers | Stage::Done => Action::Continue,
        }
    }

    fn on_http_request_trailers(&mut self, _num_trailers: usize) -> Action {
        match &self.stage {
            Stage::Holding(_) => {
                let limit = self.shared.engine.borrow().as_ref().map_or(0, Engine::body_limit);
                self.decide_held(limit, None)
            }
            Stage::Learning(l) => {
                let complete = l.prefix.ready(true).unwrap_or(false);
                self.learn(complete);
                Action::Continue
            }
            Stage::Headers | Stage::Done => Action::Continue,
        }
    }
}

/// A request's verdict as applied, what to tell Envoy, and its reference id.
struct Decided {
    next: Next,
    verdict: Verdict,
    reference: u64,
}

impl Filter {
    /// Builds the view over the header map `buf`, runs the header phase and applies a final
    /// verdict; `None` when the request is held for its body (the stage says so).
    fn headers_phase(&mut self, engine: &mut Engine, options: Options, buf: &[u8], end_of_stream: bool, seq: u64) -> Option<Decided> {
        let facts = match Facts::read(options) {
            Ok(f) => f,
            Err(failure) => return Some(fail(engine, failure, options, &[], wire::reference_id(engine.policy(), None, 0, seq))),
        };
        let Some(headers) = wire::parse_pairs(buf) else {
            let failure = ("parsing the request header map", Status(u32::MAX));
            return Some(fail(engine, failure, options, &[], wire::reference_id(engine.policy(), None, facts.now_ms, seq)));
        };
        // Envoy appends x-request-id near the end of the map: searched from there.
        let request_id = headers.iter().rev().find(|h| h.name == b"x-request-id").map(|h| h.value);
        let reference = wire::reference_id(engine.policy(), request_id, facts.now_ms, seq);
        let mut peer = Peer {
            ja4: facts.ja4.as_deref().and_then(wire::fingerprint_value),
            ja3: facts.ja3.as_deref().and_then(wire::fingerprint_value),
            ..Peer::default()
        };
        if options.geo_headers {
            geo::read_into(&headers, &mut peer);
        }
        let version = facts.proto.as_deref().map(wire::parse_version).unwrap_or_default();
        let mut req = wire::build_request(headers, &[], end_of_stream, peer, version, facts.now_ms);
        // Behind a load balancer (`proxy.trusted_hops` >= 1) X-Forwarded-For names the client and
        // the peer address changes nothing: one host call (and its buffer) fewer per request.
        if engine.needs_peer_address(&req) {
            match peer_address() {
                Ok(ip) => req.peer.ip = ip,
                Err(failure) => return Some(fail(engine, failure, options, &[], reference)),
            }
        }
        #[cfg(feature = "fault-injection")]
        let fault_body = fault::check(buf, fault::Point::Body).is_err();
        #[cfg(not(feature = "fault-injection"))]
        let fault_body = false;
        let forged = wire::forged_tag_names(&req.headers, &engine.policy().output.header_prefix);
        let before = engine.counters();
        let decision = engine.inspect_headers(&req, !end_of_stream);
        if engine.counters().checked_windows > before.checked_windows {
            count(&self.shared, Pending::deployment_window);
        }
        if let Some((line, warning)) = engine.take_notice() {
            abi::log(Level::Warn, &format!("distill-guard: {line}"));
            if warning {
                count(&self.shared, Pending::deployment_warning);
            }
        }
        match decision {
            Decision::Final { verdict, learn } => {
                if engine.counters().skipped > before.skipped {
                    count(&self.shared, Pending::skipped);
                }
                let target = Target { forged: &forged, reference, filter_state: options.filter_state };
                let (next, verdict) = apply::apply(&mut EnvoyHost, engine, verdict, target);
                if let (Next::Continue, Some(learn), false) = (next, learn, verdict.internal_error) {
                    self.stage = Stage::Learning(Learning { learn, prefix: PrefixReader::new(engine.body_limit()), fault_body });
                }
                Some(Decided { next, verdict, reference })
            }
            Decision::NeedBody(held) => {
                let forged = forged.iter().map(|n| n.to_vec()).collect();
                self.stage = Stage::Holding(Box::new(Holding { held, forged, reference, fault_body }));
                count(&self.shared, Pending::held);
                None
            }
        }
    }

    /// The body phase of a held request: reads the buffered prefix (at most `limit` bytes),
    /// asks the engine, applies the verdict. `complete`: whether the prefix is the whole body
    /// (`None` at the trailers: then when it is shorter than the limit).
    fn decide_held(&mut self, limit: usize, complete: Option<bool>) -> Action {
        let Stage::Holding(h) = std::mem::replace(&mut self.stage, Stage::Done) else { return Action::Continue };
        let Holding { held, forged, reference, fault_body } = *h;
        let shared = Rc::clone(&self.shared);
        let Some(mut slot) = engine_slot(&shared) else { return Action::Continue };
        let Some(engine) = slot.as_mut() else { return Action::Continue };
        let options = shared.options.get();
        let forged: Vec<&[u8]> = forged.iter().map(Vec::as_slice).collect();
        let decided = match read_body(limit, fault_body) {
            Ok(body) => {
                let complete = complete.unwrap_or(body.len() < limit);
                let verdict = engine.inspect_body(held, &body, complete);
                let target = Target { forged: &forged, reference, filter_state: options.filter_state };
                let (next, verdict) = apply::apply(&mut EnvoyHost, engine, verdict, target);
                Decided { next, verdict, reference }
            }
            Err(failure) => fail(engine, failure, options, &forged, reference),
        };
        finish(&shared, decided)
    }

    /// Hands the prefix gathered so far to the engine's learning and stops reading.
    fn learn(&mut self, complete: bool) {
        let Stage::Learning(l) = std::mem::replace(&mut self.stage, Stage::Done) else { return };
        let Some(mut slot) = engine_slot(&self.shared) else { return };
        if let Some(engine) = slot.as_mut() {
            engine.learn_body(&l.learn, l.prefix.bytes(), complete);
            count(&self.shared, Pending::learned);
        }
    }

    /// A body read for learning failed: logged and counted; the request keeps its verdict.
    fn learning_failed(&mut self, (what, Status(s)): Failure) {
        self.stage = Stage::Done;
        abi::log(Level::Error, &format!("distill-guard: internal error: {what} failed (status {s}); the body is not learned from"));
        count(&self.shared, Pending::internal_error);
    }
}

/// The engine, unless it is busy (a re-entrant call) or not configured (both logged).
fn engine_slot(shared: &Shared) -> Option<std::cell::RefMut<'_, Option<Engine>>> {
    let Ok(slot) = shared.engine.try_borrow_mut() else {
        abi::log(Level::Error, "distill-guard: engine busy; request passed uninspected");
        return None;
    };
    if slot.is_none() {
        abi::log(Level::Error, "distill-guard: no policy configured; request passed uninspected");
        return None;
    }
    Some(slot)
}

/// Counts with `f` in the VM's counters (when they exist and are not busy).
fn count(shared: &Shared, f: fn(&mut Pending)) {
    if let Ok(mut m) = shared.metrics.try_borrow_mut() {
        if let Some(m) = m.as_mut() {
            m.count(f);
        }
    }
}

/// Counts and logs a decided request and maps it to the host's action.
fn finish(shared: &Shared, d: Decided) -> Action {
    let v = &d.verdict;
    if v.enforced >= Verdict4::Throttle {
        abi::log(Level::Debug, &format!("distill-guard: {} ref {:016x} score {} reasons {} fp {}", v.enforced.as_str(), d.reference, v.score, v.reason_codes(), v.hfp_hex()));
    }
    if let Ok(mut m) = shared.metrics.try_borrow_mut() {
        if let Some(m) = m.as_mut() {
            m.record(v);
        }
    }
    match d.next {
        Next::Continue => Action::Continue,
        Next::Stop => Action::Pause,
    }
}

/// The internal-error verdict for a failed host call, applied.
fn fail(engine: &mut Engine, failure: Failure, options: Options, forged: &[&[u8]], reference: u64) -> Decided {
    let target = Target { forged, reference, filter_state: options.filter_state };
    let (next, verdict) = apply::internal_error(&mut EnvoyHost, engine, failure, target);
    Decided { next, verdict, reference }
}

/// Up to `limit` bytes of the request body buffer (the held prefix, or the current chunk).
fn read_body(limit: usize, fault_body: bool) -> Result<Vec<u8>, Failure> {
    let read = abi::request_body(limit);
    #[cfg(feature = "fault-injection")]
    let read = read.and_then(|b| if fault_body { Err(fault::STATUS) } else { Ok(b) });
    #[cfg(not(feature = "fault-injection"))]
    let _ = fault_body;
    read.map_err(|s| ("reading the request body", s))
}

/// The address of the connection's peer: the filter state a `set_filter_state` filter fills
/// ([`PEER_PROPERTY`]), else (logged once per VM) `source.address`, which is the peer only
/// when the request has no X-Forwarded-For or the connection manager sets
/// `use_remote_address: true`.
fn peer_address() -> Result<Option<std::net::IpAddr>, Failure> {
    if let Some(v) = abi::property(PEER_PROPERTY).map_err(|s| ("reading the distill_guard.peer filter state", s))? {
        return Ok(wire::parse_socket_addr(&v));
    }
    if !PEER_FALLBACK_LOGGED.swap(true, std::sync::atomic::Ordering::Relaxed) {
        abi::log(Level::Warn, "distill-guard: warning: filter state distill_guard.peer is not set, so the client address is Envoy's source.address, which follows X-Forwarded-For unless the connection manager sets use_remote_address: put the set_filter_state filter of envoy/envoy.yaml.in before this filter (logged once per worker)");
    }
    let ip = abi::property(SOURCE_ADDRESS).map_err(|s| ("reading source.address", s))?;
    Ok(ip.as_deref().and_then(wire::parse_socket_addr))
}

/// What the header phase needs from Envoy besides the header map.
struct Facts {
    ja4: Option<Vec<u8>>,
    ja3: Option<Vec<u8>>,
    proto: Option<Vec<u8>>,
    now_ms: u64,
}

impl Facts {
    /// Reads them: JA4 / JA3 from filter state only with `envoy.tls_fingerprints`.
    fn read(options: Options) -> Result<Facts, Failure> {
        let (ja4, ja3) = if options.tls_fingerprints {
            let ja4 = abi::property(JA4_PROPERTY).map_err(|s| ("reading the JA4 filter state", s))?;
            let ja3 = abi::property(JA3_PROPERTY).map_err(|s| ("reading the JA3 filter state", s))?;
            (ja4, ja3)
        } else {
            (None, None)
        };
        let proto = abi::property(REQUEST_PROTOCOL).map_err(|s| ("reading request.protocol", s))?;
        let now_ms = abi::now_ms().map_err(|s| ("reading the clock", s))?;
        Ok(Facts { ja4, ja3, proto, now_ms })
    }
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
