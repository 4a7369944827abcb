//! The JSON form of a verdict that every tool prints: the CLI's `replay` output, the
//! wasm-bindgen API (`Engine.inspect`, `inspectBatch`), the edge worker and the tuning page.
//!
//! One serializer keeps the native and Wasm outputs byte-identical (the golden parity test
//! relies on it). It only formats: it does not run the engine or decide the host response.

use serde::Serialize;

use crate::explain::{Explanation, LevelDetail, ReasonDetail};
use crate::request::Request;
use crate::score::Verdict;

/// The `fp` object of a verdict report.
#[derive(Debug, Serialize)]
pub struct FpReport<'a> {
    /// Header-shape fingerprint, 16 hex digits.
    pub hfp: String,
    /// Readable form of the header shape (`--explain` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hfp_raw: Option<String>,
    /// Client family the User-Agent claims.
    pub client: &'a str,
    /// Keyed account hash, 16 hex digits.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    /// JA4H (opt-in).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ja4h: Option<&'a str>,
    /// TLS JA4 from the host.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ja4: Option<&'a str>,
    /// TLS JA3 from the host.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ja3: Option<&'a str>,
    /// Prompt template SimHash, 16 hex digits.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub template: Option<String>,
    /// Task (first user text turn) SimHash, 16 hex digits.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task: Option<String>,
    /// Tool-set fingerprint, 16 hex digits.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tools: Option<String>,
}

/// One verdict as printed: `{line?, action, enforced, score, route?, reasons, fp, label?}`.
#[derive(Debug, Serialize)]
pub struct VerdictReport<'a> {
    /// 1-based input line, for batch outputs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<u64>,
    /// Action the score maps to.
    pub action: &'static str,
    /// Action the host takes (shadow mode caps it at `tag`).
    pub enforced: &'static str,
    /// Score 0..=100.
    pub score: u8,
    /// The policy route that applied: its name, else its index ([`crate::Engine::route_label`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub route: Option<&'a str>,
    /// Reason codes, largest contribution first.
    pub reasons: Vec<&'static str>,
    /// Fingerprints and identities.
    pub fp: FpReport<'a>,
    /// `--explain` only: each reason's measured level and ramp (graded signals), strength,
    /// weight and points, in `reasons` order ([`crate::explain`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub explain: Option<Vec<ReasonDetail>>,
    /// `--explain` only: graded signals measured for the request that added no points.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub measured: Option<Vec<LevelDetail>>,
    /// The record's label, copied through.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label: Option<&'a serde_json::Value>,
}

impl<'a> VerdictReport<'a> {
    /// The report of `v`, without line, label or readable header shape.
    pub fn new(v: &'a Verdict) -> Self {
        VerdictReport {
            line: None,
            action: v.action.as_str(),
            enforced: v.enforced.as_str(),
            score: v.score,
            route: None,
            reasons: v.reasons.iter().map(|r| r.signal.code()).collect(),
            fp: FpReport {
                hfp: v.hfp_hex(),
                hfp_raw: None,
                client: v.fp.client,
                account: v.fp.account.map(|a| format!("{a:016x}")),
                ja4h: v.fp.ja4h.as_deref(),
                ja4: v.fp.ja4.as_deref(),
                ja3: v.fp.ja3.as_deref(),
                template: v.fp.template.map(|t| format!("{t:016x}")),
                task: v.fp.task.map(|t| format!("{t:016x}")),
                tools: v.fp.tool_set.map(|t| format!("{t:016x}")),
            },
            explain: None,
            measured: None,
            label: None,
        }
    }

    /// Adds the explanation and the readable header shape of `req` (`--explain`).
    pub fn explained(mut self, e: Explanation, req: &Request) -> Self {
        self.explain = Some(e.reasons);
        self.measured = Some(e.measured);
        self.fp.hfp_raw = Some(crate::fingerprint::hfp::readable(req));
        self
    }

    /// Sets the name of the route that applied (from [`crate::Engine::route_label`]).
    pub fn route(mut self, route: Option<&'a str>) -> Self {
        self.route = route;
        self
    }

    /// Sets the input line number.
    pub fn line(mut self, line: u64) -> Self {
        self.line = Some(line);
        self
    }

    /// Sets the label copied from the record.
    pub fn label(mut self, label: Option<&'a serde_json::Value>) -> Self {
        self.label = label;
        self
    }

    /// The report as one line of JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// One line that could not be inspected: `{"line": N, "error": "..."}`.
pub fn line_error(line: u64, message: &str) -> String {
    serde_json::json!({ "line": line, "error": message }).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::score::{Action, Reason};
    use crate::signal::Signal;

    #[test]
    fn report_has_the_cli_fields_in_order() {
        let v = Verdict {
            action: Action::Deny,
            enforced: Action::Tag,
            score: 91,
            reasons: vec![Reason { signal: Signal::ProxyVia, strength: 1.0, points: 25.0 }],
            ..Default::default()
        };
        let label = serde_json::json!("camp-a");
        let s = VerdictReport::new(&v).line(3).label(Some(&label)).to_json();
        assert_eq!(
            s,
            r#"{"line":3,"action":"deny","enforced":"tag","score":91,"reasons":["proxy.via"],"fp":{"hfp":"0000000000000000","client":""},"label":"camp-a"}"#
        );
        assert_eq!(VerdictReport::new(&v).to_json().find("line"), None);
        let routed = VerdictReport::new(&v).route(Some("batch")).to_json();
        assert!(routed.contains(r#""score":91,"route":"batch","reasons""#), "{routed}");
        assert_eq!(line_error(2, "bad"), r#"{"error":"bad","line":2}"#);
    }
}
