//! Building the campaign report from the tracker's tables, and its JSON shape.
//!
//! **Grouping.** A cluster key *links* its flagged accounts when it looks like a campaign's
//! and not a crowd's: at least two distinct flagged accounts, and at least
//! `Settings::link_share` of its requests (since its first flagged one) flagged; an agent
//! harness, which people share by the thousand, also needs that share of its distinct
//! accounts flagged. Accounts
//! are joined through the linking keys of their latest flagged requests (union-find over
//! the accounts table): a campaign is one connected group, so a campaign seen under its
//! client environment, its templates and its fingerprint x ASN keys is listed once, with
//! those keys. A group is reported when it has `Settings::min_accounts` accounts and one of
//! its keys alone has that many distinct flagged accounts. A legitimate cluster (a popular
//! SDK version, an ISP, a popular prompt) has a few flagged requests among many allowed
//! ones: it links nothing, and its few flagged accounts stay apart.
//!
//! **Confidence** (0..=100) is `100 x A x S x (0.5 + 0.5 x M)`: `A = n / (n + min_accounts)`
//! for `n` accounts (one half at the threshold, 0.91 at ten times it), `S` the flagged share
//! of the requests of the campaign's keys, `M` the mean score of its flagged requests / 100.
//!
//! Building a report allocates working memory proportional to the tables (not to traffic);
//! it never changes the tracker.

use std::collections::HashMap;

use serde::Serialize;

use crate::signal::Signal;
use crate::sketch::hll::estimate_from;

use super::keys::{KeyName, Kind};
use super::track::{links, AccountE, ClusterE, Tables, HLL_P};
use super::Settings;

/// Keys listed per campaign (the rest are counted in `keys_total`).
pub const LISTED_KEYS: usize = 8;
/// Reason codes listed per campaign.
pub const LISTED_REASONS: usize = 8;

/// The campaign report (stable field names; see the README's "Campaign reports").
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// Time the report is for (the last request's time in a replay), ms since the epoch.
    pub now_ms: u64,
    /// `Settings::window_s` (0: no window).
    pub window_s: u32,
    /// `Settings::min_accounts`.
    pub min_accounts: u32,
    /// Requests the tracker saw, and of those flagged.
    pub requests: u64,
    /// Flagged requests.
    pub flagged: u64,
    /// Flagged accounts in the accounts table (within the window).
    pub accounts_tracked: u64,
    /// Campaigns found (at most `Settings::max_campaigns` listed).
    pub campaigns_total: u64,
    /// The campaigns, most accounts first.
    pub campaigns: Vec<Campaign>,
}

/// One suspected campaign.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Campaign {
    /// Id: a hash of its largest key (16 hex digits); stable while that key leads.
    pub id: String,
    /// 0..=100 (see the module docs).
    pub confidence: u8,
    /// Its accounts.
    pub accounts: Accounts,
    /// Requests of its accounts from their first flagged one on: flagged, and all.
    pub requests: Requests,
    /// Flagged share of the requests carrying its keys.
    pub flagged_share: f64,
    /// First and last flagged request, ms since the epoch.
    pub first_seen_ms: u64,
    /// See `first_seen_ms`.
    pub last_seen_ms: u64,
    /// Share of its flagged requests with an elicitation marker (chain of thought, rubric, logprobs).
    pub elicitation_share: f64,
    /// Mean score of its flagged requests.
    pub mean_score: f64,
    /// Reason codes of its flagged requests, most frequent first.
    pub reasons: Vec<ReasonCount>,
    /// Its keys, most accounts first (at most [`LISTED_KEYS`]).
    pub keys: Vec<KeyReport>,
    /// Number of its keys.
    pub keys_total: u64,
}

/// A campaign's accounts.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Accounts {
    /// Accounts in the tracker's table.
    pub count: u64,
    /// Distinct flagged accounts over its keys (HyperLogLog union; counts evicted ones too).
    pub estimate: u64,
    /// Account ids (keyed hashes), most flagged requests first (at most `Settings::sample`).
    pub sample: Vec<String>,
}

/// Request counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Requests {
    /// Flagged.
    pub flagged: u64,
    /// All.
    pub all: u64,
}

/// A reason code and how many flagged requests carried it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReasonCount {
    /// Reason code.
    pub code: &'static str,
    /// Flagged requests.
    pub count: u64,
}

/// One key of a campaign with its cluster's counts.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct KeyReport {
    /// Kind and id.
    #[serde(flatten)]
    pub name: KeyName,
    /// Distinct flagged accounts with this key.
    pub accounts: u64,
    /// Requests with this key since its first flagged one.
    pub requests: u64,
    /// Of those, flagged.
    pub flagged: u64,
}

fn find(parent: &mut [u32], mut i: u32) -> u32 {
    while let Some(&p) = parent.get(i as usize) {
        if p == i {
            break;
        }
        let gp = parent.get(p as usize).copied().unwrap_or(p);
        if let Some(x) = parent.get_mut(i as usize) {
            *x = gp;
        }
        i = gp;
    }
    i
}

fn union(parent: &mut [u32], a: u32, b: u32) {
    let (ra, rb) = (find(parent, a), find(parent, b));
    // The smaller index is the root: deterministic.
    let (lo, hi) = if ra < rb { (ra, rb) } else { (rb, ra) };
    if let Some(x) = parent.get_mut(hi as usize) {
        *x = lo;
    }
}

fn round4(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0
}

/// A cluster as the report sees it.
struct Cluster<'a> {
    e: &'a ClusterE,
    regs: &'a [u8],
    accounts: f64,
}

/// The registers of a cluster's distinct-account sketch as of `epoch` (its union slot when
/// current, its last slot when one behind), or `None` when older.
fn view<'a>(c: &Cluster<'a>, epoch: u32) -> Option<&'a [u8]> {
    let half = c.regs.len() / 2;
    let e = c.e.hll.epoch();
    if e == epoch {
        c.regs.get(half..)
    } else if e.wrapping_add(1) == epoch {
        c.regs.get(..half)
    } else {
        None
    }
}

/// Distinct accounts of the union of the clusters' sketches.
fn union_estimate(clusters: &[&Cluster], epoch: u32) -> f64 {
    let m = 1usize << HLL_P;
    let mut regs = vec![0u8; m];
    for c in clusters {
        if let Some(v) = view(c, epoch) {
            for (i, &b) in v.iter().enumerate() {
                for (j, r) in [b & 0x0f, b >> 4].into_iter().enumerate() {
                    if let Some(x) = regs.get_mut(2 * i + j) {
                        *x = (*x).max(r);
                    }
                }
            }
        }
    }
    let inv_sum: f64 = regs.iter().map(|&r| 1.0 / (1u64 << r) as f64).sum();
    estimate_from(m, inv_sum, regs.iter().filter(|&&r| r == 0).count())
}

/// Builds the report of `t` as of `now_ms` (see the module docs).
pub(super) fn build(t: &Tables, s: &Settings, now_ms: u64) -> Report {
    let window_ms = s.window_s as u64 * 1000;
    let live = |last: u64| window_ms == 0 || last.saturating_add(window_ms) >= now_ms;
    let epoch = (now_ms / t.epoch_ms) as u32;
    let mut accounts: Vec<&AccountE> = Vec::new();
    t.accounts.for_each(|_, _, a, _| {
        if a.flagged > 0 && live(a.last_ms) && a.flagged as f64 >= s.account_share * a.requests as f64 {
            accounts.push(a);
        }
    });
    let mut clusters: HashMap<u64, Cluster> = HashMap::new();
    t.clusters.for_each(|_, key, e, regs| {
        if e.flagged == 0 || !live(e.last_ms) {
            return;
        }
        let (regs, all) = regs.split_at(regs.len() / 2);
        let c = Cluster { e, regs, accounts: e.hll.estimate_at(regs, HLL_P, epoch) };
        if links(e, c.accounts, e.all.estimate_at(all, HLL_P, epoch), s.link_share) {
            clusters.insert(key, c);
        }
    });
    let mut parent: Vec<u32> = (0..accounts.len() as u32).collect();
    let mut first: HashMap<u64, u32> = HashMap::new();
    for (i, a) in accounts.iter().enumerate() {
        for &l in a.links.iter().filter(|&&l| l != 0 && clusters.contains_key(&l)) {
            match first.get(&l) {
                Some(&j) => union(&mut parent, i as u32, j),
                None => {
                    first.insert(l, i as u32);
                }
            }
        }
    }
    let mut groups: HashMap<u32, (Vec<&AccountE>, Vec<&Cluster>)> = HashMap::new();
    for (i, a) in accounts.iter().enumerate() {
        groups.entry(find(&mut parent, i as u32)).or_default().0.push(a);
    }
    let mut firsts: Vec<(u64, u32)> = first.into_iter().collect();
    firsts.sort_unstable();
    for (l, i) in firsts {
        if let (Some(g), Some(c)) = (groups.get_mut(&find(&mut parent, i)), clusters.get(&l)) {
            g.1.push(c);
        }
    }
    let mut campaigns: Vec<Campaign> = groups
        .into_values()
        .filter(|(a, c)| a.len() >= s.min_accounts as usize && c.iter().any(|c| c.accounts.round() >= s.min_accounts as f64))
        .map(|(a, c)| campaign(a, c, s, epoch))
        .collect();
    campaigns.sort_by(|x, y| y.accounts.count.cmp(&x.accounts.count).then_with(|| x.id.cmp(&y.id)));
    let total = campaigns.len() as u64;
    campaigns.truncate(s.max_campaigns as usize);
    Report {
        now_ms,
        window_s: s.window_s,
        min_accounts: s.min_accounts,
        requests: t.requests,
        flagged: t.flagged,
        accounts_tracked: accounts.len() as u64,
        campaigns_total: total,
        campaigns,
    }
}

/// One group's campaign.
fn campaign(mut accounts: Vec<&AccountE>, mut clusters: Vec<&Cluster>, s: &Settings, epoch: u32) -> Campaign {
    accounts.sort_by(|x, y| y.flagged.cmp(&x.flagged).then(x.id.cmp(&y.id)));
    clusters.sort_by(|x, y| {
        y.accounts.total_cmp(&x.accounts).then(y.e.flagged.cmp(&x.e.flagged)).then(x.e.key.hash.cmp(&y.e.key.hash))
    });
    let sum = |f: fn(&AccountE) -> u64| accounts.iter().map(|a| f(a)).sum::<u64>();
    let flagged = sum(|a| a.flagged as u64);
    let mut reasons: Vec<ReasonCount> = Signal::ALL
        .iter()
        .map(|sig| ReasonCount { code: sig.code(), count: accounts.iter().map(|a| a.reasons.get(sig.index()).copied().unwrap_or(0) as u64).sum() })
        .filter(|r| r.count > 0)
        .collect();
    reasons.sort_by_key(|r| std::cmp::Reverse(r.count));
    reasons.truncate(LISTED_REASONS);
    let (kf, kr) = clusters.iter().fold((0u64, 0u64), |(f, r), c| (f + c.e.flagged as u64, r + c.e.requests as u64));
    let share = kf as f64 / kr.max(1) as f64;
    let n = accounts.len() as f64;
    let mean = sum(|a| a.score_sum as u64) as f64 / flagged.max(1) as f64;
    let a = n / (n + s.min_accounts as f64);
    let confidence = (100.0 * a * share * (0.5 + 0.5 * mean / 100.0)).round().clamp(0.0, 100.0) as u8;
    // The id comes from the largest key of the first kind (in `Kind::ALL` order: client
    // environment first) that has `min_accounts` accounts alone.
    let big = |c: &&&Cluster| c.accounts.round() >= s.min_accounts as f64;
    let lead = Kind::ALL
        .iter()
        .find_map(|&k| clusters.iter().filter(big).find(|c| c.e.key.kind == k))
        .or(clusters.first())
        .map_or(0, |c| c.e.key.hash);
    Campaign {
        id: format!("{:016x}", crate::sketch::mix64(lead ^ 0xCA4A)),
        confidence,
        accounts: Accounts {
            count: accounts.len() as u64,
            estimate: union_estimate(&clusters, epoch).round().max(n) as u64,
            sample: accounts.iter().take(s.sample as usize).map(|a| format!("{:016x}", a.id)).collect(),
        },
        requests: Requests { flagged, all: sum(|a| a.requests as u64) },
        flagged_share: round4(share),
        first_seen_ms: accounts.iter().map(|a| a.first_ms).min().unwrap_or(0),
        last_seen_ms: accounts.iter().map(|a| a.last_ms).max().unwrap_or(0),
        elicitation_share: round4(sum(|a| a.elicited as u64) as f64 / flagged.max(1) as f64),
        mean_score: (mean * 10.0).round() / 10.0,
        reasons,
        keys: clusters
            .iter()
            .take(LISTED_KEYS)
            .map(|c| KeyReport {
                name: KeyName::from(&c.e.key),
                accounts: c.accounts.round() as u64,
                requests: c.e.requests as u64,
                flagged: c.e.flagged as u64,
            })
            .collect(),
        keys_total: clusters.len() as u64,
    }
}
