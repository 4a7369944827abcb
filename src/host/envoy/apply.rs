//! Applying a verdict to a held request through a small [`Host`] interface: put the verdict
//! in filter state (when asked), strip client-sent tag headers and add ours, or answer
//! locally; any failing host call turns into the engine's internal-error verdict (fail open,
//! or deny with `fail_closed`).
//!
//! Host-independent so that the failure paths, which a real Envoy gives no honest way to
//! provoke, are unit-tested with a scripted host. It must only be called while the filter
//! holds the request headers (adding a header after they went upstream kills the VM).

use crate::policy::Policy;
use crate::respond::{dictionary, for_each_tag, hex16, respond, Response};
use crate::score::{Action, Verdict};
use crate::Engine;

/// A non-OK proxy-wasm status code (e.g. 1 not found, 2 bad argument, 10 internal failure).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Status(pub u32);

/// A failed host call: what was attempted, and its status.
pub type Failure = (&'static str, Status);

/// Filter-state key (`set_property` path) of the verdict: the structured header's RFC 9651
/// dictionary. Envoy stores it as `wasm.distill_guard`: `%FILTER_STATE(wasm.distill_guard:PLAIN)%`.
pub const VERDICT_STATE: &str = "distill_guard";
/// Filter-state key of the cluster key (the header-shape fingerprint, 16 hex digits), set
/// only on requests forwarded as `tag`: what a rate limiter keys on (`wasm.distill_guard.cluster`).
pub const CLUSTER_STATE: &str = "distill_guard.cluster";

/// The host calls needed to apply a verdict.
pub trait Host {
    /// Removes every request header named `name`.
    fn remove_request_header(&mut self, name: &[u8]) -> Result<(), Status>;
    /// Appends a request header.
    fn add_request_header(&mut self, name: &str, value: &str) -> Result<(), Status>;
    /// Answers the request locally.
    fn send_local_response(&mut self, status: u16, headers: &[(String, String)], body: &[u8]) -> Result<(), Status>;
    /// Sets a filter-state value of the stream (proxy-wasm `set_property`).
    fn set_filter_state(&mut self, key: &str, value: &[u8]) -> Result<(), Status>;
    /// Logs at error level.
    fn log_error(&mut self, message: &str);
}

/// What applying a verdict needs of the engine: the policy's output settings, and the
/// internal-error verdict (counted by the engine) when a host call fails. An [`Engine`]; or,
/// for a filter whose threads share one engine behind a lock, the policy it was built from
/// and the engine locked only for that rare verdict.
pub trait Verdicts {
    /// The policy the verdicts come from.
    fn policy(&self) -> &Policy;
    /// [`Engine::internal_error`].
    fn internal_error(&mut self) -> Verdict;
}

impl Verdicts for Engine {
    fn policy(&self) -> &Policy {
        Engine::policy(self)
    }

    fn internal_error(&mut self) -> Verdict {
        Engine::internal_error(self)
    }
}

/// What applying a verdict needs besides the verdict.
#[derive(Debug, Clone, Copy, Default)]
pub struct Target<'a> {
    /// Client-sent headers to remove before forwarding ([`crate::respond::is_tag_header`]).
    pub forged: &'a [&'a [u8]],
    /// The request's reference id ([`crate::respond::reference`]).
    pub reference: u64,
    /// Put the verdict in filter state ([`VERDICT_STATE`], [`CLUSTER_STATE`]).
    pub filter_state: bool,
}

/// What the filter returns to the host for the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// Let the request (and the rest of its body) go upstream.
    Continue,
    /// Stop: a local reply was sent, or the request must not be forwarded.
    Stop,
}

/// Applies `verdict` to the request `target` describes; returns what to do next and the
/// verdict finally applied (the internal-error one when a host call failed).
pub fn apply<H: Host, E: Verdicts + ?Sized>(host: &mut H, engine: &mut E, verdict: Verdict, target: Target) -> (Next, Verdict) {
    match try_apply(host, engine, &verdict, target) {
        Ok(next) => (next, verdict),
        Err((what, Status(s))) if !verdict.internal_error => {
            host.log_error(&format!("distill-guard: internal error: {what} failed (status {s})"));
            let fallback = engine.internal_error();
            apply(host, engine, fallback, target)
        }
        Err((what, Status(s))) => {
            let how = if engine.policy().fail_closed { "closed" } else { "open" };
            host.log_error(&format!("distill-guard: internal error: {what} failed (status {s}) while failing {how}"));
            // Failing closed must not forward; the held request then ends at the stream timeout.
            let next = if verdict.enforced >= Action::Throttle { Next::Stop } else { Next::Continue };
            (next, verdict)
        }
    }
}

/// The verdict when the request could not even be read: fail open or closed, and applied
/// (`target.forged` is empty then: the header map was not read).
pub fn internal_error<H: Host, E: Verdicts + ?Sized>(host: &mut H, engine: &mut E, failure: Failure, target: Target) -> (Next, Verdict) {
    let (what, Status(s)) = failure;
    host.log_error(&format!("distill-guard: internal error: {what} failed (status {s})"));
    let verdict = engine.internal_error();
    apply(host, engine, verdict, target)
}

fn try_apply<H: Host, E: Verdicts + ?Sized>(host: &mut H, engine: &E, verdict: &Verdict, target: Target) -> Result<Next, Failure> {
    let policy = engine.policy();
    if target.filter_state {
        // Before any header change or reply: the access log and later filters read it.
        let mut value = String::with_capacity(160);
        dictionary(verdict, policy, target.reference, &mut value);
        host.set_filter_state(VERDICT_STATE, value.as_bytes()).map_err(|s| ("setting the verdict filter state", s))?;
        if verdict.enforced == Action::Tag {
            let mut hex = [0u8; 16];
            host.set_filter_state(CLUSTER_STATE, hex16(verdict.fp.hfp, &mut hex).as_bytes())
                .map_err(|s| ("setting the cluster filter state", s))?;
        }
    }
    if verdict.enforced <= Action::Tag {
        // Forward (what `respond` answers for allow / tag), the tags streamed to the host
        // without building them as owned strings: this runs for nearly every request.
        for name in target.forged {
            host.remove_request_header(name).map_err(|s| ("removing a client-sent tag header", s))?;
        }
        if verdict.internal_error {
            // The header map may not have been read: remove at least our own tag names.
            for_each_tag(verdict, policy, target.reference, |name, _| host.remove_request_header(name.as_bytes()))
                .map_err(|s| ("removing a client-sent tag header", s))?;
        }
        for_each_tag(verdict, policy, target.reference, |name, value| host.add_request_header(name, value))
            .map_err(|s| ("adding a tag header", s))?;
        return Ok(Next::Continue);
    }
    match respond(verdict, policy, target.reference) {
        Response::Reply { status, headers, body } => {
            host.send_local_response(status, &headers, body.as_bytes()).map_err(|s| ("sending the local reply", s))?;
            Ok(Next::Stop)
        }
        Response::Forward { .. } => Ok(Next::Continue), // not reached: throttle and deny reply
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::{Header, Request};

    /// A host that records calls and fails the operations it is told to fail.
    #[derive(Default)]
    struct Scripted {
        fail_add: bool,
        fail_remove: bool,
        fail_reply: bool,
        fail_state: bool,
        state: Vec<(String, String)>,
        removed: Vec<Vec<u8>>,
        added: Vec<(String, String)>,
        replies: Vec<(u16, String)>,
        errors: Vec<String>,
    }

    impl Host for Scripted {
        fn remove_request_header(&mut self, name: &[u8]) -> Result<(), Status> {
            if self.fail_remove {
                return Err(Status(10));
            }
            self.removed.push(name.to_vec());
            Ok(())
        }
        fn add_request_header(&mut self, name: &str, value: &str) -> Result<(), Status> {
            if self.fail_add {
                return Err(Status(2));
            }
            self.added.push((name.into(), value.into()));
            Ok(())
        }
        fn send_local_response(&mut self, status: u16, _h: &[(String, String)], body: &[u8]) -> Result<(), Status> {
            if self.fail_reply {
                return Err(Status(10));
            }
            self.replies.push((status, String::from_utf8_lossy(body).into_owned()));
            Ok(())
        }
        fn set_filter_state(&mut self, key: &str, value: &[u8]) -> Result<(), Status> {
            if self.fail_state {
                return Err(Status(1));
            }
            self.state.push((key.into(), String::from_utf8_lossy(value).into_owned()));
            Ok(())
        }
        fn log_error(&mut self, message: &str) {
            self.errors.push(message.into());
        }
    }

    const REF: Target<'static> = Target { forged: &[], reference: 0x0123_4567_89ab_cdef, filter_state: false };

    fn engine(policy: &str) -> Engine {
        Engine::from_json(policy).unwrap()
    }

    fn inspect(e: &mut Engine) -> Verdict {
        let mut r = Request::new();
        r.headers = vec![Header::new("user-agent", "curl/8")];
        e.inspect(&r)
    }

    #[test]
    fn forward_strips_forged_tags_then_adds_ours() {
        let mut e = engine("{}");
        let v = inspect(&mut e);
        let mut h = Scripted::default();
        let (next, applied) = apply(&mut h, &mut e, v, Target { forged: &[b"x-distill-score", b"x-distill-evil"], ..REF });
        assert_eq!(next, Next::Continue);
        assert!(!applied.internal_error);
        assert_eq!(h.removed, vec![b"x-distill-score".to_vec(), b"x-distill-evil".to_vec()]);
        assert!(h.added.iter().any(|(k, v)| k == "x-distill-action" && v == "allow"));
    }

    #[test]
    fn forwarded_tags_are_exactly_what_respond_gives() {
        for policy in ["{}", r#"{"mode": "shadow", "output": {"header_prefix": "x-dg-", "format": "both"}}"#, r#"{"output": {"format": "structured"}}"#] {
            let mut e = engine(policy);
            let v = inspect(&mut e);
            let Response::Forward { headers } = respond(&v, e.policy(), REF.reference) else { panic!("{v:?}") };
            let mut h = Scripted::default();
            apply(&mut h, &mut e, v, REF);
            assert_eq!(h.added, headers);
            let fallback = e.internal_error();
            let Response::Forward { headers } = respond(&fallback, e.policy(), REF.reference) else { panic!() };
            let mut h = Scripted::default();
            apply(&mut h, &mut e, fallback, REF);
            assert_eq!(h.added, headers);
            assert_eq!(h.removed, headers.iter().map(|(k, _)| k.as_bytes().to_vec()).collect::<Vec<_>>());
        }
    }

    #[test]
    fn failed_tagging_fails_open_by_default() {
        let mut e = engine("{}");
        let v = inspect(&mut e);
        let mut h = Scripted { fail_add: true, ..Default::default() };
        let (next, applied) = apply(&mut h, &mut e, v, REF);
        assert_eq!(next, Next::Continue);
        assert!(applied.internal_error && applied.enforced == Action::Allow);
        assert_eq!(e.counters().internal_errors, 1);
        assert!(h.errors.iter().any(|m| m.contains("adding a tag header failed (status 2)")), "{:?}", h.errors);
    }

    #[test]
    fn failed_tagging_fails_closed_with_a_403() {
        let mut e = engine(r#"{"fail_closed": true}"#);
        let v = inspect(&mut e);
        let mut h = Scripted { fail_add: true, ..Default::default() };
        let (next, applied) = apply(&mut h, &mut e, v, REF);
        assert_eq!(next, Next::Stop);
        assert_eq!(applied.enforced, Action::Deny);
        assert_eq!(h.replies.len(), 1);
        assert_eq!(h.replies[0].0, 403);
    }

    #[test]
    fn unreadable_request_fails_open_or_closed() {
        let mut e = engine("{}");
        let mut h = Scripted::default();
        let (next, v) = internal_error(&mut h, &mut e, ("reading request headers", Status(10)), REF);
        assert_eq!((next, v.enforced), (Next::Continue, Action::Allow));
        // Our own tag names are removed even though the header map was never read.
        assert!(h.removed.iter().any(|n| n == b"x-distill-score"));
        assert!(h.added.iter().any(|(k, v)| k == "x-distill-error" && v == "internal"));

        let mut e = engine(r#"{"fail_closed": true}"#);
        let mut h = Scripted::default();
        let (next, v) = internal_error(&mut h, &mut e, ("reading request headers", Status(10)), REF);
        assert_eq!((next, v.enforced), (Next::Stop, Action::Deny));
        assert_eq!(h.replies[0].0, 403);
    }

    #[test]
    fn a_failing_fallback_never_forwards_when_closed_and_never_loops() {
        let mut e = engine(r#"{"fail_closed": true}"#);
        let v = inspect(&mut e);
        let mut h = Scripted { fail_add: true, fail_reply: true, fail_remove: true, ..Default::default() };
        let (next, applied) = apply(&mut h, &mut e, v, Target { forged: &[b"x-distill-a"], ..REF });
        assert_eq!(next, Next::Stop);
        assert!(applied.internal_error);
        assert_eq!(h.errors.len(), 2);

        let mut e = engine("{}");
        let v = inspect(&mut e);
        let mut h = Scripted { fail_add: true, fail_remove: true, ..Default::default() };
        let (next, _) = apply(&mut h, &mut e, v, Target { forged: &[b"x-distill-a"], ..REF });
        assert_eq!(next, Next::Continue);
    }

    #[test]
    fn structured_format_adds_one_header_and_strips_a_forged_one() {
        let mut e = engine(r#"{"output": {"format": "structured"}}"#);
        let v = inspect(&mut e);
        let mut h = Scripted::default();
        apply(&mut h, &mut e, v.clone(), Target { forged: &[b"X-Distill"], ..REF });
        assert_eq!(h.removed, vec![b"X-Distill".to_vec()]);
        assert_eq!(h.added.len(), 1);
        assert_eq!(h.added[0].0, "x-distill");
        assert!(h.added[0].1.starts_with(&format!("score={}, action=allow, reasons=(", v.score)), "{:?}", h.added);
        assert!(h.added[0].1.ends_with(r#"ref="0123456789abcdef""#), "{:?}", h.added);
        assert!(h.state.is_empty());
    }

    #[test]
    fn filter_state_holds_the_verdict_and_the_cluster_of_tagged_requests() {
        // Tagged (tag threshold 1): the verdict and the cluster key.
        let mut e = engine(r#"{"thresholds": {"tag": 1, "throttle": 100, "deny": 100}}"#);
        let v = inspect(&mut e);
        assert_eq!(v.enforced, Action::Tag);
        let mut h = Scripted::default();
        apply(&mut h, &mut e, v.clone(), Target { filter_state: true, ..REF });
        let mut dict = String::new();
        dictionary(&v, e.policy(), REF.reference, &mut dict);
        assert_eq!(h.state, vec![(VERDICT_STATE.to_string(), dict), (CLUSTER_STATE.to_string(), format!("{:016x}", v.fp.hfp))]);
        // Allowed: the verdict only. Denied: the verdict too, before the reply.
        let mut e = engine("{}");
        let v = inspect(&mut e);
        let mut h = Scripted::default();
        apply(&mut h, &mut e, v, Target { filter_state: true, ..REF });
        assert_eq!(h.state.len(), 1);
        assert!(h.state[0].1.contains("action=allow"));
        let mut e = engine(r#"{"thresholds": {"tag": 1, "throttle": 1, "deny": 1}}"#);
        let v = inspect(&mut e);
        let mut h = Scripted::default();
        let (next, _) = apply(&mut h, &mut e, v, Target { filter_state: true, ..REF });
        assert_eq!((next, h.replies[0].0, h.state.len()), (Next::Stop, 403, 1));
        assert!(h.state[0].1.contains("action=deny"));
        // The client is told nothing but the reference.
        assert_eq!(h.replies[0].1, r#"{"error":{"type":"forbidden","message":"request blocked","ref":"0123456789abcdef"}}"#);
    }

    #[test]
    fn failing_filter_state_fails_open_or_closed() {
        let mut e = engine("{}");
        let v = inspect(&mut e);
        let mut h = Scripted { fail_state: true, ..Default::default() };
        let (next, applied) = apply(&mut h, &mut e, v, Target { filter_state: true, ..REF });
        assert_eq!((next, applied.internal_error, applied.enforced), (Next::Continue, true, Action::Allow));
        assert!(h.errors[0].contains("setting the verdict filter state failed (status 1)"), "{:?}", h.errors);
        let mut e = engine(r#"{"fail_closed": true}"#);
        let v = inspect(&mut e);
        let mut h = Scripted { fail_state: true, ..Default::default() };
        let (next, applied) = apply(&mut h, &mut e, v, Target { filter_state: true, ..REF });
        assert_eq!((next, applied.enforced), (Next::Stop, Action::Deny));
        assert!(h.replies.is_empty(), "the fallback's own filter state failed too: no reply, the request is held");
    }
}
