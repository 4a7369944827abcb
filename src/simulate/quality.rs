//! Detection quality: simulate a scenario, replay it through one [`Engine`] exactly as
//! `distill-guard replay` does (each line parsed with [`traffic::parse_line`], the body cut
//! at the policy's limit), and measure, per campaign and for the legitimate traffic:
//!
//! - **campaign flagged after warm-up**: share of the campaign's requests with
//!   `action >= tag`, skipping the campaign's first [`WARMUP`] requests (the state needs
//!   traffic before clusters show);
//! - **legit flagged** / **legit denied**: share of legitimate requests with
//!   `action >= tag` / `action == deny` (all of them, no warm-up);
//! - **missed by the account's request number** (`--misses`): the campaign's requests after
//!   the warm-up that were not flagged, by how many requests their account had sent until
//!   then ([`NTH`]): whether what passes is accounts' first requests or their steady work;
//! - **detected after**: the smallest `k >= WINDOW` such that at least half of the
//!   campaign's requests `k - WINDOW + 1 ..= k` (1-based, in time order) are flagged, i.e.
//!   the campaign request count at which a rolling window of [`WINDOW`] requests first
//!   reaches 50 % flagged; `never` when no window does.
//!
//! `action` is the policy's decision before shadow mode caps enforcement. [`Without`] removes
//! peer facts from every record before the engine sees it, to measure a deployment that lacks
//! them (an Envoy without a geo database has no ASN or country). It prints Markdown; it does
//! not tune anything.

use crate::engine::Engine;
use crate::policy::Policy;
use crate::score::Action;
use crate::traffic;

use super::population::SEGMENTS;
use super::{generate, Event, Scenario, Without};

/// Campaign requests skipped before measuring the flagged share.
pub const WARMUP: u64 = 2000;
/// Rolling window of campaign requests for the detection point.
pub const WINDOW: usize = 100;
/// Buckets of an account's request number (1-based, its requests since the run's start): the
/// last number of each, and its label.
pub const NTH: [(u32, &str); 8] = [(1, "1st"), (2, "2nd"), (3, "3rd"), (5, "4-5th"), (10, "6-10th"), (20, "11-20th"), (50, "21-50th"), (u32::MAX, "51st on")];

/// Pass / fail targets.
#[derive(Debug, Clone, Copy)]
pub struct Targets {
    /// Minimum share of campaign requests flagged after warm-up.
    pub campaign_flagged: f64,
    /// Maximum share of legitimate requests flagged.
    pub legit_flagged: f64,
    /// Maximum share of legitimate requests denied.
    pub legit_denied: f64,
}

impl Default for Targets {
    fn default() -> Self {
        Targets { campaign_flagged: 0.95, legit_flagged: 0.005, legit_denied: 0.0005 }
    }
}

/// Counts for one campaign in one run.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CampaignCounts {
    /// Campaign name.
    pub name: String,
    /// Share of the requests after the warm-up that must be flagged (0: no campaign-side
    /// target, see [`super::scenario::Campaign::target_flagged`]).
    pub target: f64,
    /// Requests.
    pub requests: u64,
    /// Requests after the warm-up.
    pub measured: u64,
    /// Of those, flagged.
    pub flagged: u64,
    /// The detection point (see the module docs).
    pub detected_after: Option<u64>,
    /// Requests after the warm-up, and of those not flagged, by their account's request
    /// number ([`NTH`] buckets).
    pub by_nth: [[u64; 2]; NTH.len()],
    window: Vec<bool>,
    in_window: usize,
    /// Requests so far per account.
    sent: std::collections::HashMap<u64, u32>,
}

impl CampaignCounts {
    fn observe(&mut self, flagged: bool, account: Option<u64>) {
        self.requests += 1;
        let nth = account.map(|a| {
            let n = self.sent.entry(a).or_default();
            *n = n.saturating_add(1);
            *n
        });
        if self.requests > WARMUP {
            self.measured += 1;
            self.flagged += u64::from(flagged);
            if let Some(b) = nth.and_then(|n| NTH.iter().position(|&(last, _)| n <= last)).and_then(|b| self.by_nth.get_mut(b)) {
                b[0] += 1;
                b[1] += u64::from(!flagged);
            }
        }
        if self.window.len() < WINDOW {
            self.window.resize(WINDOW, false);
        }
        let slot = ((self.requests - 1) % WINDOW as u64) as usize;
        if let Some(old) = self.window.get_mut(slot) {
            self.in_window = self.in_window + usize::from(flagged) - usize::from(*old);
            *old = flagged;
        }
        if self.detected_after.is_none() && self.requests >= WINDOW as u64 && self.in_window * 2 >= WINDOW {
            self.detected_after = Some(self.requests);
        }
    }
}

/// Counts for one (scenario, seed) run.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Run {
    /// Scenario name.
    pub scenario: String,
    /// Seed.
    pub seed: u64,
    /// Legitimate requests.
    pub legit: u64,
    /// Legitimate requests flagged.
    pub legit_flagged: u64,
    /// Legitimate requests denied.
    pub legit_denied: u64,
    /// Lines that failed to parse (should be 0).
    pub errors: u64,
    /// Per campaign.
    pub campaigns: Vec<CampaignCounts>,
    /// Legitimate requests per segment (order of `population::SEGMENTS`): total, flagged, denied.
    pub segments: Vec<[u64; 3]>,
    /// Legitimate requests per client family: total, flagged, denied.
    pub families: std::collections::BTreeMap<&'static str, [u64; 3]>,
    /// Requests held for their body before the verdict: legitimate, campaign.
    pub held: [u64; 2],
    /// Requests whose body was read (held, or learned from after the verdict): legitimate,
    /// campaign; and those whose body `body.heavy_learn_one_in` left unread.
    pub scanned: [u64; 2],
    /// See `scanned`.
    pub skipped: [u64; 2],
    /// Most active accounts the state's window held (its global estimate, read every 1,000
    /// requests): the population size the crowd counts were measured at.
    pub peak_active: f64,
}

/// Simulates `scenario` with `seed` and replays it through a fresh engine for `policy`,
/// each record without the peer facts `without` names.
pub fn run(scenario: &Scenario, seed: u64, policy: &Policy, without: Without) -> Result<Run, String> {
    let mut sim = generate(scenario, seed)?;
    let mut engine = Engine::new(policy.clone());
    let limit = engine.body_limit();
    let mut out = Run {
        scenario: scenario.name.clone(),
        seed,
        campaigns: sim
            .labels()
            .iter()
            .skip(1)
            .zip(&scenario.campaigns)
            .map(|(n, c)| CampaignCounts { name: n.clone(), target: c.target_flagged, ..Default::default() })
            .collect(),
        segments: vec![[0; 3]; SEGMENTS.len()],
        ..Run::default()
    };
    let mut inspected = 0u64;
    while let Some(Event { label, segment, family, line }) = sim.next_event() {
        let Ok(dec) = traffic::parse_line(&line) else {
            out.errors += 1;
            continue;
        };
        let mut req = dec.request(limit);
        without.apply(&mut req.peer);
        let before = engine.counters();
        let v = engine.inspect(&req);
        let after = engine.counters();
        let flagged = v.action >= Action::Tag;
        let side = usize::from(label > 0);
        out.held[side] += u64::from(v.held);
        out.scanned[side] += u64::from(v.held) + (after.learned - before.learned);
        out.skipped[side] += after.skipped - before.skipped;
        inspected += 1;
        if inspected % 1000 == 0 {
            out.peak_active = out.peak_active.max(engine.state().active_accounts(req.now_ms));
        }
        match label.checked_sub(1).and_then(|c| out.campaigns.get_mut(c)) {
            Some(c) => c.observe(flagged, v.fp.account),
            None => {
                out.legit += 1;
                out.legit_flagged += u64::from(flagged);
                out.legit_denied += u64::from(v.action == Action::Deny);
                let f = out.families.entry(family).or_default();
                f[0] += 1;
                f[1] += u64::from(flagged);
                f[2] += u64::from(v.action == Action::Deny);
                let seg = SEGMENTS.iter().position(|s| *s == segment).and_then(|i| out.segments.get_mut(i));
                if let Some(c) = seg {
                    c[0] += 1;
                    c[1] += u64::from(flagged);
                    c[2] += u64::from(v.action == Action::Deny);
                }
            }
        }
    }
    Ok(out)
}

/// Runs every (scenario, seed) pair on up to `jobs` threads; results keep the input order.
#[cfg(not(target_arch = "wasm32"))]
pub fn run_all(scenarios: &[Scenario], seeds: &[u64], policy: &Policy, without: Without, jobs: usize) -> Vec<Result<Run, String>> {
    let work: Vec<(&Scenario, u64)> = scenarios.iter().flat_map(|s| seeds.iter().map(move |&seed| (s, seed))).collect();
    let next = std::sync::atomic::AtomicUsize::new(0);
    let results = std::sync::Mutex::new(vec![None; work.len()]);
    std::thread::scope(|scope| {
        for _ in 0..jobs.max(1) {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some((s, seed)) = work.get(i) else { break };
                let r = run(s, *seed, policy, without);
                if let Ok(mut all) = results.lock() {
                    if let Some(slot) = all.get_mut(i) {
                        *slot = Some(r);
                    }
                }
            });
        }
    });
    results.into_inner().unwrap_or_default().into_iter().map(|r| r.unwrap_or_else(|| Err("run did not finish".into()))).collect()
}

/// The scenarios of `runs`, each once, in first-seen order.
fn scenario_names(runs: &[Run]) -> Vec<&str> {
    let mut names: Vec<&str> = Vec::new();
    for r in runs {
        if !names.contains(&r.scenario.as_str()) {
            names.push(&r.scenario);
        }
    }
    names
}

fn pct(n: u64, d: u64) -> String {
    if d == 0 {
        "–".into()
    } else {
        format!("{:.2} %", 100.0 * n as f64 / d as f64)
    }
}

/// A Markdown table over `runs` (seeds of a scenario are summed; "detected after" shows
/// the worst seed) and whether every target was met.
pub fn table(runs: &[Run], t: &Targets) -> (String, bool) {
    let mut s = String::from(
        "| scenario | campaign | seeds | campaign req | legit req | campaign flagged after warm-up | legit flagged | legit denied | detected after (worst seed) | targets |\n|---|---|---|---|---|---|---|---|---|---|\n",
    );
    let mut all_ok = true;
    for name in scenario_names(runs) {
        let rs: Vec<&Run> = runs.iter().filter(|r| r.scenario == name).collect();
        let (legit, lf, ld) = rs.iter().fold((0, 0, 0), |a, r| (a.0 + r.legit, a.1 + r.legit_flagged, a.2 + r.legit_denied));
        let legit_ok = lf as f64 <= t.legit_flagged * legit as f64 && ld as f64 <= t.legit_denied * legit as f64;
        let campaigns: Vec<&str> = rs.first().map(|r| r.campaigns.iter().map(|c| c.name.as_str()).collect()).unwrap_or_default();
        let row = |s: &mut String, camp: &str, creq: String, flagged: String, det: String, ok: bool| {
            s.push_str(&format!(
                "| {name} | {camp} | {} | {creq} | {legit} | {flagged} | {} | {} | {det} | {} |\n",
                rs.len(),
                pct(lf, legit),
                pct(ld, legit),
                if ok { "met" } else { "MISSED" }
            ));
        };
        if campaigns.is_empty() {
            all_ok &= legit_ok;
            row(&mut s, "–", "0".into(), "–".into(), "–".into(), legit_ok);
        }
        for (i, camp) in campaigns.iter().enumerate() {
            let cs: Vec<&CampaignCounts> = rs.iter().filter_map(|r| r.campaigns.get(i)).collect();
            let (req, meas, fl) = cs.iter().fold((0, 0, 0), |a, c| (a.0 + c.requests, a.1 + c.measured, a.2 + c.flagged));
            let det = if cs.iter().any(|c| c.detected_after.is_none()) {
                "never".to_string()
            } else {
                cs.iter().filter_map(|c| c.detected_after).max().map_or("–".into(), |k| k.to_string())
            };
            // The scenario's own target (sticky and agentic campaigns: 90 %), never above the
            // general one; 0: not distillation, only the legitimate side is judged.
            let target = cs.first().map_or(t.campaign_flagged, |c| c.target.min(t.campaign_flagged));
            let ok = legit_ok && (target == 0.0 || (meas > 0 && fl as f64 >= target * meas as f64));
            all_ok &= ok;
            let flagged = match target {
                0.0 => format!("{} (no target: not distillation)", pct(fl, meas)),
                x if x < t.campaign_flagged => format!("{} (target {:.0} %)", pct(fl, meas), x * 100.0),
                _ => pct(fl, meas),
            };
            row(&mut s, camp, req.to_string(), flagged, det, ok);
        }
    }
    (s, all_ok)
}

/// Most legitimate requests of one client family that may be flagged (a target).
pub const FAMILY_FLAGGED: f64 = 0.01;

/// A Markdown table of legitimate requests flagged and denied per client family (all runs
/// summed), worst first, and whether every family stays within [`FAMILY_FLAGGED`].
pub fn family_table(runs: &[Run]) -> (String, bool) {
    let mut all: std::collections::BTreeMap<&str, [u64; 3]> = std::collections::BTreeMap::new();
    for r in runs {
        for (f, c) in &r.families {
            let e = all.entry(f).or_default();
            for i in 0..3 {
                e[i] += c[i];
            }
        }
    }
    let mut rows: Vec<(&str, [u64; 3])> = all.into_iter().collect();
    rows.sort_by(|a, b| (b.1[1] * a.1[0].max(1)).cmp(&(a.1[1] * b.1[0].max(1))).then(a.0.cmp(b.0)));
    let mut ok = true;
    let mut s = String::from("| client family | legit req | flagged | denied | target (<= 1 % flagged) |\n|---|---|---|---|---|\n");
    for (f, c) in rows {
        let fine = c[1] as f64 <= FAMILY_FLAGGED * c[0] as f64;
        ok &= fine;
        s.push_str(&format!("| {f} | {} | {} | {} | {} |\n", c[0], pct(c[1], c[0]), pct(c[2], c[0]), if fine { "met" } else { "MISSED" }));
    }
    (s, ok)
}

/// A Markdown table of the share of requests held for their body before the verdict, per
/// scenario (seeds summed): legitimate and campaign (what tiered inspection costs); the share
/// of legitimate requests whose body was read (held or learned from) and left unread by
/// `body.heavy_learn_one_in` (what learning costs); and the most active accounts any of its runs' windows held ([`Run::peak_active`]).
pub fn held_table(runs: &[Run]) -> String {
    let mut s = String::from("| scenario | legit held for the body | campaign held for the body | legit bodies read | legit bodies left unread | peak active accounts |\n|---|---|---|---|---|---|\n");
    for name in scenario_names(runs) {
        let rs = runs.iter().filter(|r| r.scenario == name);
        let (mut l, mut lh, mut c, mut ch, mut ls, mut lk, mut peak) = (0, 0, 0, 0, 0, 0, 0.0f64);
        for r in rs {
            l += r.legit;
            lh += r.held[0];
            c += r.campaigns.iter().map(|x| x.requests).sum::<u64>();
            ch += r.held[1];
            ls += r.scanned[0];
            lk += r.skipped[0];
            peak = peak.max(r.peak_active);
        }
        s.push_str(&format!("| {name} | {} | {} | {} | {} | {peak:.0} |\n", pct(lh, l), pct(ch, c), pct(ls, l), pct(lk, l)));
    }
    s
}

/// A Markdown table of the campaign requests after the warm-up that were not flagged, by their
/// account's request number ([`NTH`]), one row per campaign (seeds summed): each cell the
/// missed share of that bucket and its requests.
pub fn misses_table(runs: &[Run]) -> String {
    let mut s = String::from("| scenario | campaign | missed |");
    for (_, label) in NTH {
        s.push_str(&format!(" account's {label} |"));
    }
    s.push_str("\n|---|---|---|");
    s.push_str(&"---|".repeat(NTH.len()));
    s.push('\n');
    let mut rows: Vec<(&str, &str)> = Vec::new();
    for r in runs {
        for c in &r.campaigns {
            if !rows.contains(&(r.scenario.as_str(), c.name.as_str())) {
                rows.push((&r.scenario, &c.name));
            }
        }
    }
    for (scenario, name) in rows {
        let cs = runs.iter().filter(|r| r.scenario == scenario).flat_map(|r| r.campaigns.iter().filter(|c| c.name == name));
        let (mut measured, mut missed, mut by) = (0, 0, [[0u64; 2]; NTH.len()]);
        for c in cs {
            measured += c.measured;
            missed += c.measured - c.flagged;
            for (a, b) in by.iter_mut().zip(&c.by_nth) {
                a[0] += b[0];
                a[1] += b[1];
            }
        }
        s.push_str(&format!("| {scenario} | {name} | {} of {measured} |", pct(missed, measured)));
        for [n, m] in by {
            s.push_str(&format!(" {} of {n} |", pct(m, n)));
        }
        s.push('\n');
    }
    s
}

/// A Markdown table of legitimate requests flagged (and denied) per population segment,
/// one row per scenario (seeds summed): where false positives come from.
pub fn segment_table(runs: &[Run]) -> String {
    let segs: Vec<usize> = (0..SEGMENTS.len()).filter(|&i| runs.iter().any(|r| r.segments.get(i).is_some_and(|c| c[0] > 0))).collect();
    let mut s = String::from("| scenario |");
    for &i in &segs {
        s.push_str(&format!(" {} |", SEGMENTS.get(i).copied().unwrap_or("")));
    }
    s.push_str("\n|---|");
    s.push_str(&"---|".repeat(segs.len()));
    s.push('\n');
    for name in scenario_names(runs) {
        s.push_str(&format!("| {name} |"));
        for &i in &segs {
            let c = runs.iter().filter(|r| r.scenario == name).filter_map(|r| r.segments.get(i)).fold([0u64; 3], |a, c| [a[0] + c[0], a[1] + c[1], a[2] + c[2]]);
            s.push_str(&format!(" {} ({} denied) of {} |", pct(c[1], c[0]), pct(c[2], c[0]), c[0]));
        }
        s.push('\n');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detection_point_is_the_first_half_flagged_window() {
        let mut c = CampaignCounts::default();
        for i in 0..300u64 {
            c.observe(i >= 150 && i % 2 == 0 || i >= 200, None);
        }
        // Request j (1-based) is flagged when j-1 >= 200, or j-1 >= 150 and even.
        let expect = (100..=300u64)
            .find(|&k| ((k - 99)..=k).filter(|&j| (j - 1) >= 150 && (j - 1) % 2 == 0 || (j - 1) >= 200).count() >= 50)
            .unwrap();
        assert_eq!(c.detected_after, Some(expect));
        assert_eq!(c.measured, 0);
    }

    /// Misses are counted after the warm-up only, by the account's request number since the
    /// run's start (warm-up requests count toward it).
    #[test]
    fn misses_are_bucketed_by_the_accounts_request_number() {
        let mut c = CampaignCounts { name: "c".into(), ..Default::default() };
        // The warm-up: 2,000 requests of 1,000 accounts (two each).
        for i in 0..WARMUP {
            c.observe(false, Some(i % 1000));
        }
        // Then: account 0's 3rd (missed) and 4th (flagged), account 5000's 1st (missed), one
        // request without an account (missed, in no bucket).
        c.observe(false, Some(0));
        c.observe(true, Some(0));
        c.observe(false, Some(5000));
        c.observe(false, None);
        assert_eq!((c.measured, c.flagged), (4, 1));
        let mut expect = [[0u64; 2]; NTH.len()];
        expect[0] = [1, 1];
        expect[2] = [1, 1];
        expect[3] = [1, 0];
        assert_eq!(c.by_nth, expect);
        let run = Run { scenario: "s".into(), campaigns: vec![c], ..Run::default() };
        let t = misses_table(&[run.clone(), run]);
        assert!(t.contains("| s | c | 75.00 % of 8 | 100.00 % of 2 | – of 0 | 100.00 % of 2 | 0.00 % of 2 |"), "{t}");
    }

    #[test]
    fn table_marks_missed_targets() {
        let camp = CampaignCounts { name: "c".into(), target: 0.95, requests: 3000, measured: 1000, flagged: 900, detected_after: Some(120), ..Default::default() };
        let mut segments = vec![[0; 3]; SEGMENTS.len()];
        segments[0] = [10_000, 10, 0];
        let run = Run { scenario: "s".into(), seed: 1, legit: 10_000, legit_flagged: 10, legit_denied: 0, errors: 0, campaigns: vec![camp], segments, ..Run::default() };
        let seg = segment_table(std::slice::from_ref(&run));
        assert!(seg.contains("| s | 0.10 % (0.00 % denied) of 10000 |"), "{seg}");
        let (md, ok) = table(std::slice::from_ref(&run), &Targets::default());
        assert!(!ok && md.contains("MISSED") && md.contains("90.00 %") && md.contains("| 120 |"), "{md}");
        let mut good = run;
        good.campaigns[0].flagged = 990;
        assert!(table(&[good], &Targets::default()).1);
    }
}
