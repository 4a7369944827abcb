//! The engine: a validated policy compiled for the hot path, the cross-request state, and
//! [`Engine::inspect`], which turns one [`Request`] into a [`Verdict`].
//!
//! It owns no I/O: time comes in the request, hosts apply the verdict (see
//! [`crate::respond`]). It does not decide which bodies to read; hosts ask
//! [`Engine::wants_body`] and pass at most [`Engine::body_limit`] bytes.

use std::collections::HashSet;
use std::net::IpAddr;

use crate::fingerprint::{claims, hfp, ja4h};
use crate::policy::{Policy, PolicyErrors};
use crate::prompt;
use crate::proxy::{self, CidrSet};
use crate::request::Request;
use crate::score::{Action, Prints, Verdict, Weights};
use crate::signal::{Fired, Levels, Signal};
use crate::state::{Observation, State};

/// A policy compiled into lookup structures.
#[derive(Debug, Clone)]
pub struct Compiled {
    /// Weights, ramps and thresholds.
    pub weights: Weights,
    datacenter: CidrSet,
    known_proxy: CidrSet,
    tor: CidrSet,
    allow_cidrs: CidrSet,
    allow_accounts: HashSet<u64>,
    allow_fps: HashSet<String>,
    block_fps: HashSet<String>,
    identity_headers: Vec<String>,
    identity_key: u64,
    body_exact: Vec<Vec<u8>>,
    body_prefix: Vec<Vec<u8>>,
}

impl Compiled {
    /// Compiles a validated policy.
    pub fn new(p: &Policy) -> Self {
        let lower = |v: &[String]| v.iter().map(|s| s.to_ascii_lowercase()).collect::<HashSet<_>>();
        let (body_prefix, body_exact): (Vec<_>, Vec<_>) = p.body.paths.iter().partition(|s| s.ends_with('*'));
        Compiled {
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

    fn listed(set: &HashSet<String>, prints: &Prints) -> bool {
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

/// Counters an engine keeps about itself (hosts export them as metrics).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counters {
    /// Requests inspected.
    pub requests: u64,
    /// Verdicts per enforced action, indexed like [`Action::ALL`].
    pub actions: [u64; 4],
    /// Internal errors (each answered by fail-open or fail-closed).
    pub internal_errors: u64,
}

/// One policy, its compiled form, and the state it keeps.
#[derive(Debug, Clone)]
pub struct Engine {
    policy: Policy,
    compiled: Compiled,
    state: State,
    counters: Counters,
}

impl Engine {
    /// Builds an engine from a validated policy. Its state is allocated on first use
    /// ([`State::new_lazy`]).
    pub fn new(policy: Policy) -> Self {
        let compiled = Compiled::new(&policy);
        let state = State::new_lazy(&policy.state);
        Engine { policy, compiled, state, counters: Counters::default() }
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

    /// Counters since the engine was built.
    pub fn counters(&self) -> Counters {
        self.counters
    }

    /// True when the policy asks for the body prefix of requests to `path` (query ignored).
    pub fn wants_body(&self, path: &[u8]) -> bool {
        if self.policy.body.max_bytes == 0 {
            return false;
        }
        let p = match path.iter().position(|&b| b == b'?') {
            Some(i) => &path[..i],
            None => path,
        };
        self.compiled.body_exact.iter().any(|e| e == p) || self.compiled.body_prefix.iter().any(|e| p.starts_with(e))
    }

    /// True when the verdict for `req` depends on the peer address: `X-Forwarded-For` does not
    /// give the client under the policy's `proxy.trusted_hops` (a host may skip reading the
    /// peer address otherwise; [`crate::proxy::forwarded_client`]).
    pub fn needs_peer_address(&self, req: &Request) -> bool {
        proxy::forwarded_client(req, self.policy.proxy.trusted_hops).is_none()
    }

    /// Largest body prefix the engine reads, in bytes.
    pub fn body_limit(&self) -> usize {
        self.policy.body.max_bytes as usize
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

    fn count(&mut self, v: &Verdict) {
        self.counters.requests += 1;
        self.counters.actions[v.enforced as usize] += 1;
    }

    /// Inspects one request: fingerprints, proxy signals, prompt markers, state, score.
    pub fn inspect(&mut self, req: &Request) -> Verdict {
        let c = &self.compiled;
        let mut fired = Fired::default();
        let client = claims::check(req, &mut fired);
        let mut prints = Prints {
            hfp: hfp::hfp(req),
            order_free: !req.order_known,
            ja4h: self.policy.fingerprints.ja4h.then(|| ja4h::ja4h(req)),
            ja4: req.peer.ja4.map(str::to_string),
            ja3: req.peer.ja3.map(str::to_string),
            client,
            account: crate::identity::account(req, &c.identity_headers, c.identity_key),
            template: None,
            task: None,
            tool_set: None,
        };
        let client_ip = proxy::check_headers(req, self.policy.proxy.trusted_hops, &mut fired);
        // An announced proxy (Via, or proxy software's own headers) may rewrite header order
        // and case (squid does, see tests/data/proxies.json): the order check is void then.
        if fired.get(Signal::ProxyVia) > 0.0 || fired.get(Signal::ProxyVendorHeader) > 0.0 {
            fired.clear(Signal::ClientOrderMismatch);
        }

        let allowlisted = prints.account.is_some_and(|a| c.allow_accounts.contains(&a))
            || client_ip.is_some_and(|ip| c.allow_cidrs.contains(ip))
            || Compiled::listed(&c.allow_fps, &prints);
        if allowlisted {
            let v = Verdict { fp: prints, allowlisted: true, ..Default::default() };
            self.count(&v);
            return v;
        }

        if let Some(ip) = client_ip {
            for (set, sig) in [(&c.datacenter, Signal::IpDatacenter), (&c.known_proxy, Signal::IpKnownProxy), (&c.tor, Signal::IpTor)] {
                if set.contains(ip) {
                    fired.fire(sig);
                }
            }
        }
        if Compiled::listed(&c.block_fps, &prints) {
            fired.fire(Signal::FpListed);
        }

        let view = if !req.body.is_empty() && self.wants_body(req.path) {
            prompt::scan(req.body, req.body_complete, &self.policy.prompt, &mut fired)
        } else {
            prompt::PromptView::default()
        };
        (prints.template, prints.task, prints.tool_set) = (view.template, view.task_template, view.tool_set);

        if self.policy.state.enabled {
            let obs = Observation {
                now_ms: req.now_ms,
                account: prints.account,
                hfp: prints.hfp,
                ja4: req.peer.ja4.map(|j| xxhash_rust::xxh3::xxh3_64(j.as_bytes())),
                prefix: client_ip.map(prefix_key),
                asn: req.peer.asn,
                template: view.template,
                elicitation: view.elicitation,
                env: crate::fingerprint::env::client_env(req, prints.hfp),
            };
            let mut levels = Levels::default();
            self.state.observe(&obs, &mut levels);
            for (sig, level) in levels.iter() {
                self.compiled.weights.fire_level(&mut fired, sig, level);
            }
        }

        if self.policy.state.enabled && prints.account.is_some() {
            let w = &self.compiled.weights;
            let flagged = w.action_for(w.total(&fired)) >= Action::Tag;
            if let Some(level) = self.state.flag_history(prints.account, req.now_ms) {
                w.fire_level(&mut fired, Signal::AccountFlagHistory, level);
            }
            self.state.record_verdict(prints.account, req.now_ms, flagged);
        }
        let (score, reasons, action) = self.compiled.weights.score(&fired);
        let enforced = if self.compiled.weights.shadow() { action.min(Action::Tag) } else { action };
        let v = Verdict { action, enforced, score, reasons, fp: prints, allowlisted: false, internal_error: false };
        self.count(&v);
        v
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
