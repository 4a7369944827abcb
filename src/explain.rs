//! Why a verdict scored what it did: each contributing signal with its measured level (for
//! graded signals), the policy's ramp and weight, the strength it fired with and the points
//! it added; and the measured levels of graded signals that added nothing (below their ramp,
//! or weighted 0), which tell an analyst how close a request came.
//!
//! One builder for every tool that explains a verdict: the CLI's `replay --explain` and the
//! tuning page's drill-down (through the wasm-bindgen `Run`). It only formats what the engine
//! measured ([`crate::Engine::inspect_levels`]); it does not run the engine.

use serde::Serialize;

use crate::score::{Reason, Weights};
use crate::signal::{Levels, Signal};

/// One contributing signal: `points = weight x strength`, `strength = ramp(level)` when graded.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReasonDetail {
    /// Reason code.
    pub code: &'static str,
    /// Measured level of a graded signal (distinct accounts, a share, a rate).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub level: Option<f64>,
    /// `[from, full]`: the level where a graded signal starts to fire and where it is at full strength.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ramp: Option<[f64; 2]>,
    /// Strength it fired with (0..=1).
    pub strength: f32,
    /// Its weight in the policy.
    pub weight: f32,
    /// Points it added (weight x strength, before the cap at 100).
    pub points: f32,
}

/// A graded signal that was measured but added no points.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LevelDetail {
    /// Reason code.
    pub code: &'static str,
    /// Measured level.
    pub level: f64,
    /// `[from, full]` ramp of the policy.
    pub ramp: [f64; 2],
    /// Its weight in the policy.
    pub weight: f32,
}

/// The explanation of one verdict.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Explanation {
    /// Contributing signals, in the verdict's reason order (largest contribution first).
    pub reasons: Vec<ReasonDetail>,
    /// Graded signals measured for the request that added no points, in catalogue order.
    pub measured: Vec<LevelDetail>,
}

/// The ramp of `s` under `w`, for graded signals only.
fn graded_ramp(w: &Weights, s: Signal) -> Option<[f64; 2]> {
    s.default_ramp().map(|_| {
        let (from, full) = w.ramp(s);
        [from, full]
    })
}

/// Explains `reasons` (a verdict's, in order) with the `levels` the engine measured for the
/// same request, under the weights and ramps `w` of the policy that scored it.
pub fn explain(w: &Weights, reasons: &[Reason], levels: &Levels) -> Explanation {
    let details = reasons
        .iter()
        .map(|r| ReasonDetail {
            code: r.signal.code(),
            level: levels.get(r.signal),
            ramp: graded_ramp(w, r.signal),
            strength: r.strength,
            weight: w.weight(r.signal),
            points: r.points,
        })
        .collect();
    let measured = levels
        .iter()
        .filter(|(s, _)| !reasons.iter().any(|r| r.signal == *s))
        .filter_map(|(s, level)| {
            graded_ramp(w, s).map(|ramp| LevelDetail { code: s.code(), level, ramp, weight: w.weight(s) })
        })
        .collect();
    Explanation { reasons: details, measured }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::Policy;
    use crate::signal::Fired;

    #[test]
    fn fired_signals_carry_level_ramp_weight_and_points() {
        let p = Policy::from_json(r#"{"signals": {"rate_account": {"weight": 20}, "rate_prefix": {"weight": 0}, "cluster_accounts_per_fp": {"weight": 5}}}"#).unwrap();
        let w = Weights::new(&p);
        let mut levels = Levels::default();
        levels.set(Signal::RateAccount, 75.0); // ramp 30..120 -> 0.5
        levels.set(Signal::RatePrefix, 5000.0); // fires, but weighted 0
        levels.set(Signal::ClusterAccountsPerFp, 3.0); // below its ramp
        let mut f = Fired::default();
        f.fire(Signal::ProxyVia);
        for (s, l) in levels.iter() {
            w.fire_level(&mut f, s, l);
        }
        let (score, reasons, _) = w.score(&f);
        assert_eq!(score, 20); // 10 (via) + 20 x 0.5
        let e = explain(&w, &reasons, &levels);
        let codes: Vec<_> = e.reasons.iter().map(|r| r.code).collect();
        assert_eq!(codes, ["proxy.via", "rate.account"]);
        assert_eq!(e.reasons[0].level, None);
        assert_eq!(e.reasons[0].ramp, None);
        let rate = &e.reasons[1];
        assert_eq!((rate.level, rate.ramp, rate.strength, rate.weight, rate.points), (Some(75.0), Some([30.0, 120.0]), 0.5, 20.0, 10.0));
        let measured: Vec<_> = e.measured.iter().map(|m| (m.code, m.level, m.weight)).collect();
        assert_eq!(measured, [("cluster.accounts_per_fp", 3.0, 5.0), ("rate.prefix", 5000.0, 0.0)]);
    }
}
