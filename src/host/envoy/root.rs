//! The proxy-wasm root context: builds the engine from the plugin configuration, and on its
//! tick flushes counters, logs the campaign report every `envoy.campaigns.interval_s`, syncs
//! state with the other worker VMs ([`super::sync`]) and, with `envoy.fleet` settings, with
//! the other nodes through the store ([`super::fleet_root`]).
//!
//! Plugin configuration: a policy document, plus the optional top-level `envoy` member the
//! filter cuts out before reading the policy: adapter options ([`wire::Options`]) and the
//! fleet settings, `envoy.fleet` ([`crate::fleet::FleetConfig`]). Every error is logged with
//! its path and the filter does not start.
//!
//! A new plugin configuration with the same `vm_config` (an ECDS push, a listener update)
//! reuses the VM and creates a new root context. So what must outlive a root context lives
//! in a VM global ([`VM`]): the worker sync (its worker index and ring positions), the fleet
//! client (its cursor, its unpublished deltas), and the latest root. A new root takes over the
//! previous root's state when the `state` sections of both policies are equal (so counts
//! survive a new policy, new allow / block lists, new thresholds); otherwise it starts empty.
//! Only the latest root syncs; an older one still serving requests in flight keeps counting.
//!
//! Deliberately not here: anything on the request path (`http.rs`).

use std::cell::RefCell;
use std::rc::{Rc, Weak};

use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::ContextType;

use super::abi::{self, Level};
use super::apply::Status;
use super::campaigns::{self, Merging, Turn};
use super::filter::{Metrics, Shared};
use super::fleet_root::FleetRoot;
use super::http::Filter;
use super::sync::{self, Role, SharedData, Sync};
use super::wire;
use crate::fleet::FleetConfig;
use crate::Engine;

/// Envoy's `node.id` (the fleet node's name when `fleet.node_id` is not set): the attribute
/// `xds.node.id` (the proxy-wasm `node` property is empty for this filter).
const NODE_ID_PROPERTY: &[u8] = b"xds\0node\0id";

/// What outlives a root context in this VM.
static VM: VmCell = VmCell(RefCell::new(Vm { sync: None, generation: 0, current: Weak::new(), orphan: None }));

/// [`VM`]'s cell. A proxy-wasm VM runs on one thread and never shares its memory (this
/// module is built without threads), so the `Sync` the static needs holds trivially.
struct VmCell(RefCell<Vm>);

// SAFETY: see `VmCell`: no second thread ever exists in this VM.
unsafe impl std::marker::Sync for VmCell {}

impl VmCell {
    fn with<R>(&self, f: impl FnOnce(&RefCell<Vm>) -> R) -> R {
        f(&self.0)
    }
}

struct Vm {
    sync: Option<SyncRoot>,
    /// Generation of the latest configured root.
    generation: u64,
    /// The latest configured root's engine.
    current: Weak<Shared>,
    /// The engine of a latest root that went before its successor was configured (its state
    /// is what a successor takes over).
    orphan: Option<Engine>,
}

/// A root context (one per VM and plugin configuration).
pub struct Root {
    shared: Rc<Shared>,
    generation: u64,
    /// The campaign report (`envoy.campaigns`).
    campaigns: CampaignLog,
}

impl Root {
    /// A root context not configured yet.
    pub fn new() -> Root {
        Root { shared: Rc::new(Shared::default()), generation: 0, campaigns: CampaignLog::default() }
    }
}

/// The campaign report's side of a root context (`envoy.campaigns`).
#[derive(Default)]
struct CampaignLog {
    /// Ticks since the last report.
    ticks: u32,
    /// A report still merging its peers' snapshots (one per tick).
    merging: Option<Merging>,
    /// A failure was logged.
    warned: bool,
}

impl CampaignLog {
    fn warn(&mut self, m: &str) {
        if !std::mem::replace(&mut self.warned, true) {
            abi::log(Level::Warn, &format!("distill-guard: campaign report: {m}; logged once"));
        }
    }

    /// On each tick: a report under way merges one more peer (all that are left when the next
    /// report is due), and every `interval_s` a report starts. With a worker index (`me`) the
    /// workers share their trackers and one reports for all ([`campaigns`]); alone, or
    /// without an index, a worker reports its own. With `fleet`, the reported tracker's
    /// snapshot also goes to the fleet store.
    fn tick(&mut self, engine: &Engine, me: Option<u32>, interval_s: u32, mut fleet: Option<&mut FleetRoot>) {
        self.ticks += 1;
        let due = u64::from(self.ticks) * u64::from(sync::TICK_MS) >= u64::from(interval_s) * 1000;
        if let Some(m) = self.merging.take() {
            self.advance(m, due, interval_s, fleet.as_deref_mut());
        }
        if !due {
            return;
        }
        self.ticks = 0;
        let Some(own) = engine.campaigns() else { return };
        let now = abi::now_ms().unwrap_or_else(|_| own.last_ms());
        match campaigns::turn(&mut EnvoyShared, own, me, now, u64::from(interval_s) * 1000) {
            Ok(Turn::Own) => self.log(own, 1, 0, interval_s, fleet),
            Ok(Turn::Peer(_) | Turn::First) => {}
            Ok(Turn::Merge(m)) => self.advance(m, false, interval_s, fleet),
            Err((what, Status(s))) => {
                self.warn(&format!("{what} failed (status {s}); this worker reports its own requests"));
                self.log(own, 1, 0, interval_s, fleet);
            }
        }
    }

    /// Logs the report of `t`, one info line per campaign: `distill-guard: campaign {json}`
    /// (the campaign as in `distill-guard campaigns --format json`, with the request counts and
    /// `workers`, how many worker VMs' trackers it covers). Account ids and key hashes only.
    fn log(&mut self, t: &crate::campaign::Tracker, workers: u32, refused: u32, interval_s: u32, fleet: Option<&mut FleetRoot>) {
        if refused > 0 {
            self.warn(&format!("{refused} peer snapshot(s) refused (decode error); the report leaves them out"));
        }
        for line in wire::report_lines(t, Some(workers)) {
            abi::log(Level::Info, &line);
        }
        if let Some(f) = fleet {
            f.store_campaigns(&t.snapshot(), crate::fleet::campaigns::ttl_ms(u64::from(interval_s) * 1000));
        }
    }

    /// Merges one more peer into `m` (with `all`, every peer left) and logs its report once no
    /// peer is left, or keeps it for the next tick. A failed shared-data read ends the merge:
    /// the report covers the trackers merged so far.
    fn advance(&mut self, mut m: Merging, all: bool, interval_s: u32, fleet: Option<&mut FleetRoot>) {
        let done = loop {
            match m.step(&mut EnvoyShared) {
                Ok(true) => break true,
                Ok(false) if all => continue,
                Ok(false) => break false,
                Err((what, Status(s))) => {
                    self.warn(&format!("{what} failed (status {s}); the report covers the trackers merged so far"));
                    break true;
                }
            }
        };
        if done {
            self.log(m.tracker(), m.workers(), m.refused(), interval_s, fleet);
        } else {
            self.merging = Some(m);
        }
    }
}

/// The root context's side of the worker sync (and of the fleet sync).
struct SyncRoot {
    sync: Sync,
    /// Counter ids: published, applied, missed, errors (absent when defining them failed).
    metrics: Option<[u32; 4]>,
    /// Logged already: a host-call failure, a refused delta.
    logged: [bool; 2],
    fleet: Option<FleetRoot>,
}

impl SyncRoot {
    /// The sync of this VM (it claims a worker index once it serves, see [`Sync::idle`]).
    fn start() -> SyncRoot {
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
        SyncRoot { sync: Sync::idle(), metrics: ok.then_some(ids), logged: [false; 2], fleet: None }
    }

    /// Starts, keeps or stops the fleet part for a new configuration (changed `envoy.fleet`
    /// settings start a new client: new publisher, cursor from the log's start).
    fn configure_fleet(&mut self, cfg: Option<FleetConfig>) {
        let cfg = cfg.filter(|c| c.enabled);
        match (&cfg, &self.fleet) {
            (Some(c), Some(f)) if f.config() == c => {}
            (Some(c), _) => {
                let label = c.node_id.clone().or_else(envoy_node_id).unwrap_or_else(|| "envoy".into());
                self.fleet = FleetRoot::start(c.clone(), &label);
            }
            (None, Some(_)) => {
                abi::log(Level::Info, "distill-guard: fleet sync off (no enabled envoy.fleet settings)");
                self.fleet = None;
            }
            (None, None) => {}
        }
    }

    fn tick(&mut self, engine: &mut Engine) {
        let served = self.sync.is_active() || engine.counters().requests > 0;
        let now = abi::now_ms().unwrap_or(0);
        let had_index = self.sync.has_index();
        if served {
            // Index first: the fleet lease names the worker (a failure is retried and
            // reported by the tick below).
            let _ = self.sync.mark_active(&mut EnvoyShared);
        }
        let role = match self.fleet.as_mut() {
            Some(f) => f.role(self.sync.worker(), served && self.sync.has_index(), now),
            None => Role::Follower,
        };
        let mut r = self.sync.tick_as(&mut EnvoyShared, engine.state_mut(), served, role);
        if !had_index && self.sync.has_index() {
            abi::log(Level::Info, &format!("distill-guard: state sync on as worker {}, every {} ms", self.sync.worker(), sync::TICK_MS));
        }
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
        if let Some(f) = self.fleet.as_mut() {
            f.after_tick(&mut r, engine.state(), now);
        }
    }
}

/// Envoy's `node.id`, when it names one.
fn envoy_node_id() -> Option<String> {
    let s = String::from_utf8(abi::property(NODE_ID_PROPERTY).ok()??).ok()?;
    (!s.trim().is_empty()).then(|| s.trim().to_string())
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
pub struct EnvoyShared;

impl SharedData for EnvoyShared {
    fn get(&mut self, key: &str) -> Result<Option<(Vec<u8>, u32)>, Status> {
        abi::get_shared_data(key)
    }

    fn set(&mut self, key: &str, value: &[u8], cas: u32) -> Result<(), Status> {
        abi::set_shared_data(key, value, cas)
    }
}

/// Gives `engine` the previous root's state when both policies' `state` sections are equal.
fn take_over_state(vm: &mut Vm, engine: &mut Engine) {
    let wanted = engine.policy().state.clone();
    let mut kept = false;
    if let Some(prev) = vm.current.upgrade() {
        if let Ok(mut slot) = prev.engine.try_borrow_mut() {
            if let Some(old) = slot.as_mut() {
                if old.state().config() == &wanted {
                    std::mem::swap(old.state_mut(), engine.state_mut());
                    kept = true;
                }
            }
        }
    } else if let Some(mut old) = vm.orphan.take() {
        if old.state().config() == &wanted {
            std::mem::swap(old.state_mut(), engine.state_mut());
            kept = true;
        }
    }
    if vm.generation > 0 {
        abi::log(
            Level::Info,
            if kept { "distill-guard: new plugin configuration: cross-request state kept" } else { "distill-guard: new plugin configuration: cross-request state started empty (state section changed)" },
        );
    }
}

impl Context for Root {
    fn on_http_call_response(&mut self, token_id: u32, _num_headers: usize, body_size: usize, _num_trailers: usize) {
        let now = abi::now_ms().unwrap_or(0);
        VM.with(|vm| {
            let Ok(mut vm) = vm.try_borrow_mut() else { return };
            let Some(shared) = vm.current.upgrade() else { return };
            let Some(sr) = vm.sync.as_mut() else { return };
            let Some(fleet) = sr.fleet.as_mut() else { return };
            let Ok(mut slot) = shared.engine.try_borrow_mut() else { return };
            if let Some(engine) = slot.as_mut() {
                fleet.on_response(token_id, &mut sr.sync, engine.state_mut(), body_size, now);
            }
        });
    }
}

/// The last counts reach Envoy when the root context goes: Envoy deletes it when the plugin
/// shuts down (a reload, a removed listener). Not in `on_done`: the module does not export
/// `proxy_on_done` (Envoy then treats every context as done at once, which spares each request
/// one VM entry; `scripts/build.sh`), and the root context's delete follows at once.
/// The latest root leaves its state for a successor configured after it went.
impl Drop for Root {
    fn drop(&mut self) {
        self.shared.flush_metrics();
        VM.with(|vm| {
            let Ok(mut vm) = vm.try_borrow_mut() else { return };
            if vm.generation != self.generation {
                return;
            }
            if let Ok(mut slot) = self.shared.engine.try_borrow_mut() {
                vm.orphan = slot.take();
            }
        });
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
        let (mut engine, options, fleet) = match wire::parse_config(text) {
            Ok(x) => x,
            Err(errors) => {
                for line in wire::refusal_lines(&errors) {
                    abi::log(Level::Error, &format!("distill-guard: {line}"));
                }
                return false;
            }
        };
        let p = engine.policy();
        abi::log(Level::Info, &format!("distill-guard: {}", wire::loaded_line(p, &options)));
        for w in p.warnings() {
            warn_once(&format!("distill-guard: warning: {w}"));
        }
        let (Ok(mut slot), Ok(mut metrics)) = (self.shared.engine.try_borrow_mut(), self.shared.metrics.try_borrow_mut()) else {
            abi::log(Level::Error, "distill-guard: engine busy during configuration");
            return false;
        };
        // One tick for the counters and the state sync.
        let ticking = match abi::set_tick_period_ms(sync::TICK_MS) {
            Ok(()) => true,
            Err(Status(s)) => {
                abi::log(Level::Warn, &format!("distill-guard: setting the tick period failed (status {s}): counters are updated per request, state sync is off"));
                false
            }
        };
        if let Some(c) = options.campaigns {
            engine.track_campaigns(c.settings);
            abi::log(Level::Info, &format!("distill-guard: campaign report every {} s (tracker bound {} bytes)", c.interval_s, c.settings.memory_bound()));
        }
        let state_enabled = engine.policy().state.enabled;
        let configured = VM.with(|vm| {
            let Ok(mut vm) = vm.try_borrow_mut() else { return false };
            take_over_state(&mut vm, &mut engine);
            vm.generation += 1;
            self.generation = vm.generation;
            vm.current = Rc::downgrade(&self.shared);
            vm.orphan = None;
            if state_enabled && ticking && vm.sync.is_none() {
                vm.sync = Some(SyncRoot::start());
            }
            if let Some(sr) = vm.sync.as_mut() {
                sr.configure_fleet(if state_enabled { fleet } else { None });
            }
            true
        });
        if !configured {
            abi::log(Level::Error, "distill-guard: VM state busy during configuration");
            return false;
        }
        *slot = Some(engine);
        self.shared.options.set(options);
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
        VM.with(|vm| {
            let Ok(mut vm) = vm.try_borrow_mut() else { return };
            if vm.generation != self.generation {
                return; // an older root, still serving requests in flight
            }
            let Ok(mut slot) = self.shared.engine.try_borrow_mut() else { return };
            let Some(engine) = slot.as_mut() else { return };
            if let Some(sr) = vm.sync.as_mut().filter(|_| engine.policy().state.enabled) {
                sr.tick(engine);
            }
            // After the sync's tick, which claims this worker's index once it has served.
            if let Some(c) = self.shared.options.get().campaigns {
                let me = vm.sync.as_ref().map(|sr| &sr.sync).filter(|s| s.has_index()).map(Sync::worker);
                let fleet = vm.sync.as_mut().and_then(|sr| sr.fleet.as_mut());
                self.campaigns.tick(engine, me, c.interval_s, fleet);
            }
        });
    }

    fn create_http_context(&self, _context_id: u32) -> Option<Box<dyn HttpContext>> {
        Some(Box::new(Filter::new(Rc::clone(&self.shared))))
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }
}
