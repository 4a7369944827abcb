//! Policy files: the serde model, built-in defaults, and validation that reports every
//! error at once, each with its path (`signals.proxy_via.weight: must be 0..=100, got 250`).
//!
//! Parsing runs in three passes so that one typo does not hide the next: (1) JSON syntax,
//! (2) a shape walk of the document against the serialized default policy (unknown keys,
//! wrong JSON types, with paths), (3) serde into [`Policy`] and [`Policy::validate`] for
//! ranges and cross-field rules. It does not compile the policy for fast lookups: that is
//! the engine's job ([`crate::engine::Compiled`]).

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::signal::Signal;

mod routes;

pub use routes::{label as route_label, BodyPatch, BodyRead, GrayZonePatch, Route, RouteMatch, SignalPatch, ThresholdsPatch, MAX_ROUTES};

/// Whether verdicts are enforced or only reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Throttle and deny as the score says.
    #[default]
    Enforce,
    /// Compute and tag, never throttle or deny.
    Shadow,
}

/// A complete policy. Every field has a default; a file only names what it changes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Policy {
    /// Format version; must be 1.
    pub version: u32,
    /// Free-form name shown in logs and the tuning page.
    pub name: String,
    /// `enforce` or `shadow`.
    pub mode: Mode,
    /// On an internal error, deny instead of letting the request through.
    pub fail_closed: bool,
    /// Score thresholds for each action.
    pub thresholds: Thresholds,
    /// Throttle response settings.
    pub throttle: Throttle,
    /// What the host adds to forwarded requests.
    pub output: Output,
    /// How accounts are identified.
    pub identity: Identity,
    /// Which bodies are read, and how much of them.
    pub body: Body,
    /// Optional fingerprint outputs.
    pub fingerprints: Fingerprints,
    /// Proxy-header interpretation.
    pub proxy: ProxyCfg,
    /// Named CIDR lists that feed `ip.*` signals.
    pub networks: Networks,
    /// Allowlists that short-circuit to `allow`.
    pub allow: Allow,
    /// Blocklists that feed `fp.listed`.
    pub block: Block,
    /// Per-signal weights and ramps, keyed by policy key (`proxy_via`).
    pub signals: BTreeMap<String, SignalCfg>,
    /// Prompt-view settings.
    pub prompt: crate::prompt::PromptConfig,
    /// Cross-request state settings and bounds.
    pub state: crate::state::StateConfig,
    /// Route overrides, first match wins ([`Route`]).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub routes: Vec<Route>,
}

/// Score thresholds (0..=100, `tag <= throttle <= deny`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Thresholds {
    /// At or above: add tags, forward.
    pub tag: u32,
    /// At or above: answer 429.
    pub throttle: u32,
    /// At or above: answer 403.
    pub deny: u32,
}

/// Throttle response settings.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Throttle {
    /// Value of `Retry-After` in seconds (1..=86400).
    pub retry_after_s: u32,
}

/// How the verdict travels: headers added to forwarded requests, and what a blocked client
/// is told.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Output {
    /// Prefix of the tag headers (`x-distill-` gives `x-distill-score`, ...). Client-sent
    /// headers with this prefix, and the structured header, are always removed.
    pub header_prefix: String,
    /// One tag header per field, one structured (RFC 9651) header, or both.
    pub format: OutputFormat,
    /// Tell a throttled or denied client its score, reason codes and fingerprint (debugging
    /// only: it shows an evader what to change). Off: a generic message and a reference id.
    pub client_reasons: bool,
}

/// The forms the verdict takes on a forwarded request ([`Output::format`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum OutputFormat {
    /// `x-distill-score`, `x-distill-action`, ... one header each.
    #[default]
    Headers,
    /// One RFC 9651 dictionary header named after the prefix (`x-distill: score=41, ...`).
    Structured,
    /// Both of the above.
    Both,
}

impl OutputFormat {
    /// The values a policy may name.
    pub const NAMES: [&'static str; 3] = ["headers", "structured", "both"];

    /// True when the separate tag headers are added.
    pub fn headers(self) -> bool {
        self != OutputFormat::Structured
    }

    /// True when the structured header is added.
    pub fn structured(self) -> bool {
        self != OutputFormat::Headers
    }
}

impl Output {
    /// Name of the structured verdict header: the prefix without its trailing `-`s.
    pub fn structured_name(&self) -> &str {
        self.header_prefix.trim_end_matches('-')
    }

    /// Pass 2 for this section: `format` must name a known form (reported with its path
    /// instead of serde's path-less message).
    fn check_document(doc: &Value, errs: &mut Errors) {
        if let Some(Value::String(f)) = doc.get("output").and_then(|o| o.get("format")) {
            if !OutputFormat::NAMES.contains(&f.as_str()) {
                errs.push("output.format", format!("must be one of {}, got {:?}", OutputFormat::NAMES.join(", "), truncate(f)));
            }
        }
    }

    /// Range checks for this section.
    fn validate(&self, e: &mut Errors) {
        let p = &self.header_prefix;
        if p.is_empty() || p.len() > 32 || !p.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-') {
            e.push("output.header_prefix", format!("must be 1..=32 characters of a-z, 0-9 and '-', got {p:?}"));
        } else if self.structured_name().is_empty() {
            e.push("output.header_prefix", format!("must contain a letter or digit (the structured header is named after it), got {p:?}"));
        }
    }
}

/// The built-in `identity.hash_key`: every deployment that keeps it computes the same account
/// ids (see [`Policy::warnings`]).
pub const PLACEHOLDER_HASH_KEY: &str = "distill-guard";

/// Every `identity.hash_key` this project ships (the built-in one, and the one in `filters/`).
pub const SHIPPED_HASH_KEYS: [&str; 2] = [PLACEHOLDER_HASH_KEY, "change-me-per-deployment"];

/// Account identification.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Identity {
    /// Headers holding the API key, in priority order; `authorization` takes `Bearer <key>`.
    pub headers: Vec<String>,
    /// Secret mixed into the account hash, so account ids cannot be matched across deployments.
    pub hash_key: String,
}

/// Body reading.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Body {
    /// Paths (exact, query ignored; a trailing `*` matches a prefix) whose body prefix is read.
    pub paths: Vec<String>,
    /// Largest prefix read, in bytes (0..=1048576).
    pub max_bytes: u32,
    /// When the verdict waits for the body: `always` (every request on `paths`),
    /// `suspicious` (only when the header-phase score is in `gray_zone`) or `never`. Bodies
    /// not waited for are still read as they stream past and learned from (see [`Inspect`]).
    pub inspect: String,
    /// Header-phase scores for which `suspicious` waits for the body.
    pub gray_zone: GrayZone,
    /// Learn from one in this many bodies of a heavy account's requests not waited for
    /// (1..=1000; 1: every one). A heavy account sent more than `state.light_max_requests`
    /// requests in the account window; light accounts', agent accounts' (whose latest body
    /// named a tool set), held and flagged requests' bodies are always learned. A sampled
    /// body's elicitation counts for the ones skipped in its account's share. Learning a 4 KB
    /// prompt is most of a POST's cost.
    pub heavy_learn_one_in: u32,
}

/// When the verdict waits for the body (`body.inspect`), parsed from the policy text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Inspect {
    /// Every request on a body path waits for its body prefix.
    Always,
    /// Only requests whose header-phase score is in the gray zone wait; the others are
    /// decided at their headers and their body is learned from as it streams past.
    #[default]
    Suspicious,
    /// No request waits; every body is learned from as it streams past.
    Never,
}

impl Inspect {
    /// The policy names, in order.
    pub const NAMES: [&'static str; 3] = ["always", "suspicious", "never"];

    /// Parses a `body.inspect` value.
    pub fn parse(s: &str) -> Option<Inspect> {
        match s {
            "always" => Some(Inspect::Always),
            "suspicious" => Some(Inspect::Suspicious),
            "never" => Some(Inspect::Never),
            _ => None,
        }
    }
}

/// Header-phase scores `from <= score < to` for which `body.inspect: suspicious` waits for
/// the body. Scores below `from` are decided at the headers; so are scores at or above `to`
/// (a body can only add evidence, so it cannot undo an action already that strong).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GrayZone {
    /// Lowest header-phase score that waits for the body (0..=101).
    pub from: u32,
    /// Header-phase score from which the headers decide again (from..=101).
    pub to: u32,
}

impl Default for GrayZone {
    fn default() -> Self {
        GrayZone { from: 15, to: 90 }
    }
}

/// Optional fingerprint outputs.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct Fingerprints {
    /// Compute JA4H (FoxIO License 1.1: opt-in).
    pub ja4h: bool,
}

/// Proxy-header interpretation.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ProxyCfg {
    /// How many `X-Forwarded-For` hops your own infrastructure adds (0..=8). The client IP is
    /// taken that many hops from the right; more hops fire `proxy.xff_hops`.
    pub trusted_hops: u32,
}

/// Named CIDR lists (IPv4 and IPv6, `a.b.c.d/n` or a bare address).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct Networks {
    /// Hosting and cloud ranges (`ip.datacenter`).
    pub datacenter: Vec<String>,
    /// Commercial proxy exits (`ip.known_proxy`).
    pub known_proxy: Vec<String>,
    /// Tor exits (`ip.tor`).
    pub tor: Vec<String>,
}

/// Allowlists: a match short-circuits to `allow` with score 0.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct Allow {
    /// Account ids as the engine prints them (16 hex digits of the keyed hash).
    pub accounts: Vec<String>,
    /// Client CIDRs.
    pub cidrs: Vec<String>,
    /// Fingerprints: `hfp` (16 hex digits), JA4, JA3 or JA4H strings.
    pub fingerprints: Vec<String>,
}

/// Blocklists.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct Block {
    /// Fingerprints (same forms as [`Allow::fingerprints`]) that fire `fp.listed`.
    pub fingerprints: Vec<String>,
}

/// One signal's settings.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SignalCfg {
    /// Points at full strength (0..=100; 0 disables).
    pub weight: u32,
    /// Graded signals: level at which the signal starts to fire.
    pub from: Option<f64>,
    /// Graded signals: level at which it fires at full strength (`> from`).
    pub full: Option<f64>,
}

impl Default for SignalCfg {
    fn default() -> Self {
        SignalCfg { weight: 0, from: None, full: None }
    }
}

impl SignalCfg {
    /// The built-in settings of `s`.
    pub fn default_for(s: Signal) -> Self {
        let ramp = s.default_ramp();
        SignalCfg { weight: s.default_weight() as u32, from: ramp.map(|r| r.0), full: ramp.map(|r| r.1) }
    }
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds { tag: 30, throttle: 70, deny: 90 }
    }
}

impl Default for Throttle {
    fn default() -> Self {
        Throttle { retry_after_s: 30 }
    }
}

impl Default for Output {
    fn default() -> Self {
        Output { header_prefix: "x-distill-".into(), format: OutputFormat::Headers, client_reasons: false }
    }
}

impl Default for Identity {
    fn default() -> Self {
        Identity { headers: vec!["x-api-key".into(), "authorization".into()], hash_key: PLACEHOLDER_HASH_KEY.into() }
    }
}

impl Default for Body {
    fn default() -> Self {
        Body {
            paths: vec!["/v1/messages".into(), "/v1/chat/completions".into(), "/v1/responses".into(), "/v1/completions".into()],
            max_bytes: 65536,
            inspect: "suspicious".into(),
            gray_zone: GrayZone::default(),
            heavy_learn_one_in: 1,
        }
    }
}

impl Default for ProxyCfg {
    fn default() -> Self {
        ProxyCfg { trusted_hops: 0 }
    }
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            version: 1,
            name: "built-in".into(),
            mode: Mode::Enforce,
            fail_closed: false,
            thresholds: Thresholds::default(),
            throttle: Throttle::default(),
            output: Output::default(),
            identity: Identity::default(),
            body: Body::default(),
            fingerprints: Fingerprints::default(),
            proxy: ProxyCfg::default(),
            networks: Networks::default(),
            allow: Allow::default(),
            block: Block::default(),
            signals: Signal::ALL.iter().map(|&s| (s.key().to_string(), SignalCfg::default_for(s))).collect(),
            prompt: Default::default(),
            state: Default::default(),
            routes: Vec::new(),
        }
    }
}

/// One problem in a policy, located by its path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyError {
    /// Dotted path with `[i]` indices, e.g. `networks.datacenter[3]`; empty for the document.
    pub path: String,
    /// What is wrong, including the offending value where useful.
    pub message: String,
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            write!(f, "{}", self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

/// Every problem found in a policy (never empty when returned as an error).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PolicyErrors(pub Vec<PolicyError>);

impl fmt::Display for PolicyErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for PolicyErrors {}

/// Collects errors during validation; modules with their own config sections push into it.
#[derive(Debug, Default)]
pub struct Errors(pub Vec<PolicyError>);

impl Errors {
    /// Records an error at `path`.
    pub fn push(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.0.push(PolicyError { path: path.into(), message: message.into() });
    }

    /// Records an error unless `lo <= v <= hi`.
    pub fn range<T: PartialOrd + fmt::Display>(&mut self, path: &str, v: T, lo: T, hi: T) {
        if v < lo || v > hi {
            self.push(path, format!("must be {lo}..={hi}, got {v}"));
        }
    }
}

impl Policy {
    /// Parses and validates a policy document, reporting every error found.
    pub fn from_json(text: &str) -> Result<Policy, PolicyErrors> {
        let doc: Value = serde_json::from_str(text).map_err(|e| {
            PolicyErrors(vec![PolicyError { path: String::new(), message: format!("invalid JSON: {e}") }])
        })?;
        // The typed pass reads the text again rather than the `Value`: one deserializer
        // instead of two keeps the Wasm modules small.
        Self::check_document(&doc)?;
        Self::finish(serde_json::from_str(text))
    }

    /// Validates a parsed JSON document as a policy.
    pub fn from_value(doc: Value) -> Result<Policy, PolicyErrors> {
        Self::from_json(&doc.to_string())
    }

    /// Pass 2: unknown keys and JSON type mismatches, every one with its path.
    fn check_document(doc: &Value) -> Result<(), PolicyErrors> {
        // Through text rather than `to_value`: the Wasm modules then need no `Value` serializer.
        let mut schema: Value = serde_json::to_string(&Policy::default())
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or(Value::Null);
        // Routes are walked item by item against their own shape (routes::check_document).
        if let Value::Object(s) = &mut schema {
            s.insert("routes".into(), Value::Array(Vec::new()));
        }
        let mut errs = Errors::default();
        check_shape(doc, &schema, "", &mut errs);
        if let Some(Value::String(m)) = doc.get("mode") {
            if m != "enforce" && m != "shadow" {
                errs.push("mode", format!("must be one of enforce, shadow, got {:?}", truncate(m)));
            }
        }
        Output::check_document(doc, &mut errs);
        routes::check_document(doc, &schema, &mut errs);
        if errs.0.is_empty() {
            Ok(())
        } else {
            Err(PolicyErrors(errs.0))
        }
    }

    /// Pass 3: the typed policy, its signal defaults, and range / cross-field validation.
    fn finish(typed: Result<Policy, serde_json::Error>) -> Result<Policy, PolicyErrors> {
        let mut policy = typed.map_err(|e| PolicyErrors(vec![PolicyError { path: String::new(), message: e.to_string() }]))?;
        policy.fill_signal_defaults();
        policy.validate()?;
        Ok(policy)
    }

    /// Gives every signal the policy file does not mention its built-in settings, and every
    /// graded signal that names only a weight its built-in ramp.
    fn fill_signal_defaults(&mut self) {
        for &s in Signal::ALL {
            let entry = self.signals.entry(s.key().to_string()).or_insert_with(|| SignalCfg::default_for(s));
            if let Some((from, full)) = s.default_ramp() {
                entry.from.get_or_insert(from);
                entry.full.get_or_insert(full);
            }
        }
    }

    /// Settings that are valid but unsafe to deploy, one line each (empty when none): today
    /// the shipped placeholder `identity.hash_key`.
    pub fn warnings(&self) -> Vec<String> {
        let mut w = Vec::new();
        let key = self.identity.hash_key.as_str();
        if SHIPPED_HASH_KEYS.contains(&key) {
            w.push(format!(
                "identity.hash_key is the shipped placeholder {key:?}: account ids are the same in every deployment that keeps it; set a secret of your own"
            ));
        }
        routes::warnings(self, &mut w);
        w
    }

    /// Checks ranges and cross-field rules; returns every violation.
    pub fn validate(&self) -> Result<(), PolicyErrors> {
        let mut e = Errors::default();
        if self.version != 1 {
            e.push("version", format!("must be 1, got {}", self.version));
        }
        let before = e.0.len();
        check_thresholds(&self.thresholds, "", &mut e);
        let thresholds_ok = e.0.len() == before;
        e.range("throttle.retry_after_s", self.throttle.retry_after_s, 1, 86_400);
        self.output.validate(&mut e);
        for (i, h) in self.identity.headers.iter().enumerate() {
            if h.is_empty() || !h.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
                e.push(format!("identity.headers[{i}]"), format!("not a header name: {h:?}"));
            }
        }
        let before = e.0.len();
        if Inspect::parse(&self.body.inspect).is_none() {
            e.push("body.inspect", format!("must be one of {}, got {:?}", Inspect::NAMES.join(", "), truncate(&self.body.inspect)));
        }
        check_body_read(&self.body_read(), "", &mut e);
        for (i, path) in self.body.paths.iter().enumerate() {
            if !path.starts_with('/') {
                e.push(format!("body.paths[{i}]"), format!("must start with '/', got {path:?}"));
            }
        }
        let body_ok = e.0.len() == before;
        e.range("proxy.trusted_hops", self.proxy.trusted_hops, 0, 8);
        for (name, list) in [
            ("networks.datacenter", &self.networks.datacenter),
            ("networks.known_proxy", &self.networks.known_proxy),
            ("networks.tor", &self.networks.tor),
            ("allow.cidrs", &self.allow.cidrs),
        ] {
            for (i, c) in list.iter().enumerate() {
                if let Err(msg) = crate::proxy::Cidr::parse(c) {
                    e.push(format!("{name}[{i}]"), msg);
                }
            }
        }
        for (i, a) in self.allow.accounts.iter().enumerate() {
            if a.len() != 16 || !a.bytes().all(|b| b.is_ascii_hexdigit()) {
                e.push(format!("allow.accounts[{i}]"), format!("must be a 16-hex-digit account id, got {a:?}"));
            }
        }
        for (name, list) in [("allow.fingerprints", &self.allow.fingerprints), ("block.fingerprints", &self.block.fingerprints)] {
            for (i, f) in list.iter().enumerate() {
                if f.is_empty() || f.len() > 256 {
                    e.push(format!("{name}[{i}]"), "must be 1..=256 characters");
                }
            }
        }
        let before = e.0.len();
        for (key, cfg) in &self.signals {
            let path = format!("signals.{key}");
            match Signal::from_key(key) {
                Some(sig) => check_signal(&path, sig, *cfg, &mut e),
                None => e.push(path, unknown_msg("signal", key, Signal::ALL.iter().map(|s| s.key()))),
            }
        }
        let signals_ok = e.0.len() == before;
        self.prompt.validate("prompt", &mut e);
        self.state.validate("state", &mut e);
        routes::validate(self, routes::GlobalOk { thresholds: thresholds_ok, body: body_ok, signals: signals_ok }, &mut e);
        if e.0.is_empty() {
            Ok(())
        } else {
            Err(PolicyErrors(e.0))
        }
    }

    /// Settings of `s` (its built-in ones when the policy did not go through validation).
    pub fn signal(&self, s: Signal) -> SignalCfg {
        self.signals.get(s.key()).copied().unwrap_or_else(|| SignalCfg::default_for(s))
    }

    /// When the verdict waits for the body (`always` for a value that failed validation).
    pub fn inspect(&self) -> Inspect {
        Inspect::parse(&self.body.inspect).unwrap_or(Inspect::Always)
    }

    /// The global body reading (what a request no route matches gets).
    pub fn body_read(&self) -> BodyRead {
        BodyRead { max_bytes: self.body.max_bytes, inspect: self.inspect(), gray_zone: self.body.gray_zone, heavy_learn_one_in: self.body.heavy_learn_one_in }
    }

    /// The policy as pretty JSON (what the tuning page exports).
    pub fn to_json_pretty(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }
}

/// Range and order checks of thresholds, at `{at}thresholds.*` (`at` is `""` or `routes[i].`).
fn check_thresholds(t: &Thresholds, at: &str, e: &mut Errors) {
    e.range(&format!("{at}thresholds.tag"), t.tag, 1, 100);
    e.range(&format!("{at}thresholds.throttle"), t.throttle, 1, 101);
    e.range(&format!("{at}thresholds.deny"), t.deny, 1, 101);
    if t.tag > t.throttle {
        e.push(format!("{at}thresholds.throttle"), format!("must be >= {at}thresholds.tag ({}), got {}", t.tag, t.throttle));
    }
    if t.throttle > t.deny {
        e.push(format!("{at}thresholds.deny"), format!("must be >= {at}thresholds.throttle ({}), got {}", t.throttle, t.deny));
    }
}

/// Range and order checks of body reading, at `{at}body.*`.
fn check_body_read(b: &BodyRead, at: &str, e: &mut Errors) {
    e.range(&format!("{at}body.max_bytes"), b.max_bytes, 0, 1 << 20);
    e.range(&format!("{at}body.heavy_learn_one_in"), b.heavy_learn_one_in, 1, 1000);
    let g = b.gray_zone;
    e.range(&format!("{at}body.gray_zone.from"), g.from, 0, 101);
    e.range(&format!("{at}body.gray_zone.to"), g.to, 0, 101);
    if g.from > g.to {
        e.push(format!("{at}body.gray_zone.to"), format!("must be >= {at}body.gray_zone.from ({}), got {}", g.from, g.to));
    }
}

/// Weight range and ramp rules of one signal's settings, at `path`.
fn check_signal(path: &str, sig: Signal, cfg: SignalCfg, e: &mut Errors) {
    e.range(&format!("{path}.weight"), cfg.weight, 0, 100);
    match (sig.default_ramp(), cfg.from, cfg.full) {
        (None, None, None) => {}
        (None, _, _) => e.push(path, "is not a graded signal: only `weight` applies"),
        (Some(_), Some(from), Some(full)) => {
            if !(from.is_finite() && from >= 0.0) {
                e.push(format!("{path}.from"), format!("must be a finite number >= 0, got {from}"));
            }
            if !(full.is_finite() && full > from) {
                e.push(format!("{path}.full"), format!("must be a finite number > from ({from}), got {full}"));
            }
        }
        (Some(_), _, _) => e.push(path, "graded signal needs both `from` and `full`"),
    }
}

/// The JSON type of `v` as error messages name it (`a number`, `an object`, ...).
pub(crate) fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

fn unknown_msg<'a>(what: &str, key: &str, known: impl Iterator<Item = &'a str>) -> String {
    let known: Vec<&str> = known.collect();
    let close = known.iter().min_by_key(|k| edit_distance(k, key)).filter(|k| edit_distance(k, key) <= 3);
    match close {
        Some(k) => format!("unknown {what} {key:?} (did you mean {k:?}?)"),
        None => format!("unknown {what} {key:?} (expected one of: {})", known.join(", ")),
    }
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(ca != *cb)).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// Walks `doc` against the serialized default policy, recording unknown keys and JSON type
/// mismatches. A `null` in the schema (an optional field) accepts anything here; serde and
/// `validate` check it later.
fn check_shape(doc: &Value, schema: &Value, path: &str, errs: &mut Errors) {
    match (doc, schema) {
        (_, Value::Null) => {}
        (Value::Object(d), Value::Object(s)) => {
            for (k, v) in d {
                let p = join(path, k);
                match s.get(k) {
                    Some(sv) => check_shape(v, sv, &p, errs),
                    None => {
                        let what = if path == "signals" || path.ends_with(".signals") { "signal" } else { "field" };
                        errs.push(p, unknown_msg(what, k, s.keys().map(|k| k.as_str())));
                    }
                }
            }
        }
        (Value::Array(d), Value::Array(s)) => {
            if let Some(item_schema) = s.first() {
                for (i, v) in d.iter().enumerate() {
                    check_shape(v, item_schema, &format!("{path}[{i}]"), errs);
                }
            }
        }
        (Value::Number(n), Value::Number(sn)) => {
            if (sn.is_u64() || sn.is_i64()) && !(n.is_u64()) {
                errs.push(path, format!("must be a whole number >= 0, got {n}"));
            }
        }
        (Value::Bool(_), Value::Bool(_)) | (Value::String(_), Value::String(_)) => {}
        (d, s) => {
            let shown = match d {
                Value::String(x) => format!(" {:?}", truncate(x)),
                Value::Number(n) => format!(" {n}"),
                Value::Bool(b) => format!(" {b}"),
                _ => String::new(),
            };
            errs.push(path, format!("must be {}, got {}{shown}", json_type(s), json_type(d)));
        }
    }
}

fn truncate(s: &str) -> &str {
    match s.char_indices().nth(40) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_document_is_the_default_policy() {
        let p = Policy::from_json("{}").unwrap();
        assert_eq!(p, Policy::default());
    }

    #[test]
    fn reports_every_error_with_its_path() {
        let text = r#"{
            "mode": "loud",
            "thresholds": {"tag": 50, "throttle": 40, "deny": 95},
            "signals": {"proxy_via": {"weight": 250}, "proxy_vai": {"weight": 1}},
            "networks": {"datacenter": ["10.0.0.0/8", "10.0.0/33"]},
            "bogus": 1
        }"#;
        // Shape errors come first and stop before serde.
        let errs = Policy::from_json(text).unwrap_err().to_string();
        assert!(errs.contains("signals.proxy_vai: unknown signal \"proxy_vai\" (did you mean \"proxy_via\"?)"), "{errs}");
        assert!(errs.contains("bogus: unknown field"), "{errs}");

        let text = r#"{
            "thresholds": {"tag": 50, "throttle": 40, "deny": 95},
            "signals": {"proxy_via": {"weight": 250}, "ip_tor": {"weight": 10, "from": 1}},
            "networks": {"datacenter": ["10.0.0.0/8", "10.0.0/33"]},
            "throttle": {"retry_after_s": 0}
        }"#;
        let errs = Policy::from_json(text).unwrap_err();
        let s = errs.to_string();
        assert!(s.contains("signals.proxy_via.weight: must be 0..=100, got 250"), "{s}");
        assert!(s.contains("thresholds.throttle: must be >= thresholds.tag"), "{s}");
        assert!(s.contains("networks.datacenter[1]"), "{s}");
        assert!(s.contains("throttle.retry_after_s: must be 1..=86400, got 0"), "{s}");
        assert!(s.contains("signals.ip_tor: is not a graded signal"), "{s}");
        assert!(errs.0.len() >= 5);
    }

    #[test]
    fn type_errors_name_their_path() {
        let errs = Policy::from_json(r#"{"thresholds": {"tag": "high"}, "fail_closed": 1, "body": {"max_bytes": -1}}"#)
            .unwrap_err()
            .to_string();
        assert!(errs.contains("thresholds.tag: must be a number, got a string \"high\""), "{errs}");
        assert!(errs.contains("fail_closed: must be a boolean, got a number 1"), "{errs}");
        assert!(errs.contains("body.max_bytes: must be a whole number >= 0, got -1"), "{errs}");
    }

    #[test]
    fn body_inspection_settings_are_checked() {
        let p = Policy::from_json("{}").unwrap();
        assert_eq!(p.inspect(), Inspect::Suspicious);
        assert_eq!(Policy::from_json(r#"{"body": {"inspect": "always"}}"#).unwrap().inspect(), Inspect::Always);
        let errs = Policy::from_json(r#"{"body": {"inspect": "sometimes", "gray_zone": {"from": 50, "to": 20}}}"#)
            .unwrap_err()
            .to_string();
        assert!(errs.contains("body.inspect: must be one of always, suspicious, never, got \"sometimes\""), "{errs}");
        assert!(errs.contains("body.gray_zone.to: must be >= body.gray_zone.from (50), got 20"), "{errs}");
        let errs = Policy::from_json(r#"{"body": {"heavy_learn_one_in": 0}}"#).unwrap_err().to_string();
        assert!(errs.contains("body.heavy_learn_one_in: must be 1..=1000, got 0"), "{errs}");
        let errs = Policy::from_json(r#"{"routes": [{"match": {"prefix": "/v1/"}, "body": {"heavy_learn_one_in": 1001}}]}"#)
            .unwrap_err()
            .to_string();
        assert!(errs.contains("routes[0].body.heavy_learn_one_in: must be 1..=1000, got 1001"), "{errs}");
    }

    #[test]
    fn syntax_error_is_reported() {
        let errs = Policy::from_json("{\"mode\": ").unwrap_err().to_string();
        assert!(errs.starts_with("invalid JSON"), "{errs}");
    }

    #[test]
    fn graded_signal_weight_only_keeps_default_ramp() {
        let p = Policy::from_json(r#"{"signals": {"rate_account": {"weight": 40}}}"#).unwrap();
        let c = p.signal(Signal::RateAccount);
        assert_eq!(c.weight, 40);
        assert_eq!((c.from, c.full), (Some(30.0), Some(120.0)));
    }

    #[test]
    fn export_round_trips() {
        let p = Policy::from_json(r#"{"mode": "shadow", "thresholds": {"tag": 20}}"#).unwrap();
        let back = Policy::from_json(&p.to_json_pretty()).unwrap();
        assert_eq!(p, back);
    }
}
