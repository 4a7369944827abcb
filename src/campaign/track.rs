//! The tracker's two fixed-capacity tables and what one request adds to them.
//!
//! - **clusters** (`Settings::clusters` entries): one per cluster key ([`super::keys`]) that
//!   carried a flagged request. A cluster enters on its first flagged request; from then on
//!   every request with its key counts in `requests`, the flagged ones also in `flagged` and
//!   their accounts in a 4-bit HyperLogLog of distinct flagged accounts (the arena).
//! - **accounts** (`Settings::accounts` entries): one per account with a flagged request:
//!   its flagged and total requests (from its first flagged one on), elicitation, score sum,
//!   first and last flagged time, reason counts, and the keys of its latest flagged request
//!   per kind (its *links*: what the report groups accounts by).
//!
//! Both are [`crate::sketch::table::Table`]s: memory allocated once, a new key evicts the
//! stalest entry of its bucket (a key touched repeatedly earns grace; see that module).
//! Nothing here reads a clock: time is the request's `now_ms`. The report is built in
//! `report`.

use crate::score::{Action, Verdict};
use crate::signal::Signal;
use crate::sketch::small_hll::SmallHll;
use crate::sketch::table::Table;
use crate::sketch::Seeds;
use crate::state::Observation;

use super::keys::{self, Key, Kind, BANDS, MAX_KEYS};
use super::Settings;

/// Precision of the per-cluster distinct-account sketch (256 registers, 128 bytes each
/// for the current and the union slot).
pub(super) const HLL_P: u8 = 8;

/// Hash domains of an account's table row and of its entry in a cluster's sketch.
const ACCOUNT_DOMAIN: u64 = 0xCA00;
const MEMBER_DOMAIN: u64 = 0xCA01;

/// Link slots of an account: one per kind, [`BANDS`] for the template.
pub(super) const LINKS: usize = 5 + BANDS;

/// Link slot of the first key of `kind`.
pub(super) const fn link_base(kind: Kind) -> usize {
    match kind {
        Kind::ClientEnv => 0,
        Kind::FpPrefix => 1,
        Kind::FpAsn => 2,
        Kind::Template => 3,
        Kind::Task => 3 + BANDS,
        Kind::Harness => 4 + BANDS,
    }
}

/// One cluster key's counts.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct ClusterE {
    /// The key and its display parts.
    pub key: Key,
    /// Requests with this key since its first flagged one.
    pub requests: u32,
    /// Of those, flagged.
    pub flagged: u32,
    /// First and last flagged request.
    pub first_ms: u64,
    pub last_ms: u64,
    /// Distinct flagged accounts (the first half of its registers in the arena).
    pub hll: SmallHll,
    /// Distinct accounts, flagged or not, since its first flagged request (the second half;
    /// counted for agent harness keys only): a popular agent's harness has many accounts that
    /// are never flagged.
    pub all: SmallHll,
}

/// One flagged account.
#[derive(Debug, Clone, Copy)]
pub(super) struct AccountE {
    /// Account id (the verdict's keyed hash).
    pub id: u64,
    /// Requests since its first flagged one; of those flagged, and flagged with elicitation.
    pub requests: u32,
    pub flagged: u32,
    pub elicited: u32,
    /// Sum of the flagged requests' scores.
    pub score_sum: u32,
    /// First and last flagged request.
    pub first_ms: u64,
    pub last_ms: u64,
    /// Table keys of its latest flagged request per link slot (0: none).
    pub links: [u64; LINKS],
    /// Flagged requests per reason (saturating), indexed like [`Signal::ALL`].
    pub reasons: [u16; Signal::COUNT],
}

impl Default for AccountE {
    fn default() -> Self {
        AccountE { id: 0, requests: 0, flagged: 0, elicited: 0, score_sum: 0, first_ms: 0, last_ms: 0, links: [0; LINKS], reasons: [0; Signal::COUNT] }
    }
}

/// The tables (see the module docs).
#[derive(Clone)]
pub(super) struct Tables {
    pub seeds: Seeds,
    /// HLL epoch length in ms (`u64::MAX` without a window: one epoch forever).
    pub epoch_ms: u64,
    pub clusters: Table<ClusterE>,
    pub accounts: Table<AccountE>,
    /// Requests seen, and flagged.
    pub requests: u64,
    pub flagged: u64,
    /// `Settings::link_share`.
    pub link_share: f64,
}

/// True when a verdict counts as flagged for campaigns: action `tag` or above (before
/// shadow mode caps it), not an allowlist match or an internal error.
pub fn flagged(v: &Verdict) -> bool {
    v.action >= Action::Tag && !v.allowlisted && !v.internal_error
}

impl Tables {
    pub fn new(s: &Settings) -> Self {
        let window_ms = s.window_s as u64 * 1000;
        let grace = if s.window_s == 0 { 3600 } else { s.window_s / 12 };
        Tables {
            seeds: Seeds::new(0xCA4A_1617),
            epoch_ms: if window_ms == 0 { u64::MAX } else { window_ms },
            clusters: Table::new(s.clusters as usize, 2 * SmallHll::bytes(HLL_P), grace),
            accounts: Table::new(s.accounts as usize, 0, grace),
            requests: 0,
            flagged: 0,
            link_share: s.link_share,
        }
    }

    /// Heap bytes of the tables for `s` (what [`Tables::new`] allocates).
    pub fn bytes_for(s: &Settings) -> usize {
        Table::<ClusterE>::bytes_for(s.clusters as usize, 2 * SmallHll::bytes(HLL_P)) + Table::<AccountE>::bytes_for(s.accounts as usize, 0)
    }

    pub(super) fn epoch(&self, now_ms: u64) -> u32 {
        (now_ms / self.epoch_ms) as u32
    }

    /// A verdict and its observation: the header keys always, the body keys when the body
    /// was read before the verdict (a held request).
    pub fn record(&mut self, obs: &Observation, v: &Verdict) {
        let flagged = flagged(v);
        self.requests += 1;
        self.flagged += u64::from(flagged);
        let mut keys = [Key::default(); MAX_KEYS];
        let mut n = keys::of(obs, &self.seeds, false, &mut keys);
        let mut body = [Key::default(); MAX_KEYS];
        let nb = keys::of(obs, &self.seeds, true, &mut body);
        for k in body.iter().take(nb) {
            if let Some(slot) = keys.get_mut(n) {
                *slot = *k;
                n += 1;
            }
        }
        let keys = keys.get(..n).unwrap_or(&[]);
        self.count_keys(obs, keys, flagged);
        let Some(account) = obs.account else { return };
        let row = self.seeds.hash(ACCOUNT_DOMAIN, account);
        let slot = if flagged { self.accounts.upsert(row, (obs.now_ms / 1000) as u32) } else { self.accounts.find(row) };
        let Some((a, _)) = slot.and_then(|i| self.accounts.get_mut(i)) else { return };
        if a.flagged == 0 && !flagged {
            return;
        }
        a.requests = a.requests.saturating_add(1);
        if !flagged {
            return;
        }
        if a.flagged == 0 {
            a.id = account;
            a.first_ms = obs.now_ms;
        }
        a.flagged = a.flagged.saturating_add(1);
        a.elicited = a.elicited.saturating_add(u32::from(obs.elicitation));
        a.score_sum = a.score_sum.saturating_add(u32::from(v.score));
        a.last_ms = a.last_ms.max(obs.now_ms);
        for r in &v.reasons {
            if let Some(c) = a.reasons.get_mut(r.signal.index()) {
                *c = c.saturating_add(1);
            }
        }
        self.link(row, keys, obs.now_ms);
    }

    /// The body facts of a request decided at its headers (already recorded): its body keys
    /// and elicitation, with the verdict's `flagged`.
    pub fn learn(&mut self, obs: &Observation, flagged: bool) {
        let mut keys = [Key::default(); MAX_KEYS];
        let n = keys::of(obs, &self.seeds, true, &mut keys);
        let keys = keys.get(..n).unwrap_or(&[]);
        self.count_keys(obs, keys, flagged);
        if !flagged {
            return;
        }
        let Some(account) = obs.account else { return };
        let row = self.seeds.hash(ACCOUNT_DOMAIN, account);
        let Some((a, _)) = self.accounts.find(row).and_then(|i| self.accounts.get_mut(i)) else { return };
        if a.flagged == 0 {
            return;
        }
        a.elicited = a.elicited.saturating_add(u32::from(obs.elicitation));
        self.link(row, keys, obs.now_ms);
    }

    /// How strongly a cluster key groups accounts now: its distinct flagged accounts when
    /// at least `link_share` of its requests are flagged, else 0 (also for a key no longer
    /// tracked).
    pub(super) fn strength(&self, key: u64, epoch: u32) -> f64 {
        let Some((c, regs)) = self.clusters.find(key).and_then(|i| self.clusters.get(i)) else { return 0.0 };
        let (flagged, all) = regs.split_at(regs.len() / 2);
        let accounts = c.hll.estimate_at(flagged, HLL_P, epoch);
        if !links(c, accounts, c.all.estimate_at(all, HLL_P, epoch), self.link_share) {
            return 0.0;
        }
        accounts
    }

    /// Updates the links of the account in table row `row` with the keys of its flagged request: per slot, the
    /// new key replaces the old one unless the old one groups more accounts now. An account
    /// thus links through its strongest key of each kind, not through whichever key its
    /// latest request happened to carry.
    fn link(&mut self, row: u64, keys: &[Key], now_ms: u64) {
        let epoch = self.epoch(now_ms);
        let Some(i) = self.accounts.find(row) else { return };
        let Some(old) = self.accounts.get(i).map(|(a, _)| a.links) else { return };
        let mut links = old;
        for (slot, k) in slots(keys) {
            if let Some(l) = links.get_mut(slot) {
                if *l == 0 || *l == k.hash || self.strength(k.hash, epoch) >= self.strength(*l, epoch) {
                    *l = k.hash;
                }
            }
        }
        if let Some((a, _)) = self.accounts.get_mut(i) {
            a.links = links;
        }
    }

    /// Counts one request in each of its keys' clusters (adding the cluster on a flagged
    /// request of an account).
    fn count_keys(&mut self, obs: &Observation, keys: &[Key], flagged: bool) {
        let now_s = (obs.now_ms / 1000) as u32;
        let epoch = self.epoch(obs.now_ms);
        let member = obs.account.map(|a| self.seeds.hash(MEMBER_DOMAIN, a));
        for k in keys {
            let slot = match (flagged, member) {
                (true, Some(_)) => self.clusters.upsert(k.hash, now_s),
                _ => self.clusters.find(k.hash),
            };
            let Some((c, regs)) = slot.and_then(|i| self.clusters.get_mut(i)) else { continue };
            if c.requests == 0 {
                if !flagged {
                    continue;
                }
                c.key = *k;
                c.first_ms = obs.now_ms;
            }
            c.requests = c.requests.saturating_add(1);
            let (flagged_regs, all_regs) = regs.split_at_mut(regs.len() / 2);
            // Only a harness key's distinct accounts are read ([`links`]).
            if let (Kind::Harness, Some(m)) = (k.kind, member) {
                c.all.insert(all_regs, HLL_P, epoch, m);
            }
            if let (true, Some(m)) = (flagged, member) {
                c.flagged = c.flagged.saturating_add(1);
                c.last_ms = c.last_ms.max(obs.now_ms);
                c.hll.insert(flagged_regs, HLL_P, epoch, m);
            }
        }
    }
}

/// Link slot of each of `keys` (per kind; the template's bands in band order).
fn slots(keys: &[Key]) -> impl Iterator<Item = (usize, &Key)> {
    let mut band = 0;
    keys.iter().map(move |k| {
        let i = link_base(k.kind) + if k.kind == Kind::Template { band } else { 0 };
        band += usize::from(k.kind == Kind::Template);
        (i, k)
    })
}

/// Whether a cluster key links its flagged accounts (see the report module's docs): at least
/// two of them and at least `share` of its requests flagged; for an agent harness, also at
/// least `share` of its accounts. A harness is the one key that people share by the thousand
/// (a popular agent's system prompt and tool set): with a campaign inside it, most of its
/// requests can be the campaign's while most of its accounts are people.
pub(super) fn links(c: &ClusterE, flagged_accounts: f64, all_accounts: f64, share: f64) -> bool {
    flagged_accounts >= 1.5
        && c.flagged as f64 >= share * c.requests as f64
        && (c.key.kind != Kind::Harness || flagged_accounts >= share * all_accounts)
}
