//! The filter's counters (`distill_guard.requests`, `.internal_error`, `.action.<a>`,
//! `.reason.<code>`, and `.body.held` / `.body.learned` / `.body.skipped`: requests held for
//! their body, bodies learned from as they streamed past, bodies `body.heavy_learn_one_in`
//! left unread; `.deployment.warnings`: warnings of the deployment checks logged;
//! `.deployment.windows`: windows of requests they judged), counted per VM in memory and
//! handed to the host in batches.
//!
//! One `proxy_increment_metric` per counter and per request (4-6 calls for a typical
//! verdict) is replaced by [`Pending::record`], a few array increments, and
//! [`Pending::drain`] on the root context's tick: one call per counter that changed since.
//! Counters therefore lag the requests by at most one tick period. Host-independent (the
//! filter maps [`Pending::drain`]'s indexes to metric ids), so it is unit-tested natively.
//! It does not define metrics or call the host.

use super::wire;
use crate::score::{Action, Verdict};
use crate::signal::Signal;

/// Number of counters: requests, internal errors, one per action, one per reason, bodies
/// held, learned from and skipped, deployment-check warnings and windows judged.
pub const COUNTERS: usize = 2 + Action::ALL.len() + Signal::COUNT + 5;
const REQUESTS: usize = 0;
const INTERNAL_ERROR: usize = 1;
const ACTIONS: usize = 2;
const REASONS: usize = ACTIONS + Action::ALL.len();
const HELD: usize = REASONS + Signal::COUNT;
const LEARNED: usize = HELD + 1;
const SKIPPED: usize = HELD + 2;
const DEPLOYMENT_WARNINGS: usize = HELD + 3;
const DEPLOYMENT_WINDOWS: usize = HELD + 4;

/// Metric name of counter `i` (`0..COUNTERS`); `None` past the end.
pub fn name(i: usize) -> Option<String> {
    match i {
        REQUESTS => Some(wire::REQUESTS_METRIC.to_string()),
        INTERNAL_ERROR => Some(wire::INTERNAL_ERROR_METRIC.to_string()),
        HELD => Some(wire::HELD_METRIC.to_string()),
        LEARNED => Some(wire::LEARNED_METRIC.to_string()),
        SKIPPED => Some(wire::SKIPPED_METRIC.to_string()),
        DEPLOYMENT_WARNINGS => Some(wire::DEPLOYMENT_WARNINGS_METRIC.to_string()),
        DEPLOYMENT_WINDOWS => Some(wire::DEPLOYMENT_WINDOWS_METRIC.to_string()),
        _ if i < REASONS => Action::ALL.get(i - ACTIONS).map(|&a| wire::action_metric(a)),
        _ => Signal::ALL.get(i - REASONS).map(|&s| wire::reason_metric(s)),
    }
}

/// Increments not yet handed to the host, indexed like [`name`].
#[derive(Debug, Clone)]
pub struct Pending {
    counts: [u64; COUNTERS],
}

impl Default for Pending {
    fn default() -> Self {
        Pending { counts: [0; COUNTERS] }
    }
}

impl Pending {
    /// Counts the verdict finally applied to one request.
    pub fn record(&mut self, v: &Verdict) {
        let reasons = v.reasons.iter().map(|r| REASONS + r.signal.index());
        let error = v.internal_error.then_some(INTERNAL_ERROR);
        for i in [REQUESTS, ACTIONS + v.enforced as usize].into_iter().chain(reasons).chain(error) {
            if let Some(c) = self.counts.get_mut(i) {
                *c += 1;
            }
        }
    }

    /// Counts an internal error that changed no verdict (the request itself is counted by
    /// [`Pending::record`]).
    pub fn internal_error(&mut self) {
        self.counts[INTERNAL_ERROR] += 1;
    }

    /// Counts a request held for its body.
    pub fn held(&mut self) {
        self.counts[HELD] += 1;
    }

    /// Counts a body learned from as it streamed past.
    pub fn learned(&mut self) {
        self.counts[LEARNED] += 1;
    }

    /// Counts a body the engine chose not to learn from (`body.heavy_learn_one_in`).
    pub fn skipped(&mut self) {
        self.counts[SKIPPED] += 1;
    }

    /// Counts a warning of the deployment checks the host logged
    /// ([`crate::Engine::take_notice`]).
    pub fn deployment_warning(&mut self) {
        self.counts[DEPLOYMENT_WARNINGS] += 1;
    }

    /// Counts a window of requests the deployment checks judged
    /// ([`crate::engine::Counters::checked_windows`]).
    pub fn deployment_window(&mut self) {
        self.counts[DEPLOYMENT_WINDOWS] += 1;
    }

    /// True when nothing is pending.
    pub fn is_empty(&self) -> bool {
        self.counts.iter().all(|&c| c == 0)
    }

    /// Calls `add(index, n)` for every counter with `n > 0` pending, and clears them.
    pub fn drain(&mut self, mut add: impl FnMut(usize, u64)) {
        for (i, c) in self.counts.iter_mut().enumerate() {
            if *c > 0 {
                add(i, std::mem::take(c));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::score::Reason;

    fn verdict(enforced: Action, reasons: &[Signal], internal_error: bool) -> Verdict {
        let reasons = reasons.iter().map(|&signal| Reason { signal, strength: 1.0, points: 1.0 }).collect();
        Verdict { action: enforced, enforced, reasons, internal_error, ..Default::default() }
    }

    fn drained(p: &mut Pending) -> Vec<(String, u64)> {
        let mut out = Vec::new();
        p.drain(|i, n| out.push((name(i).unwrap(), n)));
        out
    }

    #[test]
    fn names_cover_every_counter_once() {
        let names: Vec<String> = (0..COUNTERS).map(|i| name(i).unwrap()).collect();
        let mut unique = names.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), COUNTERS);
        assert_eq!(names[0], "distill_guard.requests");
        assert_eq!(names[1], "distill_guard.internal_error");
        assert!(names.contains(&"distill_guard.action.deny".to_string()));
        assert!(names.contains(&"distill_guard.reason.proxy.via".to_string()));
        assert!(names.contains(&"distill_guard.body.held".to_string()) && names.contains(&"distill_guard.body.learned".to_string()));
        assert!(names.contains(&"distill_guard.deployment.warnings".to_string()));
        assert!(names.contains(&"distill_guard.deployment.windows".to_string()));
        assert_eq!(name(COUNTERS), None);
    }

    #[test]
    fn batches_add_up_and_drain_once() {
        let mut p = Pending::default();
        assert!(p.is_empty());
        for _ in 0..3 {
            p.record(&verdict(Action::Allow, &[Signal::ProxyVia], false));
        }
        p.record(&verdict(Action::Deny, &[Signal::ProxyVia, Signal::FpListed], false));
        p.record(&verdict(Action::Allow, &[], true));
        p.internal_error();
        p.held();
        p.learned();
        p.learned();
        let mut got = drained(&mut p);
        got.sort();
        let mut want = vec![
            ("distill_guard.requests".to_string(), 5),
            ("distill_guard.action.allow".to_string(), 4),
            ("distill_guard.action.deny".to_string(), 1),
            ("distill_guard.reason.proxy.via".to_string(), 4),
            ("distill_guard.reason.fp.listed".to_string(), 1),
            ("distill_guard.internal_error".to_string(), 2),
            ("distill_guard.body.held".to_string(), 1),
            ("distill_guard.body.learned".to_string(), 2),
        ];
        want.sort();
        assert_eq!(got, want);
        assert!(p.is_empty());
        assert!(drained(&mut p).is_empty());
    }
}
