//! Deployment checks: what the traffic says about how the host and the policy were set up.
//!
//! Some settings, wrong, make whole families of signals misfire or go silent without any
//! error: the client address (`proxy.trusted_hops`, see [`crate::proxy::address`]), the
//! account key (`identity.headers`: an API whose key travels in another header, or a filter
//! earlier in the chain that replaced it with its own user id, leaves every request without an
//! account, and `rate.account`, `account.*`, the flag history and the campaign report's
//! accounts with nothing) and the bodies read (`body.paths`: an API on other paths, such as
//! Azure-style `/openai/deployments/{name}/chat/completions`, leaves the prompt signals with
//! nothing). Each check counts per window of [`WINDOW`] requests and judges the
//! window; [`Checks::take_notice`] hands the host one line to log when a judgement changes (a
//! warning, or its end) and again every [`REPEAT_MS`] of request time while a warning holds.
//!
//! Deliberately not here: any change to a verdict (a check says what the operator should fix;
//! acting on it would be an evasion oracle), and any header value or address but the network a
//! balancer sits in.

use crate::proxy::address::{AddressCheck, SHARE, WINDOW};
use crate::proxy::ClientAddress;

/// A warning that holds is logged again after this long (request time).
pub const REPEAT_MS: u64 = 3_600_000;
/// How every warning's line ends.
const UNCHANGED: &str = "verdicts are not changed by this check (see README \"Deployment checks\")";

/// When a check's judgement is worth a line: when its kind changes (0 is no warning), and
/// every [`REPEAT_MS`] while a warning holds.
#[derive(Debug, Clone, Copy, Default)]
struct Notice {
    kind: u8,
    since_ms: u64,
    due: bool,
}

impl Notice {
    fn judged(&mut self, kind: u8, now_ms: u64) {
        let repeat = kind != 0 && now_ms.saturating_sub(self.since_ms) >= REPEAT_MS;
        if kind != self.kind || repeat {
            (self.kind, self.since_ms, self.due) = (kind, now_ms, true);
        }
    }

    /// The kind to log, once.
    fn take(&mut self) -> Option<u8> {
        std::mem::take(&mut self.due).then_some(self.kind)
    }
}

/// What one request showed the checks.
#[derive(Debug, Clone, Copy, Default)]
pub struct Seen {
    /// The client address the engine read, and what its `X-Forwarded-For` showed.
    pub address: ClientAddress,
    /// It carried an account key.
    pub account: bool,
    /// A body followed that the policy reads.
    pub body_read: bool,
    /// A body followed that the policy does not read.
    pub body_unread: bool,
}

/// A share of each window's requests that is a warning from half of the window on (requests
/// without an account key; requests whose body is not read, while almost none is).
#[derive(Debug, Clone, Copy, Default)]
struct ShareCheck {
    n: u32,
    hits: u32,
    /// Requests that show the setting works (a body read): more than a tenth of the hits
    /// and there is no warning.
    works: u32,
    /// Percent of the last full window, when it is a warning.
    warning: Option<u8>,
}

impl ShareCheck {
    /// Counts one request; true when it closed a window.
    fn record(&mut self, hit: bool, works: bool) -> bool {
        self.n += 1;
        self.hits += u32::from(hit);
        self.works += u32::from(works);
        if self.n < WINDOW {
            return false;
        }
        let share = f64::from(self.hits) / f64::from(self.n);
        self.warning = (share >= SHARE && self.works * 10 <= self.hits).then(|| (100.0 * share).round() as u8);
        (self.n, self.hits, self.works) = (0, 0, 0);
        true
    }
}

/// The engine's deployment checks and their notices.
#[derive(Debug, Clone, Default)]
pub struct Checks {
    address: AddressCheck,
    identity: ShareCheck,
    body: ShareCheck,
    address_notice: Notice,
    identity_notice: Notice,
    body_notice: Notice,
}

impl Checks {
    /// Counts one request (what it showed, the policy's trusted hops, its time); true when it
    /// closed a window (every check's windows close together). Out of line: one call per
    /// request, and its code once in each module.
    #[inline(never)]
    pub fn record(&mut self, seen: Seen, trusted_hops: u32, now_ms: u64) -> bool {
        let closed = self.address.record(seen.address, trusted_hops);
        if closed {
            self.address_notice.judged(self.address.finding().kind(), now_ms);
        }
        if self.identity.record(!seen.account, false) {
            self.identity_notice.judged(u8::from(self.identity.warning.is_some()), now_ms);
        }
        if self.body.record(seen.body_unread, seen.body_read) {
            self.body_notice.judged(u8::from(self.body.warning.is_some()), now_ms);
        }
        closed
    }

    /// True when [`Checks::take_notice`] has a line.
    #[inline]
    pub fn has_notice(&self) -> bool {
        self.address_notice.due || self.identity_notice.due || self.body_notice.due
    }

    /// The next line to log (`identity_headers`: the policy's, named in the account-key
    /// warning), and whether it is a warning (else the end of one).
    pub fn take_notice(&mut self, identity_headers: &[String]) -> Option<(String, bool)> {
        if let Some(kind) = self.address_notice.take() {
            return Some(match self.address.finding().message().filter(|_| kind != 0) {
                Some(m) => (format!("{m}; {UNCHANGED}"), true),
                None => ("client address: the earlier warning no longer holds".to_string(), false),
            });
        }
        if let Some(kind) = self.identity_notice.take() {
            return Some(match self.identity.warning.filter(|_| kind != 0) {
                Some(percent) => (format!(
                    "warning: account key: {percent} % of the last {WINDOW} requests carried none of identity.headers ({}), so rate.account, the account.* signals, the flag history and the campaign report's accounts have nothing to go on for them; if your API's key travels in another header, or a filter before this one replaces it (with a user id, say), list that header in identity.headers; {UNCHANGED}",
                    identity_headers.join(", ")
                ), true),
                None => ("account key: the earlier warning no longer holds".to_string(), false),
            });
        }
        let kind = self.body_notice.take()?;
        Some(match self.body.warning.filter(|_| kind != 0) {
            Some(percent) => (format!(
                "warning: request bodies: {percent} % of the last {WINDOW} requests sent a body to a path body.paths does not list, and almost no body was read, so the prompt signals (templates, elicitation, tasks, agent harnesses) have nothing to go on; if your API's endpoints are on other paths (Azure-style /openai/deployments/NAME/chat/completions, a path prefix), list them in body.paths (a trailing * takes a prefix); {UNCHANGED}"
            ), true),
            None => ("request bodies: the earlier warning no longer holds".to_string(), false),
        })
    }
}

impl super::Counters {
    /// What the deployment checks judged, in one phrase (replay's summary, the tuning page):
    /// silence alone does not tell traffic with nothing wrong from too little to be judged.
    pub fn checks_summary(&self) -> String {
        let s = |k: u64| if k == 1 { "" } else { "s" };
        match (self.checked_windows, self.deployment_warnings) {
            (0, _) => format!("nothing judged (fewer than {WINDOW} requests)"),
            (n, 0) => format!("{n} window{} of {WINDOW} requests judged, no warning", s(n)),
            (n, w) => format!("{n} window{} of {WINDOW} requests judged, {w} warning line{}", s(n), s(w)),
        }
    }
}

#[cfg(test)]
#[path = "checks_tests.rs"]
mod tests;
