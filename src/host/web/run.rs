//! `Run`: one policy over one capture, for the tuning page's records table and drill-down.
//!
//! JS feeds the capture's JSONL bytes in chunks; each record goes through one engine on the
//! explain path ([`crate::Engine::inspect_levels`]) and its verdict is kept in compact columns
//! (a score byte, label / account / client indices, reason signals and strengths, measured
//! levels): no JSON per record, and JS gets the columns as typed arrays. `explain(i, line)`
//! rebuilds record `i`'s verdict from the columns and returns the same JSON line as the CLI's
//! `replay --explain` (one builder, [`crate::explain`]). Scores never come from JS.
//! The engine carries a campaign tracker ([`crate::campaign`], the CLI's defaults): `campaigns()`
//! is the CLI's `distill-guard campaigns` report of the capture, with each campaign's accounts
//! counted by label.

use std::collections::HashMap;

use wasm_bindgen::prelude::*;

use super::{js_error, policy_error};
use crate::explain::explain;
use crate::report::VerdictReport;
use crate::score::{Action, Prints, Reason, Verdict};
use crate::signal::{Levels, Signal};
use crate::traffic::{self, LineDecoder};

/// Most line errors kept with their message (the rest are only counted).
const MAX_ERRORS: usize = 1000;
/// Label name of records without a label.
const UNLABELED: &str = "(unlabeled)";
/// Label name shared by the labels past the 65,535th distinct one.
const OTHER_LABELS: &str = "(other labels)";

/// Distinct names, each with a dense index.
#[derive(Default)]
struct Names<K> {
    list: Vec<K>,
    index: HashMap<K, u32>,
}

impl<K: std::hash::Hash + Eq + Clone> Names<K> {
    fn id(&mut self, k: &K) -> u32 {
        if let Some(&i) = self.index.get(k) {
            return i;
        }
        let i = self.list.len() as u32;
        self.list.push(k.clone());
        self.index.insert(k.clone(), i);
        i
    }
}

/// The display name of a record's label: a string as is; an object by its `campaign`,
/// `name`, `kind` or `label` string; anything else as JSON text.
fn label_name(label: Option<&serde_json::Value>) -> String {
    match label {
        None | Some(serde_json::Value::Null) => UNLABELED.into(),
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(v @ serde_json::Value::Object(o)) => ["campaign", "name", "kind", "label"]
            .iter()
            .find_map(|k| o.get(*k).and_then(|x| x.as_str()))
            .map_or_else(|| v.to_string(), str::to_string),
        Some(v) => v.to_string(),
    }
}

/// One policy run over a capture (see the module docs).
#[wasm_bindgen]
pub struct Run {
    engine: crate::Engine,
    decoder: LineDecoder,
    score: Vec<u8>,
    label: Vec<u16>,
    ts: Vec<f64>,
    line: Vec<u32>,
    offset: Vec<f64>,
    len: Vec<u32>,
    account: Vec<u32>,
    client: Vec<u8>,
    hfp: Vec<u64>,
    template: Vec<Option<u64>>,
    route: Vec<u16>,
    task: Vec<Option<u64>>,
    tool_set: Vec<Option<u64>>,
    held: Vec<bool>,
    reason_off: Vec<u32>,
    reason_sig: Vec<u8>,
    reason_strength: Vec<f32>,
    level_off: Vec<u32>,
    level_sig: Vec<u8>,
    level_val: Vec<f64>,
    labels: Names<String>,
    accounts: Names<u64>,
    clients: Names<&'static str>,
    errors: Vec<(u64, String)>,
    error_count: u32,
    /// The engine's deployment notices (its checks), with the line that closed
    /// their window: what `replay` prints on stderr.
    notices: Vec<(u64, String)>,
}

#[wasm_bindgen]
impl Run {
    /// A run of the policy `policy_json` (a fresh engine); throws like `new Engine`.
    #[wasm_bindgen(constructor)]
    pub fn new(policy_json: &str) -> Result<Run, JsValue> {
        let mut engine = crate::Engine::from_json(policy_json).map_err(|errs| policy_error(&errs.0))?;
        // Every tracked account listed per campaign, as the CLI does: the list is what a
        // trust-and-safety team copies.
        let d = crate::campaign::Settings::default();
        engine.track_campaigns(crate::campaign::Settings { sample: d.accounts, ..d });
        Ok(Run {
            engine,
            decoder: LineDecoder::new(),
            score: Vec::new(),
            label: Vec::new(),
            ts: Vec::new(),
            line: Vec::new(),
            offset: Vec::new(),
            len: Vec::new(),
            account: Vec::new(),
            client: Vec::new(),
            hfp: Vec::new(),
            template: Vec::new(),
            route: Vec::new(),
            task: Vec::new(),
            tool_set: Vec::new(),
            held: Vec::new(),
            reason_off: vec![0],
            reason_sig: Vec::new(),
            reason_strength: Vec::new(),
            level_off: vec![0],
            level_sig: Vec::new(),
            level_val: Vec::new(),
            labels: Names::default(),
            accounts: Names::default(),
            clients: Names::default(),
            errors: Vec::new(),
            error_count: 0,
            notices: Vec::new(),
        })
    }

    /// Inspects the JSONL lines in `bytes` in order. `first_line` is the 1-based number of
    /// its first line and `base_offset` its byte offset in the capture. A chunk should end
    /// after a newline (or at the end of the capture). Returns the number of lines it held,
    /// blank ones included, so the caller can number the next chunk.
    pub fn feed(&mut self, bytes: &[u8], first_line: u32, base_offset: f64) -> u32 {
        let mut n = 0u32;
        let mut start = 0usize;
        while start < bytes.len() {
            let end = memchr::memchr(b'\n', &bytes[start..]).map_or(bytes.len(), |k| start + k);
            self.line_at(&bytes[start..end], u64::from(first_line) + u64::from(n), base_offset + start as f64);
            n += 1;
            start = end + 1;
        }
        n
    }

    /// Number of records scored.
    #[wasm_bindgen(getter)]
    pub fn length(&self) -> u32 {
        self.score.len() as u32
    }

    /// Scores, one byte per record.
    pub fn scores(&self) -> Vec<u8> {
        self.score.clone()
    }

    /// Label index per record (into `labelNames`).
    pub fn labels(&self) -> Vec<u16> {
        self.label.clone()
    }

    /// `ts_ms` per record.
    pub fn times(&self) -> Vec<f64> {
        self.ts.clone()
    }

    /// 1-based line number per record.
    pub fn lines(&self) -> Vec<u32> {
        self.line.clone()
    }

    /// Byte offset of each record's line in the capture.
    pub fn offsets(&self) -> Vec<f64> {
        self.offset.clone()
    }

    /// Byte length of each record's line.
    pub fn lengths(&self) -> Vec<u32> {
        self.len.clone()
    }

    /// Account index per record (into `accountNames`); 2^32-1 when the record has none.
    pub fn accounts(&self) -> Vec<u32> {
        self.account.clone()
    }

    /// Client index per record (into `clientNames`).
    pub fn clients(&self) -> Vec<u8> {
        self.client.clone()
    }

    /// Index of the policy route that scored each record (`routes[i]`); 65535 when none did.
    pub fn routes(&self) -> Vec<u16> {
        self.route.clone()
    }

    /// Record `i`'s reasons are `reasonSignals()[off[i]..off[i + 1]]` (length + 1 entries).
    #[wasm_bindgen(js_name = reasonOffsets)]
    pub fn reason_offsets(&self) -> Vec<u32> {
        self.reason_off.clone()
    }

    /// Reason signals (catalogue indices, as in `signalCatalog`), largest contribution first.
    #[wasm_bindgen(js_name = reasonSignals)]
    pub fn reason_signals(&self) -> Vec<u8> {
        self.reason_sig.clone()
    }

    /// Label names as a JSON array.
    #[wasm_bindgen(js_name = labelNames)]
    pub fn label_names(&self) -> String {
        serde_json::to_string(&self.labels.list).unwrap_or_default()
    }

    /// Account keys (16 hex digits) as a JSON array.
    #[wasm_bindgen(js_name = accountNames)]
    pub fn account_names(&self) -> String {
        let hex: Vec<String> = self.accounts.list.iter().map(|a| format!("{a:016x}")).collect();
        serde_json::to_string(&hex).unwrap_or_default()
    }

    /// Client families as a JSON array.
    #[wasm_bindgen(js_name = clientNames)]
    pub fn client_names(&self) -> String {
        serde_json::to_string(&self.clients.list).unwrap_or_default()
    }

    /// Lines that could not be read: `{count, first: [{line, error}, ...]}` (at most 1,000).
    pub fn errors(&self) -> String {
        let first: Vec<_> = self.errors.iter().map(|(l, e)| serde_json::json!({"line": l, "error": e})).collect();
        serde_json::json!({"count": self.error_count, "first": first}).to_string()
    }

    /// The engine's deployment notices so far (its checks of the client address, the
    /// account key and the bodies read: README "Deployment checks"), as JSON `[{"line": n, "message": "..."}]`, at most [`MAX_ERRORS`].
    pub fn notices(&self) -> String {
        let list: Vec<_> = self.notices.iter().map(|(l, m)| serde_json::json!({"line": l, "message": m})).collect();
        serde_json::Value::Array(list).to_string()
    }

    /// What the deployment checks judged so far, as replay's summary says it
    /// (`2 windows of 256 requests judged, no warning`; `nothing judged (...)` before the first
    /// full window): the page's line under the capture, so that no notice reads as checked.
    pub fn checks(&self) -> String {
        self.engine.counters().checks_summary()
    }

    /// The campaign report of the records fed so far, as of the latest one (JSON; the shape
    /// of `distill-guard campaigns --format json`), each campaign with `labels`: its listed
    /// accounts per label (an account's label is that of its first record), most first.
    pub fn campaigns(&self) -> Result<String, JsValue> {
        let tracker = self.engine.campaigns().ok_or_else(|| js_error("this run has no campaign tracker"))?;
        let report = tracker.report(tracker.last_ms());
        let mut first_label = vec![u16::MAX; self.accounts.list.len()];
        for (&a, &l) in self.account.iter().zip(&self.label) {
            if let Some(x) = first_label.get_mut(a as usize).filter(|x| **x == u16::MAX) {
                *x = l;
            }
        }
        let mut value = serde_json::to_value(&report).map_err(|e| js_error(&e.to_string()))?;
        let campaigns = value.get_mut("campaigns").and_then(|c| c.as_array_mut());
        for (c, json) in report.campaigns.iter().zip(campaigns.into_iter().flatten()) {
            let mut counts: HashMap<u16, u64> = HashMap::new();
            for id in &c.accounts.sample {
                let label = u64::from_str_radix(id, 16).ok().and_then(|a| self.accounts.index.get(&a)).and_then(|&i| first_label.get(i as usize));
                if let Some(&l) = label {
                    *counts.entry(l).or_default() += 1;
                }
            }
            let mut counts: Vec<(u16, u64)> = counts.into_iter().collect();
            counts.sort_by(|x, y| y.1.cmp(&x.1).then(x.0.cmp(&y.0)));
            let labels: Vec<serde_json::Value> = counts
                .iter()
                .map(|&(l, n)| serde_json::json!({"label": self.labels.list.get(l as usize).map_or(UNLABELED, String::as_str), "accounts": n}))
                .collect();
            if let Some(o) = json.as_object_mut() {
                o.insert("labels".into(), serde_json::Value::Array(labels));
            }
        }
        Ok(value.to_string())
    }

    /// Record `i` explained: the JSON line `replay --explain` prints for it. `line` is the
    /// record's line as fed (its bytes at `offsets()[i]`, `lengths()[i]` long).
    pub fn explain(&self, i: u32, line: &[u8]) -> Result<String, JsValue> {
        let i = i as usize;
        if i >= self.score.len() {
            return Err(js_error(&format!("no record {i}: the run has {}", self.score.len())));
        }
        let text = std::str::from_utf8(line.trim_ascii()).map_err(|e| js_error(&format!("not UTF-8: {e}")))?;
        let dec = traffic::parse_line(text).map_err(|m| js_error(&m))?;
        if dec.record().ts_ms as f64 != self.ts[i] {
            return Err(js_error(&format!("line {} is not the line of record {i}", self.line[i])));
        }
        let req = dec.request(self.engine.body_limit());
        let route = Some(self.route[i]).filter(|&r| r != u16::MAX);
        let w = &self.engine.compiled().settings(route).weights;
        let (r0, r1) = (self.reason_off[i] as usize, self.reason_off[i + 1] as usize);
        let reasons: Vec<Reason> = (r0..r1)
            .map(|k| {
                let signal = Signal::ALL[self.reason_sig[k] as usize];
                let strength = self.reason_strength[k];
                Reason { signal, strength, points: w.weight(signal) * strength }
            })
            .collect();
        let mut levels = Levels::default();
        for k in self.level_off[i] as usize..self.level_off[i + 1] as usize {
            levels.set(Signal::ALL[self.level_sig[k] as usize], self.level_val[k]);
        }
        let score = self.score[i];
        let action = w.action_for(score);
        let account = self.account[i];
        let v = Verdict {
            action,
            enforced: if w.shadow() { action.min(Action::Tag) } else { action },
            score,
            reasons,
            fp: Prints {
                hfp: self.hfp[i],
                order_free: !req.order_known,
                ja4h: self.engine.policy().fingerprints.ja4h.then(|| crate::fingerprint::ja4h::ja4h(&req)),
                ja4: req.peer.ja4.map(str::to_string),
                ja3: req.peer.ja3.map(str::to_string),
                client: self.clients.list[self.client[i] as usize],
                account: self.accounts.list.get(account as usize).copied(),
                template: self.template[i],
                task: self.task[i],
                tool_set: self.tool_set[i],
            },
            route,
            allowlisted: false,
            internal_error: false,
            held: self.held[i],
        };
        let why = explain(w, &v.reasons, &levels);
        Ok(VerdictReport::new(&v).line(u64::from(self.line[i])).route(self.engine.route_label(&v)).label(dec.record().label.as_ref()).explained(why, &req).to_json())
    }
}

impl Run {
    /// Inspects one line (without its newline) and appends its columns, or its error.
    fn line_at(&mut self, raw: &[u8], line_no: u64, offset: f64) {
        let trimmed = raw.trim_ascii();
        if trimmed.is_empty() {
            return;
        }
        let res = std::str::from_utf8(trimmed).map_err(|e| format!("not UTF-8: {e}")).and_then(|l| self.decoder.parse(l));
        let dec = match res {
            Ok(dec) => dec,
            Err(msg) => {
                self.error_count += 1;
                if self.errors.len() < MAX_ERRORS {
                    self.errors.push((line_no, msg));
                }
                return;
            }
        };
        let req = dec.request(self.engine.body_limit());
        let mut levels = Levels::default();
        let v = self.engine.inspect_levels(&req, &mut levels);
        if let Some((n, _)) = self.engine.take_notice().filter(|_| self.notices.len() < MAX_ERRORS) {
            self.notices.push((line_no, n));
        }
        let name = label_name(dec.record().label.as_ref());
        let label = if self.labels.list.len() < usize::from(u16::MAX) || self.labels.index.contains_key(&name) {
            self.labels.id(&name)
        } else {
            self.labels.id(&OTHER_LABELS.to_string())
        };
        self.label.push(label as u16);
        self.ts.push(dec.record().ts_ms as f64);
        self.score.push(v.score);
        self.line.push(line_no as u32);
        self.offset.push(offset);
        self.len.push(raw.len() as u32);
        self.account.push(v.fp.account.map_or(u32::MAX, |a| self.accounts.id(&a)));
        // Client families are a fixed set of a few dozen names.
        self.client.push(self.clients.id(&v.fp.client).min(255) as u8);
        self.hfp.push(v.fp.hfp);
        self.template.push(v.fp.template);
        self.route.push(v.route.unwrap_or(u16::MAX));
        self.task.push(v.fp.task);
        self.tool_set.push(v.fp.tool_set);
        self.held.push(v.held);
        for r in &v.reasons {
            self.reason_sig.push(r.signal.index() as u8);
            self.reason_strength.push(r.strength);
        }
        self.reason_off.push(self.reason_sig.len() as u32);
        for (s, level) in levels.iter() {
            self.level_sig.push(s.index() as u8);
            self.level_val.push(level);
        }
        self.level_off.push(self.level_sig.len() as u32);
    }
}
