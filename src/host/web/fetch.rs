//! `Engine.inspectRequest`: the edge worker's one call per request. The worker passes the
//! request head as one text, the body prefix as bytes, the ASN and the time; it gets back one
//! text saying what to do ([`crate::host::packed`] documents both formats). No JSON on this
//! path: a JSON record in and a JSON verdict out cost several times what the engine does.
//!
//! Fetch hosts cannot observe header order, so the request is marked `order_known = false`.
//! A head that does not parse is answered with the engine's internal-error verdict (fail
//! open, or deny with `fail_closed`) and a log line; it never throws.

use wasm_bindgen::prelude::*;

use super::Engine;
use crate::host::packed;
use crate::respond;

#[wasm_bindgen]
impl Engine {
    /// Inspects a request seen by a Fetch-API host. `head` is the request head
    /// ([`packed::parse_head`]); `body` is the prefix read so far (cut at the policy limit
    /// here too) and `body_complete` says whether it is the whole body; `asn` is the client's
    /// AS number or -1; `now_ms` the time in ms since the Unix epoch. Returns the outcome text
    /// ([`packed::outcome`]).
    #[wasm_bindgen(js_name = inspectRequest)]
    pub fn inspect_request(&mut self, head: &str, body: &[u8], body_complete: bool, asn: f64, now_ms: f64) -> String {
        let asn = (asn >= 0.0 && asn <= f64::from(u32::MAX)).then_some(asn as u32);
        let now_ms = if now_ms.is_finite() && now_ms > 0.0 { now_ms as u64 } else { 0 };
        match packed::parse_head(head) {
            Ok(h) => {
                let token = h.token;
                let forged = packed::forged_names(&h.headers, &self.inner.policy().output.header_prefix);
                let req = packed::request(h, body, body_complete, self.inner.body_limit(), asn, now_ms);
                let verdict = self.inner.inspect(&req);
                let policy = self.inner.policy();
                let reference = respond::reference(policy, token.as_bytes());
                packed::outcome(&verdict, policy, reference, &forged, None)
            }
            Err(msg) => {
                let verdict = self.inner.internal_error();
                let policy = self.inner.policy();
                // The head's token is not trusted here: the time keeps the id per request.
                let reference = respond::reference(policy, &now_ms.to_le_bytes());
                packed::outcome(&verdict, policy, reference, &[], Some(&msg))
            }
        }
    }

    /// True when the policy reads the body prefix of requests to `url` (a full URL or a
    /// path; the query is ignored).
    #[wasm_bindgen(js_name = wantsBodyUrl)]
    pub fn wants_body_url(&self, url: &str) -> bool {
        self.inner.wants_body(packed::path_of(url).as_bytes())
    }

    /// Settings of the policy that are valid but unsafe to deploy, one line each (the worker
    /// logs them once per isolate).
    pub fn warnings(&self) -> Vec<String> {
        self.inner.policy().warnings()
    }
}
