//! The two phases of an inspection.
//!
//! **Header phase** ([`Engine::inspect_headers`]): client claims, proxy artifacts, address
//! and fingerprint lists, and the cross-request state keyed by what the headers name
//! (account, header shape, prefix, ASN, client environment, the account's flag history).
//! It records the request in the state and either decides ([`Decision::Final`]) or asks for
//! the body prefix ([`Decision::NeedBody`]), as `body.inspect` says: `always` on a body
//! path, `never`, or `suspicious`: only when the header-phase score is in `body.gray_zone`
//! (an account or cluster with evidence against it lands there; an ordinary request does
//! not).
//!
//! **Body phase**: a held request is finished by [`Engine::inspect_body`] (prompt markers,
//! template clusters, the body's state levels, then the verdict); a request decided at its
//! headers hands its body to [`Engine::learn_body`] as it streams past, which records the
//! body's evidence (template, elicitation) in the state for the account's and its clusters'
//! next requests, and decides nothing. Either way a request is counted once.
//!
//! Both phases score with the settings of the policy route the request falls into (weights,
//! thresholds, mode, body reading; [`Compiled::route_for`]), and the verdict names it.
//!
//! A request's verdict is recorded in its account's flag history only on the evidence that
//! varies between requests (prompt and state signals): the client-shape, proxy-header and
//! list signals that every request of one client carries do not escalate its account.

use crate::fingerprint::{claims, hfp, ja4h};
use crate::policy::{Inspect, Policy};
use crate::proxy;
use crate::request::Request;
use crate::score::{Action, Prints, Verdict};
use crate::signal::{Fired, Levels, Signal};
use crate::state::Observation;

use super::{checks, prefix_key, Compiled, Engine};

/// Seed of the hash that picks the bodies learned under `body.heavy_learn_one_in`.
const LEARN_SAMPLE_SEED: u64 = 0x6c65_6172_6e5f_6f6e;

/// What the header phase decided.
#[derive(Debug)]
pub enum Decision {
    /// The verdict. With `learn`, the host hands the body prefix to [`Engine::learn_body`]
    /// as it streams past (without holding the request).
    Final {
        /// The verdict to apply now.
        verdict: Verdict,
        /// Keys for learning from the body, when the policy reads this request's body.
        learn: Option<Learn>,
    },
    /// Hold the request until the body prefix (up to [`Engine::body_limit`] bytes, or the
    /// whole body) is there, then call [`Engine::inspect_body`].
    NeedBody(Held),
}

/// What learning from a body needs of its request (small, `Copy`: hosts keep it after the
/// headers are gone).
#[derive(Debug, Clone, Copy)]
pub struct Learn {
    pub(super) obs: Observation,
    route: Option<u16>,
    /// The route's `body.max_bytes`: where the body is cut.
    pub(super) max_bytes: usize,
    /// The verdict was flagged (for the campaign tracker).
    #[cfg_attr(not(feature = "campaigns"), allow(dead_code))]
    pub(super) flagged: bool,
    /// How many requests this body's learning stands for (`body.heavy_learn_one_in` when sampled).
    pub(super) weight: u32,
}

impl Learn {
    /// How many requests learning this body stands for: 1, or `body.heavy_learn_one_in` when the
    /// body was one picked among that many.
    pub fn weight(&self) -> u32 {
        self.weight
    }
}

/// A request held for its body: the header phase's evidence and prints.
#[derive(Debug, Clone)]
pub struct Held {
    pub(super) learn: Learn,
    pub(super) fired: Fired,
    pub(super) prints: Prints,
}

/// A held request's body, read ([`super::Reader::read_held`]): the prompt's signals
/// fired and its prints and facts filled in, for [`Engine::decide_body`].
#[derive(Debug, Clone)]
pub struct ReadHeld {
    pub(super) held: Held,
}

/// A request's headers read without the state ([`super::Reader::headers`]): its route,
/// the signals its headers fire, its prints and what it would add to the state, for
/// [`Engine::decide_headers`].
#[derive(Debug, Clone)]
pub struct ReadHeaders {
    route: Option<u16>,
    fired: Fired,
    prints: Prints,
    obs: Observation,
    allowlisted: bool,
    /// What the deployment checks count of it; `seen.body_read`: a body follows and the
    /// policy reads this request's body.
    seen: checks::Seen,
}

/// The header phase up to the state: claims, prints, proxy headers, address and fingerprint
/// lists (`compiled` and `policy` being an engine's).
pub(super) fn read_headers(c: &Compiled, policy: &Policy, req: &Request, body_follows: bool) -> ReadHeaders {
    let route = c.route_for(req.method, req.path);
    let mut fired = Fired::default();
    let client = claims::check(req, &mut fired);
    let prints = Prints {
        hfp: hfp::hfp(req),
        order_free: !req.order_known,
        ja4h: policy.fingerprints.ja4h.then(|| ja4h::ja4h(req)),
        ja4: req.peer.ja4.map(str::to_string),
        ja3: req.peer.ja3.map(str::to_string),
        client,
        account: crate::identity::account(req, &c.identity_headers, c.identity_key),
        template: None,
        task: None,
        tool_set: None,
    };
    let address = proxy::client_address(req, policy.proxy.trusted_hops, &mut fired);
    let client_ip = address.ip;
    let mut seen = checks::Seen { address, account: prints.account.is_some(), ..Default::default() };
    // An announced proxy (Via, or proxy software's own headers) may rewrite header order
    // and case (squid does, see tests/data/proxies.json): the order check is void then.
    if fired.get(Signal::ProxyVia) > 0.0 || fired.get(Signal::ProxyVendorHeader) > 0.0 {
        fired.clear(Signal::ClientOrderMismatch);
    }

    let allowlisted = prints.account.is_some_and(|a| c.allow_accounts.contains(&a))
        || client_ip.is_some_and(|ip| c.allow_cidrs.contains(ip))
        || Compiled::listed(&c.allow_fps, &prints);
    if allowlisted {
        // Decided here: nothing else is read, nothing goes into the state.
        let obs = Observation { now_ms: req.now_ms, ..Default::default() };
        return ReadHeaders { route, fired, prints, obs, allowlisted, seen };
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

    let obs = Observation {
        now_ms: req.now_ms,
        account: prints.account,
        hfp: prints.hfp,
        ja4: req.peer.ja4.map(|j| xxhash_rust::xxh3::xxh3_64(j.as_bytes())),
        prefix: client_ip.map(prefix_key),
        asn: req.peer.asn,
        template: None,
        anchor: None,
        elicitation: false,
        harness: None,
        env: crate::fingerprint::env::client_env(req, prints.hfp),
    };
    let reads_body = body_follows && c.reads_body(route, req.path);
    (seen.body_read, seen.body_unread) = (reads_body, body_follows && !reads_body);
    ReadHeaders { route, fired, prints, obs, allowlisted: false, seen }
}

impl Engine {
    /// The header phase. `body_follows` is false when the request has no body (a host knows
    /// from end-of-stream or `content-length: 0`). `req.body` is not read.
    #[inline]
    pub fn inspect_headers(&mut self, req: &Request, body_follows: bool) -> Decision {
        self.headers_phase(req, body_follows, &mut Levels::default())
    }

    /// [`Engine::inspect`] that also hands back the levels the state measured for graded
    /// signals (`account.flag_history` included), for explanations ([`crate::explain`]).
    /// `levels` must start empty ([`Levels::default`]).
    pub fn inspect_levels(&mut self, req: &Request, levels: &mut Levels) -> Verdict {
        match self.headers_phase(req, !req.body.is_empty(), levels) {
            Decision::Final { verdict, learn } => {
                if let Some(l) = learn {
                    self.learn_body(&l, req.body, req.body_complete);
                }
                verdict
            }
            Decision::NeedBody(held) => self.body_phase(held, req.body, req.body_complete, levels),
        }
    }

    fn headers_phase(&mut self, req: &Request, body_follows: bool, levels: &mut Levels) -> Decision {
        let read = read_headers(&self.compiled, &self.policy, req, body_follows);
        self.decide_read_headers(read, levels)
    }

    /// The header phase's state work and decision, on a request read by [`read_headers`].
    pub(super) fn decide_read_headers(&mut self, read: ReadHeaders, levels: &mut Levels) -> Decision {
        let ReadHeaders { route, mut fired, prints, obs, allowlisted, seen } = read;
        let reads_body = seen.body_read;
        self.counters.checked_windows += u64::from(self.checks.record(seen, self.policy.proxy.trusted_hops, obs.now_ms));
        if allowlisted {
            let v = Verdict { fp: prints, route, allowlisted: true, ..Default::default() };
            self.count(&v);
            return Decision::Final { verdict: v, learn: None };
        }
        let state_on = self.policy.state.enabled;
        if state_on {
            self.state.observe(&obs, levels);
            fired.ordinary = levels.ordinary;
            let w = &self.compiled.settings(route).weights;
            for (sig, level) in levels.iter() {
                w.fire_level(&mut fired, sig, level);
            }
            if let Some(level) = self.state.flag_history(prints.account, obs.now_ms) {
                levels.set(Signal::AccountFlagHistory, level);
                w.fire_level(&mut fired, Signal::AccountFlagHistory, level);
            }
        }

        let learn = (reads_body && state_on).then_some(Learn { obs, route, max_bytes: self.compiled.settings(route).max_bytes, flagged: false, weight: 1 });
        let s = self.compiled.settings(route);
        let wait = reads_body
            && match s.inspect {
                Inspect::Always => true,
                Inspect::Never => false,
                Inspect::Suspicious => {
                    let score = s.weights.total(&fired) as u32;
                    score >= s.gray_zone.0 && score < s.gray_zone.1
                }
            };
        if wait {
            return Decision::NeedBody(Held { learn: Learn { obs, route, max_bytes: self.compiled.settings(route).max_bytes, flagged: false, weight: 1 }, fired, prints });
        }
        let verdict = self.finish(fired, prints, &obs, route);
        let flagged = verdict.action >= Action::Tag && !verdict.allowlisted && !verdict.internal_error;
        let learn = learn.and_then(|l| self.sample(route, flagged, levels.heavy && !levels.agent).map(|weight| Learn { flagged, weight, ..l }));
        Decision::Final { verdict, learn }
    }

    /// Whether the body of a request decided at its headers is learned from, and for how
    /// many requests it stands. With `body.heavy_learn_one_in` k > 1, an unflagged request of
    /// a heavy account outside agent harnesses (`sampled`) is one in k (chosen by a hash of
    /// the engine's request count, so a replay chooses the same ones) and stands for k; every
    /// other body is learned, for itself: a light account's (every account of the reported
    /// campaigns looked light), an agent account's (its tasks are its evidence, each sent once
    /// in a conversation of several turns), a flagged request's.
    fn sample(&mut self, route: Option<u16>, flagged: bool, sampled: bool) -> Option<u32> {
        let k = self.compiled.settings(route).heavy_learn_one_in.max(1);
        if k == 1 || flagged || !sampled {
            return Some(1);
        }
        let h = xxhash_rust::xxh3::xxh3_64_with_seed(&self.counters.requests.to_le_bytes(), LEARN_SAMPLE_SEED);
        let picked = h % u64::from(k) == 0;
        self.counters.skipped += u64::from(!picked);
        picked.then_some(k)
    }

    /// The body phase of a held request: `body` is its prefix (read up to
    /// [`Engine::body_limit`] bytes; cut here at its route's limit), `complete` false when the
    /// body went on beyond it.
    #[inline]
    pub fn inspect_body(&mut self, held: Held, body: &[u8], complete: bool) -> Verdict {
        self.body_phase(held, body, complete, &mut Levels::default())
    }

    /// The body phase; `levels` keeps the larger of its and the header phase's level per
    /// signal (a signal's strength is that of its stronger firing).
    fn body_phase(&mut self, held: Held, body: &[u8], complete: bool, levels: &mut Levels) -> Verdict {
        let read = super::reader::read_held(&self.policy.prompt, held, body, complete);
        self.decide_read(read, levels)
    }

    /// The body phase's state work and verdict, on a held body read by
    /// [`super::Reader::read_held`] (or by [`Engine::inspect_body`] itself).
    pub(super) fn decide_read(&mut self, read: ReadHeld, levels: &mut Levels) -> Verdict {
        let ReadHeld { held: Held { learn: Learn { obs, route, .. }, mut fired, prints } } = read;
        if self.policy.state.enabled {
            self.state.learn(&obs);
            let mut body_levels = Levels::default();
            self.state.measure(&obs, &mut body_levels);
            // The body may show the account is not ordinary after all (this request's
            // elicitation, its task's breadth); it never makes it ordinary.
            fired.ordinary &= body_levels.ordinary;
            levels.ordinary = fired.ordinary;
            let w = &self.compiled.settings(route).weights;
            for (sig, level) in body_levels.iter() {
                w.fire_level(&mut fired, sig, level);
                levels.raise(sig, level);
            }
        }
        let mut v = self.finish(fired, prints, &obs, route);
        v.held = true;
        v
    }

    /// Scores `fired` with the weights of `route`, records the account's flag history (on the
    /// behaviour evidence only) and counts the verdict.
    fn finish(&mut self, fired: Fired, prints: Prints, obs: &Observation, route: Option<u16>) -> Verdict {
        let w = &self.compiled.settings(route).weights;
        if self.policy.state.enabled && prints.account.is_some() {
            let flagged = w.action_for(w.behaviour_total(&fired)) >= Action::Tag;
            self.state.record_verdict(prints.account, obs.now_ms, flagged);
        }
        let w = &self.compiled.settings(route).weights;
        let (score, reasons, action) = w.score(&fired);
        let enforced = if w.shadow() { action.min(Action::Tag) } else { action };
        let v = Verdict { action, enforced, score, reasons, fp: prints, route, allowlisted: false, internal_error: false, held: false };
        self.count(&v);
        #[cfg(feature = "campaigns")]
        if let Some(t) = self.campaigns.as_deref_mut() {
            t.record(obs, &v);
        }
        v
    }
}
