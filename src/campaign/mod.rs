//! Campaign reports: from per-request verdicts to suspected campaigns, the list of accounts
//! a trust-and-safety team bans.
//!
//! A [`Tracker`] is fed every verdict with the cluster keys the engine computed for it
//! ([`crate::Engine::track_campaigns`] attaches one to an engine, which then feeds it from
//! both phases). It keeps two fixed-capacity tables: the cluster keys that carried flagged
//! requests (client environment, header shape x /24 or ASN, template band, task anchor:
//! [`keys`]) with their request counts and distinct flagged accounts, and the flagged
//! accounts with their counts, reasons and latest keys (`track`). [`Tracker::report`]
//! groups the accounts into campaigns through the keys that are mostly flagged, and
//! scores each with a confidence ([`report`] has the rules). One builder for every tool:
//! the CLI's `distill-guard campaigns`, the tuning page's campaigns panel and the Envoy
//! filter's log line print the same [`Report`].
//!
//! Mergeable: [`Tracker::snapshot`] writes a tracker's entries as bytes and
//! [`Tracker::merge_snapshot`] adds them to another's (`snapshot`), so trackers that each saw
//! part of the traffic (the worker VMs of one Envoy) report as one.
//!
//! Bounded: memory is allocated up front from the [`Settings`]
//! ([`Settings::memory_bound`]); a new account or key evicts the stalest entry of its table
//! bucket. Deterministic: no clock (time is the requests' `now_ms`), no randomness, fixed
//! hash seeds. Reports carry account ids (keyed hashes), hashes of keys and ASNs: never an
//! API key, an address or prompt text. It does not score requests or change verdicts.

pub mod keys;
pub mod report;
mod snapshot;
mod text;
mod track;

#[cfg(test)]
mod tests;

use std::fmt;

use serde_json::Value;

use crate::policy::{PolicyError, PolicyErrors};
use crate::score::Verdict;
use crate::state::Observation;

pub use report::{Campaign, Report};
pub use text::table;
pub use track::flagged;

/// Largest table capacity a setting may ask for.
pub const MAX_CAPACITY: u32 = 1 << 22;

/// What a tracker keeps and what its report lists. Every field has a default.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Settings {
    /// Distinct flagged accounts a campaign needs, in one of its keys and in all (2..).
    pub min_accounts: u32,
    /// Flagged accounts tracked (the accounts table's capacity).
    pub accounts: u32,
    /// Cluster keys tracked (the clusters table's capacity).
    pub clusters: u32,
    /// Flagged share of a key's requests from which it groups its accounts (0..=1).
    pub link_share: f64,
    /// Flagged share of an account's requests (from its first flagged one on) from which it
    /// belongs to a campaign (0..=1): a legitimate account flagged now and then stays out.
    pub account_share: f64,
    /// Only accounts and keys flagged in the last `window_s` seconds count; 0: all.
    pub window_s: u32,
    /// Account ids listed per campaign.
    pub sample: u32,
    /// Campaigns listed.
    pub max_campaigns: u32,
}

impl Default for Settings {
    fn default() -> Self {
        Settings { min_accounts: 10, accounts: 16_384, clusters: 4_096, link_share: 0.5, account_share: 0.5, window_s: 0, sample: 1_000, max_campaigns: 100 }
    }
}

impl Settings {
    /// Names of the settings, as in JSON.
    pub const KEYS: [&'static str; 8] = ["min_accounts", "accounts", "clusters", "link_share", "account_share", "window_s", "sample", "max_campaigns"];

    /// Heap bytes a tracker for these settings allocates (its tables; a report needs
    /// working memory of the same order while it is built).
    pub fn memory_bound(&self) -> usize {
        track::Tables::bytes_for(self) + std::mem::size_of::<Tracker>()
    }

    /// Settings from a JSON object (missing keys keep their defaults); every error names its
    /// path under `path` (`envoy.campaigns.min_accounts`).
    pub fn from_value(v: &Value, path: &str) -> Result<Settings, PolicyErrors> {
        let err = |p: String, m: String| PolicyError { path: p, message: m };
        let Value::Object(map) = v else {
            return Err(PolicyErrors(vec![err(path.to_string(), "expected an object".into())]));
        };
        let mut s = Settings::default();
        let mut errors = Vec::new();
        for (key, value) in map {
            let p = format!("{path}.{key}");
            if let Some(share) = match key.as_str() {
                "link_share" => Some(&mut s.link_share),
                "account_share" => Some(&mut s.account_share),
                _ => None,
            } {
                match value.as_f64() {
                    Some(x) if (0.0..=1.0).contains(&x) => *share = x,
                    _ => errors.push(err(p, format!("must be a number 0..=1, got {value}"))),
                }
                continue;
            }
            let (slot, lo, hi) = match key.as_str() {
                "min_accounts" => (&mut s.min_accounts, 2, 1_000_000),
                "accounts" => (&mut s.accounts, 0, MAX_CAPACITY),
                "clusters" => (&mut s.clusters, 0, MAX_CAPACITY),
                "window_s" => (&mut s.window_s, 0, 30 * 86_400),
                "sample" => (&mut s.sample, 0, 1_000_000),
                "max_campaigns" => (&mut s.max_campaigns, 0, 100_000),
                _ => {
                    errors.push(err(p, format!("unknown key (known: {})", Settings::KEYS.join(", "))));
                    continue;
                }
            };
            match value.as_u64() {
                Some(x) if x >= lo as u64 && x <= hi as u64 => *slot = x as u32,
                _ => errors.push(err(p, format!("must be a whole number {lo}..={hi}, got {value}"))),
            }
        }
        if errors.is_empty() {
            Ok(s)
        } else {
            Err(PolicyErrors(errors))
        }
    }
}

/// The bounded campaign tracker (see the module docs).
#[derive(Clone)]
pub struct Tracker {
    settings: Settings,
    tables: track::Tables,
    last_ms: u64,
}

impl fmt::Debug for Tracker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tracker").field("settings", &self.settings).field("requests", &self.tables.requests).finish_non_exhaustive()
    }
}

impl Tracker {
    /// A tracker with its tables allocated for `settings`.
    pub fn new(settings: Settings) -> Self {
        Tracker { tables: track::Tables::new(&settings), settings, last_ms: 0 }
    }

    /// Its settings.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Heap bytes allocated (equals the tables' part of [`Settings::memory_bound`]).
    pub fn allocated_bytes(&self) -> usize {
        self.tables.clusters.allocated_bytes() + self.tables.accounts.allocated_bytes()
    }

    /// Time of the latest request recorded (ms), 0 before the first.
    pub fn last_ms(&self) -> u64 {
        self.last_ms
    }

    /// Requests recorded.
    pub fn requests(&self) -> u64 {
        self.tables.requests
    }

    /// Records a verdict and the observation it was scored on (header keys; body keys too
    /// when the body was read before the verdict).
    pub fn record(&mut self, obs: &Observation, v: &Verdict) {
        self.last_ms = self.last_ms.max(obs.now_ms);
        self.tables.record(obs, v);
    }

    /// Records the body facts (template, task, elicitation) of a request already recorded
    /// at its headers; `flagged` is [`flagged`] of its verdict.
    pub fn learn(&mut self, obs: &Observation, flagged: bool) {
        self.tables.learn(obs, flagged);
    }

    /// The campaigns as of `now_ms` (see [`report`]).
    pub fn report(&self, now_ms: u64) -> Report {
        report::build(&self.tables, &self.settings, now_ms)
    }
}
