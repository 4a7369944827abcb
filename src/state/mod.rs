//! Bounded cross-request state keyed by cluster keys, built from [`crate::sketch`], and the
//! graded `cluster.*`, `account.*` and `rate.*` levels measured from it.
//!
//! Every table and sketch is allocated in [`State::new`] from the [`StateConfig`] and never
//! grows ([`StateConfig::memory_bound`]); old keys are evicted per
//! [`crate::sketch::table`]'s rule. Time comes in the [`Observation`]. Hashes are seeded by
//! `state.seed`, so workers with the same policy build mergeable sketches, and
//! [`State::export_delta`] / [`State::merge_bytes`] exchange what changed (see [`wire`]).
//!
//! Tables and what they measure (distinct counts and shares over the last one to two
//! `window_s`, rates per minute over the last `rate_slot_s`):
//!
//! | table | key | levels |
//! |---|---|---|
//! | accounts | account | `rate.account`, `account.ip_churn`, `account.elicitation_share`, lightness |
//! | fingerprints | hfp | `cluster.accounts_per_fp`, `rate.fp` |
//! | ja4s / asns | JA4 / ASN | `cluster.accounts_per_ja4` / `cluster.accounts_per_asn` |
//! | prefixes | /24 or /48 | `cluster.accounts_per_prefix`, `rate.prefix` |
//! | fp_prefixes | (hfp, prefix) | `cluster.accounts_per_fp_prefix`, `cluster.elicitation_share` |
//! | fp_asns | (hfp, ASN) | `cluster.light_accounts_per_fp_asn` |
//! | templates | SimHash band | `cluster.accounts_per_template`, `cluster.synchrony`, `cluster.elicitation_share` |
//!
//! Popular legitimate fingerprints and NATs put many accounts on one key, so the raw
//! per-key counts are weak evidence; the combined keys (fingerprint within a prefix or an
//! ASN) and lightness (accounts that each sent at most `light_max_requests`) separate a
//! campaign's many light accounts on one stack and network from a crowd.
//! This module does not weigh levels: the policy's ramps and weights do ([`crate::score`]).

mod config;
mod entries;
mod global;
pub mod wire;

#[cfg(test)]
mod scenario;
#[cfg(test)]
mod tests;

use std::fmt;

pub use config::{Capacity, StateConfig, MAX_CAPACITY, OVERHEAD_BYTES};
use entries::{AccountE, AccountsE, AccountsRateE, Entry, FpAsnE, FpPrefixE, TemplateE};
use global::WindowedHll;

use crate::signal::{Levels, Signal};
use crate::sketch::hll::SmallHll;
use crate::sketch::table::Table;
use crate::sketch::{slot_of, Seeds};

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
    /// The request carried an elicitation marker.
    pub elicitation: bool,
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
    rate_ms: u64,
    sync_ms: u64,
    per_minute: f64,
    bands: usize,
    band_bits: u32,
    min_requests: f64,
    light_max: f64,
    /// Hash of everything that shapes the sketches; deltas of another shape are refused.
    shape: u64,
}

impl Derived {
    fn new(cfg: &StateConfig) -> Self {
        let seeds = Seeds::new(cfg.seed as u64);
        let p = cfg.precision.clamp(4, crate::sketch::hll::SMALL_MAX_P);
        let bands = match cfg.template_bands {
            1 | 2 | 4 | 8 => cfg.template_bands as usize,
            _ => 4,
        };
        let rate_ms = cfg.rate_slot_s.max(1) as u64 * 1000;
        let window_ms = cfg.window_s.max(1) as u64 * 1000;
        let sync_ms = cfg.sync_bucket_s.max(1) as u64 * 1000;
        let mut shape = seeds.of(dom::SHAPE) ^ wire::VERSION as u64;
        for v in [
            p as u64,
            cfg.global_precision as u64,
            window_ms,
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
            rate_ms,
            sync_ms,
            per_minute: 60_000.0 / rate_ms as f64,
            bands,
            band_bits: 64 / bands as u32,
            min_requests: cfg.min_requests.max(1) as f64,
            light_max: cfg.light_max_requests as f64,
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

/// Slot numbers of one instant.
#[derive(Debug, Clone, Copy)]
struct Clock {
    now_s: u32,
    rate: u32,
    rate_frac: f64,
    win: u32,
    win_frac: f64,
    sync: u32,
}

impl Clock {
    fn at(now_ms: u64, d: &Derived) -> Self {
        let (rate, rate_frac) = slot_of(now_ms, d.rate_ms);
        let (win, win_frac) = slot_of(now_ms, d.window_ms);
        Clock {
            now_s: (now_ms / 1000) as u32,
            rate,
            rate_frac,
            win,
            win_frac,
            sync: (now_ms / d.sync_ms) as u32,
        }
    }
}

/// Slots an observation touched (or, when measuring only, found).
#[derive(Debug, Clone, Copy, Default)]
struct Touched {
    account: Option<usize>,
    fp: Option<usize>,
    ja4: Option<usize>,
    prefix: Option<usize>,
    asn: Option<usize>,
    fp_prefix: Option<usize>,
    fp_asn: Option<usize>,
    templates: [Option<usize>; MAX_BANDS],
}

/// Table keys of an observation.
#[derive(Debug, Clone, Copy)]
struct Keys {
    account: Option<u64>,
    member: Option<u64>,
    prefix_member: Option<u64>,
    fp: u64,
    ja4: Option<u64>,
    prefix: Option<u64>,
    asn: Option<u64>,
    fp_prefix: Option<u64>,
    fp_asn: Option<u64>,
}

impl Keys {
    fn of(o: &Observation, s: &Seeds) -> Self {
        let fp = s.hash(dom::FP, o.hfp);
        let asn = o.asn.map(|a| s.hash(dom::ASN, a as u64));
        Keys {
            account: o.account.map(|a| s.hash(dom::ACCOUNT, a)),
            member: o.account.map(|a| s.hash(dom::MEMBER, a)),
            prefix_member: o.prefix.map(|p| s.hash(dom::PREFIX_MEMBER, p)),
            fp,
            ja4: o.ja4.map(|j| s.hash(dom::JA4, j)),
            prefix: o.prefix.map(|p| s.hash(dom::PREFIX, p)),
            asn,
            fp_prefix: o.prefix.map(|p| s.hash(dom::FP_PREFIX, p ^ fp)),
            fp_asn: asn.map(|a| s.hash(dom::FP_ASN, a ^ fp)),
        }
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
    active: WindowedHll,
}

impl fmt::Debug for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("State")
            .field("config", &self.d.cfg)
            .field("allocated_bytes", &self.allocated_bytes())
            .finish_non_exhaustive()
    }
}

/// A table for `cfg`: entries earn a twelfth of the window as eviction grace per repeat
/// touch (five minutes for an hour), up to a quarter of the window.
fn table<E: Entry>(cap: u32, cfg: &StateConfig, p: u8) -> Table<E> {
    let cap = if cfg.enabled {
        cap.min(MAX_CAPACITY) as usize
    } else {
        0
    };
    Table::new(cap, E::HLLS * SmallHll::bytes(p), cfg.window_s / 12)
}

/// Upserts `key` and marks it dirty; the entry with its arena.
#[inline]
fn touch<E: Entry>(t: &mut Table<E>, key: u64, now_s: u32) -> Option<(usize, &mut E, &mut [u8])> {
    let i = t.upsert(key, now_s)?;
    t.mark_dirty(i);
    let (e, regs) = t.get_mut(i)?;
    Some((i, e, regs))
}

/// Keeps the larger of a running maximum and `v`.
#[inline]
fn max_into(acc: &mut Option<f64>, v: f64) {
    *acc = Some(acc.map_or(v, |a| a.max(v)));
}

impl State {
    /// Allocates state for `cfg` (all memory up front; it never grows). With
    /// `enabled: false` every table is empty and nothing is measured.
    pub fn new(cfg: &StateConfig) -> Self {
        let d = Derived::new(cfg);
        let (c, p, on) = (&cfg.capacity, d.p, cfg.enabled);
        State {
            accounts: table(c.accounts, cfg, p),
            fps: table(c.fingerprints, cfg, p),
            ja4s: table(c.ja4s, cfg, p),
            prefixes: table(c.prefixes, cfg, p),
            asns: table(c.asns, cfg, p),
            fp_prefixes: table(c.fp_prefixes, cfg, p),
            fp_asns: table(c.fp_asns, cfg, p),
            templates: table(c.templates, cfg, p),
            active: WindowedHll::new(cfg.global_precision, on),
            d,
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
            + self.active.allocated_bytes()
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
        let t = Clock::at(obs.now_ms, &self.d);
        let k = Keys::of(obs, &self.d.seeds);
        let touched = self.record(obs, &k, &t);
        self.measure_slots(obs, &touched, &t, levels);
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
        };
        if let Some(tpl) = obs.template {
            for (b, slot) in found.templates.iter_mut().enumerate().take(self.d.bands) {
                *slot = self.templates.find(self.d.band_key(tpl, b));
            }
        }
        self.measure_slots(obs, &found, &t, levels);
    }

    /// Adds the observation to every table it keys; returns the slots it touched.
    fn record(&mut self, o: &Observation, k: &Keys, t: &Clock) -> Touched {
        let d = &self.d;
        let p = d.p;
        let mut out = Touched::default();
        let mut heavy = false;
        if let Some(key) = k.account {
            if let Some((i, e, _)) = touch(&mut self.accounts, key, t.now_s) {
                e.rate.add(t.rate, [1]);
                e.win.add(t.win, [1, o.elicitation as u32]);
                if let Some(pm) = k.prefix_member {
                    e.ips.insert(t.win, pm);
                }
                heavy = e.win.sliding(t.win, t.win_frac)[0] > d.light_max;
                out.account = Some(i);
            }
        }
        if let Some(m) = k.member {
            self.active.insert(t.win, m);
        }
        if let Some((i, e, regs)) = touch(&mut self.fps, k.fp, t.now_s) {
            if let Some(m) = k.member {
                e.accounts.insert(regs, p, t.win, m);
            }
            e.rate.add(t.rate, [1]);
            out.fp = Some(i);
        }
        if let Some(m) = k.member {
            out.ja4 = k
                .ja4
                .and_then(|key| accounts_only(&mut self.ja4s, key, t, p, m));
            out.asn = k
                .asn
                .and_then(|key| accounts_only(&mut self.asns, key, t, p, m));
        }
        if let Some(key) = k.prefix {
            if let Some((i, e, regs)) = touch(&mut self.prefixes, key, t.now_s) {
                if let Some(m) = k.member {
                    e.accounts.insert(regs, p, t.win, m);
                }
                e.rate.add(t.rate, [1]);
                out.prefix = Some(i);
            }
        }
        if let Some(key) = k.fp_prefix {
            if let Some((i, e, regs)) = touch(&mut self.fp_prefixes, key, t.now_s) {
                if let Some(m) = k.member {
                    e.accounts.insert(regs, p, t.win, m);
                }
                e.share.add(t.win, [1, o.elicitation as u32]);
                out.fp_prefix = Some(i);
            }
        }
        if let (Some(key), Some(m)) = (k.fp_asn, k.member) {
            if let Some((i, e, regs)) = touch(&mut self.fp_asns, key, t.now_s) {
                let (ra, rh) = regs.split_at_mut(regs.len() / 2);
                e.accounts.insert(ra, p, t.win, m);
                if heavy {
                    e.heavy.insert(rh, p, t.win, m);
                }
                out.fp_asn = Some(i);
            }
        }
        if let Some(tpl) = o.template {
            for b in 0..d.bands {
                let key = d.band_key(tpl, b);
                if let Some((i, e, regs)) = touch(&mut self.templates, key, t.now_s) {
                    if let Some(m) = k.member {
                        e.accounts.insert(regs, p, t.win, m);
                        e.sync.insert(t.sync, m);
                    }
                    e.share.add(t.win, [1, o.elicitation as u32]);
                    if let Some(slot) = out.templates.get_mut(b) {
                        *slot = Some(i);
                    }
                }
            }
        }
        out
    }

    /// Reads the levels from the given slots (read-only; stale slots are aged to `t`).
    fn measure_slots(&self, o: &Observation, s: &Touched, t: &Clock, lv: &mut Levels) {
        let p = self.d.p;
        let min = self.d.min_requests;
        let per_min = self.d.per_minute;
        if let Some((e, _)) = s.account.and_then(|i| self.accounts.get(i)) {
            lv.set(
                Signal::RateAccount,
                e.rate.sliding(t.rate, t.rate_frac)[0] * per_min,
            );
            if o.prefix.is_some() {
                lv.set(Signal::AccountIpChurn, e.ips.union_estimate(t.win));
            }
            let [n, el] = e.win.sliding(t.win, t.win_frac);
            if n >= min {
                lv.set(Signal::AccountElicitationShare, el / n);
            }
        }
        if let Some((e, regs)) = s.fp.and_then(|i| self.fps.get(i)) {
            lv.set(
                Signal::ClusterAccountsPerFp,
                e.accounts.estimate_at(regs, p, t.win),
            );
            lv.set(
                Signal::RateFp,
                e.rate.sliding(t.rate, t.rate_frac)[0] * per_min,
            );
        }
        if let Some((e, regs)) = s.ja4.and_then(|i| self.ja4s.get(i)) {
            lv.set(
                Signal::ClusterAccountsPerJa4,
                e.accounts.estimate_at(regs, p, t.win),
            );
        }
        if let Some((e, regs)) = s.asn.and_then(|i| self.asns.get(i)) {
            lv.set(
                Signal::ClusterAccountsPerAsn,
                e.accounts.estimate_at(regs, p, t.win),
            );
        }
        if let Some((e, regs)) = s.prefix.and_then(|i| self.prefixes.get(i)) {
            lv.set(
                Signal::ClusterAccountsPerPrefix,
                e.accounts.estimate_at(regs, p, t.win),
            );
            lv.set(
                Signal::RatePrefix,
                e.rate.sliding(t.rate, t.rate_frac)[0] * per_min,
            );
        }
        let mut share = None;
        if let Some((e, regs)) = s.fp_prefix.and_then(|i| self.fp_prefixes.get(i)) {
            lv.set(
                Signal::ClusterAccountsPerFpPrefix,
                e.accounts.estimate_at(regs, p, t.win),
            );
            let [n, el] = e.share.sliding(t.win, t.win_frac);
            if n >= min {
                max_into(&mut share, el / n);
            }
        }
        if let Some((e, regs)) = s.fp_asn.and_then(|i| self.fp_asns.get(i)) {
            let (ra, rh) = regs.split_at(regs.len() / 2);
            let all = e.accounts.estimate_at(ra, p, t.win);
            let heavy = e.heavy.estimate_at(rh, p, t.win);
            lv.set(Signal::ClusterLightAccountsPerFpAsn, (all - heavy).max(0.0));
        }
        let (mut accounts, mut sync) = (None, None);
        for (e, regs) in s
            .templates
            .iter()
            .flatten()
            .filter_map(|&i| self.templates.get(i))
        {
            max_into(&mut accounts, e.accounts.estimate_at(regs, p, t.win));
            max_into(&mut sync, e.sync.max_estimate(t.sync));
            let [n, el] = e.share.sliding(t.win, t.win_frac);
            if n >= min {
                max_into(&mut share, el / n);
            }
        }
        if let Some(v) = accounts {
            lv.set(Signal::ClusterAccountsPerTemplate, v);
        }
        if let Some(v) = sync {
            lv.set(Signal::ClusterSynchrony, v);
        }
        if let Some(v) = share {
            lv.set(Signal::ClusterElicitationShare, v);
        }
    }
}

/// Records account member `m` under `key` in a distinct-accounts-only table.
#[inline]
fn accounts_only(t: &mut Table<AccountsE>, key: u64, c: &Clock, p: u8, m: u64) -> Option<usize> {
    let i = t.upsert(key, c.now_s)?;
    let (e, regs) = t.get_mut(i)?;
    if e.accounts.insert(regs, p, c.win, m) {
        t.mark_dirty(i);
    }
    Some(i)
}
