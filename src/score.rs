//! Turns fired signals into a score, reason codes and an action.
//!
//! The score is the sum of `weight * strength` over fired signals, capped at 100; the action
//! is the highest threshold the score reaches. Shadow mode keeps the computed action in the
//! verdict but [`Verdict::enforced`] never goes past `tag`. This module does not decide what
//! a host sends back: see [`crate::respond`].

use crate::policy::{Mode, Policy, Route, SignalCfg, Thresholds};
use crate::signal::{Fired, Signal};

/// What to do with a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum Action {
    /// Forward (with tag headers).
    #[default]
    Allow,
    /// Forward with tag headers; the origin may treat it differently.
    Tag,
    /// Answer 429 with `Retry-After`.
    Throttle,
    /// Answer 403.
    Deny,
}

impl Action {
    /// Lowercase name used in headers and JSON.
    pub const fn as_str(self) -> &'static str {
        match self {
            Action::Allow => "allow",
            Action::Tag => "tag",
            Action::Throttle => "throttle",
            Action::Deny => "deny",
        }
    }

    /// All actions, mildest first.
    pub const ALL: [Action; 4] = [Action::Allow, Action::Tag, Action::Throttle, Action::Deny];
}

/// One contributing signal: its code and the points it added.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Reason {
    /// The signal.
    pub signal: Signal,
    /// Strength it fired with (0..=1).
    pub strength: f32,
    /// Points it added to the score (weight x strength, before the cap).
    pub points: f32,
}

/// Per-signal weights and thresholds, compiled from a policy for the hot path.
#[derive(Debug, Clone)]
pub struct Weights {
    weight: [f32; Signal::COUNT],
    ramp: [(f64, f64); Signal::COUNT],
    tag: u32,
    throttle: u32,
    deny: u32,
    shadow: bool,
}

impl Weights {
    /// Compiles the weights of a validated policy.
    pub fn new(p: &Policy) -> Self {
        Self::build(p.mode, p.thresholds, |s| p.signal(s))
    }

    /// Compiles the weights of route `r` of the validated policy `p`: the route's overrides
    /// merged over the global settings.
    pub fn for_route(p: &Policy, r: &Route) -> Self {
        Self::build(r.mode(p), r.thresholds(p), |s| r.signal(p, s))
    }

    fn build(mode: Mode, t: Thresholds, cfg: impl Fn(Signal) -> SignalCfg) -> Self {
        let mut weight = [0.0; Signal::COUNT];
        let mut ramp = [(0.0, 1.0); Signal::COUNT];
        for &s in Signal::ALL {
            let c = cfg(s);
            weight[s.index()] = c.weight as f32;
            if let (Some(from), Some(full)) = (c.from, c.full) {
                ramp[s.index()] = (from, full);
            }
        }
        Weights { weight, ramp, tag: t.tag, throttle: t.throttle, deny: t.deny, shadow: mode == Mode::Shadow }
    }

    /// The `(from, full)` ramp of a graded signal.
    #[inline]
    pub fn ramp(&self, s: Signal) -> (f64, f64) {
        self.ramp[s.index()]
    }

    /// The weight of `s` in the policy.
    #[inline]
    pub fn weight(&self, s: Signal) -> f32 {
        self.weight[s.index()]
    }

    /// True when the signal has a non-zero weight (so computing it is worth it).
    #[inline]
    pub fn active(&self, s: Signal) -> bool {
        self.weight[s.index()] > 0.0
    }

    /// Fires graded signal `s` from its measured level.
    #[inline]
    pub fn fire_level(&self, fired: &mut Fired, s: Signal, level: f64) {
        let (from, full) = self.ramp[s.index()];
        let st = crate::signal::ramp(level, from, full);
        if st > 0.0 {
            fired.set(s, st);
        }
    }

    /// The factor the crowd signals' points are scaled by: 1, or for an account with an
    /// established, ordinary history ([`Fired::ordinary`]) whatever keeps them from lifting
    /// the score to the next action: they may add at most `tag - 1 - own` points (`own`: the
    /// other signals' points), nothing once `own` reaches `tag`.
    fn crowd_factor(&self, fired: &Fired) -> f32 {
        if !fired.ordinary {
            return 1.0;
        }
        let (mut own, mut crowd) = (0.0f32, 0.0f32);
        for (s, st) in fired.iter() {
            let p = self.weight[s.index()] * st;
            if s.crowd() {
                crowd += p;
            } else {
                own += p;
            }
        }
        let room = (self.tag as f32 - 1.0 - own).max(0.0);
        if crowd <= room || crowd <= 0.0 {
            1.0
        } else {
            room / crowd
        }
    }

    /// Scores the fired signals: (score 0..=100, reasons by points descending, action).
    /// The crowd signals of an established, ordinary account are scaled down as
    /// [`Weights::crowd_factor`] says (their reasons show the points they added).
    pub fn score(&self, fired: &Fired) -> (u8, Vec<Reason>, Action) {
        let f = self.crowd_factor(fired);
        let mut reasons: Vec<Reason> = fired
            .iter()
            .filter_map(|(signal, strength)| {
                let points = self.weight[signal.index()] * strength * if signal.crowd() { f } else { 1.0 };
                (points > 0.0).then_some(Reason { signal, strength, points })
            })
            .collect();
        crate::util::insertion_sort_by(&mut reasons, |a, b| b.points.total_cmp(&a.points).then(a.signal.cmp(&b.signal)));
        let total: f32 = reasons.iter().map(|r| r.points).sum();
        let score = total.round().clamp(0.0, 100.0) as u8;
        (score, reasons, self.action_for(score))
    }

    /// The score alone (no reasons list, no allocation).
    pub fn total(&self, fired: &Fired) -> u8 {
        let f = self.crowd_factor(fired);
        let t: f32 = fired.iter().map(|(s, st)| self.weight[s.index()] * st * if s.crowd() { f } else { 1.0 }).sum();
        t.round().clamp(0.0, 100.0) as u8
    }

    /// The score of the account's own behaviour: its prompt signals and its account-level
    /// state signals (`account.*` but `account.flag_history` itself, `rate.account`), when
    /// at least two independent ones add to it (else 0). An account's flag history counts a request as
    /// flagged only when this alone reaches `tag`: the client-shape, proxy-header and list
    /// signals that every request of one client or network path carries, and the cluster
    /// signals it shares with a crowd, never escalate the account; nor does one signal
    /// alone, which already gives its verdict on every request that carries it (a review bot
    /// on a fresh CI runner per job rotates addresses on every request, and nothing else).
    pub fn behaviour_total(&self, fired: &Fired) -> u8 {
        // Signals read from the same data count as one: the account's new prefixes
        // (`account.ip_rotation`) and its distinct prefixes (`account.ip_churn`) are one
        // address history (a review bot on fresh CI runners has both, and nothing else).
        let (mut signals, mut prefixes) = (0, false);
        let t: f32 = fired
            .iter()
            .filter(|&(s, _)| s.behaviour())
            .map(|(s, st)| (s, self.weight[s.index()] * st))
            .inspect(|&(s, c)| {
                let prefix = matches!(s, Signal::AccountIpRotation | Signal::AccountIpChurn);
                signals += usize::from(c > 0.0 && !(prefix && prefixes));
                prefixes |= prefix && c > 0.0;
            })
            .map(|(_, c)| c)
            .sum();
        if signals < 2 {
            return 0;
        }
        t.round().clamp(0.0, 100.0) as u8
    }

    /// The action a score maps to (before shadow mode).
    pub fn action_for(&self, score: u8) -> Action {
        let s = score as u32;
        if s >= self.deny {
            Action::Deny
        } else if s >= self.throttle {
            Action::Throttle
        } else if s >= self.tag {
            Action::Tag
        } else {
            Action::Allow
        }
    }

    /// True in shadow mode.
    pub fn shadow(&self) -> bool {
        self.shadow
    }
}

/// Fingerprints and identities computed for a request; all are exposed in the verdict.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Prints {
    /// Header-shape fingerprint (xxh3-64 of the normalized header-name sequence).
    pub hfp: u64,
    /// True when the host could not observe header order (the hfp is of the sorted names).
    pub order_free: bool,
    /// JA4H, when enabled in the policy.
    pub ja4h: Option<String>,
    /// TLS JA4 from the host.
    pub ja4: Option<String>,
    /// TLS JA3 from the host.
    pub ja3: Option<String>,
    /// Client family the User-Agent claims (`chrome`, `curl`, `anthropic-sdk-python`, ...).
    pub client: &'static str,
    /// Keyed hash of the account key, when one was found.
    pub account: Option<u64>,
    /// SimHash of the per-request template (the latest user text, or the task in an agent loop), when a prompt was read.
    pub template: Option<u64>,
    /// SimHash of the task (the first user text turn).
    pub task: Option<u64>,
    /// Fingerprint of the tool definitions.
    pub tool_set: Option<u64>,
}

/// The engine's answer for one request.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Verdict {
    /// Action the score maps to (in shadow mode too).
    pub action: Action,
    /// Action the host must take: equals `action`, except that shadow mode caps it at `tag`.
    pub enforced: Action,
    /// Score 0..=100.
    pub score: u8,
    /// Contributing signals, largest contribution first.
    pub reasons: Vec<Reason>,
    /// Fingerprints and identities.
    pub fp: Prints,
    /// Index of the policy route that applied (`routes[i]`), when one matched.
    pub route: Option<u16>,
    /// True when an allowlist matched (score 0, no reasons).
    pub allowlisted: bool,
    /// True when the verdict came from the internal-error path (fail open / fail closed).
    pub internal_error: bool,
    /// True when the request was held for its body and the body's evidence is in the
    /// verdict (false: decided at the headers).
    pub held: bool,
}

impl Verdict {
    /// Reason codes, comma-separated, largest contribution first (empty when none).
    pub fn reason_codes(&self) -> String {
        let mut s = String::new();
        for (i, r) in self.reasons.iter().enumerate() {
            if i > 0 {
                s.push(',');
            }
            s.push_str(r.signal.code());
        }
        s
    }

    /// `hfp` as 16 lowercase hex digits.
    pub fn hfp_hex(&self) -> String {
        format!("{:016x}", self.fp.hfp)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn score_sums_caps_and_maps_to_actions() {
        let p = Policy::default();
        let w = Weights::new(&p);
        let mut f = Fired::default();
        assert_eq!(w.score(&f).2, Action::Allow);
        f.fire(Signal::ProxyConnection); // 20
        f.fire(Signal::ProxyAuthorization); // 30
        let (score, reasons, action) = w.score(&f);
        assert_eq!(score, 50);
        assert_eq!(action, Action::Tag);
        assert_eq!(reasons[0].signal, Signal::ProxyAuthorization);
        f.fire(Signal::IpKnownProxy);
        f.fire(Signal::FpListed);
        let (score, _, action) = w.score(&f);
        assert_eq!(score, 100);
        assert_eq!(action, Action::Deny);
    }

    /// The flag history's evidence: two independent account signals, not one, and not the
    /// two read from the account's prefixes.
    #[test]
    fn behaviour_needs_two_independent_account_signals() {
        let w = Weights::new(&Policy::from_json(r#"{"signals": {"account_ip_rotation": {"weight": 30},
            "account_ip_churn": {"weight": 30}, "account_asn_rotation": {"weight": 30}, "prompt_cot": {"weight": 30}}}"#).unwrap());
        let total = |signals: &[Signal]| {
            let mut f = Fired::default();
            signals.iter().for_each(|&s| f.set(s, 1.0));
            w.behaviour_total(&f)
        };
        assert_eq!(total(&[Signal::AccountIpRotation]), 0);
        assert_eq!(total(&[Signal::AccountIpRotation, Signal::AccountIpChurn]), 0, "one address history");
        assert_eq!(total(&[Signal::AccountIpRotation, Signal::AccountAsnRotation]), 60);
        assert_eq!(total(&[Signal::AccountIpChurn, Signal::PromptCot]), 60);
        assert_eq!(total(&[Signal::AccountIpRotation, Signal::AccountIpChurn, Signal::PromptCot]), 90);
        // Client shape, proxy headers and clusters are never the account's behaviour.
        assert_eq!(total(&[Signal::AccountIpRotation, Signal::ProxyVia]), 0);
    }

    #[test]
    fn graded_signals_follow_their_ramp() {
        let w = Weights::new(&Policy::default());
        let mut f = Fired::default();
        w.fire_level(&mut f, Signal::RateAccount, 75.0); // ramp 30..120 -> 0.5
        assert!((f.get(Signal::RateAccount) - 0.5).abs() < 1e-6);
        w.fire_level(&mut f, Signal::RatePrefix, 10.0);
        assert_eq!(f.get(Signal::RatePrefix), 0.0);
    }
}
