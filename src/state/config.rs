//! `state` section of a policy: windows, sketch precision, table capacities, and the memory
//! bound they imply. Validation reports every bad field with its path; nothing here
//! allocates the state itself (see [`super::State::new`]).

use serde::{Deserialize, Serialize};

use super::entries::{AccountE, AccountsE, AccountsRateE, FpAsnE, FpPrefixE, HarnessE, HarnessTaskE, TaskE, TemplateE};
use super::Entry;
use crate::policy::Errors;
use crate::sketch::hll::Hll;
use crate::sketch::small_hll::SmallHll;
use crate::sketch::table::Table;

/// Bytes added to the computed tables and sketches in [`StateConfig::memory_bound`]: the
/// `State` value itself (table headers, derived settings, at most half of this; a unit test
/// checks it), allocator bookkeeping for its ~40 heap blocks, and the 4 KiB `ln` table
/// shared by all states of a process ([`crate::sketch::ln_int`]).
pub const OVERHEAD_BYTES: usize = 8192;

/// Default `state.population_reference`. The shipped scenarios peak at 970-5,700 active
/// accounts in the window (`quality --held`), so their crowd counts are read unscaled.
pub const POPULATION_REFERENCE: u32 = 8_000;

/// Largest table capacity (entries).
pub const MAX_CAPACITY: u32 = 1 << 24;

/// State settings and bounds (`state` in a policy).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StateConfig {
    /// Keep cross-request state at all.
    pub enabled: bool,
    /// Hash seed of every sketch. Workers and nodes that merge state must share it (and the
    /// windows, precisions and bands below); merges between different shapes are refused.
    pub seed: u32,
    /// Window of distinct counts and shares, in seconds (60..=604800). Counts cover the
    /// last one to two windows (two rotating slots).
    pub window_s: u32,
    /// Window of per-account history (requests, elicitation share, prefixes, lightness), in
    /// seconds (60..=604800; a day by default). Longer than `window_s`: campaign accounts are
    /// light and slow (about a request an hour), so their history only shows over hours.
    pub account_window_s: u32,
    /// Long window of the agent-harness evidence (which tasks each harness's accounts began and
    /// which of them repeated another account's), in seconds (3600..=2419200; a week by
    /// default). Slow campaign accounts begin a task or two a day: their repeats only add up
    /// over days.
    pub long_window_s: u32,
    /// Slot of the request-rate estimators, in seconds (1..=3600); rates are per minute.
    pub rate_slot_s: u32,
    /// Time bucket of `cluster.synchrony`, in seconds (1..=3600).
    pub sync_bucket_s: u32,
    /// Precision of per-key distinct counts (4..=9: 16..512 registers, 4 bits each;
    /// standard error `1.04 / sqrt(2^p)`, 13% at 6).
    pub precision: u8,
    /// Precision of the global active-accounts count (4..=18).
    pub global_precision: u8,
    /// Bands of the template SimHash (1, 2, 4 or 8): near-duplicates that agree on any band
    /// share a template cluster. More bands: more recall, more chance collisions.
    pub template_bands: u8,
    /// Requests a cluster needs in the window before its elicitation share is measured (1..=1000000).
    pub min_requests: u32,
    /// Distinct accounts a cluster needs before its elicitation share is measured (1..=1000):
    /// a one-account cluster's share is that account's share again.
    pub min_cluster_accounts: u32,
    /// Requests an account needs in the window before its elicitation share is measured (1..=1000000).
    pub min_account_requests: u32,
    /// An account with at most this many requests in `account_window_s` counts as light (1..=1000000).
    pub light_max_requests: u32,
    /// Distinct accounts (over `account_window_s`) that make a task (the code identifier a
    /// prompt is about) *shared* (1..=100000).
    pub shared_task_accounts: u32,
    /// Shared tasks an account must have worked on (over `account_window_s`) to count as
    /// *broad* (1..=64).
    pub broad_tasks: u32,
    /// Distinct accounts on one task (over `account_window_s`) before it can be a *swarm's*
    /// task: one whose accounts are mostly broad (1..=100000).
    pub swarm_accounts: u32,
    /// Active accounts (the global distinct count over `window_s`) up to which the counts of
    /// the network- and client-wide crowds (`cluster.accounts_per_fp`, `_per_ja4`, `_per_asn`,
    /// `cluster.light_accounts_per_fp_asn`, `rate.fp`) are read as measured (1..=100000000).
    /// With more, they are read per this many active accounts: a popular SDK on a big
    /// network operator has more users the larger the deployment, and the default ramps
    /// were set on populations of at most ~this size.
    pub population_reference: u32,
    /// Entries of each keyed table (0 disables a table and the signals it feeds).
    pub capacity: Capacity,
}

/// Entries of each keyed table; each is rounded up to a multiple of 8 (0..=16777216).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Capacity {
    /// Accounts (rates, IP churn, elicitation share, lightness).
    pub accounts: u32,
    /// Header-shape fingerprints.
    pub fingerprints: u32,
    /// TLS JA4 fingerprints.
    pub ja4s: u32,
    /// Client /24 and /48 prefixes.
    pub prefixes: u32,
    /// ASNs.
    pub asns: u32,
    /// (fingerprint, prefix) pairs.
    pub fp_prefixes: u32,
    /// (fingerprint, ASN) pairs.
    pub fp_asns: u32,
    /// Template bands (each template occupies `template_bands` entries).
    pub templates: u32,
    /// Client environments (header shape, JA4 and installation header values).
    pub envs: u32,
    /// Task anchors (the code identifiers tasks are about).
    pub tasks: u32,
    /// Agent harnesses (tool sets).
    pub harnesses: u32,
    /// (harness, task anchor) pairs.
    pub harness_tasks: u32,
}

impl Default for Capacity {
    fn default() -> Self {
        Capacity {
            accounts: 65_536,
            fingerprints: 8_192,
            ja4s: 4_096,
            prefixes: 32_768,
            asns: 4_096,
            fp_prefixes: 16_384,
            fp_asns: 8_192,
            templates: 32_768,
            envs: 8_192,
            tasks: 16_384,
            harnesses: 1_024,
            harness_tasks: 8_192,
        }
    }
}

impl Default for StateConfig {
    fn default() -> Self {
        StateConfig {
            enabled: true,
            seed: 0x5eed_0001,
            window_s: 3_600,
            account_window_s: 86_400,
            long_window_s: 604_800,
            rate_slot_s: 60,
            sync_bucket_s: 10,
            precision: 6,
            global_precision: 12,
            template_bands: 4,
            min_requests: 20,
            min_cluster_accounts: 3,
            min_account_requests: 5,
            light_max_requests: 20,
            shared_task_accounts: 3,
            broad_tasks: 3,
            swarm_accounts: 5,
            population_reference: POPULATION_REFERENCE,
            capacity: Capacity::default(),
        }
    }
}

fn table_bytes<E: Entry>(cap: u32, p: u8) -> usize {
    Table::<E>::bytes_for(cap as usize, E::HLLS * SmallHll::bytes(p))
}

impl StateConfig {
    /// Records every invalid setting under `path`.
    pub fn validate(&self, path: &str, e: &mut Errors) {
        e.range(&format!("{path}.window_s"), self.window_s, 60, 604_800);
        e.range(
            &format!("{path}.account_window_s"),
            self.account_window_s,
            60,
            604_800,
        );
        e.range(&format!("{path}.long_window_s"), self.long_window_s, 3_600, 2_419_200);
        e.range(&format!("{path}.rate_slot_s"), self.rate_slot_s, 1, 3_600);
        e.range(
            &format!("{path}.sync_bucket_s"),
            self.sync_bucket_s,
            1,
            3_600,
        );
        e.range(
            &format!("{path}.precision"),
            self.precision,
            4,
            crate::sketch::small_hll::SMALL_MAX_P,
        );
        e.range(
            &format!("{path}.global_precision"),
            self.global_precision,
            crate::sketch::hll::MIN_P,
            crate::sketch::hll::MAX_P,
        );
        if ![1u8, 2, 4, 8].contains(&self.template_bands) {
            e.push(
                format!("{path}.template_bands"),
                format!("must be 1, 2, 4 or 8, got {}", self.template_bands),
            );
        }
        e.range(
            &format!("{path}.min_requests"),
            self.min_requests,
            1,
            1_000_000,
        );
        e.range(
            &format!("{path}.min_cluster_accounts"),
            self.min_cluster_accounts,
            1,
            1_000,
        );
        e.range(
            &format!("{path}.min_account_requests"),
            self.min_account_requests,
            1,
            1_000_000,
        );
        e.range(
            &format!("{path}.light_max_requests"),
            self.light_max_requests,
            1,
            1_000_000,
        );
        e.range(&format!("{path}.shared_task_accounts"), self.shared_task_accounts, 1, 100_000);
        e.range(&format!("{path}.broad_tasks"), self.broad_tasks, 1, 64);
        e.range(&format!("{path}.swarm_accounts"), self.swarm_accounts, 1, 100_000);
        e.range(&format!("{path}.population_reference"), self.population_reference, 1, 100_000_000);
        let c = &self.capacity;
        for (name, v) in [
            ("accounts", c.accounts),
            ("fingerprints", c.fingerprints),
            ("ja4s", c.ja4s),
            ("prefixes", c.prefixes),
            ("asns", c.asns),
            ("fp_prefixes", c.fp_prefixes),
            ("fp_asns", c.fp_asns),
            ("templates", c.templates),
            ("envs", c.envs),
            ("tasks", c.tasks),
            ("harnesses", c.harnesses),
            ("harness_tasks", c.harness_tasks),
        ] {
            e.range(&format!("{path}.capacity.{name}"), v, 0, MAX_CAPACITY);
        }
    }

    /// Upper bound of the state's memory in bytes, computed from the settings: every table
    /// (slot words, entries, register arenas, dirty bits), the global sketch's two slots,
    /// and [`OVERHEAD_BYTES`]. 0 when state is disabled.
    pub fn memory_bound(&self) -> usize {
        if !self.enabled {
            return 0;
        }
        self.table_bytes() + OVERHEAD_BYTES
    }

    /// Heap bytes of the preallocated tables and sketches (the bound without overhead).
    pub(crate) fn table_bytes(&self) -> usize {
        let c = &self.capacity;
        let p = self
            .precision
            .clamp(4, crate::sketch::small_hll::SMALL_MAX_P);
        table_bytes::<AccountE>(c.accounts, p)
            + table_bytes::<AccountsRateE>(c.fingerprints, p)
            + table_bytes::<AccountsE>(c.ja4s, p)
            + table_bytes::<AccountsRateE>(c.prefixes, p)
            + table_bytes::<AccountsE>(c.asns, p)
            + table_bytes::<FpPrefixE>(c.fp_prefixes, p)
            + table_bytes::<FpAsnE>(c.fp_asns, p)
            + table_bytes::<TemplateE>(c.templates, p)
            + table_bytes::<FpPrefixE>(c.envs, p)
            + table_bytes::<TaskE>(c.tasks, p)
            + table_bytes::<HarnessE>(c.harnesses, p)
            + table_bytes::<HarnessTaskE>(c.harness_tasks, p)
            + super::reputation::Reputation::bytes_for(c.accounts.min(MAX_CAPACITY) as usize)
            + 2 * Hll::bytes_for(
                self.global_precision
                    .clamp(crate::sketch::hll::MIN_P, crate::sketch::hll::MAX_P),
            )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::Policy;

    #[test]
    fn every_bad_field_is_reported_with_its_path() {
        let text = r#"{"state": {"window_s": 5, "precision": 12, "template_bands": 3, "min_requests": 0,
            "capacity": {"accounts": 99999999, "templates": 99999999}}}"#;
        let s = Policy::from_json(text).unwrap_err().to_string();
        for want in [
            "state.window_s: must be 60..=604800, got 5",
            "state.precision: must be 4..=9, got 12",
            "state.template_bands: must be 1, 2, 4 or 8, got 3",
            "state.min_requests: must be 1..=1000000, got 0",
            "state.capacity.accounts: must be 0..=16777216",
            "state.capacity.templates: must be 0..=16777216",
        ] {
            assert!(s.contains(want), "missing {want:?} in {s}");
        }
        let s = Policy::from_json(r#"{"state": {"capacty": {}}}"#)
            .unwrap_err()
            .to_string();
        assert!(s.contains("state.capacty: unknown field"), "{s}");
    }

    #[test]
    fn memory_bound_follows_the_settings() {
        let d = StateConfig::default();
        let b = d.memory_bound();
        assert!(b > 8 << 20 && b < 40 << 20, "{b}");
        let mut half = d.clone();
        half.capacity.accounts /= 2;
        assert!(half.memory_bound() < b);
        let mut wide = d.clone();
        wide.precision = 8;
        assert!(wide.memory_bound() > b);
        assert_eq!(
            StateConfig {
                enabled: false,
                ..d
            }
            .memory_bound(),
            0
        );
    }
}
