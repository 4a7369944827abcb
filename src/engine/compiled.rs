//! A validated policy compiled for the hot path: weights, CIDR sets, allow and block lists,
//! identity settings, the body paths and when to wait for a body. Built once per policy;
//! it holds no state and decides nothing by itself (see [`super::Engine`]).

use std::collections::HashSet;

use crate::policy::{Inspect, Policy};
use crate::proxy::CidrSet;
use crate::score::{Prints, Weights};

/// A policy compiled into lookup structures.
#[derive(Debug, Clone)]
pub struct Compiled {
    /// When a verdict waits for the body, and the header-phase scores that do.
    pub inspect: Inspect,
    /// `body.gray_zone` as `(from, to)`.
    pub gray_zone: (u32, u32),
    /// Weights, ramps and thresholds.
    pub weights: Weights,
    pub(super) datacenter: CidrSet,
    pub(super) known_proxy: CidrSet,
    pub(super) tor: CidrSet,
    pub(super) allow_cidrs: CidrSet,
    pub(super) allow_accounts: HashSet<u64>,
    pub(super) allow_fps: HashSet<String>,
    pub(super) block_fps: HashSet<String>,
    pub(super) identity_headers: Vec<String>,
    pub(super) identity_key: u64,
    pub(super) body_exact: Vec<Vec<u8>>,
    pub(super) body_prefix: Vec<Vec<u8>>,
}

impl Compiled {
    /// Compiles a validated policy.
    pub fn new(p: &Policy) -> Self {
        let lower = |v: &[String]| v.iter().map(|s| s.to_ascii_lowercase()).collect::<HashSet<_>>();
        let (body_prefix, body_exact): (Vec<_>, Vec<_>) = p.body.paths.iter().partition(|s| s.ends_with('*'));
        Compiled {
            inspect: p.inspect(),
            gray_zone: (p.body.gray_zone.from, p.body.gray_zone.to),
            weights: Weights::new(p),
            datacenter: CidrSet::new(&p.networks.datacenter),
            known_proxy: CidrSet::new(&p.networks.known_proxy),
            tor: CidrSet::new(&p.networks.tor),
            allow_cidrs: CidrSet::new(&p.allow.cidrs),
            allow_accounts: p.allow.accounts.iter().filter_map(|a| u64::from_str_radix(a, 16).ok()).collect(),
            allow_fps: lower(&p.allow.fingerprints),
            block_fps: lower(&p.block.fingerprints),
            identity_headers: p.identity.headers.iter().map(|h| h.to_ascii_lowercase()).collect(),
            identity_key: crate::identity::derive_key(&p.identity.hash_key),
            body_exact: body_exact.into_iter().map(|s| s.as_bytes().to_vec()).collect(),
            body_prefix: body_prefix.into_iter().map(|s| s.trim_end_matches('*').as_bytes().to_vec()).collect(),
        }
    }

    pub(super) fn listed(set: &HashSet<String>, prints: &Prints) -> bool {
        if set.is_empty() {
            return false;
        }
        let hex = format!("{:016x}", prints.hfp);
        set.contains(&hex)
            || [&prints.ja4, &prints.ja3, &prints.ja4h]
                .into_iter()
                .flatten()
                .any(|f| set.contains(&f.to_ascii_lowercase()))
    }
}

