//! wasm-bindgen adapter for edge workers (workerd, Cloudflare Workers) and the browser
//! tuning page. The boundary is kept small: JSON text in and out, bodies as bytes.
//!
//! JS sees `class Engine` (constructor throws an `Error` whose `errors` holds every policy
//! problem as `{path, message}`; the two request phases for hosts: `fetch.rs`) and `FleetSync`
//! (the edge worker's fleet client, `fleet.rs`). The tuning page's build (feature `simulate`)
//! adds `Engine.inspect` / `inspectBatch` / `policyJson` / `counters`, `validatePolicy`,
//! `defaultPolicy`, `signalCatalog` (`tuning.rs`), `simulate` (the campaign simulator, so the
//! page can generate traffic) and `class Run` (a policy over a whole capture in compact
//! columns, with explanations: `run.rs`); the edge worker's module has none of them.
//! Verdicts use the same JSON as the CLI's `replay` ([`crate::report`]); host responses come
//! from [`crate::respond::respond`] so that the worker and the Envoy filter agree. This module
//! does no I/O and keeps no globals: each JS `Engine` owns its state, bounded by its policy.

mod fetch;
mod fleet;
// The tuning page's whole-capture runs: in the page's build (with the simulator), not the edge worker's.
#[cfg(feature = "simulate")]
mod run;
// The tuning page's record API and catalogues: likewise left out of the edge worker's module,
// which calls none of them (its size budget: tests/module_size.rs).
#[cfg(feature = "simulate")]
mod tuning;

use wasm_bindgen::prelude::*;

use crate::policy::PolicyError;

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
#[cfg(feature = "simulate")]
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
}

#[cfg(feature = "simulate")]
/// Largest number of records `simulate` returns when no limit is given.
const SIMULATE_DEFAULT_LIMIT: usize = 200_000;

/// Simulated labeled traffic as JSONL text: the first `limit` records (default 200,000) of
/// `scenario_json` with `seed` (a whole number, 0..2^53), without the peer facts `without`
/// names (comma-separated: `asn`, `country`, `ja4`, `ja3`; what the host will not give).
/// Throws an `Error` naming every scenario problem with its path.
#[cfg(feature = "simulate")]
#[wasm_bindgen]
pub fn simulate(scenario_json: &str, seed: f64, limit: Option<u32>, without: Option<String>) -> Result<String, JsValue> {
    if !(seed.is_finite() && seed >= 0.0 && seed.fract() == 0.0 && seed <= 9_007_199_254_740_992.0) {
        return Err(js_error(&format!("seed must be a whole number 0..=2^53, got {seed}")));
    }
    let limit = limit.map_or(SIMULATE_DEFAULT_LIMIT, |n| n as usize);
    let without = crate::simulate::Without::parse(without.as_deref().unwrap_or_default()).map_err(|m| js_error(&format!("without: {m}")))?;
    crate::simulate::jsonl(scenario_json, seed as u64, limit, without).map_err(|m| js_error(&m))
}
