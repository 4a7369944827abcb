//! Applying a verdict to a held request through a small [`Host`] interface: strip
//! client-sent tag headers and add ours, or answer locally; any failing host call turns into
//! the engine's internal-error verdict (fail open, or deny with `fail_closed`).
//!
//! Host-independent so that the failure paths, which a real Envoy gives no honest way to
//! provoke, are unit-tested with a scripted host. It must only be called while the filter
//! holds the request headers (adding a header after they went upstream kills the VM).

use crate::policy::Mode;
use crate::respond::{for_each_tag, respond, Response};
use crate::score::{Action, Verdict};
use crate::Engine;

/// A non-OK proxy-wasm status code (e.g. 1 not found, 2 bad argument, 10 internal failure).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Status(pub u32);

/// A failed host call: what was attempted, and its status.
pub type Failure = (&'static str, Status);

/// The host calls needed to apply a verdict.
pub trait Host {
    /// Removes every request header named `name`.
    fn remove_request_header(&mut self, name: &[u8]) -> Result<(), Status>;
    /// Appends a request header.
    fn add_request_header(&mut self, name: &str, value: &str) -> Result<(), Status>;
    /// Answers the request locally.
    fn send_local_response(&mut self, status: u16, headers: &[(String, String)], body: &[u8]) -> Result<(), Status>;
    /// Logs at error level.
    fn log_error(&mut self, message: &str);
}

/// What the filter returns to the host for the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// Let the request (and the rest of its body) go upstream.
    Continue,
    /// Stop: a local reply was sent, or the request must not be forwarded.
    Stop,
}

/// Applies `verdict` (with the client-sent tag headers `forged`); returns what to do next
/// and the verdict finally applied (the internal-error one when a host call failed).
pub fn apply<H: Host>(host: &mut H, engine: &mut Engine, verdict: Verdict, forged: &[&[u8]]) -> (Next, Verdict) {
    match try_apply(host, engine, &verdict, forged) {
        Ok(next) => (next, verdict),
        Err((what, Status(s))) if !verdict.internal_error => {
            host.log_error(&format!("distill-guard: internal error: {what} failed (status {s})"));
            let fallback = engine.internal_error();
            apply(host, engine, fallback, forged)
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

/// The verdict when the request could not even be read: fail open or closed, and applied.
pub fn internal_error<H: Host>(host: &mut H, engine: &mut Engine, failure: Failure) -> (Next, Verdict) {
    let (what, Status(s)) = failure;
    host.log_error(&format!("distill-guard: internal error: {what} failed (status {s})"));
    let verdict = engine.internal_error();
    apply(host, engine, verdict, &[])
}

fn try_apply<H: Host>(host: &mut H, engine: &Engine, verdict: &Verdict, forged: &[&[u8]]) -> Result<Next, Failure> {
    let policy = engine.policy();
    if verdict.enforced <= Action::Tag {
        // Forward (what `respond` answers for allow / tag), the tags streamed to the host
        // without building them as owned strings: this runs for nearly every request.
        let (prefix, shadow) = (policy.output.header_prefix.as_str(), policy.mode == Mode::Shadow);
        for name in forged {
            host.remove_request_header(name).map_err(|s| ("removing a client-sent tag header", s))?;
        }
        if verdict.internal_error {
            // The header map may not have been read: remove at least our own tag names.
            for_each_tag(verdict, prefix, shadow, |name, _| host.remove_request_header(name.as_bytes()))
                .map_err(|s| ("removing a client-sent tag header", s))?;
        }
        for_each_tag(verdict, prefix, shadow, |name, value| host.add_request_header(name, value)).map_err(|s| ("adding a tag header", s))?;
        return Ok(Next::Continue);
    }
    match respond(verdict, policy) {
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
        fn log_error(&mut self, message: &str) {
            self.errors.push(message.into());
        }
    }

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
        let (next, applied) = apply(&mut h, &mut e, v, &[b"x-distill-score", b"x-distill-evil"]);
        assert_eq!(next, Next::Continue);
        assert!(!applied.internal_error);
        assert_eq!(h.removed, vec![b"x-distill-score".to_vec(), b"x-distill-evil".to_vec()]);
        assert!(h.added.iter().any(|(k, v)| k == "x-distill-action" && v == "allow"));
    }

    #[test]
    fn forwarded_tags_are_exactly_what_respond_gives() {
        for policy in ["{}", r#"{"mode": "shadow", "output": {"header_prefix": "x-dg-"}}"#] {
            let mut e = engine(policy);
            let v = inspect(&mut e);
            let Response::Forward { headers } = respond(&v, e.policy()) else { panic!("{v:?}") };
            let mut h = Scripted::default();
            apply(&mut h, &mut e, v, &[]);
            assert_eq!(h.added, headers);
            let fallback = e.internal_error();
            let Response::Forward { headers } = respond(&fallback, e.policy()) else { panic!() };
            let mut h = Scripted::default();
            apply(&mut h, &mut e, fallback, &[]);
            assert_eq!(h.added, headers);
            assert_eq!(h.removed, headers.iter().map(|(k, _)| k.as_bytes().to_vec()).collect::<Vec<_>>());
        }
    }

    #[test]
    fn failed_tagging_fails_open_by_default() {
        let mut e = engine("{}");
        let v = inspect(&mut e);
        let mut h = Scripted { fail_add: true, ..Default::default() };
        let (next, applied) = apply(&mut h, &mut e, v, &[]);
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
        let (next, applied) = apply(&mut h, &mut e, v, &[]);
        assert_eq!(next, Next::Stop);
        assert_eq!(applied.enforced, Action::Deny);
        assert_eq!(h.replies.len(), 1);
        assert_eq!(h.replies[0].0, 403);
    }

    #[test]
    fn unreadable_request_fails_open_or_closed() {
        let mut e = engine("{}");
        let mut h = Scripted::default();
        let (next, v) = internal_error(&mut h, &mut e, ("reading request headers", Status(10)));
        assert_eq!((next, v.enforced), (Next::Continue, Action::Allow));
        // Our own tag names are removed even though the header map was never read.
        assert!(h.removed.iter().any(|n| n == b"x-distill-score"));
        assert!(h.added.iter().any(|(k, v)| k == "x-distill-error" && v == "internal"));

        let mut e = engine(r#"{"fail_closed": true}"#);
        let mut h = Scripted::default();
        let (next, v) = internal_error(&mut h, &mut e, ("reading request headers", Status(10)));
        assert_eq!((next, v.enforced), (Next::Stop, Action::Deny));
        assert_eq!(h.replies[0].0, 403);
    }

    #[test]
    fn a_failing_fallback_never_forwards_when_closed_and_never_loops() {
        let mut e = engine(r#"{"fail_closed": true}"#);
        let v = inspect(&mut e);
        let mut h = Scripted { fail_add: true, fail_reply: true, fail_remove: true, ..Default::default() };
        let (next, applied) = apply(&mut h, &mut e, v, &[b"x-distill-a"]);
        assert_eq!(next, Next::Stop);
        assert!(applied.internal_error);
        assert_eq!(h.errors.len(), 2);

        let mut e = engine("{}");
        let v = inspect(&mut e);
        let mut h = Scripted { fail_add: true, fail_remove: true, ..Default::default() };
        let (next, _) = apply(&mut h, &mut e, v, &[b"x-distill-a"]);
        assert_eq!(next, Next::Continue);
    }
}
