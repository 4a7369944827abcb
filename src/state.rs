//! Bounded cross-request state keyed by cluster keys, built from [`crate::sketch`]. (stub)

use serde::{Deserialize, Serialize};

use crate::policy::Errors;
use crate::signal::Levels;

/// State settings and bounds (`state` in a policy).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StateConfig {
    /// Keep cross-request state at all.
    pub enabled: bool,
}

impl Default for StateConfig {
    fn default() -> Self {
        StateConfig { enabled: true }
    }
}

impl StateConfig {
    /// Records every invalid setting under `path`.
    pub fn validate(&self, _path: &str, _e: &mut Errors) {}

    /// Upper bound of the state's memory in bytes, computed from the settings.
    pub fn memory_bound(&self) -> usize {
        0
    }
}

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

/// All cross-request state of one engine.
#[derive(Debug, Clone, Default)]
pub struct State {}

impl State {
    /// Allocates state for `cfg` (all memory up front; it never grows).
    pub fn new(_cfg: &StateConfig) -> Self {
        State {}
    }

    /// Records one request and measures the graded `cluster.*`, `account.*`, `rate.*` levels.
    pub fn observe(&mut self, _obs: &Observation, _levels: &mut Levels) {}
}
