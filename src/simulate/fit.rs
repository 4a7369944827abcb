//! Fitting a policy's signal weights to labelled traffic: coordinate search over a grid of
//! weights, scoring each candidate policy by replaying every run through a fresh engine,
//! exactly as [`super::quality`] does (tiering, flag history and all).
//!
//! The objective is lexicographic in spirit: first stay within the legitimate-side limits
//! (flagged, denied, worst client family; each with a margin under the published targets),
//! then flag as much of every campaign as possible after its warm-up. Campaigns that are not
//! distillation (poisoning: random keys) are never rewarded for being flagged. It does not
//! decide what to fit on: callers pass the runs (scenarios, seeds, client mixes) and report
//! on others.

use crate::engine::Engine;
#[cfg(not(target_arch = "wasm32"))]
use crate::policy::SignalCfg;
use crate::policy::Policy;
use crate::score::Action;
#[cfg(not(target_arch = "wasm32"))]
use crate::signal::Signal;
use crate::traffic;

use super::quality::WARMUP;
use super::{generate, Event, Scenario};

/// Limits the fit keeps on the legitimate side (margins under the quality targets).
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Most legitimate requests flagged.
    pub legit_flagged: f64,
    /// Most legitimate requests denied.
    pub legit_denied: f64,
    /// Most requests of one client family flagged (families with at least
    /// [`MIN_FAMILY_REQUESTS`] requests).
    pub family_flagged: f64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { legit_flagged: 0.004, legit_denied: 0.0003, family_flagged: 0.008 }
    }
}

/// Families with fewer legitimate requests are too noisy to constrain.
pub const MIN_FAMILY_REQUESTS: u64 = 500;

/// One simulated run kept in memory: every line with its label, family and whether its
/// campaign counts for the objective.
pub struct Prepared {
    /// `scenario@seed`.
    pub name: String,
    lines: Vec<(u16, &'static str, String)>,
    /// Per label (index = label): counts for the objective (campaigns that distil).
    rewarded: Vec<bool>,
}

/// Simulates `scenario` with `seed` into memory.
pub fn prepare(scenario: &Scenario, seed: u64) -> Result<Prepared, String> {
    let mut sim = generate(scenario, seed)?;
    let mut rewarded = vec![false];
    rewarded.extend(scenario.campaigns.iter().map(|c| c.keys != "random"));
    let mut lines = Vec::with_capacity(sim.len());
    while let Some(Event { label, family, line, .. }) = sim.next_event() {
        lines.push((label as u16, family, line));
    }
    Ok(Prepared { name: format!("{}@{seed}", scenario.name), lines, rewarded })
}

/// What one candidate policy did on one run.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    legit: u64,
    legit_flagged: u64,
    legit_denied: u64,
    families: std::collections::BTreeMap<&'static str, [u64; 2]>,
    /// Per rewarded campaign: (measured after warm-up, flagged).
    campaigns: Vec<(u64, u64)>,
}

/// Replays `run` through a fresh engine for `policy`.
pub fn replay(run: &Prepared, policy: &Policy) -> Outcome {
    let mut engine = Engine::new(policy.clone());
    let limit = engine.body_limit();
    let mut seen = vec![0u64; run.rewarded.len()];
    let mut camp = vec![(0u64, 0u64); run.rewarded.len()];
    let mut out = Outcome::default();
    for (label, family, line) in &run.lines {
        let Ok(dec) = traffic::parse_line(line) else { continue };
        let v = engine.inspect(&dec.request(limit));
        let flagged = v.action >= Action::Tag;
        let l = *label as usize;
        if l == 0 {
            out.legit += 1;
            out.legit_flagged += u64::from(flagged);
            out.legit_denied += u64::from(v.action == Action::Deny);
            let f = out.families.entry(family).or_default();
            f[0] += 1;
            f[1] += u64::from(flagged);
        } else if let (Some(n), Some(c)) = (seen.get_mut(l), camp.get_mut(l)) {
            *n += 1;
            if *n > WARMUP {
                c.0 += 1;
                c.1 += u64::from(flagged);
            }
        }
    }
    out.campaigns = camp.into_iter().zip(&run.rewarded).skip(1).filter(|(_, &r)| r).map(|(c, _)| c).collect();
    out
}

/// The objective of outcomes summed over runs (higher is better) and a one-line summary.
pub fn objective(outcomes: &[Outcome], limits: &Limits) -> (f64, String) {
    let (mut legit, mut lf, mut ld) = (0u64, 0u64, 0u64);
    let mut fam: std::collections::BTreeMap<&str, [u64; 2]> = std::collections::BTreeMap::new();
    let mut shares = Vec::new();
    for o in outcomes {
        legit += o.legit;
        lf += o.legit_flagged;
        ld += o.legit_denied;
        for (f, c) in &o.families {
            let e = fam.entry(f).or_default();
            e[0] += c[0];
            e[1] += c[1];
        }
        shares.extend(o.campaigns.iter().filter(|c| c.0 > 0).map(|c| c.1 as f64 / c.0 as f64));
    }
    let l = lf as f64 / legit.max(1) as f64;
    let d = ld as f64 / legit.max(1) as f64;
    let (worst, worst_share) = fam
        .iter()
        .filter(|(_, c)| c[0] >= MIN_FAMILY_REQUESTS)
        .map(|(f, c)| (*f, c[1] as f64 / c[0] as f64))
        .fold(("-", 0.0), |a, b| if b.1 > a.1 { b } else { a });
    let penalty = 1000.0 * (l - limits.legit_flagged).max(0.0)
        + 1000.0 * (d - limits.legit_denied).max(0.0)
        + 100.0 * (worst_share - limits.family_flagged).max(0.0);
    let campaign = if shares.is_empty() { 0.0 } else { shares.iter().map(|s| s.min(0.995)).sum::<f64>() / shares.len() as f64 };
    let min = shares.iter().copied().fold(1.0f64, f64::min);
    let summary = format!(
        "campaigns mean {:.2} % (worst {:.2} %), legit flagged {:.3} % denied {:.3} %, worst family {worst} {:.2} %",
        100.0 * campaign,
        100.0 * min,
        100.0 * l,
        100.0 * d,
        100.0 * worst_share
    );
    // The worst campaign counts twice: a fit must not give one up for the others.
    (campaign + 0.5 * min - penalty, summary)
}

/// Replays every run (on up to `jobs` threads) and scores the policy.
#[cfg(not(target_arch = "wasm32"))]
pub fn evaluate(runs: &[Prepared], policy: &Policy, limits: &Limits, jobs: usize) -> (f64, String) {
    let next = std::sync::atomic::AtomicUsize::new(0);
    let results = std::sync::Mutex::new(Vec::with_capacity(runs.len()));
    std::thread::scope(|scope| {
        for _ in 0..jobs.max(1) {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some(run) = runs.get(i) else { break };
                let o = replay(run, policy);
                if let Ok(mut all) = results.lock() {
                    all.push(o);
                }
            });
        }
    });
    objective(&results.into_inner().unwrap_or_default(), limits)
}

/// Weights tried for each signal.
pub const GRID: &[u32] = &[0, 3, 6, 10, 15, 20, 25, 30, 40, 50, 60];

/// Coordinate search with local moves: for `rounds` rounds, each signal of `signals` in
/// turn steps along [`GRID`] (one step up or down from its weight, then on in the direction
/// that scored better) while the objective improves, the others fixed. About three
/// evaluations per signal per round. `log` receives a line per improvement.
#[cfg(not(target_arch = "wasm32"))]
pub fn coordinate_search(
    runs: &[Prepared],
    base: &Policy,
    signals: &[Signal],
    limits: &Limits,
    rounds: usize,
    jobs: usize,
    log: &mut dyn FnMut(&str),
) -> Policy {
    let mut best = base.clone();
    let (mut best_score, summary) = evaluate(runs, &best, limits, jobs);
    log(&format!("start: {best_score:.4} ({summary})"));
    let with = |p: &Policy, s: Signal, w: u32| {
        let mut c = p.clone();
        c.signals.insert(s.key().to_string(), SignalCfg { weight: w, ..p.signal(s) });
        c
    };
    for round in 0..rounds {
        let mut changed = false;
        for &s in signals {
            let w = best.signal(s).weight;
            // The grid position at or just above the current weight.
            let at = GRID.iter().position(|&g| g >= w).unwrap_or(GRID.len() - 1);
            for dir in [1isize, -1] {
                let mut pos = if GRID.get(at) == Some(&w) { at as isize } else if dir > 0 { at as isize - 1 } else { at as isize };
                let mut moved = false;
                loop {
                    pos += dir;
                    let Some(&cand_w) = usize::try_from(pos).ok().and_then(|p| GRID.get(p)) else { break };
                    let cand = with(&best, s, cand_w);
                    let (score, summary) = evaluate(runs, &cand, limits, jobs);
                    if score > best_score + 1e-6 {
                        log(&format!("round {} {}: {} -> {cand_w}: {score:.4} ({summary})", round + 1, s.key(), best.signal(s).weight));
                        best = cand;
                        best_score = score;
                        changed = true;
                        moved = true;
                    } else {
                        break;
                    }
                }
                if moved {
                    break;
                }
            }
        }
        if !changed {
            break;
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(legit: u64, lf: u64, camp: (u64, u64)) -> Outcome {
        Outcome { legit, legit_flagged: lf, campaigns: vec![camp], ..Outcome::default() }
    }

    #[test]
    fn objective_prefers_campaigns_within_the_limits() {
        let lim = Limits::default();
        let (good, _) = objective(&[outcome(100_000, 300, (1000, 950))], &lim);
        let (better, _) = objective(&[outcome(100_000, 300, (1000, 990))], &lim);
        let (noisy, _) = objective(&[outcome(100_000, 900, (1000, 1000))], &lim);
        assert!(better > good);
        assert!(good > noisy, "{good} vs {noisy}");
    }
}
