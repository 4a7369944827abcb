//! `Engine.inspectFetch`: the edge worker's one call per request. The worker sends the
//! request record (no body) and the body prefix as bytes; it gets back the verdict and the
//! host response from [`crate::respond::respond`], as JSON:
//!
//! ```json
//! {"verdict": {...same as replay...},
//!  "response": {"kind": "forward", "strip_prefix": "x-distill-", "headers": [["x-distill-score","0"], ...]}}
//! {"verdict": {...}, "response": {"kind": "reply", "status": 429, "headers": [...], "body": "{...}"}}
//! ```
//! Fetch hosts cannot observe header order, so the request is marked `order_known = false`.
//! A record that does not parse is answered with the engine's internal-error verdict (fail
//! open, or deny with `fail_closed`) and an `error` field; it never throws.

use wasm_bindgen::prelude::*;

use super::Engine;
use crate::report::VerdictReport;
use crate::respond::{respond, Response};
use crate::traffic;

/// The JSON form of a host response.
pub(crate) fn response_json(r: &Response, strip_prefix: &str) -> serde_json::Value {
    match r {
        Response::Forward { headers } => serde_json::json!({
            "kind": "forward",
            "strip_prefix": strip_prefix,
            "headers": headers,
        }),
        Response::Reply { status, headers, body } => serde_json::json!({
            "kind": "reply",
            "status": status,
            "strip_prefix": strip_prefix,
            "headers": headers,
            "body": body,
        }),
    }
}

#[wasm_bindgen]
impl Engine {
    /// Inspects a request seen by a Fetch-API host. `record_json` is a traffic record without
    /// a body; `body` is the prefix read so far (cut at the policy limit here too) and
    /// `body_complete` says whether it is the whole body. Returns `{verdict, response, error?}`.
    #[wasm_bindgen(js_name = inspectFetch)]
    pub fn inspect_fetch(&mut self, record_json: &str, body: &[u8], body_complete: bool) -> String {
        let limit = self.inner.body_limit();
        let (verdict, error) = match traffic::parse_line(record_json) {
            Ok(dec) => {
                let mut req = dec.request(limit);
                let cut = body.len().min(limit);
                req.body = body.get(..cut).unwrap_or_default();
                req.body_complete = body_complete && cut == body.len();
                req.order_known = false;
                (self.inner.inspect(&req), None)
            }
            Err(msg) => (self.inner.internal_error(), Some(msg)),
        };
        let policy = self.inner.policy();
        let response = response_json(&respond(&verdict, policy), &policy.output.header_prefix);
        let report = serde_json::to_value(VerdictReport::new(&verdict)).unwrap_or_default();
        let mut out = serde_json::json!({"verdict": report, "response": response});
        if let (Some(msg), Some(obj)) = (error, out.as_object_mut()) {
            obj.insert("error".into(), format!("bad request record: {msg}").into());
        }
        out.to_string()
    }
}
