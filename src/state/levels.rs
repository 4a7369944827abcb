//! The per-request work of [`State`]: derive the table keys of an [`Observation`], record
//! it in every table it keys ([`State::record`]), and read the graded levels back from the
//! touched slots ([`State::measure_slots`]). Reading never mutates: slots not rotated to
//! the current window are aged on the fly. Which table feeds which signal is listed in
//! the parent module's docs.

use super::entries::{AccountsE, Entry};
use super::{dom, Derived, Observation, State, MAX_BANDS};
use crate::signal::{Levels, Signal};
use crate::sketch::table::Table;
use crate::sketch::{slot_of, Seeds};

/// Requests an account needs in the window before `account.ip_rotation` is measured.
pub const MIN_ROTATION_REQUESTS: f64 = 3.0;

/// Slot numbers of one instant.
#[derive(Debug, Clone, Copy)]
pub(super) struct Clock {
    pub(super) now_s: u32,
    pub(super) rate: u32,
    pub(super) rate_frac: f64,
    pub(super) win: u32,
    pub(super) win_frac: f64,
    pub(super) acct: u32,
    pub(super) acct_frac: f64,
    pub(super) sync: u32,
}

impl Clock {
    pub(super) fn at(now_ms: u64, d: &Derived) -> Self {
        let (rate, rate_frac) = slot_of(now_ms, d.rate_ms);
        let (win, win_frac) = slot_of(now_ms, d.window_ms);
        let (acct, acct_frac) = slot_of(now_ms, d.account_window_ms);
        Clock {
            now_s: (now_ms / 1000) as u32,
            rate,
            rate_frac,
            win,
            win_frac,
            acct,
            acct_frac,
            sync: (now_ms / d.sync_ms) as u32,
        }
    }
}

/// Slots an observation touched (or, when measuring only, found).
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Touched {
    pub(super) account: Option<usize>,
    pub(super) fp: Option<usize>,
    pub(super) ja4: Option<usize>,
    pub(super) prefix: Option<usize>,
    pub(super) asn: Option<usize>,
    pub(super) fp_prefix: Option<usize>,
    pub(super) fp_asn: Option<usize>,
    pub(super) templates: [Option<usize>; MAX_BANDS],
}

/// Table keys of an observation.
#[derive(Debug, Clone, Copy)]
pub(super) struct Keys {
    pub(super) account: Option<u64>,
    pub(super) member: Option<u64>,
    pub(super) prefix_member: Option<u64>,
    pub(super) fp: u64,
    pub(super) ja4: Option<u64>,
    pub(super) prefix: Option<u64>,
    pub(super) asn: Option<u64>,
    pub(super) fp_prefix: Option<u64>,
    pub(super) fp_asn: Option<u64>,
}

impl Keys {
    pub(super) fn of(o: &Observation, s: &Seeds) -> Self {
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
    /// Adds the observation to every table it keys; returns the slots it touched.
    pub(super) fn record(&mut self, o: &Observation, k: &Keys, t: &Clock) -> Touched {
        let d = &self.d;
        let p = d.p;
        let mut out = Touched::default();
        let mut heavy = false;
        if let Some(key) = k.account {
            if let Some((i, e, _)) = touch(&mut self.accounts, key, t.now_s) {
                e.rate.add(t.rate, [1]);
                let moved = k.prefix_member.is_some_and(|pm| e.ips.insert(t.acct, pm));
                e.win.add(t.acct, [1, o.elicitation as u32, moved as u32]);
                heavy = e.win.sliding(t.acct, t.acct_frac)[0] > d.light_max;
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
                if !heavy {
                    e.share.add(t.win, [1, o.elicitation as u32]);
                }
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
                    if !heavy {
                        e.share.add(t.win, [1, o.elicitation as u32]);
                    }
                    if let Some(slot) = out.templates.get_mut(b) {
                        *slot = Some(i);
                    }
                }
            }
        }
        out
    }

    /// Reads the levels from the given slots (read-only; stale slots are aged to `t`).
    pub(super) fn measure_slots(&self, o: &Observation, s: &Touched, t: &Clock, lv: &mut Levels) {
        let p = self.d.p;
        let min = self.d.min_requests;
        let per_min = self.d.per_minute;
        let mut heavy = false;
        if let Some((e, _)) = s.account.and_then(|i| self.accounts.get(i)) {
            lv.set(
                Signal::RateAccount,
                e.rate.sliding(t.rate, t.rate_frac)[0] * per_min,
            );
            if o.prefix.is_some() {
                lv.set(Signal::AccountIpChurn, e.ips.union_estimate(t.acct));
            }
            let [n, el, moved] = e.win.sliding(t.acct, t.acct_frac);
            heavy = n > self.d.light_max;
            if n >= self.d.min_account_requests {
                lv.set(Signal::AccountElicitationShare, el / n);
            }
            // The first request always comes from a new prefix: count the changes after it.
            if o.prefix.is_some() && n >= MIN_ROTATION_REQUESTS {
                lv.set(
                    Signal::AccountIpRotation,
                    ((moved - 1.0) / (n - 1.0)).clamp(0.0, 1.0),
                );
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
        let min_accounts = self.d.min_cluster_accounts;
        if let Some((e, regs)) = s.fp_prefix.and_then(|i| self.fp_prefixes.get(i)) {
            let accounts = e.accounts.estimate_at(regs, p, t.win);
            lv.set(Signal::ClusterAccountsPerFpPrefix, accounts);
            let [n, el] = e.share.sliding(t.win, t.win_frac);
            if n >= min && accounts >= min_accounts {
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
            let a = e.accounts.estimate_at(regs, p, t.win);
            max_into(&mut accounts, a);
            max_into(&mut sync, e.sync.max_estimate(t.sync));
            let [n, el] = e.share.sliding(t.win, t.win_frac);
            if n >= min && a >= min_accounts {
                max_into(&mut share, el / n);
            }
        }
        if let Some(v) = accounts {
            lv.set(Signal::ClusterAccountsPerTemplate, v);
        }
        if let Some(v) = sync {
            lv.set(Signal::ClusterSynchrony, v);
        }
        // Cluster shares are evidence against the cluster's light members; a heavy account
        // is judged by its own share.
        if let (Some(v), false) = (share, heavy) {
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
