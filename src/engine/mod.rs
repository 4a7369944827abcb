//! The engine: a validated policy compiled for the hot path ([`Compiled`]), the
//! cross-request state, and the two phases that turn one [`Request`] into a [`Verdict`]
//! ([`tier`]): a header phase that decides at once or asks for the body, and a body phase
//! that either finishes a held request or learns from one already decided.
//!
//! [`Engine::inspect`] runs both phases on a request whose body prefix is at hand, exactly
//! as a host that streams would (replay, quality, the simulator and the tuning page use it,
//! so their numbers are what Envoy and the edge worker do). It owns no I/O: time comes in
//! the request, hosts apply the verdict (see [`crate::respond`]) and pass at most
//! [`Engine::body_limit`] bytes of a body.

pub mod checks;
mod compiled;
mod reader;
mod tier;

use std::net::IpAddr;

use crate::policy::{Policy, PolicyErrors};
use crate::proxy;
use crate::request::Request;
use crate::score::{Action, Verdict};
use crate::state::State;

pub use compiled::Compiled;
pub use reader::{BodyFacts, Reader};
pub use tier::{Decision, Held, Learn, ReadHeaders, ReadHeld};

/// Counters an engine keeps about itself (hosts export them as metrics).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counters {
    /// Requests inspected.
    pub requests: u64,
    /// Verdicts per enforced action, indexed like [`Action::ALL`].
    pub actions: [u64; 4],
    /// Internal errors (each answered by fail-open or fail-closed).
    pub internal_errors: u64,
    /// Bodies of requests decided at their headers that were learned from.
    pub learned: u64,
    /// Bodies of such requests left unread by `body.heavy_learn_one_in`.
    pub skipped: u64,
    /// Windows of requests the deployment checks judged ([`checks`]; none before the first
    /// full window).
    pub checked_windows: u64,
    /// Warnings the deployment checks handed out ([`Engine::take_notice`]).
    pub deployment_warnings: u64,
}

/// One policy, its compiled form, and the state it keeps.
#[derive(Debug, Clone)]
pub struct Engine {
    policy: Policy,
    compiled: Compiled,
    state: State,
    counters: Counters,
    /// What the traffic says about the deployment ([`checks`]).
    checks: checks::Checks,
    /// The campaign tracker, when a host attached one ([`Engine::track_campaigns`]).
    #[cfg(feature = "campaigns")]
    campaigns: Option<Box<crate::campaign::Tracker>>,
}

impl Engine {
    /// Builds an engine from a validated policy. Its state is allocated on first use
    /// ([`State::new_lazy`]).
    pub fn new(policy: Policy) -> Self {
        let compiled = Compiled::new(&policy);
        let state = State::new_lazy(&policy.state);
        Engine {
            policy,
            compiled,
            state,
            counters: Counters::default(),
            checks: checks::Checks::default(),
            #[cfg(feature = "campaigns")]
            campaigns: None,
        }
    }

    /// Parses, validates and compiles a policy document.
    pub fn from_json(text: &str) -> Result<Self, PolicyErrors> {
        Policy::from_json(text).map(Engine::new)
    }

    /// The policy this engine runs.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// The compiled policy.
    pub fn compiled(&self) -> &Compiled {
        &self.compiled
    }

    /// Cross-request state.
    pub fn state(&self) -> &State {
        &self.state
    }

    /// Cross-request state, for hosts that merge state between workers.
    pub fn state_mut(&mut self) -> &mut State {
        &mut self.state
    }

    /// Attaches a campaign tracker (replacing any): from now on every verdict and body
    /// this engine sees is recorded in it ([`crate::campaign`]). Off until a host asks.
    #[cfg(feature = "campaigns")]
    pub fn track_campaigns(&mut self, settings: crate::campaign::Settings) {
        self.campaigns = Some(Box::new(crate::campaign::Tracker::new(settings)));
    }

    /// The campaign tracker, when attached.
    #[cfg(feature = "campaigns")]
    pub fn campaigns(&self) -> Option<&crate::campaign::Tracker> {
        self.campaigns.as_deref()
    }

    /// Counters since the engine was built.
    pub fn counters(&self) -> Counters {
        self.counters
    }

    /// A line for the host's log from the deployment checks ([`checks`]: the client address,
    /// the account key, the bodies read), once, when a finding changed (a warning, `true`, or
    /// its end), and again at most hourly while a warning holds. Hosts call it after a
    /// request's header phase: without a line due it costs one inlined test. Checks never
    /// change a verdict.
    #[inline]
    pub fn take_notice(&mut self) -> Option<(String, bool)> {
        if !self.checks.has_notice() {
            return None;
        }
        let notice = self.checks.take_notice(&self.policy.identity.headers);
        self.counters.deployment_warnings += u64::from(notice.as_ref().is_some_and(|n| n.1));
        notice
    }

    /// True when the policy reads the body prefix of some request to `path` (query ignored),
    /// whatever its method: a host that knows the method asks [`Engine::wants_body_for`].
    pub fn wants_body(&self, path: &[u8]) -> bool {
        self.compiled.any_method_reads_body(path)
    }

    /// True when the policy reads the body prefix of a `method` request to `path` (query
    /// ignored): the path is on `body.paths` and the route it falls into (or the global
    /// `body`) reads more than 0 bytes.
    pub fn wants_body_for(&self, method: &[u8], path: &[u8]) -> bool {
        self.compiled.reads_body(self.compiled.route_for(method, path), path)
    }

    /// True when the verdict for `req` depends on the peer address: `X-Forwarded-For` does not
    /// give the client under the policy's `proxy.trusted_hops` (a host may skip reading the
    /// peer address otherwise; [`crate::proxy::forwarded_client`]).
    pub fn needs_peer_address(&self, req: &Request) -> bool {
        Self::peer_needed(&self.policy, req)
    }

    /// [`Engine::needs_peer_address`] of an engine built from `policy`.
    pub fn peer_needed(policy: &Policy, req: &Request) -> bool {
        proxy::forwarded_client(req, policy.proxy.trusted_hops).is_none()
    }

    /// Largest body prefix the engine reads of any request, in bytes (the global
    /// `body.max_bytes` or a route's, whichever is larger): a host may cut bodies there; the
    /// engine cuts each at its route's limit.
    pub fn body_limit(&self) -> usize {
        self.compiled.max_body_bytes()
    }

    /// Largest body prefix the engine reads of a `method` request to `path`, in bytes.
    pub fn body_limit_for(&self, method: &[u8], path: &[u8]) -> usize {
        self.compiled.settings(self.compiled.route_for(method, path)).max_bytes
    }

    /// The name the verdict's route goes by in outputs: the route's `name`, else its index.
    pub fn route_label(&self, v: &Verdict) -> Option<&str> {
        v.route.and_then(|i| self.compiled.route_label(i))
    }

    /// The verdict for a request the host could not inspect (internal error): allow, or
    /// deny with `fail_closed`. Counted in [`Counters::internal_errors`].
    pub fn internal_error(&mut self) -> Verdict {
        self.counters.internal_errors += 1;
        let action = if self.policy.fail_closed { Action::Deny } else { Action::Allow };
        let v = Verdict { action, enforced: action, internal_error: true, ..Default::default() };
        self.count(&v);
        v
    }

    pub(super) fn count(&mut self, v: &Verdict) {
        self.counters.requests += 1;
        self.counters.actions[v.enforced as usize] += 1;
    }

    /// Inspects one request whose body prefix (if any) is in `req.body`: the header phase,
    /// then the body phase the decision calls for ([`Engine::inspect_body`] for a held
    /// request, [`Engine::learn_body`] for one decided at its headers).
    #[inline]
    pub fn inspect(&mut self, req: &Request) -> Verdict {
        self.inspect_levels(req, &mut crate::signal::Levels::default())
    }
}

/// Hash of the client's /24 (IPv4) or /48 (IPv6) prefix: the cluster key for address blocks.
pub fn prefix_key(ip: IpAddr) -> u64 {
    let mut buf = [0u8; 7];
    match ip {
        IpAddr::V4(v4) => {
            buf[0] = 4;
            buf[1..4].copy_from_slice(&v4.octets()[..3]);
        }
        IpAddr::V6(v6) => {
            buf[0] = 6;
            buf[1..7].copy_from_slice(&v6.octets()[..6]);
        }
    }
    xxhash_rust::xxh3::xxh3_64(&buf)
}

#[cfg(test)]
mod route_tests;
#[cfg(test)]
mod tier_tests;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::Header;

    #[test]
    fn shadow_mode_caps_enforcement_at_tag() {
        let mut e = Engine::from_json(r#"{"mode":"shadow","thresholds":{"tag":10,"throttle":20,"deny":30}}"#).unwrap();
        let mut r = Request::new();
        r.headers = vec![Header::new("proxy-authorization", "Basic x"), Header::new("via", "1.1 squid")];
        let v = e.inspect(&r);
        if v.action >= Action::Throttle {
            assert_eq!(v.enforced, Action::Tag);
        }
        assert!(v.enforced <= Action::Tag);
    }

    #[test]
    fn wants_body_matches_exact_and_prefix_paths() {
        let e = Engine::from_json(r#"{"body":{"paths":["/v1/messages","/api/*"]}}"#).unwrap();
        assert!(e.wants_body(b"/v1/messages?beta=true"));
        assert!(!e.wants_body(b"/v1/messages/count_tokens"));
        assert!(e.wants_body(b"/api/x"));
        assert!(!e.wants_body(b"/v1/models"));
    }

    #[test]
    fn internal_error_fails_open_unless_closed() {
        let mut e = Engine::from_json("{}").unwrap();
        assert_eq!(e.internal_error().enforced, Action::Allow);
        let mut e = Engine::from_json(r#"{"fail_closed": true}"#).unwrap();
        assert_eq!(e.internal_error().enforced, Action::Deny);
        assert_eq!(e.counters().internal_errors, 1);
    }

    #[test]
    fn prefix_key_groups_by_24_and_48() {
        let a = prefix_key("203.0.113.7".parse().unwrap());
        assert_eq!(a, prefix_key("203.0.113.200".parse().unwrap()));
        assert_ne!(a, prefix_key("203.0.114.7".parse().unwrap()));
        assert_eq!(prefix_key("2001:db8:1::1".parse().unwrap()), prefix_key("2001:db8:1:ffff::2".parse().unwrap()));
    }
}
