//! Bounded cross-request state keyed by cluster keys, built from [`crate::sketch`], and the
//! graded `cluster.*`, `account.*` and `rate.*` levels measured from it.
//!
//! Every table and sketch is allocated in [`State::new`] from the [`StateConfig`] (or, from
//! [`State::new_lazy`], on the first observation or merged delta) and never grows
//! ([`StateConfig::memory_bound`]); old keys are evicted per
//! [`crate::sketch::table`]'s rule. Time comes in the [`Observation`]. Hashes are seeded by
//! `state.seed`, so workers with the same policy build mergeable sketches, and
//! [`State::export_delta`] / [`State::merge_bytes`] exchange what changed (see [`wire`]).
//!
//! Tables and what they measure (cluster distinct counts and shares over the last one to
//! two `window_s`, per-account counts over the last `account_window_s`, rates per minute
//! over the last `rate_slot_s`):
//!
//! | table | key | levels |
//! |---|---|---|
//! | accounts | account | `rate.account`, `account.ip_churn`, `account.ip_rotation`, `account.asn_rotation`, `account.elicitation_share`, lightness |
//! | fingerprints | hfp | `cluster.accounts_per_fp`, `rate.fp` |
//! | ja4s / asns | JA4 / ASN | `cluster.accounts_per_ja4` / `cluster.accounts_per_asn` |
//! | prefixes | /24 or /48 | `cluster.accounts_per_prefix`, `rate.prefix` |
//! | fp_prefixes | (hfp, prefix) | `cluster.accounts_per_fp_prefix`, `cluster.elicitation_share` |
//! | fp_asns | (hfp, ASN) | `cluster.light_accounts_per_fp_asn` |
//! | templates | SimHash band | `cluster.accounts_per_template`, `cluster.synchrony`, `cluster.elicitation_share` |
//! | envs | client environment | `cluster.asn_rotation_share` |
//! | tasks | task anchor (a code identifier) | `account.task_breadth`, `account.swarm_share`, `cluster.swarm` (over `account_window_s`) |
//! | harnesses | agent harness (the tool set and system prompt a body sends) | `cluster.harness_repeat` (over `long_window_s`) |
//! | harness_tasks | (harness, task anchor) | whether a task repeats another account's in its harness |
//!
//! Popular legitimate fingerprints (every user of one browser or SDK version), big ISPs and
//! NATs put many accounts on one key, so the raw per-key counts are weak evidence (low
//! default weights). What separates a campaign's many light, slow accounts on one client
//! stack and proxy pool from a crowd: per-account history over a day (`account.ip_rotation`, `account.asn_rotation`,
//! `account.elicitation_share`), combined keys (fingerprint within an ASN or a prefix),
//! lightness (accounts with at most `light_max_requests` in `account_window_s`), and cluster
//! elicitation shares that count light accounts' requests only and are reported to light
//! accounts only (a heavy evaluation team sending rubric prompts is judged by its own share).
//! `state::scenario` tests this on a synthetic hour; `distill-guard quality` on the simulator.
//! This module does not weigh levels: the policy's ramps and weights do ([`crate::score`]).

pub mod reputation;
mod config;
mod entries;
mod global;
mod levels;
pub mod wire;

#[cfg(test)]
mod scenario;
#[cfg(test)]
mod tests;

use std::fmt;

pub use config::{Capacity, StateConfig, MAX_CAPACITY, OVERHEAD_BYTES};
use entries::{AccountE, AccountsE, AccountsRateE, Entry, FpAsnE, FpPrefixE, HarnessE, HarnessTaskE, TaskE, TemplateE};
use global::WindowedHll;
use levels::{Clock, Keys, Touched};

use crate::signal::Levels;
use crate::sketch::small_hll::SmallHll;
use crate::sketch::table::Table;
use crate::sketch::Seeds;

/// What one request contributes to state; every key is already hashed.
#[derive(Debug, Clone, Copy, Default)]
pub struct Observation {
    /// Request time in ms.
    pub now_ms: u64,
    /// Account id (keyed hash).
    pub account: Option<u64>,
    /// Header-shape fingerprint.
    pub hfp: u64,
    /// Hash of the TLS JA4, when known.
    pub ja4: Option<u64>,
    /// Hash of the client /24 (IPv4) or /48 (IPv6) prefix.
    pub prefix: Option<u64>,
    /// Client ASN.
    pub asn: Option<u32>,
    /// Template SimHash of the latest user turn.
    pub template: Option<u64>,
    /// Client-environment fingerprint ([`crate::fingerprint::env`]).
    pub env: Option<u64>,
    /// Task anchor: the hash of the code identifier the prompt is about
    /// ([`crate::prompt::anchor`]), when it names one.
    pub anchor: Option<u64>,
    /// The request carried an elicitation marker.
    pub elicitation: bool,
    /// Agent harness: the tool set and system prompt of the body ([`crate::prompt::PromptView::harness`]).
    pub harness: Option<u64>,
}

/// Hash domains: one per key kind, so equal raw values of different kinds never collide.
mod dom {
    pub const MEMBER: u64 = 1;
    pub const PREFIX_MEMBER: u64 = 2;
    pub const ACCOUNT: u64 = 3;
    pub const FP: u64 = 4;
    pub const JA4: u64 = 5;
    pub const PREFIX: u64 = 6;
    pub const ASN: u64 = 7;
    pub const FP_PREFIX: u64 = 8;
    pub const FP_ASN: u64 = 9;
    pub const TEMPLATE: u64 = 10;
    pub const SHAPE: u64 = 11;
    pub const ASN_MEMBER: u64 = 12;
    pub const ENV: u64 = 13;
    pub const ANCHOR: u64 = 14;
    pub const HARNESS: u64 = 15;
    pub const HARNESS_TASK: u64 = 16;
}

/// Most template bands (the `template_bands` maximum).
pub const MAX_BANDS: usize = 8;

/// Settings derived once from the config for the hot path.
#[derive(Debug, Clone)]
struct Derived {
    cfg: StateConfig,
    seeds: Seeds,
    p: u8,
    window_ms: u64,
    account_window_ms: u64,
    long_ms: u64,
    rate_ms: u64,
    sync_ms: u64,
    per_minute: f64,
    bands: usize,
    band_bits: u32,
    min_requests: f64,
    min_cluster_accounts: f64,
    min_account_requests: f64,
    light_max: f64,
    /// Distinct accounts (account window) that make a task shared.
    shared_accounts: f64,
    /// Shared tasks that make an account broad.
    broad_tasks: f64,
    /// Distinct broad accounts that make a task a swarm's.
    swarm_accounts: f64,
    /// Hash of everything that shapes the sketches; deltas of another shape are refused.
    shape: u64,
}

impl Derived {
    fn new(cfg: &StateConfig) -> Self {
        let seeds = Seeds::new(cfg.seed as u64);
        let p = cfg
            .precision
            .clamp(4, crate::sketch::small_hll::SMALL_MAX_P);
        let bands = match cfg.template_bands {
            1 | 2 | 4 | 8 => cfg.template_bands as usize,
            _ => 4,
        };
        let rate_ms = cfg.rate_slot_s.max(1) as u64 * 1000;
        let window_ms = cfg.window_s.max(1) as u64 * 1000;
        let account_window_ms = cfg.account_window_s.max(1) as u64 * 1000;
        let long_ms = cfg.long_window_s.max(1) as u64 * 1000;
        let sync_ms = cfg.sync_bucket_s.max(1) as u64 * 1000;
        let mut shape = seeds.of(dom::SHAPE) ^ wire::VERSION as u64;
        for v in [
            p as u64,
            cfg.global_precision as u64,
            window_ms,
            account_window_ms,
            long_ms,
            rate_ms,
            sync_ms,
            bands as u64,
        ] {
            shape = crate::sketch::mix64(shape ^ v);
        }
        Derived {
            cfg: cfg.clone(),
            seeds,
            p,
            window_ms,
            account_window_ms,
            long_ms,
            rate_ms,
            sync_ms,
            per_minute: 60_000.0 / rate_ms as f64,
            bands,
            band_bits: 64 / bands as u32,
            min_requests: cfg.min_requests.max(1) as f64,
            min_cluster_accounts: cfg.min_cluster_accounts as f64,
            min_account_requests: cfg.min_account_requests.max(1) as f64,
            light_max: cfg.light_max_requests as f64,
            shared_accounts: cfg.shared_task_accounts as f64,
            broad_tasks: cfg.broad_tasks as f64,
            swarm_accounts: cfg.swarm_accounts as f64,
            shape,
        }
    }

    /// Table key of band `b` of template SimHash `t`.
    #[inline]
    fn band_key(&self, t: u64, b: usize) -> u64 {
        let value = if self.band_bits >= 64 {
            t
        } else {
            (t >> (b as u32 * self.band_bits)) & ((1u64 << self.band_bits) - 1)
        };
        self.seeds
            .hash(dom::TEMPLATE, value ^ ((b as u64 + 1) << 58))
    }
}

/// All cross-request state of one engine (one worker).
#[derive(Clone)]
pub struct State {
    d: Derived,
    accounts: Table<AccountE>,
    fps: Table<AccountsRateE>,
    ja4s: Table<AccountsE>,
    prefixes: Table<AccountsRateE>,
    asns: Table<AccountsE>,
    fp_prefixes: Table<FpPrefixE>,
    fp_asns: Table<FpAsnE>,
    templates: Table<TemplateE>,
    envs: Table<FpPrefixE>,
    tasks: Table<TaskE>,
    harnesses: Table<HarnessE>,
    harness_tasks: Table<HarnessTaskE>,
    active: WindowedHll,
    /// What the network- and client-wide crowd counts are divided by ([`State::refresh_scale`]).
    crowd_scale: f64,
    /// Observations since `crowd_scale` was computed.
    scale_age: u32,
    reputation: reputation::Reputation,
    /// Enabled but not allocated yet (see [`State::new_lazy`]).
    lazy: bool,
}

impl fmt::Debug for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("State")
            .field("config", &self.d.cfg)
            .field("allocated_bytes", &self.allocated_bytes())
            .finish_non_exhaustive()
    }
}

/// A table for `cfg` whose entries earn a twelfth of `window_ms` as eviction grace per
/// repeat touch (five minutes for an hour, two hours for a day).
fn table<E: Entry>(cap: u32, cfg: &StateConfig, p: u8, window_ms: u64) -> Table<E> {
    let cap = if cfg.enabled {
        cap.min(MAX_CAPACITY) as usize
    } else {
        0
    };
    Table::new(
        cap,
        E::HLLS * SmallHll::bytes(p),
        (window_ms / 12_000) as u32,
    )
}

impl State {
    /// Allocates state for `cfg` (all memory up front; it never grows). With
    /// `enabled: false` every table is empty and nothing is measured.
    pub fn new(cfg: &StateConfig) -> Self {
        let d = Derived::new(cfg);
        let (c, p, on) = (&cfg.capacity, d.p, cfg.enabled);
        State {
            accounts: table(c.accounts, cfg, p, d.account_window_ms),
            fps: table(c.fingerprints, cfg, p, d.window_ms),
            ja4s: table(c.ja4s, cfg, p, d.window_ms),
            prefixes: table(c.prefixes, cfg, p, d.window_ms),
            asns: table(c.asns, cfg, p, d.window_ms),
            fp_prefixes: table(c.fp_prefixes, cfg, p, d.window_ms),
            fp_asns: table(c.fp_asns, cfg, p, d.window_ms),
            templates: table(c.templates, cfg, p, d.window_ms),
            envs: table(c.envs, cfg, p, d.account_window_ms),
            tasks: table(c.tasks, cfg, p, d.account_window_ms),
            harnesses: table(c.harnesses, cfg, p, d.long_ms),
            harness_tasks: table(c.harness_tasks, cfg, p, d.long_ms),
            active: WindowedHll::new(cfg.global_precision, on),
            crowd_scale: 1.0,
            scale_age: 0,
            reputation: reputation::Reputation::new(if on { c.accounts.min(MAX_CAPACITY) as usize } else { 0 }),
            d,
            lazy: false,
        }
    }

    /// Like [`State::new`], but allocates nothing until the first [`State::observe`],
    /// [`State::record_verdict`] or [`State::merge_bytes`]: a host that runs engines which may
    /// never see a request (Envoy's main-thread Wasm VM) does not hold a state bound for each.
    /// Until then it measures nothing and exports empty deltas, as an empty state does.
    pub fn new_lazy(cfg: &StateConfig) -> Self {
        if !cfg.enabled {
            return State::new(cfg);
        }
        let mut off = cfg.clone();
        off.enabled = false;
        State { d: Derived::new(cfg), lazy: true, ..State::new(&off) }
    }

    /// True once the tables are allocated (always, except a [`State::new_lazy`] not used yet).
    pub fn is_allocated(&self) -> bool {
        !self.lazy
    }

    /// Allocates a [`State::new_lazy`] state's tables (no-op otherwise).
    fn materialize(&mut self) {
        if self.lazy {
            *self = State::new(&self.d.cfg);
        }
    }

    /// The settings this state was built from.
    pub fn config(&self) -> &StateConfig {
        &self.d.cfg
    }

    /// Heap bytes actually allocated (a unit test checks it against the config's bound).
    pub fn allocated_bytes(&self) -> usize {
        self.accounts.allocated_bytes()
            + self.fps.allocated_bytes()
            + self.ja4s.allocated_bytes()
            + self.prefixes.allocated_bytes()
            + self.asns.allocated_bytes()
            + self.fp_prefixes.allocated_bytes()
            + self.fp_asns.allocated_bytes()
            + self.templates.allocated_bytes()
            + self.envs.allocated_bytes()
            + self.tasks.allocated_bytes()
            + self.harnesses.allocated_bytes()
            + self.harness_tasks.allocated_bytes()
            + self.active.allocated_bytes()
            + self.reputation.allocated_bytes()
    }

    /// `account.flag_history` level: share of the account's prior requests that were flagged.
    pub fn flag_history(&self, account: Option<u64>, now_ms: u64) -> Option<f64> {
        self.reputation.level(account?, now_ms)
    }

    /// Records the engine's verdict (flagged without `account.flag_history`) for the account.
    pub fn record_verdict(&mut self, account: Option<u64>, now_ms: u64, flagged: bool) {
        if let Some(a) = account {
            self.materialize();
            self.reputation.record(a, now_ms, flagged);
        }
    }

    /// Estimated distinct accounts over the last one to two windows (for metrics).
    pub fn active_accounts(&self, now_ms: u64) -> f64 {
        self.active.estimate_at(Clock::at(now_ms, &self.d).win)
    }

    /// Records one request and measures the graded `cluster.*`, `account.*`, `rate.*` levels.
    pub fn observe(&mut self, obs: &Observation, levels: &mut Levels) {
        if !self.d.cfg.enabled {
            return;
        }
        self.materialize();
        let t = Clock::at(obs.now_ms, &self.d);
        let k = Keys::of(obs, &self.d.seeds);
        let touched = self.record(obs, &k, &t);
        self.refresh_scale(&t);
        self.measure_slots(obs, &touched, &t, levels);
    }

    /// Every 256 observations: the active accounts over the window, per
    /// `state.population_reference` (at least 1). Reading the global sketch costs a pass over its
    /// registers, and the population changes slowly.
    fn refresh_scale(&mut self, t: &Clock) {
        if self.scale_age % 256 == 0 {
            let active = self.active.estimate_at(t.win);
            self.crowd_scale = (active / f64::from(self.d.cfg.population_reference.max(1))).max(1.0);
        }
        self.scale_age = self.scale_age.wrapping_add(1);
    }

    /// Records the body's evidence (`obs.template`, `obs.anchor`, `obs.harness`, `obs.elicitation`) of a
    /// request whose headers were already recorded by [`State::observe`] with an
    /// observation of the same keys but no body facts: the request is not counted again.
    /// Measures nothing.
    pub fn learn(&mut self, obs: &Observation) {
        self.learn_weighted(obs, 1);
    }

    /// [`State::learn`] for a body that stands for `weight` requests of its kind (one learned
    /// in `weight`, `body.heavy_learn_one_in`): its elicitation counts `weight` times in the
    /// shares whose totals every request adds at its headers (its account's; a fingerprint x
    /// prefix cluster's, which counts light accounts only). Distinct-account counts and the
    /// account's tasks are not scaled: they fill more slowly.
    pub fn learn_weighted(&mut self, obs: &Observation, weight: u32) {
        if !self.d.cfg.enabled || (obs.template.is_none() && obs.anchor.is_none() && obs.harness.is_none() && !obs.elicitation) {
            return;
        }
        self.materialize();
        let t = Clock::at(obs.now_ms, &self.d);
        let k = Keys::of(obs, &self.d.seeds);
        let mut s = Touched {
            account: k.account.and_then(|a| self.accounts.find(a)),
            fp_prefix: k.fp_prefix.and_then(|x| self.fp_prefixes.find(x)),
            ..Touched::default()
        };
        self.record_body(obs, &k, &t, &mut s, weight.max(1));
    }

    /// Measures the levels `obs` would see, without recording it.
    pub fn measure(&self, obs: &Observation, levels: &mut Levels) {
        if !self.d.cfg.enabled {
            return;
        }
        let t = Clock::at(obs.now_ms, &self.d);
        let k = Keys::of(obs, &self.d.seeds);
        let mut found = Touched {
            account: k.account.and_then(|a| self.accounts.find(a)),
            fp: self.fps.find(k.fp),
            ja4: k.ja4.and_then(|j| self.ja4s.find(j)),
            prefix: k.prefix.and_then(|p| self.prefixes.find(p)),
            asn: k.asn.and_then(|a| self.asns.find(a)),
            fp_prefix: k.fp_prefix.and_then(|x| self.fp_prefixes.find(x)),
            fp_asn: k.fp_asn.and_then(|x| self.fp_asns.find(x)),
            templates: [None; MAX_BANDS],
            env: k.env.and_then(|x| self.envs.find(x)),
            task: k.task.and_then(|x| self.tasks.find(x)),
            harness: None,
        };
        // The body's harness, else the one the account's latest body showed.
        let remembered = found.account.and_then(|i| self.accounts.get(i)).map(|(e, _)| e.harness).filter(|&h| h != 0);
        found.harness = k.harness.or(remembered).and_then(|h| self.harnesses.find(h));
        if let Some(tpl) = obs.template {
            for (b, slot) in found.templates.iter_mut().enumerate().take(self.d.bands) {
                *slot = self.templates.find(self.d.band_key(tpl, b));
            }
        }
        self.measure_slots(obs, &found, &t, levels);
    }
}
