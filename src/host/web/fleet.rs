//! `FleetSync`: the edge worker's side of the fleet sync ([`crate::fleet`]), one per isolate,
//! driven by `edge/fleet.mjs` at most once a second inside `ctx.waitUntil()`.
//!
//! A round trip: `begin(engine, now)` exports the engine's local changes (unless a batch is
//! still unacknowledged: then they stay in the state) and returns the request path, `body()`
//! the request body; the worker PUTs them to the bridge and hands the answer to
//! `finish(engine, status, body, why, now)`, which merges the other nodes' deltas and returns
//! what happened as JSON: `{failed, published, applied, refused, missed, bytes_out, bytes_in,
//! log: [...]}`. Deliberately not here: the fetch, timers, the request path.

use wasm_bindgen::prelude::*;

use super::Engine;
use crate::fleet::config::sanitize_name;
use crate::fleet::{Client, FleetConfig, Outcome};

/// One isolate's fleet client.
#[wasm_bindgen]
pub struct FleetSync {
    client: Client,
    body: Vec<u8>,
}

#[wasm_bindgen]
impl FleetSync {
    /// The client for `settings_json` (a `fleet` object; empty = defaults); throws an `Error`
    /// listing every settings problem. The node is named `<fleet.node_id or "edge">-<random
    /// as 8 hex digits>`: each isolate is a node of its own.
    #[wasm_bindgen(constructor)]
    pub fn new(settings_json: &str, random: u32) -> Result<FleetSync, JsValue> {
        let text = if settings_json.trim().is_empty() { "{}" } else { settings_json };
        let cfg = FleetConfig::from_json(text).map_err(|e| super::policy_error(&e.0))?;
        if cfg.bridge.is_some() {
            let e = crate::policy::PolicyError { path: "fleet.bridge".into(), message: "not used by the edge worker: it reaches the bridge through its FLEET service binding".into() };
            return Err(super::policy_error(&[e]));
        }
        let mut label = cfg.node_id.as_deref().and_then(sanitize_name).unwrap_or_else(|| "edge".into());
        label.truncate(40);
        let node = format!("{label}-{random:08x}");
        let publisher = format!("{node}-1");
        Ok(FleetSync { client: Client::new(cfg, &node, &publisher), body: Vec::new() })
    }

    /// This isolate's node name.
    pub fn node(&self) -> String {
        self.client.node().to_string()
    }

    /// `fleet.enabled`.
    pub fn enabled(&self) -> bool {
        self.client.config().enabled
    }

    /// `fleet.timeout_ms`.
    #[wasm_bindgen(js_name = timeoutMs)]
    pub fn timeout_ms(&self) -> u32 {
        self.client.config().timeout_ms
    }

    /// Largest answer body read (`fleet.max_reply_bytes` and room for the framing).
    #[wasm_bindgen(js_name = maxAnswerBytes)]
    pub fn max_answer_bytes(&self) -> u32 {
        self.client.config().max_reply_bytes + (64 << 10)
    }

    /// Starts a round trip; its path (`undefined` while one is under way).
    pub fn begin(&mut self, engine: &mut Engine, now_ms: f64) -> Option<String> {
        if self.client.wants_local() {
            let delta = engine.inner.state_mut().export_delta();
            self.client.queue::<crate::state::State>(delta);
        }
        let call = self.client.begin(now_ms as u64)?;
        self.body = call.body;
        Some(call.path)
    }

    /// The body of the round trip just begun.
    pub fn body(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.body)
    }

    /// Ends the round trip: `status` 0 means no answer (`why` says what happened).
    pub fn finish(&mut self, engine: &mut Engine, status: u16, body: &[u8], why: &str, now_ms: f64) -> String {
        let outcome = if status == 0 { Outcome::Failed(why) } else { Outcome::Http(status, body) };
        let r = self.client.finish(engine.inner.state_mut(), outcome, now_ms as u64);
        serde_json::json!({
            "failed": r.failed,
            "published": r.published,
            "applied": r.applied,
            "refused": r.refused,
            "missed": r.missed,
            "bytes_out": r.bytes_out,
            "bytes_in": r.bytes_in,
            "log": r.log,
        })
        .to_string()
    }
}
