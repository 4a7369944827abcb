//! The tuning page's side of the web module (feature `simulate`, not in the edge worker's
//! module): traffic records in and verdict JSON out (`Engine.inspect`, `inspectBatch`), the
//! engine's normalized policy and counters, and the policy validator, built-in policy and signal
//! catalogue the page's editor shows.

use wasm_bindgen::prelude::*;

use super::{errors_json, js_error, Engine};
use crate::policy::Policy;
use crate::report::{line_error, VerdictReport};
use crate::signal::{Family, Signal};
use crate::traffic;

#[wasm_bindgen]
impl Engine {
    /// Inspects one traffic record (the JSONL format of `traffic.rs`); returns verdict JSON.
    /// Throws when the record is malformed.
    pub fn inspect(&mut self, record_json: &str) -> Result<String, JsValue> {
        let dec = traffic::parse_line(record_json).map_err(|m| js_error(&m))?;
        let req = dec.request(self.inner.body_limit());
        let v = self.inner.inspect(&req);
        Ok(VerdictReport::new(&v).route(self.inner.route_label(&v)).label(dec.record().label.as_ref()).to_json())
    }

    /// Inspects JSONL records in order; returns a JSON array with one verdict (with `line`
    /// and `label`) or `{line, error}` per non-blank line. `first_line` numbers the first line
    /// (default 1), so a caller can feed a large capture in chunks.
    #[wasm_bindgen(js_name = inspectBatch)]
    pub fn inspect_batch(&mut self, jsonl: &str, first_line: Option<u32>) -> String {
        let limit = self.inner.body_limit();
        let mut out = String::with_capacity(jsonl.len() / 4 + 2);
        out.push('[');
        let mut first = true;
        let start = u64::from(first_line.unwrap_or(1));
        for (i, line) in jsonl.split('\n').enumerate() {
            let line = line.trim_ascii();
            if line.is_empty() {
                continue;
            }
            let n = start + i as u64;
            if !first {
                out.push(',');
            }
            first = false;
            match traffic::parse_line(line) {
                Err(msg) => out.push_str(&line_error(n, &msg)),
                Ok(dec) => {
                    let req = dec.request(limit);
                    let v = self.inner.inspect(&req);
                    out.push_str(&VerdictReport::new(&v).line(n).route(self.inner.route_label(&v)).label(dec.record().label.as_ref()).to_json());
                }
            }
        }
        out.push(']');
        out
    }

    /// The complete, normalized policy this engine runs, as pretty JSON.
    #[wasm_bindgen(js_name = policyJson)]
    pub fn policy_json(&self) -> String {
        self.inner.policy().to_json_pretty()
    }

    /// Counters since the engine was built: `{requests, actions: {allow, ...}, internal_errors,
    /// learned, skipped}` (`learned`: bodies learned from after a verdict at the headers;
    /// `skipped`: bodies left unread by `body.heavy_learn_one_in`).
    pub fn counters(&self) -> String {
        let c = self.inner.counters();
        let mut actions = serde_json::Map::new();
        for a in crate::Action::ALL {
            actions.insert(a.as_str().into(), c.actions[a as usize].into());
        }
        serde_json::json!({"requests": c.requests, "actions": actions, "internal_errors": c.internal_errors, "learned": c.learned, "skipped": c.skipped})
            .to_string()
    }
}

/// Validates policy JSON; returns a JSON array of `{path, message}` (empty when valid).
#[wasm_bindgen(js_name = validatePolicy)]
pub fn validate_policy(json: &str) -> String {
    match Policy::from_json(json) {
        Ok(_) => "[]".into(),
        Err(errs) => errors_json(&errs.0),
    }
}

/// The built-in policy, complete, as pretty JSON.
#[wasm_bindgen(js_name = defaultPolicy)]
pub fn default_policy() -> String {
    Policy::default().to_json_pretty()
}

/// Every signal as JSON: `[{code, key, family, weight, ramp: [from, full] | null, description}]`.
#[wasm_bindgen(js_name = signalCatalog)]
pub fn signal_catalog() -> String {
    let list: Vec<_> = Signal::ALL
        .iter()
        .map(|&s| {
            serde_json::json!({
                "code": s.code(),
                "key": s.key(),
                "family": family_name(s.family()),
                "weight": s.default_weight(),
                "ramp": s.default_ramp().map(|(from, full)| [from, full]),
                "description": s.description(),
            })
        })
        .collect();
    serde_json::Value::Array(list).to_string()
}

/// Lowercase name of a signal family.
fn family_name(f: Family) -> &'static str {
    match f {
        Family::Proxy => "proxy",
        Family::Client => "client",
        Family::Fingerprint => "fingerprint",
        Family::Prompt => "prompt",
        Family::State => "state",
    }
}
