//! The edge worker's calls per request, over the texts of [`crate::host::packed`]: no JSON on
//! this path (a JSON record in and a JSON verdict out cost several times what the engine does).
//!
//! The engine's two phases ([`crate::engine::Decision`]): `inspectHeaders` runs the header
//! phase on the request head and answers `forward` / `reply` at once, or `hold`. A forward may
//! carry a ticket: the worker then tees the body to the origin and, once it has read the prefix
//! (in `ctx.waitUntil`, never delaying the request), calls `learnBody` with it. A `hold` ticket
//! asks for the prefix first: the worker reads it and calls `inspectBody` for the verdict.
//! Tickets name requests parked in a bounded table ([`crate::host::tickets`]).
//! `inspectRequest` runs both phases in one call on a request whose body prefix is at hand.
//!
//! Fetch hosts cannot observe header order, so the request is marked `order_known = false`.
//! A head that does not parse, or a stale `hold` ticket, is answered with the engine's
//! internal-error verdict (fail open, or deny with `fail_closed`) and a log line; nothing
//! here throws.

use wasm_bindgen::prelude::*;

use super::Engine;
use crate::engine::Decision;
use crate::host::packed;
use crate::host::tickets::Parked;
use crate::respond;
use crate::score::Action;

/// The AS number (or none for -1 and junk) and the time in ms (0 for junk).
fn peer_args(asn: f64, now_ms: f64) -> (Option<u32>, u64) {
    let asn = (asn >= 0.0 && asn <= f64::from(u32::MAX)).then_some(asn as u32);
    let now_ms = if now_ms.is_finite() && now_ms > 0.0 { now_ms as u64 } else { 0 };
    (asn, now_ms)
}

#[wasm_bindgen]
impl Engine {
    /// Inspects a request seen by a Fetch-API host in one call, its body prefix at hand. `head`
    /// is the request head ([`packed::parse_head`]); `body` is the prefix read so far (cut at
    /// the policy limit here too) and `body_complete` says whether it is the whole body; `asn`
    /// is the client's AS number or -1; `now_ms` the time in ms since the Unix epoch. Returns
    /// the outcome text ([`packed::outcome`]; never `hold`, ticket 0).
    #[wasm_bindgen(js_name = inspectRequest)]
    pub fn inspect_request(&mut self, head: &str, body: &[u8], body_complete: bool, asn: f64, now_ms: f64) -> String {
        let (asn, now_ms) = peer_args(asn, now_ms);
        match packed::parse_head(head) {
            Ok(h) => {
                let token = h.token;
                let forged = packed::forged_names(&h.headers, &self.inner.policy().output.header_prefix);
                let req = packed::request(h, body, body_complete, self.inner.body_limit(), asn, now_ms);
                let verdict = self.inner.inspect(&req);
                let policy = self.inner.policy();
                let reference = respond::reference(policy, token.as_bytes());
                packed::outcome(&verdict, policy, reference, &forged, None, 0)
            }
            Err(msg) => self.failed(&msg, &now_ms.to_le_bytes()),
        }
    }

    /// The header phase of a request seen by a Fetch-API host: `head` as for `inspectRequest`,
    /// `body_follows` false when the request has no body. Returns the outcome text: `forward`
    /// (with a ticket for `learnBody` when the engine learns from this body) or `reply` to
    /// apply now, or `hold` with the ticket for `inspectBody`.
    #[wasm_bindgen(js_name = inspectHeaders)]
    pub fn inspect_headers(&mut self, head: &str, body_follows: bool, asn: f64, now_ms: f64) -> String {
        let (asn, now_ms) = peer_args(asn, now_ms);
        let h = match packed::parse_head(head) {
            Ok(h) => h,
            Err(msg) => return self.failed(&msg, &now_ms.to_le_bytes()),
        };
        let token = h.token;
        let forged = packed::forged_names(&h.headers, &self.inner.policy().output.header_prefix);
        let req = packed::request(h, &[], !body_follows, 0, asn, now_ms);
        let reference = respond::reference(self.inner.policy(), token.as_bytes());
        match self.inner.inspect_headers(&req, body_follows) {
            Decision::Final { verdict, learn } => {
                let ticket = match learn {
                    Some(l) if verdict.enforced <= Action::Tag => self.tickets.park(Parked::Learn(l)),
                    _ => 0,
                };
                let mut out = packed::outcome(&verdict, self.inner.policy(), reference, &forged, None, ticket);
                if let Some((n, _)) = self.inner.take_notice() {
                    packed::with_notice(&mut out, &n);
                }
                out
            }
            Decision::NeedBody(held) => {
                let forged = forged.iter().map(|s| s.to_string()).collect();
                packed::hold(self.tickets.park(Parked::Held { held: Box::new(held), reference, forged }))
            }
        }
    }

    /// The body phase of a request `inspectHeaders` held: `ticket` from its `hold` outcome,
    /// `body` the prefix read (cut at the policy limit here too), `body_complete` whether it is
    /// the whole body. Returns the outcome text (`forward` or `reply`).
    #[wasm_bindgen(js_name = inspectBody)]
    pub fn inspect_body(&mut self, ticket: u32, body: &[u8], body_complete: bool) -> String {
        let Some(Parked::Held { held, reference, forged }) = self.tickets.take(ticket) else {
            return self.failed("no held request under this ticket (stale: too many requests waited at once)", &ticket.to_le_bytes());
        };
        let (body, complete) = packed::prefix(body, body_complete, self.inner.body_limit());
        let verdict = self.inner.inspect_body(*held, body, complete);
        let forged: Vec<&str> = forged.iter().map(String::as_str).collect();
        packed::outcome(&verdict, self.inner.policy(), reference, &forged, None, 0)
    }

    /// Learns from the body prefix of a request `inspectHeaders` forwarded with `ticket`
    /// (`body` cut at the policy limit here too). Returns false when the ticket is stale
    /// (nothing learned).
    #[wasm_bindgen(js_name = learnBody)]
    pub fn learn_body(&mut self, ticket: u32, body: &[u8], body_complete: bool) -> bool {
        let Some(Parked::Learn(learn)) = self.tickets.take(ticket) else { return false };
        let (body, complete) = packed::prefix(body, body_complete, self.inner.body_limit());
        self.inner.learn_body(&learn, body, complete);
        true
    }

    /// The internal-error verdict's outcome, with a log line naming `msg`; `token` makes its
    /// reference id (the head's own token is not trusted here).
    fn failed(&mut self, msg: &str, token: &[u8]) -> String {
        let verdict = self.inner.internal_error();
        let policy = self.inner.policy();
        let reference = respond::reference(policy, token);
        packed::outcome(&verdict, policy, reference, &[], Some(msg), 0)
    }

    /// True when the policy reads the body prefix of requests to `url` (a full URL or a
    /// path; the query is ignored) with `method` (any method when absent).
    #[wasm_bindgen(js_name = wantsBodyUrl)]
    pub fn wants_body_url(&self, url: &str, method: Option<String>) -> bool {
        let path = packed::path_of(url).as_bytes();
        match method {
            Some(m) => self.inner.wants_body_for(m.as_bytes(), path),
            None => self.inner.wants_body(path),
        }
    }

    /// Requests waiting for their body under a ticket now (bounded by
    /// [`crate::host::tickets::CAPACITY`]).
    #[wasm_bindgen(js_name = parkedRequests)]
    pub fn parked_requests(&self) -> u32 {
        self.tickets.len() as u32
    }

    /// Settings of the policy that are valid but unsafe to deploy, one line each (the worker
    /// logs them once per isolate).
    pub fn warnings(&self) -> Vec<String> {
        self.inner.policy().warnings()
    }
}
