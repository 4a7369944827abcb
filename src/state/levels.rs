//! The per-request work of [`State`]: derive the table keys of an [`Observation`], record
//! it in every table it keys ([`State::record`]), and read the graded levels back from the
//! touched slots ([`State::measure_slots`]). Reading never mutates: slots not rotated to
//! the current window are aged on the fly. Which table feeds which signal is listed in
//! the parent module's docs.

use super::entries::{AccountsE, Entry, RECENT_TASKS};
use super::{dom, Derived, Observation, State, MAX_BANDS};
use crate::signal::{Levels, Signal};
use crate::sketch::table::Table;
use crate::sketch::{slot_of, Seeds};

/// Distinct prefixes (by linear counting) past which an account's 64-bit prefix bitmap has
/// seven eighths of its bits set (64 ln 8), and its count of requests from new prefixes misses
/// most. Below it the count stands: a backend's key on a fleet of up to ~130 servers, each on
/// its own /24, reaches a new prefix on a third of its requests in its second minute, and the
/// count's misses keep it under the rotation ramp (tests/fleet.rs).
const CROWDED_PREFIXES: f64 = 133.0;

/// Requests an account needs in the window before `account.ip_rotation` is measured.
pub const MIN_ROTATION_REQUESTS: f64 = 3.0;

/// Requests an account needs in the window before `account.asn_rotation` is measured:
/// a second request from another network operator within the account window is already
/// evidence (people rarely change operator between two requests; a pool does on almost
/// every one), weak alone.
pub const MIN_ASN_ROTATION_REQUESTS: f64 = 2.0;

/// An account with `account.asn_rotation` below this (over at least
/// [`MIN_ROTATION_REQUESTS`] requests) keeps to its
/// networks: its client environment's hop share is not held against it. The same share of
/// requests from a new prefix marks an account reusing its addresses (its churn not counted).
pub const SETTLED_ASN_ROTATION: f64 = 0.2;

/// Network operators (ASNs) of an account, at most, for its address churn to be its
/// carrier's NAT: a phone's carrier and a home network (the distinct-count estimate of
/// two is 2.03, of three 3.07).
pub const NAT_OPERATORS: f64 = 2.5;

/// Share of a task's accounts that must be broad for a swarm to work it: a popular
/// identifier (`parse_args`) is used by many accounts, a few of them busy coders; a swarm's
/// task is sent almost only by accounts that work through many shared tasks.
pub const SWARM_BROAD_SHARE: f64 = 0.6;

/// Distinct accounts an agent harness (tool set) needs over the long window before its
/// repeat share is measured: an evaluation team runs a benchmark through its harness on a
/// few accounts; a campaign spreads it over many.
pub const HARNESS_MIN_ACCOUNTS: f64 = 10.0;

/// Harness repeat share above which an account that itself repeated another account's task
/// in that harness has no ordinary history: it works the harness's shared task set, not its
/// own code (a popular agent's users repeat a few percent of their tasks: common
/// identifiers).
pub const HARNESS_SHARED: f64 = 0.4;

/// Share of its own (account, task) pairs that repeated another account's task in its
/// harness from which an account is read as working its harness's shared task set.
pub const REPEATING_SHARE: f64 = 0.5;

/// The same share over `state.long_window_s`: in a week more accounts of a popular agent
/// meet on common identifiers (`main`, `parse_args`), so a light account needs most of its
/// tasks to repeat others'.
pub const LONG_REPEATING_SHARE: f64 = 0.75;

/// Repeated tasks (about two) an account needs before its harness's share is held against it:
/// one common identifier is chance.
pub const MIN_REPEATS: f64 = 1.5;

/// Long-window repeat share of a harness from which an account is judged by it when half of
/// its tasks (one is enough) repeated another account's: a harness whose accounts mostly
/// work one shared task set (a slow campaign's own harness is past 0.6 on its first day); a
/// popular agent's users, even beside a campaign on its harness, keep it under the
/// `cluster.harness_repeat` ramp.
pub const HARNESS_REPEATING: f64 = 0.6;

/// Pairs an account needs in the long window before `account.task_repeat` is measured.
pub const MIN_REPEAT_PAIRS: f64 = 3.0;

/// Largest elicitation share of an ordinary account (people ask for step-by-step answers
/// now and then; a distillation account asks for the reasoning on much of its traffic).
pub const ORDINARY_ELICITATION: f64 = 0.3;

/// An account's remembered tasks as the state sees them now ([`State::recall`]).
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Recall {
    /// Bit `i` set when the list holds a task at position `i`.
    known: u8,
    /// Bit `i` set when that task is shared now.
    shared: u8,
    /// How many of them a swarm works now.
    swarmed: u32,
}

impl Recall {
    /// The account's breadth: its shared tasks over the account window (`counted`, as they
    /// were when sent) or, when all of them are shared now and they make it broad (`broad`
    /// tasks or more), its remembered tasks, whichever is more.
    fn breadth(&self, counted: f64, broad: f64) -> f64 {
        if self.shared == self.known && self.shared.count_ones() as f64 >= broad {
            counted.max(self.shared.count_ones() as f64)
        } else {
            counted
        }
    }

    /// Share of the remembered tasks (at least two) that a swarm works now.
    fn swarmed_share(&self) -> Option<f64> {
        let known = self.known.count_ones();
        (known >= 2).then(|| self.swarmed as f64 / known as f64)
    }

    /// Share of the remembered tasks at the positions of `mask` (at least `min` of them) that
    /// are shared now.
    fn shared_share(&self, mask: u8, min: f64) -> Option<f64> {
        let known = (self.known & mask).count_ones() as f64;
        (known >= min).then(|| (self.shared & mask).count_ones() as f64 / known)
    }
}

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
    pub(super) long: u32,
    pub(super) long_frac: f64,
    pub(super) sync: u32,
}

impl Clock {
    pub(super) fn at(now_ms: u64, d: &Derived) -> Self {
        let (rate, rate_frac) = slot_of(now_ms, d.rate_ms);
        let (win, win_frac) = slot_of(now_ms, d.window_ms);
        let (acct, acct_frac) = slot_of(now_ms, d.account_window_ms);
        let (long, long_frac) = slot_of(now_ms, d.long_ms);
        Clock {
            now_s: (now_ms / 1000) as u32,
            rate,
            rate_frac,
            win,
            win_frac,
            acct,
            acct_frac,
            long,
            long_frac,
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
    pub(super) env: Option<usize>,
    pub(super) task: Option<usize>,
    pub(super) harness: Option<usize>,
}

/// Table keys of an observation.
#[derive(Debug, Clone, Copy)]
pub(super) struct Keys {
    pub(super) account: Option<u64>,
    pub(super) member: Option<u64>,
    pub(super) prefix_member: Option<u64>,
    pub(super) asn_member: Option<u64>,
    pub(super) fp: u64,
    pub(super) ja4: Option<u64>,
    pub(super) prefix: Option<u64>,
    pub(super) asn: Option<u64>,
    pub(super) fp_prefix: Option<u64>,
    pub(super) fp_asn: Option<u64>,
    pub(super) env: Option<u64>,
    pub(super) task: Option<u64>,
    pub(super) harness: Option<u64>,
    pub(super) harness_task: Option<u64>,
}

impl Keys {
    pub(super) fn of(o: &Observation, s: &Seeds) -> Self {
        let fp = s.hash(dom::FP, o.hfp);
        let asn = o.asn.map(|a| s.hash(dom::ASN, a as u64));
        Keys {
            account: o.account.map(|a| s.hash(dom::ACCOUNT, a)),
            member: o.account.map(|a| s.hash(dom::MEMBER, a)),
            prefix_member: o.prefix.map(|p| s.hash(dom::PREFIX_MEMBER, p)),
            asn_member: o.asn.map(|a| s.hash(dom::ASN_MEMBER, a as u64)),
            fp,
            ja4: o.ja4.map(|j| s.hash(dom::JA4, j)),
            prefix: o.prefix.map(|p| s.hash(dom::PREFIX, p)),
            asn,
            fp_prefix: o.prefix.map(|p| s.hash(dom::FP_PREFIX, p ^ fp)),
            fp_asn: asn.map(|a| s.hash(dom::FP_ASN, a ^ fp)),
            env: o.env.map(|e| s.hash(dom::ENV, e)),
            task: o.anchor.map(|a| s.hash(dom::ANCHOR, a)),
            harness: o.harness.map(|h| s.hash(dom::HARNESS, h)),
            harness_task: o.harness.zip(o.anchor).map(|(h, a)| s.hash(dom::HARNESS_TASK, h ^ crate::sketch::mix64(a))),
        }
    }
}

/// Marks slot `i` dirty; its entry with its arena.
#[inline]
fn slot<E: Entry>(t: &mut Table<E>, i: usize) -> Option<(&mut E, &mut [u8])> {
    t.mark_dirty(i);
    t.get_mut(i)
}

/// Keeps the larger of a running maximum and `v`.
#[inline]
fn max_into(acc: &mut Option<f64>, v: f64) {
    *acc = Some(acc.map_or(v, |a| a.max(v)));
}

impl State {
    /// Adds the observation to every table it keys; returns the slots it touched. The same
    /// as [`State::record_headers`] followed by [`State::record_body`].
    pub(super) fn record(&mut self, o: &Observation, k: &Keys, t: &Clock) -> Touched {
        let mut s = self.record_headers(k, t);
        self.record_body(o, k, t, &mut s, 1);
        s
    }

    /// Records what the headers tell (the request itself, its account, fingerprints,
    /// network and client environment); the body's evidence (template, elicitation) is left
    /// to [`State::record_body`], so a request is counted once whichever phase sees its body.
    ///
    /// Three passes, so that the cache misses of the ~10 tables overlap instead of
    /// queueing: warm every bucket, look every key up (inserting), warm every slot found,
    /// then update the entries.
    pub(super) fn record_headers(&mut self, k: &Keys, t: &Clock) -> Touched {
        let d = &self.d;
        let p = d.p;
        let with_member = |key: Option<u64>| key.filter(|_| k.member.is_some());

        // Pass 1: warm the buckets.
        self.accounts.warm_bucket(k.account);
        self.fps.warm_bucket(Some(k.fp));
        self.ja4s.warm_bucket(with_member(k.ja4));
        self.asns.warm_bucket(with_member(k.asn));
        self.prefixes.warm_bucket(k.prefix);
        self.fp_prefixes.warm_bucket(k.fp_prefix);
        self.fp_asns.warm_bucket(with_member(k.fp_asn));
        self.envs.warm_bucket(k.env);

        // Pass 2: find or insert every key, then warm the slots. Only an account seen before
        // in the account window counts in a cluster: a flood of one-off keys (random,
        // never-valid API keys sent to poison a popular cluster) adds requests but no
        // accounts. Requests without a key count in shares.
        let now = t.now_s;
        let account = k.account.and_then(|x| self.accounts.upsert(x, now));
        let known = account
            .and_then(|i| self.accounts.get(i))
            .is_some_and(|(e, _)| e.win.sliding(t.acct, t.acct_frac)[0] > 0.0);
        let member = k.member.filter(|_| known);
        let counted = known || k.member.is_none();
        // A request that does not count in a cluster still reads it (its levels).
        let with_member = |key: Option<u64>| key.filter(|_| k.member.is_some());
        let mut s = Touched {
            account,
            fp: self.fps.upsert(k.fp, now),
            ja4: with_member(k.ja4).and_then(|x| upsert_if(&mut self.ja4s, x, now, member.is_some())),
            prefix: k.prefix.and_then(|x| self.prefixes.upsert(x, now)),
            asn: with_member(k.asn).and_then(|x| upsert_if(&mut self.asns, x, now, member.is_some())),
            fp_prefix: k.fp_prefix.and_then(|x| upsert_if(&mut self.fp_prefixes, x, now, counted)),
            fp_asn: with_member(k.fp_asn).and_then(|x| upsert_if(&mut self.fp_asns, x, now, member.is_some())),
            templates: [None; MAX_BANDS],
            env: k.env.and_then(|x| upsert_if(&mut self.envs, x, now, member.is_some())),
            task: None,
            harness: None,
        };
        // The account's agent harness, as its latest body showed it (read, not counted).
        s.harness = account
            .and_then(|i| self.accounts.get(i))
            .map(|(e, _)| e.harness)
            .filter(|&h| h != 0)
            .and_then(|h| self.harnesses.find(h));
        self.accounts.warm_slot(s.account);
        self.fps.warm_slot(s.fp);
        self.ja4s.warm_slot(s.ja4);
        self.prefixes.warm_slot(s.prefix);
        self.asns.warm_slot(s.asn);
        self.fp_prefixes.warm_slot(s.fp_prefix);
        self.fp_asns.warm_slot(s.fp_asn);
        self.envs.warm_slot(s.env);

        // Pass 3: update. The account goes first: its lightness gates the clusters.
        let mut heavy = false;
        let mut hop = None;
        if let Some((e, _)) = s.account.and_then(|i| slot(&mut self.accounts, i)) {
            e.rate.add(t.rate, [1]);
            let moved = k.prefix_member.is_some_and(|pm| e.ips.insert(t.acct, pm));
            let hopped = k.asn_member.is_some_and(|am| e.asns.insert(t.acct, am));
            e.win.add(t.acct, [1, 0, moved as u32, hopped as u32]);
            // A network is the ASN; without one (no geo database) the client's prefix.
            hop = known.then_some(if k.asn_member.is_some() { hopped } else { moved });
            heavy = e.win.sliding(t.acct, t.acct_frac)[0] > d.light_max;
        }
        if let Some(m) = k.member {
            self.active.insert(t.win, m);
        }
        if let Some((e, regs)) = s.fp.and_then(|i| slot(&mut self.fps, i)) {
            if let Some(m) = member {
                e.accounts.insert(regs, p, t.win, m);
            }
            e.rate.add(t.rate, [1]);
        }
        if let Some(m) = member {
            accounts_only(&mut self.ja4s, s.ja4, t, p, m);
            accounts_only(&mut self.asns, s.asn, t, p, m);
        }
        if let Some((e, regs)) = s.prefix.and_then(|i| slot(&mut self.prefixes, i)) {
            if let Some(m) = member {
                e.accounts.insert(regs, p, t.win, m);
            }
            e.rate.add(t.rate, [1]);
        }
        if let Some((e, regs)) = s.fp_prefix.filter(|_| counted).and_then(|i| slot(&mut self.fp_prefixes, i)) {
            if let Some(m) = member {
                e.accounts.insert(regs, p, t.win, m);
            }
            if !heavy {
                e.share.add(t.win, [1, 0]);
            }
        }
        if let (Some((e, regs)), Some(m)) =
            (s.fp_asn.and_then(|i| slot(&mut self.fp_asns, i)), member)
        {
            let (ra, rh) = regs.split_at_mut(regs.len() / 2);
            e.accounts.insert(ra, p, t.win, m);
            if heavy {
                e.heavy.insert(rh, p, t.win, m);
            }
        }
        if let Some((e, regs)) = s.env.filter(|_| member.is_some()).and_then(|i| slot(&mut self.envs, i)) {
            if let Some(m) = member {
                e.accounts.insert(regs, p, t.win, m);
            }
            if let Some(h) = hop {
                e.share.add(t.acct, [1, h as u32]);
            }
        }
        s
    }

    /// Records what the body tells about a request already counted by
    /// [`State::record_headers`]: its template (every band's cluster), its task (the
    /// anchor's distinct accounts and broad accounts; the account's shared tasks and
    /// swarmed requests), and whether it elicited (in its account's and its (fingerprint,
    /// prefix) cluster's shares). `s` names the slots the headers touched (a slot evicted
    /// since is skipped); the template and task slots are filled in.
    pub(super) fn record_body(&mut self, o: &Observation, k: &Keys, t: &Clock, s: &mut Touched, weight: u32) {
        let d = &self.d;
        let p = d.p;
        let mut bands = [0u64; MAX_BANDS];
        let nb = if o.template.is_some() { d.bands } else { 0 };
        for (b, key) in bands.iter_mut().enumerate().take(nb) {
            *key = d.band_key(o.template.unwrap_or(0), b);
        }
        let bands = bands.get(..nb).unwrap_or(&[]);
        for &x in bands {
            self.templates.warm_bucket(Some(x));
        }
        self.tasks.warm_bucket(k.task);
        let el = o.elicitation as u32;
        // The account's lightness and breadth before this request's task; whether it was
        // seen before this request (only returning accounts count in clusters).
        let (mut heavy, mut broad, mut known) = (false, false, false);
        if let Some((e, _)) = s.account.and_then(|i| self.accounts.get(i)) {
            let n = e.win.sliding(t.acct, t.acct_frac)[0];
            heavy = n > d.light_max;
            known = n > 1.0;
            broad = e.tasks.union_estimate(t.acct) >= d.broad_tasks;
        }
        let member = k.member.filter(|_| known);
        let counted = known || k.member.is_none();
        let now = t.now_s;
        for (slot, &x) in s.templates.iter_mut().zip(bands) {
            *slot = upsert_if(&mut self.templates, x, now, counted);
        }
        s.task = k.task.and_then(|x| upsert_if(&mut self.tasks, x, now, member.is_some()));
        if el > 0 && !heavy && counted {
            if let Some((e, _)) = s.fp_prefix.and_then(|i| slot(&mut self.fp_prefixes, i)) {
                e.share.add(t.win, [0, weight]);
            }
        }
        for &i in s.templates.iter().flatten().filter(|_| counted) {
            if let Some((e, regs)) = slot(&mut self.templates, i) {
                if let Some(m) = member {
                    e.accounts.insert(regs, p, t.win, m);
                    e.sync.insert(t.sync, m);
                }
                if !heavy {
                    e.share.add(t.win, [1, el]);
                }
            }
        }
        let mut shared = false;
        if let (Some(m), Some((e, regs))) = (member, s.task.and_then(|i| slot(&mut self.tasks, i))) {
            let (ra, rb) = regs.split_at_mut(regs.len() / 2);
            e.accounts.insert(ra, p, t.acct, m);
            if broad {
                e.broad.insert(rb, p, t.acct, m);
            }
            shared = e.accounts.estimate_at(ra, p, t.acct) >= d.shared_accounts;
        }
        // Breadth counts the account's shared tasks; the recent list keeps its last tasks,
        // shared or not, so a busy person's own code dilutes the share a swarm works.
        let task = k.task.filter(|_| member.is_some());
        let (begun, repeated) = match (member, task) {
            (Some(m), Some(task)) => self.record_harness(k, t, s, m, task),
            _ => (false, [false; 2]),
        };
        // The account's remembered tasks when this task made it broad.
        let mut became_broad = None;
        let broad_tasks = self.d.broad_tasks;
        if let Some(i) = s.account.filter(|_| el > 0 || k.task.is_some()) {
            if let Some((e, _)) = slot(&mut self.accounts, i) {
                if el > 0 {
                    e.win.add(t.acct, [0, weight, 0, 0]);
                }
                if begun {
                    e.harness_work.add(t.acct, [1, repeated[0] as u32]);
                    e.harness_work_long.add(t.long, [1, repeated[1] as u32]);
                }
                if shared {
                    if let Some(task) = task {
                        e.tasks.insert(t.acct, task);
                    }
                }
                // The account's own list holds its first task too (it counts in no cluster),
                // unless it is an agent harness's: in a harness the list marks the (account,
                // task) pairs counted ([`State::record_harness`]), and the first is not.
                if let Some(own) = task.or(k.task.filter(|_| k.harness_task.is_none())) {
                    e.remember(own, k.harness_task.is_some());
                    if task.is_some() && !broad && e.tasks.union_estimate(t.acct) >= broad_tasks {
                        became_broad = Some(e.recent);
                    }
                }
            }
        }
        // A slow account (a few requests a day) proves broad only after its first shared tasks,
        // which its tasks counted as not broad: a slow swarm's tasks stayed under the swarm's
        // broad share for days. Once it proves broad, its remembered tasks count it as broad,
        // if all of them are shared: a person's remembered tasks hold their own code, and
        // their common identifiers stay ordinary.
        if let (Some(recent), Some(m)) = (became_broad, member) {
            let p = self.d.p;
            let shared_accounts = self.d.shared_accounts;
            let found = recent.map(|key| (key != 0).then(|| self.tasks.find(key)));
            let all_shared = found.iter().flatten().all(|i| {
                i.and_then(|i| self.tasks.get(i))
                    .is_some_and(|(e, regs)| e.accounts.estimate_at(&regs[..regs.len() / 2], p, t.acct) >= shared_accounts)
            });
            if all_shared {
                for i in found.into_iter().flatten().flatten() {
                    if let Some((e, regs)) = slot(&mut self.tasks, i) {
                        let (_, rb) = regs.split_at_mut(regs.len() / 2);
                        e.broad.insert(rb, p, t.acct, m);
                    }
                }
            }
        }
    }

    /// Records the request's task in its agent harness (the tool set its body defines):
    /// the account joins the harness; a task new to the account begins an (account, task)
    /// pair, counted in the harness with whether another account of the harness had sent
    /// that task in the account window and in the long window (each horizon is judged by
    /// its own repeats: over a week more people's common identifiers meet). Returns (a pair
    /// begun, its task repeated another account's [over the account window, over the long
    /// window]). The account remembers the harness, so its next requests read the harness's
    /// repeat share at their headers.
    fn record_harness(&mut self, k: &Keys, t: &Clock, s: &mut Touched, m: u64, task: u64) -> (bool, [bool; 2]) {
        let (Some(h), Some(ht)) = (k.harness, k.harness_task) else { return (false, [false; 2]) };
        let p = self.d.p;
        let now = t.now_s;
        let new_pair = match s.account.and_then(|i| slot(&mut self.accounts, i)) {
            Some((e, _)) => {
                e.harness = h;
                !e.recent.contains(&task)
            }
            None => true,
        };
        let mut repeated = [false; 2];
        if new_pair {
            if let Some((e, regs)) = self.harness_tasks.upsert(ht, now).and_then(|i| slot(&mut self.harness_tasks, i)) {
                let (ra, rb) = regs.split_at_mut(regs.len() / 2);
                for (r, hll, regs, at) in [(0, &mut e.day, ra, t.acct), (1, &mut e.long, rb, t.long)] {
                    let before = hll.estimate_at(regs, p, at);
                    let changed = hll.insert(regs, p, at, m);
                    // One account before and this one new to the task, or two or more before.
                    repeated[r] = before >= 1.5 || (before >= 0.5 && changed);
                }
            }
        }
        s.harness = self.harnesses.upsert(h, now);
        if let Some((e, regs)) = s.harness.and_then(|i| slot(&mut self.harnesses, i)) {
            e.accounts.insert(regs, p, t.long, m);
            if new_pair {
                e.pairs.add(t.acct, [1, repeated[0] as u32]);
                e.pairs_long.add(t.long, [1, repeated[1] as u32]);
            }
        }
        (new_pair, repeated)
    }

    /// What the account's remembered tasks are now: which are shared (at least
    /// `shared_task_accounts` accounts over the account window) and how many a swarm works
    /// (at least `swarm_accounts` accounts, [`SWARM_BROAD_SHARE`] of them broad). A task
    /// the account sent before it was shared (a slow swarm's first hours) counts now.
    /// `counted` is the account's breadth as its tasks were when sent: below
    /// `broad_tasks`, only a list of shared tasks matters (the reading stops at the first
    /// task that is not, so a person's list of their own code costs one lookup).
    fn recall(&self, recent: &[u64; RECENT_TASKS], counted: f64, t: &Clock) -> Recall {
        let p = self.d.p;
        let narrow = counted < self.d.broad_tasks;
        let mut r = Recall::default();
        for (i, &key) in recent.iter().enumerate() {
            r.known |= u8::from(key != 0) << i;
        }
        if narrow && (r.known.count_ones() as f64) < self.d.broad_tasks {
            return r;
        }
        for (i, &key) in recent.iter().enumerate().filter(|(_, &k)| k != 0) {
            if let Some((e, regs)) = self.tasks.find(key).and_then(|i| self.tasks.get(i)) {
                let (ra, rb) = regs.split_at(regs.len() / 2);
                let all = e.accounts.estimate_at(ra, p, t.acct);
                r.shared |= u8::from(all >= self.d.shared_accounts) << i;
                r.swarmed += u32::from(all >= self.d.swarm_accounts && e.broad.estimate_at(rb, p, t.acct) >= SWARM_BROAD_SHARE * all);
            }
            if narrow && r.shared >> i & 1 == 0 {
                break;
            }
        }
        r
    }

    /// Reads the levels from the given slots (read-only; stale slots are aged to `t`).
    pub(super) fn measure_slots(&self, o: &Observation, s: &Touched, t: &Clock, lv: &mut Levels) {
        let p = self.d.p;
        let min = self.d.min_requests;
        let per_min = self.d.per_minute;
        let mut heavy = false;
        // Fewer requests than the account-history signals need (or none known).
        let mut new_account = true;
        // Known to keep to its networks: enough requests, few ASN changes (without an ASN,
        // few new prefixes).
        let mut settled = false;
        // The repeat shares of the harness (tool set and system prompt) of this request or its
        // account, over the account window and over the long window: how much of its accounts'
        // task work repeats tasks other accounts of it sent.
        let harness_shares = s.harness.and_then(|i| self.harnesses.get(i)).and_then(|(e, regs)| {
            let share = |[pairs, repeated]: [f64; 2]| (pairs >= min).then(|| repeated / pairs);
            (e.accounts.estimate_at(regs, p, t.long) >= HARNESS_MIN_ACCOUNTS)
                .then(|| (share(e.pairs.sliding(t.acct, t.acct_frac)), share(e.pairs_long.sliding(t.long, t.long_frac))))
        });
        if let Some((e, _)) = s.account.and_then(|i| self.accounts.get(i)) {
            let recent = e.rate.sliding(t.rate, t.rate_frac)[0];
            lv.set(Signal::RateAccount, recent * per_min);
            let [n, el, moved, hopped] = e.win.sliding(t.acct, t.acct_frac);
            // Rotation and address churn are read once the account has requests older than the rate slot: a key
            // put to work on a fleet of servers reaches the API from all of them in its first
            // seconds, which looks like per-request rotation until the fleet reuses its addresses.
            let aged = n - recent >= 1.0;
            // The account's task work in harnesses (pairs begun, repeats of another account's
            // task) over the account window and over the long window.
            let day = e.harness_work.sliding(t.acct, t.acct_frac);
            let long = e.harness_work_long.sliding(t.long, t.long_frac);
            let repeats = |[pairs, repeated]: [f64; 2], share: f64| repeated >= MIN_REPEATS && repeated >= share * pairs;
            // The harness's share is evidence against an account whose own task work repeats
            // others': over a day, half of its tasks; over the long window (a light account's
            // slow work), most of them, as more people's common identifiers meet in a week. A
            // campaign running a popular agent shares that agent's harness, and the agent's
            // users, on their own code, are not judged by the campaign's repeats. In a harness
            // whose work is mostly repeats, half of the account's tasks (one is enough) do. The
            // harness is read over the horizon that showed it.
            let (day_share, long_share) = harness_shares.unwrap_or((None, None));
            let harness_share = if repeats(day, REPEATING_SHARE) {
                day_share
            } else if long[1] >= 0.5
                && ((long[1] >= LONG_REPEATING_SHARE * long[0] && long[1] >= MIN_REPEATS)
                    || (long[1] >= REPEATING_SHARE * long[0] && long_share.is_some_and(|l| l >= HARNESS_REPEATING)))
            {
                long_share
            } else {
                None
            };
            if let Some(v) = harness_share {
                lv.set(Signal::ClusterHarnessRepeat, v);
            }
            // Its own share: over the day when it did enough work in it, else over the long window.
            let [pairs, repeated] = if day[0] >= MIN_REPEAT_PAIRS { day } else { long };
            let mut own = (pairs >= MIN_REPEAT_PAIRS).then(|| repeated / pairs);
            // The remembered tasks, read once: in full for an account whose harness is held
            // against it (below), else only as far as its breadth needs.
            let counted = e.tasks.union_estimate(t.acct);
            let recall = self.recall(&e.recent, if harness_share.is_some() { f64::INFINITY } else { counted }, t);
            // An account whose repeats hold its harness against it is also read by how many of
            // its remembered agent tasks other accounts work now, before or after it: a campaign's
            // first tasks in a harness were new to it when sent, and a popular agent's users
            // get here only through repeats of their own.
            if let Some(v) = recall.shared_share(e.in_harness, MIN_REPEAT_PAIRS).filter(|_| harness_share.is_some()) {
                own = Some(own.map_or(v, |o| o.max(v)));
            }
            if let Some(v) = own {
                lv.set(Signal::AccountTaskRepeat, v);
            }
            heavy = n > self.d.light_max;
            lv.heavy = heavy;
            lv.agent = s.harness.is_some();
            new_account = n < MIN_ROTATION_REQUESTS;
            if n >= self.d.min_account_requests {
                lv.set(Signal::AccountElicitationShare, el / n);
            }
            let breadth = recall.breadth(counted, self.d.broad_tasks);
            lv.set(Signal::AccountTaskBreadth, breadth);
            if breadth >= self.d.broad_tasks {
                if let Some(v) = recall.swarmed_share() {
                    lv.set(Signal::AccountSwarmShare, v);
                }
            }
            // Requests from a new prefix are counted when a prefix's bit in the account's 64-bit
            // bitmap was unset: once the bitmap is crowded (seven eighths of its bits: some 133
            // distinct prefixes in the window) most new prefixes hit set bits, so a busy account
            // rotating on every request would read as reusing its addresses. Its distinct
            // prefixes, by linear counting over the same bitmap, bound the count from below there.
            let distinct = e.ips.union_estimate(t.acct);
            let moved = if distinct >= CROWDED_PREFIXES { moved.max(distinct.min(n)) } else { moved };
            // The first request always comes from a new prefix: count the changes after it.
            let prefix_share = ((moved - 1.0) / (n - 1.0).max(1.0)).clamp(0.0, 1.0);
            // Once it has a few requests, an account that sends under one in five from a new
            // prefix keeps reusing its addresses (a household, an office, a fleet of servers).
            let reusing = n >= MIN_ROTATION_REQUESTS && prefix_share < SETTLED_ASN_ROTATION;
            if o.prefix.is_some() && n >= MIN_ROTATION_REQUESTS && aged {
                lv.set(Signal::AccountIpRotation, prefix_share);
            }
            if o.asn.is_some() && n >= MIN_ASN_ROTATION_REQUESTS {
                let r = ((hopped - 1.0) / (n - 1.0)).clamp(0.0, 1.0);
                if aged {
                    lv.set(Signal::AccountAsnRotation, r);
                }
                // Settled takes more history than suspicion: one request on the same network
                // says little (a pool's sessions are sticky for an hour).
                settled = n >= MIN_ROTATION_REQUESTS && r < SETTLED_ASN_ROTATION;
            }
            // Address churn behind one network operator is its NAT (a phone on a carrier
            // changes address every few minutes, not operator): not counted for an account
            // on at most [`NAT_OPERATORS`] operators (a pool, even a datacenter's, spans more).
            // Nor for one reusing its addresses (a fleet of servers, even on three clouds),
            // which a pool's exits never do.
            let behind_nat = o.asn.is_some() && n >= MIN_ROTATION_REQUESTS && e.asns.union_estimate(t.acct) <= NAT_OPERATORS;
            if o.prefix.is_some() && !behind_nat && !reusing && aged {
                lv.set(Signal::AccountIpChurn, e.ips.union_estimate(t.acct));
            }
            // Without an ASN, keeping to its networks is reusing its addresses.
            if o.asn.is_none() {
                settled = reusing;
            }
            // An established, ordinary account: enough history, keeping to its networks, its
            // own tasks, little elicitation. The crowds it shares (clusters) do not change
            // its verdict ([`Levels::ordinary`]).
            lv.ordinary = n >= MIN_ROTATION_REQUESTS
                && settled
                && breadth < self.d.broad_tasks
                && (n < self.d.min_account_requests || el / n < ORDINARY_ELICITATION)
                && !harness_share.is_some_and(|v| v >= HARNESS_SHARED);
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
        // The environment's hop share is evidence against its light members not known to
        // keep to their networks (new accounts included).
        if let (Some((e, regs)), false, false) = (s.env.and_then(|i| self.envs.get(i)), heavy, settled) {
            let [n, hops] = e.share.sliding(t.acct, t.acct_frac);
            if n >= min && e.accounts.estimate_at(regs, p, t.win) >= min_accounts {
                lv.set(Signal::ClusterAsnRotationShare, hops / n);
            }
        }
        if let Some(v) = sync {
            lv.set(Signal::ClusterSynchrony, v);
        }
        // The broad share of this request's task: evidence against a new account only (an
        // account with history is judged by its own task work, `account.swarm_share`).
        if let (Some((e, regs)), true) = (s.task.and_then(|i| self.tasks.get(i)), new_account) {
            let (ra, rb) = regs.split_at(regs.len() / 2);
            let all = e.accounts.estimate_at(ra, p, t.acct);
            if all >= self.d.swarm_accounts {
                lv.set(Signal::ClusterSwarm, (e.broad.estimate_at(rb, p, t.acct) / all).min(1.0));
            }
        }
        // Cluster shares are evidence against the cluster's light members; a heavy account
        // is judged by its own share.
        if let (Some(v), false) = (share, heavy) {
            lv.set(Signal::ClusterElicitationShare, v);
        }
        if self.crowd_scale > 1.0 {
            for s in Signal::POPULATION_WIDE {
                if let Some(v) = lv.get(s) {
                    lv.set(s, v / self.crowd_scale);
                }
            }
        }
    }
}

/// The slot of `key`: inserted when `insert`, else only found (a request that does not
/// count in a cluster still reads it).
#[inline]
fn upsert_if<E: Entry>(t: &mut Table<E>, key: u64, now: u32, insert: bool) -> Option<usize> {
    if insert {
        t.upsert(key, now)
    } else {
        t.find(key)
    }
}

/// Records account member `m` in slot `i` of a distinct-accounts-only table (dirty only
/// when a register changed).
#[inline]
fn accounts_only(t: &mut Table<AccountsE>, i: Option<usize>, c: &Clock, p: u8, m: u64) {
    let Some(i) = i else { return };
    let changed = t
        .get_mut(i)
        .is_some_and(|(e, regs)| e.accounts.insert(regs, p, c.win, m));
    if changed {
        t.mark_dirty(i);
    }
}
