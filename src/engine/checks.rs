//! Deployment checks: what the traffic says about how the host and the policy were set up.
//!
//! Some settings, wrong, make whole families of signals misfire or go silent without any
//! error: the client address (`proxy.trusted_hops`, see [`crate::proxy::address`]) and the
//! account key (`identity.headers`: an API whose key travels in another header, or a filter
//! earlier in the chain that replaced it with its own user id, leaves every request without an
//! account, and `rate.account`, `account.*`, the flag history and the campaign report's
//! accounts with nothing). Each check counts per window of [`WINDOW`] requests and judges the
//! window; [`Checks::take_notice`] hands the host one line to log when a judgement changes (a
//! warning, or its end) and again every [`REPEAT_MS`] of request time while a warning holds.
//!
//! Deliberately not here: any change to a verdict (a check says what the operator should fix;
//! acting on it would be an evasion oracle), and any header value or address but the network a
//! balancer sits in.

use std::net::IpAddr;

use crate::proxy::address::{AddressCheck, Finding, SHARE, WINDOW};

/// A warning that holds is logged again after this long (request time).
pub const REPEAT_MS: u64 = 3_600_000;

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

/// Requests without an account key, per window.
#[derive(Debug, Clone, Copy, Default)]
struct IdentityCheck {
    n: u32,
    without: u32,
    /// Percent of the last full window without an account, when half or more.
    warning: Option<u8>,
}

impl IdentityCheck {
    /// Counts one request; true when it closed a window.
    fn record(&mut self, has_account: bool) -> bool {
        self.n += 1;
        self.without += u32::from(!has_account);
        if self.n < WINDOW {
            return false;
        }
        let share = f64::from(self.without) / f64::from(self.n);
        self.warning = (share >= SHARE).then(|| (100.0 * share).round() as u8);
        (self.n, self.without) = (0, 0);
        true
    }
}

/// The engine's deployment checks and their notices.
#[derive(Debug, Clone, Default)]
pub struct Checks {
    address: AddressCheck,
    identity: IdentityCheck,
    address_notice: Notice,
    identity_notice: Notice,
}

impl Checks {
    /// Counts one request: its client address and `X-Forwarded-For` entries as the engine read
    /// them, whether it carried an account key, the policy's settings and the request's time.
    /// Out of line: one call per request, and its code once in each module.
    #[inline(never)]
    pub fn record(&mut self, client: Option<IpAddr>, xff_entries: u64, has_account: bool, trusted_hops: u32, now_ms: u64) {
        if self.address.record(client, xff_entries, trusted_hops) {
            self.address_notice.judged(self.address.finding().kind(), now_ms);
        }
        if self.identity.record(has_account) {
            self.identity_notice.judged(u8::from(self.identity.warning.is_some()), now_ms);
        }
    }

    /// The client-address check's judgement of its last full window.
    pub fn address(&self) -> Finding {
        self.address.finding()
    }

    /// True when [`Checks::take_notice`] has a line.
    #[inline]
    pub fn has_notice(&self) -> bool {
        self.address_notice.due || self.identity_notice.due
    }

    /// The next line to log (`identity_headers`: the policy's, named in the account-key
    /// warning), and whether it is a warning (else the end of one).
    pub fn take_notice(&mut self, identity_headers: &[String]) -> Option<(String, bool)> {
        if let Some(kind) = self.address_notice.take() {
            return Some(match self.address.finding().message().filter(|_| kind != 0) {
                Some(m) => (m, true),
                None => ("client address: the earlier warning no longer holds".to_string(), false),
            });
        }
        let kind = self.identity_notice.take()?;
        Some(match self.identity.warning.filter(|_| kind != 0) {
            Some(percent) => (format!(
                "warning: account key: {percent} % of the last {WINDOW} requests carried none of identity.headers ({}), so rate.account, the account.* signals, the flag history and the campaign report's accounts have nothing to go on for them; if your API's key travels in another header, or a filter before this one replaces it (with a user id, say), list that header in identity.headers; verdicts are not changed by this check (see README \"Deployment checks\")",
                identity_headers.join(", ")
            ), true),
            None => ("account key: the earlier warning no longer holds".to_string(), false),
        })
    }
}

#[cfg(test)]
#[path = "checks_tests.rs"]
mod tests;
