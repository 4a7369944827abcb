//! wasm-bindgen adapter for edge workers (workerd, Cloudflare Workers) and the browser
//! tuning page. The boundary is kept small: JSON text in and out, bodies as bytes.
//!
//! JS sees `class Engine` (constructor throws an `Error` whose `errors` holds every policy
//! problem as `{path, message}`), `validatePolicy`, `defaultPolicy`, `signalCatalog`,
//! `simulate` (the campaign simulator, so the tuning page can generate traffic),
//! `class Run` (a policy over a whole capture in compact columns, with explanations: `run.rs`;
//! these two only in the tuning page's build, feature `simulate`) and `FleetSync` (the edge
//! worker's fleet client, `fleet.rs`).
//! Verdicts use the same JSON as the CLI's `replay` ([`crate::report`]); host responses come
//! from [`crate::respond::respond`] so that the worker and the Envoy filter agree. This module
//! does no I/O and keeps no globals: each JS `Engine` owns its state, bounded by its policy.

mod fetch;
mod fleet;
// The tuning page's whole-capture runs: in the page's build (with the simulator), not the edge worker's.
#[cfg(feature = "simulate")]
mod run;

use wasm_bindgen::prelude::*;

use crate::policy::{Policy, PolicyError};
use crate::report::{line_error, VerdictReport};
use crate::signal::{Family, Signal};
use crate::traffic;

#[wasm_bindgen]
extern "C" {
    /// The JS `Error` class, so thrown errors carry a stack and an `errors` property.
    #[wasm_bindgen(js_name = Error)]
    type JsErrorObject;
    #[wasm_bindgen(constructor, js_class = "Error")]
    fn new(message: &str) -> JsErrorObject;
    #[wasm_bindgen(method, setter = errors, js_class = "Error")]
    fn set_errors(this: &JsErrorObject, errors: JsValue);
    #[wasm_bindgen(js_namespace = JSON, js_name = parse)]
    fn json_parse(text: &str) -> JsValue;
}

/// `[{path, message}, ...]` as JSON text.
fn errors_json(errs: &[PolicyError]) -> String {
    let list: Vec<_> = errs.iter().map(|e| serde_json::json!({"path": e.path, "message": e.message})).collect();
    serde_json::Value::Array(list).to_string()
}

/// A JS `Error` listing every policy error, with the list in `error.errors`.
fn policy_error(errs: &[PolicyError]) -> JsValue {
    let mut msg = format!("invalid policy ({} error{}):", errs.len(), if errs.len() == 1 { "" } else { "s" });
    for e in errs {
        msg.push_str("\n  ");
        msg.push_str(&e.to_string());
    }
    let err = JsErrorObject::new(&msg);
    err.set_errors(json_parse(&errors_json(errs)));
    err.into()
}

/// A plain JS `Error` with `message`.
fn js_error(message: &str) -> JsValue {
    JsErrorObject::new(message).into()
}

/// One policy and its cross-request state (keep one per isolate or Web Worker).
#[wasm_bindgen]
pub struct Engine {
    inner: crate::Engine,
    /// Requests waiting for their body (`fetch.rs`), bounded.
    tickets: crate::host::tickets::Tickets,
}

#[wasm_bindgen]
impl Engine {
    /// Builds an engine from policy JSON; throws an `Error` listing every policy error.
    #[wasm_bindgen(constructor)]
    pub fn new(policy_json: &str) -> Result<Engine, JsValue> {
        match crate::Engine::from_json(policy_json) {
            Ok(inner) => Ok(Engine { inner, tickets: Default::default() }),
            Err(errs) => Err(policy_error(&errs.0)),
        }
    }

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

    /// True when the policy reads the body prefix of requests to `path` with `method` (with
    /// any method when `method` is absent: route overrides may differ by method).
    #[wasm_bindgen(js_name = wantsBody)]
    pub fn wants_body(&self, path: &str, method: Option<String>) -> bool {
        match method {
            Some(m) => self.inner.wants_body_for(m.as_bytes(), path.as_bytes()),
            None => self.inner.wants_body(path.as_bytes()),
        }
    }

    /// Largest body prefix the engine reads of any request, in bytes.
    #[wasm_bindgen(js_name = bodyLimit)]
    pub fn body_limit(&self) -> u32 {
        u32::try_from(self.inner.body_limit()).unwrap_or(u32::MAX)
    }

    /// The tag-header prefix; hosts remove client-sent headers that start with it.
    #[wasm_bindgen(js_name = headerPrefix)]
    pub fn header_prefix(&self) -> String {
        self.inner.policy().output.header_prefix.clone()
    }

    /// The complete, normalized policy this engine runs, as pretty JSON.
    #[wasm_bindgen(js_name = policyJson)]
    pub fn policy_json(&self) -> String {
        self.inner.policy().to_json_pretty()
    }

    /// Counters since the engine was built: `{requests, actions: {allow, ...}, internal_errors}`.
    pub fn counters(&self) -> String {
        let c = self.inner.counters();
        let mut actions = serde_json::Map::new();
        for a in crate::Action::ALL {
            actions.insert(a.as_str().into(), c.actions[a as usize].into());
        }
        serde_json::json!({"requests": c.requests, "actions": actions, "internal_errors": c.internal_errors}).to_string()
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

#[cfg(feature = "simulate")]
/// Largest number of records `simulate` returns when no limit is given.
const SIMULATE_DEFAULT_LIMIT: usize = 200_000;

/// Simulated labeled traffic as JSONL text: the first `limit` records (default 200,000) of
/// `scenario_json` with `seed` (a whole number, 0..2^53). Throws an `Error` naming every
/// scenario problem with its path.
#[cfg(feature = "simulate")]
#[wasm_bindgen]
pub fn simulate(scenario_json: &str, seed: f64, limit: Option<u32>) -> Result<String, JsValue> {
    if !(seed.is_finite() && seed >= 0.0 && seed.fract() == 0.0 && seed <= 9_007_199_254_740_992.0) {
        return Err(js_error(&format!("seed must be a whole number 0..=2^53, got {seed}")));
    }
    let limit = limit.map_or(SIMULATE_DEFAULT_LIMIT, |n| n as usize);
    crate::simulate::jsonl(scenario_json, seed as u64, limit).map_err(|m| js_error(&m))
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
