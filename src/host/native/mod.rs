//! Native Envoy filter: the same engine as the proxy-wasm filter, loaded by Envoy's dynamic
//! modules extension (`envoy.filters.http.dynamic_modules`, Envoy >= 1.34; built and tested
//! against Envoy 1.40) as `libdistill_guard.so` (cargo feature `envoy-native`,
//! `scripts/build.sh envoy-native`). It runs the engine's two phases as the Wasm filter does
//! (`super::envoy::http`): decided at the headers, the body prefix copied as it streams past
//! and learned from, a gray-zone request held for its body; the verdict applied by the same
//! code (`super::envoy::apply`), with the same plugin configuration (the policy JSON and its
//! `envoy` options).
//!
//! What it trades: no V8, no copy of the header map or the body into a sandbox (Envoy's
//! buffers are read in place), one engine per filter configuration shared by Envoy's worker
//! threads behind a lock (so the state is exact across workers and needs no sync tick; the
//! lock is held for the engine's state work: the header phase once the headers are read,
//! recording a learned body's facts, a held request's body phase once its prompt is read;
//! reading Envoy's headers and bodies, reading the request (claims, prints, prompt scans) and
//! applying the verdict run outside it, with a [`Reader`] cloned from the engine); but
//! native code in Envoy's process, tied to the dynamic-module ABI of the Envoy it was built
//! for. A panic in the engine is caught at the hook (the request passes uninspected, the engine
//! is rebuilt from the policy with empty state, both logged); it never unwinds into Envoy.
//!
//! The adapter options `envoy.geo_headers`, `envoy.tls_fingerprints` (JA4 / JA3 from filter
//! state `distill_guard.ja4` / `.ja3`) and `envoy.filter_state` (the verdict in filter state
//! `distill_guard`, the cluster key of a tagged request in `distill_guard.cluster`: the keys the
//! Wasm filter's access logs read as `wasm.distill_guard...`) work as in the Wasm filter.
//! The counters are the Wasm filter's (`distill_guard.requests`, `.action.*`, `.reason.*`,
//! `.body.held`, `.body.learned`, `.body.skipped`, `.internal_error`, `.deployment.warnings`,
//! `.deployment.windows`), under Envoy's dynamic-module stats prefix
//! instead of `wasmcustom.`, incremented per request (no tick to batch them on).
//! The fleet sync (`envoy.fleet`) and the campaign log (`envoy.campaigns`) run on a thread of
//! the filter configuration's own ([`background`]): it calls the fleet's bridge at
//! `envoy.fleet.bridge` (an address: the module makes the call itself; the Wasm filter goes
//! through the Envoy cluster `envoy.fleet.upstream` instead) and logs one campaign report for
//! the node (the Wasm filter: one per worker). A tag header whose value is empty (`reasons` of a request no signal fired on) is
//! left out: Envoy's dynamic-module ABI refuses to add an empty value.

mod abi;
mod background;
mod handover;

use std::ffi::c_void;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use self::abi::{Level, Stream};
use super::envoy::apply::{self, Failure, Host, Next, Status, Target};
use super::envoy::metrics::{self, Pending};
use super::envoy::fleet::COUNTERS as FLEET_COUNTERS;
use super::envoy::{geo, wire};
use crate::engine::{Decision, Held, Learn, Reader};
use crate::policy::Policy;
use crate::request::Peer;
use crate::score::Verdict;
use crate::Engine;

/// ABI version this module was written against (Envoy only warns on a mismatch).
static ABI_VERSION: &[u8] = b"v0.2.0\0";

/// One filter configuration: its engine (shared by the worker threads and the fleet sync
/// thread) and options.
struct Config {
    engine: Arc<Mutex<Engine>>,
    /// The engine's reader of requests (its policy with it), cloned: what a request needs
    /// besides the engine's state work, so that Envoy's worker threads hold the engine's lock
    /// for that alone (an engine rebuilt after a panic comes from the same text).
    reader: Reader,
    /// The plugin configuration, to rebuild the engine after a caught panic.
    text: String,
    options: wire::Options,
    sequence: AtomicU64,
    /// Envoy's ids of the counters ([`metrics::name`] order); empty when Envoy refused them.
    counters: Vec<usize>,
    /// The fleet sync (`envoy.fleet`) and campaign log (`envoy.campaigns`) thread, and Envoy's
    /// ids of the fleet counters (`super::envoy::fleet::COUNTERS` order). Dropped (its thread
    /// joined) with the configuration.
    background: Option<(background::Background, Vec<usize>)>,
    /// The fleet part (shared with the background thread; taken by a successor that keeps it).
    _fleet: background::FleetSlot,
}

impl Config {
    /// The engine, locked (a poisoned lock is taken over: the panic was caught and logged).
    fn lock(&self) -> MutexGuard<'_, Engine> {
        self.engine.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds what `f` counts to Envoy's counters (see [`Pending`]).
    fn count(&self, s: Stream<'_>, f: impl FnOnce(&mut Pending)) {
        let mut p = Pending::default();
        f(&mut p);
        p.drain(|i, n| {
            if let Some(&id) = self.counters.get(i) {
                s.increment_counter(id, n);
            }
        });
        if let Some((bg, ids)) = &self.background {
            bg.pending.drain(|i, n| {
                if let Some(&id) = ids.get(i) {
                    s.increment_counter(id, n);
                }
            });
        }
    }
}

// Envoy's worker threads share a configuration (and its engine) through a raw pointer: it must be
// thread-safe.
const _: fn() = || {
    fn shared_by_threads<T: Send + Sync>() {}
    shared_by_threads::<Config>();
};

/// Where one request is (as in the Wasm filter).
enum Stage {
    Headers,
    Holding { held: Box<Held>, forged: Vec<Vec<u8>>, reference: u64 },
    Learning { learn: Learn, prefix: Vec<u8> },
    Done,
}

/// One request's filter.
struct Filter {
    config: *const Config,
    stage: Stage,
}

/// `envoy_dynamic_module_type_on_http_filter_request_headers_status` / `..._body_status`
/// values used here.
const CONTINUE: u32 = 0;
const STOP_ITERATION: u32 = 1; // headers: StopIteration; body: StopIterationAndBuffer

#[no_mangle]
extern "C" fn envoy_dynamic_module_on_program_init() -> *const u8 {
    ABI_VERSION.as_ptr()
}

#[no_mangle]
unsafe extern "C" fn envoy_dynamic_module_on_http_filter_config_new(envoy: *mut c_void, name_ptr: *const u8, name_len: usize, ptr: *const u8, len: usize) -> *const c_void {
    let bytes = if ptr.is_null() { &[][..] } else { std::slice::from_raw_parts(ptr, len) };
    let name = if name_ptr.is_null() { &[][..] } else { std::slice::from_raw_parts(name_ptr, name_len) };
    match catch_unwind(|| configure(envoy, name, bytes)) {
        Ok(Some(c)) => Box::into_raw(Box::new(c)) as *const c_void,
        _ => std::ptr::null(),
    }
}

#[no_mangle]
unsafe extern "C" fn envoy_dynamic_module_on_http_filter_config_destroy(config: *const c_void) {
    if !config.is_null() {
        drop(Box::from_raw(config as *mut Config));
    }
}

#[no_mangle]
extern "C" fn envoy_dynamic_module_on_http_filter_new(config: *const c_void, _envoy: *mut c_void) -> *const c_void {
    Box::into_raw(Box::new(Filter { config: config as *const Config, stage: Stage::Headers })) as *const c_void
}

#[no_mangle]
unsafe extern "C" fn envoy_dynamic_module_on_http_filter_destroy(filter: *const c_void) {
    if !filter.is_null() {
        drop(Box::from_raw(filter as *mut Filter));
    }
}

#[no_mangle]
unsafe extern "C" fn envoy_dynamic_module_on_http_filter_request_headers(envoy: *mut c_void, filter: *const c_void, end_of_stream: bool) -> u32 {
    guarded(envoy, filter, |f, config, s| f.on_headers(config, s, end_of_stream))
}

#[no_mangle]
unsafe extern "C" fn envoy_dynamic_module_on_http_filter_request_body(envoy: *mut c_void, filter: *const c_void, end_of_stream: bool) -> u32 {
    guarded(envoy, filter, |f, config, s| f.on_body(config, s, Some(end_of_stream)))
}

#[no_mangle]
unsafe extern "C" fn envoy_dynamic_module_on_http_filter_request_trailers(envoy: *mut c_void, filter: *const c_void) -> u32 {
    guarded(envoy, filter, |f, config, s| f.on_body(config, s, None))
}

/// Runs a hook body for the filter `filter` of the stream `envoy`; a panic passes the request
/// uninspected (counted as an internal error) and rebuilds the engine.
///
/// # Safety
/// `envoy` and `filter` are the running hook's pointers.
unsafe fn guarded(envoy: *mut c_void, filter: *const c_void, hook: impl FnOnce(&mut Filter, &Config, Stream<'_>) -> u32) -> u32 {
    let f = &mut *(filter as *mut Filter);
    let s = Stream::new(envoy);
    // Envoy destroys a filter configuration only after every filter built from it.
    let config = &*f.config;
    match catch_unwind(AssertUnwindSafe(|| hook(f, config, s))) {
        Ok(status) => status,
        Err(_) => {
            f.stage = Stage::Done;
            config.count(s, Pending::internal_error);
            abi::log(Level::Error, "distill-guard: internal error: the engine panicked; request passed uninspected, engine restarted with empty state");
            let mut slot = config.lock();
            if let Ok((mut fresh, options, _)) = wire::parse_config_for(&config.text, wire::Filter::Native) {
                if let Some(c) = options.campaigns {
                    fresh.track_campaigns(c.settings);
                }
                *slot = fresh;
            }
            config.engine.clear_poison();
            CONTINUE
        }
    }
}

/// The engine, options and counters of the plugin configuration `bytes` of filter `name`, or
/// `None` (every error logged).
///
/// # Safety
/// `envoy` is the `filter_config_envoy_ptr` of the running `on_http_filter_config_new`.
unsafe fn configure(envoy: *mut c_void, name: &[u8], bytes: &[u8]) -> Option<Config> {
    let Ok(text) = std::str::from_utf8(bytes) else {
        abi::log(Level::Error, "distill-guard: policy error: the filter configuration is not UTF-8");
        return None;
    };
    let (mut engine, options, fleet) = match wire::parse_config_for(text, wire::Filter::Native) {
        Ok(x) => x,
        Err(errors) => {
            for line in wire::refusal_lines(&errors) {
                abi::log(Level::Error, &format!("distill-guard: {line}"));
            }
            return None;
        }
    };
    let p = engine.policy();
    abi::log(Level::Info, &format!("distill-guard (native): {}", wire::loaded_line(p, &options)));
    for w in p.warnings() {
        abi::log(Level::Warn, &format!("distill-guard: warning: {w}"));
    }
    let counters: Option<Vec<usize>> = (0..metrics::COUNTERS).map(|i| metrics::name(i).and_then(|n| abi::define_counter(envoy, &n))).collect();
    let counters = counters.unwrap_or_else(|| {
        abi::log(Level::Warn, "distill-guard: Envoy refused the filter's counters: no distill_guard.* stats");
        Vec::new()
    });
    let report_every = options.campaigns.map(|c| {
        engine.track_campaigns(c.settings);
        abi::log(Level::Info, &format!("distill-guard (native): campaign report every {} s (tracker bound {} bytes)", c.interval_s, c.settings.memory_bound()));
        std::time::Duration::from_secs(u64::from(c.interval_s))
    });
    let fleet = fleet.filter(|f| f.enabled);
    if fleet.is_some() && !engine.policy().state.enabled {
        abi::log(Level::Info, "distill-guard (native): fleet sync off: the policy's state is off");
    }
    let fleet = fleet.filter(|_| engine.policy().state.enabled);
    let engine = Arc::new(Mutex::new(engine));
    let slot = background::FleetSlot::default();
    let kept = handover::take_over(name, &engine, fleet.as_ref(), &slot);
    *slot.lock().unwrap_or_else(|p| p.into_inner()) = kept.or_else(|| fleet.and_then(background::Fleet::new));
    let background = background::Background::start(Arc::clone(&engine), Arc::clone(&slot), report_every).map(|bg| {
        let ids: Option<Vec<usize>> = FLEET_COUNTERS.iter().map(|n| abi::define_counter(envoy, n)).collect();
        (bg, ids.unwrap_or_default())
    });
    let reader = engine.lock().unwrap_or_else(|p| p.into_inner()).reader();
    Some(Config { engine, reader, text: text.to_string(), options, sequence: AtomicU64::new(0), counters, background, _fleet: slot })
}

impl Filter {
    fn on_headers(&mut self, config: &Config, s: Stream<'_>, end_of_stream: bool) -> u32 {
        if !matches!(self.stage, Stage::Headers) {
            return CONTINUE;
        }
        self.stage = Stage::Done;
        let seq = config.sequence.fetch_add(1, Ordering::Relaxed);
        let now_ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64);
        let policy = config.reader.policy();
        // Everything but the engine's state work runs outside the engine's lock: reading
        // Envoy's header map and properties and the request's headers here, applying the
        // verdict below.
        let Some(headers) = s.request_headers() else {
            let reference = wire::reference_id(policy, None, now_ms, seq);
            return Self::fail(config, s, ("reading request headers", Status(u32::MAX)), reference);
        };
        let request_id = headers.iter().rev().find(|h| h.name == b"x-request-id").map(|h| h.value);
        let reference = wire::reference_id(policy, request_id, now_ms, seq);
        let fingerprint = |key: &[u8]| s.filter_state(key).and_then(wire::fingerprint_value);
        let mut peer = Peer::default();
        if config.options.tls_fingerprints {
            (peer.ja4, peer.ja3) = (fingerprint(b"distill_guard.ja4"), fingerprint(b"distill_guard.ja3"));
        }
        if config.options.geo_headers {
            geo::read_into(&headers, &mut peer);
        }
        let version = s.protocol().map(wire::parse_version).unwrap_or_default();
        let mut req = wire::build_request(headers, &[], end_of_stream, peer, version, now_ms);
        if Engine::peer_needed(policy, &req) {
            // Envoy 1.40 hands over `ip:port`; later ABIs the bare address (port apart): both parse.
            req.peer.ip = s.peer_address().and_then(wire::parse_socket_addr);
        }
        let forged = wire::forged_tag_names(&req.headers, &policy.output.header_prefix);
        let read = config.reader.headers(&req, !end_of_stream);
        let (decision, skipped, window, notice) = {
            let mut engine = config.lock();
            let before = engine.counters();
            let decision = engine.decide_headers(read);
            let notice = engine.take_notice();
            let after = engine.counters();
            (decision, after.skipped > before.skipped, after.checked_windows > before.checked_windows, notice)
        };
        if window {
            config.count(s, Pending::deployment_window);
        }
        if let Some((line, warning)) = notice {
            abi::log(Level::Warn, &format!("distill-guard (native): {line}"));
            if warning {
                config.count(s, Pending::deployment_warning);
            }
        }
        match decision {
            Decision::Final { verdict, learn } => {
                if skipped {
                    config.count(s, Pending::skipped);
                }
                let target = Target { forged: &forged, reference, filter_state: config.options.filter_state };
                let (next, verdict) = apply::apply(&mut NativeHost(s), &mut Unlocked(config), verdict, target);
                if let (Next::Continue, Some(learn), false) = (next, learn, verdict.internal_error) {
                    self.stage = Stage::Learning { learn, prefix: Vec::new() };
                }
                config.count(s, |p| p.record(&verdict));
                status(next)
            }
            Decision::NeedBody(held) => {
                let forged = forged.iter().map(|n| n.to_vec()).collect();
                self.stage = Stage::Holding { held: Box::new(held), forged, reference };
                config.count(s, Pending::held);
                STOP_ITERATION
            }
        }
    }

    /// A body chunk (`end`: `Some(end_of_stream)`) or the trailers (`None`).
    fn on_body(&mut self, config: &Config, s: Stream<'_>, end: Option<bool>) -> u32 {
        let limit = config.reader.body_limit();
        match &mut self.stage {
            Stage::Learning { prefix, .. } => {
                if end.is_some() && prefix.len() < limit {
                    s.read_body(false, prefix, limit);
                }
                if end != Some(false) || prefix.len() >= limit {
                    let Stage::Learning { learn, prefix } = std::mem::replace(&mut self.stage, Stage::Done) else { return CONTINUE };
                    let complete = end != Some(false) && prefix.len() < limit;
                    // The prompt scan outside the lock; the lock for the state update alone.
                    let facts = config.reader.facts(&learn, &prefix, complete);
                    config.lock().learn_facts(&learn, facts);
                    config.count(s, Pending::learned);
                }
                CONTINUE
            }
            Stage::Holding { .. } => {
                // Sizes only until the prefix is there: a body sent a byte at a time is not
                // copied once per byte.
                if wire::on_body(s.body_size(true), limit, end != Some(false)) == wire::Step::Buffer {
                    return STOP_ITERATION; // keep buffering
                }
                let mut body = Vec::new();
                s.read_body(true, &mut body, limit);
                let Stage::Holding { held, forged, reference } = std::mem::replace(&mut self.stage, Stage::Done) else { return CONTINUE };
                let complete = end != Some(false) && body.len() < limit;
                let forged: Vec<&[u8]> = forged.iter().map(Vec::as_slice).collect();
                // The prompt scan outside the lock; the state work and the verdict inside.
                let read = config.reader.read_held(*held, &body, complete);
                let verdict = config.lock().decide_body(read);
                let target = Target { forged: &forged, reference, filter_state: config.options.filter_state };
                let (next, verdict) = apply::apply(&mut NativeHost(s), &mut Unlocked(config), verdict, target);
                config.count(s, |p| p.record(&verdict));
                status(next)
            }
            Stage::Headers | Stage::Done => CONTINUE,
        }
    }

    /// The internal-error verdict for a failed host call, applied.
    fn fail(config: &Config, s: Stream<'_>, failure: Failure, reference: u64) -> u32 {
        let target = Target { forged: &[], reference, filter_state: config.options.filter_state };
        let (next, verdict) = apply::internal_error(&mut NativeHost(s), &mut Unlocked(config), failure, target);
        config.count(s, |p| p.record(&verdict));
        status(next)
    }
}

fn status(next: Next) -> u32 {
    match next {
        Next::Continue => CONTINUE,
        Next::Stop => STOP_ITERATION,
    }
}

/// A configuration's engine as [`apply`] sees it outside the lock: the policy's clone, and the
/// engine locked only for an internal-error verdict.
struct Unlocked<'c>(&'c Config);

impl apply::Verdicts for Unlocked<'_> {
    fn policy(&self) -> &Policy {
        self.0.reader.policy()
    }

    fn internal_error(&mut self) -> Verdict {
        self.0.lock().internal_error()
    }
}

/// [`Host`] over the dynamic-module callbacks of the running hook.
struct NativeHost<'h>(Stream<'h>);

impl Host for NativeHost<'_> {
    fn remove_request_header(&mut self, name: &[u8]) -> Result<(), Status> {
        self.0.remove_request_header(name).then_some(()).ok_or(Status(1))
    }

    fn add_request_header(&mut self, name: &str, value: &str) -> Result<(), Status> {
        if value.is_empty() {
            return Ok(()); // Envoy refuses empty values (module docs)
        }
        self.0.add_request_header(name.as_bytes(), value.as_bytes()).then_some(()).ok_or(Status(1))
    }

    fn send_local_response(&mut self, status: u16, headers: &[(String, String)], body: &[u8]) -> Result<(), Status> {
        self.0.send_response(status, headers, body);
        Ok(())
    }

    fn set_filter_state(&mut self, key: &str, value: &[u8]) -> Result<(), Status> {
        self.0.set_filter_state(key.as_bytes(), value).then_some(()).ok_or(Status(1))
    }

    fn log_error(&mut self, message: &str) {
        abi::log(Level::Error, message);
    }
}

// The hooks Envoy requires of every HTTP filter module; the filter has nothing to do there.
#[no_mangle]
extern "C" fn envoy_dynamic_module_on_http_filter_response_headers(_e: *mut c_void, _f: *const c_void, _end: bool) -> u32 {
    CONTINUE
}
#[no_mangle]
extern "C" fn envoy_dynamic_module_on_http_filter_response_body(_e: *mut c_void, _f: *const c_void, _end: bool) -> u32 {
    CONTINUE
}
#[no_mangle]
extern "C" fn envoy_dynamic_module_on_http_filter_response_trailers(_e: *mut c_void, _f: *const c_void) -> u32 {
    CONTINUE
}
#[no_mangle]
extern "C" fn envoy_dynamic_module_on_http_filter_stream_complete(_e: *mut c_void, _f: *const c_void) {}
#[no_mangle]
extern "C" fn envoy_dynamic_module_on_http_filter_http_callout_done(_e: *mut c_void, _f: *const c_void, _id: u64, _result: u32, _h: *const c_void, _nh: usize, _b: *const c_void, _nb: usize) {}
#[no_mangle]
extern "C" fn envoy_dynamic_module_on_http_filter_http_stream_headers(_e: *mut c_void, _f: *const c_void, _id: u64, _h: *const c_void, _nh: usize, _end: bool) {}
#[no_mangle]
extern "C" fn envoy_dynamic_module_on_http_filter_http_stream_data(_e: *mut c_void, _f: *const c_void, _id: u64, _b: *const c_void, _nb: usize, _end: bool) {}
#[no_mangle]
extern "C" fn envoy_dynamic_module_on_http_filter_http_stream_trailers(_e: *mut c_void, _f: *const c_void, _id: u64, _h: *const c_void, _nh: usize) {}
#[no_mangle]
extern "C" fn envoy_dynamic_module_on_http_filter_http_stream_complete(_e: *mut c_void, _f: *const c_void, _id: u64) {}
#[no_mangle]
extern "C" fn envoy_dynamic_module_on_http_filter_http_stream_reset(_e: *mut c_void, _f: *const c_void, _id: u64, _reason: u32) {}
#[no_mangle]
extern "C" fn envoy_dynamic_module_on_http_filter_scheduled(_e: *mut c_void, _f: *const c_void, _id: u64) {}
#[no_mangle]
extern "C" fn envoy_dynamic_module_on_http_filter_downstream_above_write_buffer_high_watermark(_e: *mut c_void, _f: *const c_void) {}
#[no_mangle]
extern "C" fn envoy_dynamic_module_on_http_filter_downstream_below_write_buffer_low_watermark(_e: *mut c_void, _f: *const c_void) {}
