//! Route overrides (`routes`): requests matched by path (exact or prefix, query ignored) and
//! optionally method get their own mode, thresholds, signal weights / ramps and body reading,
//! merged field by field over the global ones. The first route that matches wins.
//!
//! Everything else stays global: the state (its tables are one shape, shared by every route,
//! so an account seen on one route is the same account on another), identity, networks,
//! allow / block lists, fingerprints, proxy, prompt and output settings, and `body.paths`
//! (which paths carry a prompt at all; a route changes how those bodies are read, not
//! which). This module validates routes and computes their merged settings; matching a
//! request against them is the engine's job ([`crate::engine::Compiled`]).

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

use super::{check_shape, json_type, truncate, unknown_msg, Errors, GrayZone, Inspect, Mode, Policy, SignalCfg, Thresholds};
use crate::signal::Signal;

/// Most routes a policy may have (each request scans them in order).
pub const MAX_ROUTES: usize = 64;

/// One route override (`routes[i]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct Route {
    /// Name shown in the verdict (`route`); the route's index when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Which requests the route applies to.
    #[serde(rename = "match")]
    pub matches: RouteMatch,
    /// `enforce` or `shadow` for these requests.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mode: Option<Mode>,
    /// Thresholds that differ from the global ones.
    #[serde(skip_serializing_if = "ThresholdsPatch::is_empty")]
    pub thresholds: ThresholdsPatch,
    /// Signal settings that differ from the global ones, keyed like `signals`.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub signals: BTreeMap<String, SignalPatch>,
    /// Body-reading settings that differ from the global ones (not `paths`).
    #[serde(skip_serializing_if = "BodyPatch::is_empty")]
    pub body: BodyPatch,
}

/// What a route matches: `path` (exact) or `prefix`, and optionally methods.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct RouteMatch {
    /// Exact path (query ignored).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Path prefix, as Envoy's `prefix` (`/v1/batch` also matches `/v1/batches`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    /// Methods (`"POST"` or `["GET", "HEAD"]`); any method when empty.
    #[serde(skip_serializing_if = "Vec::is_empty", serialize_with = "one_or_many", deserialize_with = "string_or_list")]
    pub method: Vec<String>,
}

/// Thresholds a route changes (the others are the global ones).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct ThresholdsPatch {
    /// `thresholds.tag` for the route.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tag: Option<u32>,
    /// `thresholds.throttle` for the route.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub throttle: Option<u32>,
    /// `thresholds.deny` for the route.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deny: Option<u32>,
}

/// A signal's settings a route changes (the others are the global ones).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct SignalPatch {
    /// Weight for the route.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub weight: Option<u32>,
    /// Ramp start for the route (graded signals).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<f64>,
    /// Ramp end for the route (graded signals).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub full: Option<f64>,
}

/// Body-reading settings a route changes.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct BodyPatch {
    /// `body.max_bytes` for the route (0: its bodies are not read).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_bytes: Option<u32>,
    /// `body.inspect` for the route.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inspect: Option<Inspect>,
    /// `body.gray_zone` fields for the route.
    #[serde(skip_serializing_if = "GrayZonePatch::is_empty")]
    pub gray_zone: GrayZonePatch,
    /// `body.heavy_learn_one_in` for the route.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub heavy_learn_one_in: Option<u32>,
}

/// `body.gray_zone` fields a route changes.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct GrayZonePatch {
    /// `body.gray_zone.from` for the route.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<u32>,
    /// `body.gray_zone.to` for the route.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to: Option<u32>,
}

/// How a route's requests have their body read, merged with the global `body`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BodyRead {
    /// Largest prefix read (0: not read).
    pub max_bytes: u32,
    /// When the verdict waits for the body.
    pub inspect: Inspect,
    /// Header-phase scores for which `suspicious` waits.
    pub gray_zone: GrayZone,
    /// Learn from one in this many bodies of a heavy account's requests not waited for.
    pub heavy_learn_one_in: u32,
}

impl ThresholdsPatch {
    fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

impl GrayZonePatch {
    fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

impl BodyPatch {
    fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

impl Route {
    /// The route's mode over the global one.
    pub fn mode(&self, base: &Policy) -> Mode {
        self.mode.unwrap_or(base.mode)
    }

    /// The route's thresholds merged over the global ones.
    pub fn thresholds(&self, base: &Policy) -> Thresholds {
        let (t, g) = (self.thresholds, base.thresholds);
        Thresholds { tag: t.tag.unwrap_or(g.tag), throttle: t.throttle.unwrap_or(g.throttle), deny: t.deny.unwrap_or(g.deny) }
    }

    /// The route's settings of `s` merged over the global ones.
    pub fn signal(&self, base: &Policy, s: Signal) -> SignalCfg {
        let g = base.signal(s);
        match self.signals.get(s.key()) {
            None => g,
            Some(p) => SignalCfg { weight: p.weight.unwrap_or(g.weight), from: p.from.or(g.from), full: p.full.or(g.full) },
        }
    }

    /// The route's body reading merged over the global one.
    pub fn body(&self, base: &Policy) -> BodyRead {
        let (b, g) = (self.body, base.body_read());
        BodyRead {
            max_bytes: b.max_bytes.unwrap_or(g.max_bytes),
            inspect: b.inspect.unwrap_or(g.inspect),
            gray_zone: GrayZone { from: b.gray_zone.from.unwrap_or(g.gray_zone.from), to: b.gray_zone.to.unwrap_or(g.gray_zone.to) },
            heavy_learn_one_in: b.heavy_learn_one_in.unwrap_or(g.heavy_learn_one_in),
        }
    }

    /// True when every request this route matches is matched by `earlier` too.
    fn shadowed_by(&self, earlier: &Route) -> bool {
        let (a, b) = (&earlier.matches, &self.matches);
        let methods = a.method.is_empty() || (!b.method.is_empty() && b.method.iter().all(|m| a.method.contains(m)));
        let paths = match (&a.path, &a.prefix, &b.path, &b.prefix) {
            (Some(x), _, Some(y), _) => x == y,
            (None, Some(x), Some(y), _) | (None, Some(x), None, Some(y)) => y.starts_with(x.as_str()),
            _ => false,
        };
        methods && paths
    }

    /// True when some path this route matches is on `body.paths`.
    fn reaches_body_paths(&self, paths: &[String]) -> bool {
        paths.iter().any(|bp| {
            let (bp, bp_prefix) = match bp.strip_suffix('*') {
                Some(p) => (p, true),
                None => (bp.as_str(), false),
            };
            match (&self.matches.path, &self.matches.prefix) {
                (Some(p), _) => if bp_prefix { p.starts_with(bp) } else { p == bp },
                (None, Some(r)) => bp.starts_with(r.as_str()) || (bp_prefix && r.starts_with(bp)),
                (None, None) => false,
            }
        })
    }
}

/// The verdict's name for route `i` of `routes`: its `name`, else its index in decimal
/// (written into `buf`).
pub fn label<'a>(routes: &'a [Route], i: u16, buf: &'a mut [u8; 5]) -> &'a str {
    if let Some(n) = routes.get(usize::from(i)).and_then(|r| r.name.as_deref()) {
        return n;
    }
    let mut n = i;
    let mut k = buf.len();
    loop {
        k -= 1;
        buf[k] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    std::str::from_utf8(&buf[k..]).unwrap_or("")
}

fn one_or_many<S: Serializer>(v: &[String], s: S) -> Result<S::Ok, S::Error> {
    match v {
        [one] => s.serialize_str(one),
        many => many.serialize(s),
    }
}

fn string_or_list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    struct V;
    impl<'de> serde::de::Visitor<'de> for V {
        type Value = Vec<String>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a method or a list of methods")
        }
        fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Vec<String>, E> {
            Ok(vec![v.to_string()])
        }
        fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut a: A) -> Result<Vec<String>, A::Error> {
            let mut out = Vec::new();
            while let Some(m) = a.next_element::<String>()? {
                out.push(m);
            }
            Ok(out)
        }
    }
    d.deserialize_any(V)
}

/// The shape a route is walked against in pass 2 (`signals` is the policy schema's).
const ROUTE_SCHEMA: &str = r#"{"name": "", "match": {"path": "", "prefix": "", "method": null}, "mode": "",
    "thresholds": {"tag": 0, "throttle": 0, "deny": 0}, "signals": null,
    "body": {"max_bytes": 0, "inspect": "", "gray_zone": {"from": 0, "to": 0}, "heavy_learn_one_in": 0}}"#;

/// Pass 2 for `routes`: each route's unknown keys and JSON types, with their paths, and the
/// values serde would reject without a path (`mode`, `method`, `body.inspect`).
pub(super) fn check_document(doc: &Value, policy_schema: &Value, errs: &mut Errors) {
    let Some(Value::Array(routes)) = doc.get("routes") else { return };
    let mut schema: Value = serde_json::from_str(ROUTE_SCHEMA).unwrap_or(Value::Null);
    if let (Value::Object(s), Some(sig)) = (&mut schema, policy_schema.get("signals")) {
        s.insert("signals".into(), sig.clone());
    }
    for (i, route) in routes.iter().enumerate() {
        let p = format!("routes[{i}]");
        let Value::Object(r) = route else {
            errs.push(p, format!("must be an object, got {}", json_type(route)));
            continue;
        };
        let mut r = r.clone();
        if let Some(Value::Object(b)) = r.get_mut("body") {
            if b.remove("paths").is_some() {
                errs.push(format!("{p}.body.paths"), "not allowed in a route: `body.paths` (which paths carry a body) is global; a route changes how its requests on those paths are read");
            }
        }
        check_shape(&Value::Object(r.clone()), &schema, &p, errs);
        let name_of = |v: &Value| match v {
            Value::String(s) => Some(s.clone()),
            _ => None,
        };
        if let Some(m) = r.get("mode").and_then(name_of) {
            if m != "enforce" && m != "shadow" {
                errs.push(format!("{p}.mode"), format!("must be one of enforce, shadow, got {:?}", truncate(&m)));
            }
        }
        if let Some(m) = r.get("body").and_then(|b| b.get("inspect")).and_then(name_of) {
            if Inspect::parse(&m).is_none() {
                errs.push(format!("{p}.body.inspect"), format!("must be one of {}, got {:?}", Inspect::NAMES.join(", "), truncate(&m)));
            }
        }
        match r.get("match").and_then(|m| m.get("method")) {
            None | Some(Value::String(_)) => {}
            Some(Value::Array(list)) => {
                for (k, m) in list.iter().enumerate() {
                    if !m.is_string() {
                        errs.push(format!("{p}.match.method[{k}]"), format!("must be a string, got {}", json_type(m)));
                    }
                }
            }
            Some(other) => errs.push(format!("{p}.match.method"), format!("must be a string or an array of strings, got {}", json_type(other))),
        }
    }
}

/// Pass 3 for `routes`: matches, names, and every merged section valid, each error under the
/// route's path. A section whose global values are already wrong (`global_ok` false for it)
/// is not checked again per route.
pub(super) fn validate(p: &Policy, global_ok: GlobalOk, e: &mut Errors) {
    if p.routes.len() > MAX_ROUTES {
        e.push("routes", format!("at most {MAX_ROUTES} routes, got {}", p.routes.len()));
    }
    for (i, r) in p.routes.iter().enumerate() {
        let at = format!("routes[{i}]");
        if let Some(n) = &r.name {
            if n.is_empty() || n.len() > 64 || !n.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b)) {
                e.push(format!("{at}.name"), format!("must be 1..=64 characters of A-Z, a-z, 0-9, '.', '_' and '-', got {:?}", truncate(n)));
            } else if let Some(k) = p.routes[..i].iter().position(|o| o.name.as_deref() == Some(n)) {
                e.push(format!("{at}.name"), format!("{n:?} is already the name of routes[{k}]"));
            }
        }
        check_match(&r.matches, &format!("{at}.match"), e);
        if global_ok.thresholds && r.thresholds != ThresholdsPatch::default() {
            super::check_thresholds(&r.thresholds(p), &format!("{at}."), e);
        }
        if global_ok.body && r.body != BodyPatch::default() {
            super::check_body_read(&r.body(p), &format!("{at}."), e);
        }
        for (key, patch) in &r.signals {
            let path = format!("{at}.signals.{key}");
            let Some(sig) = Signal::from_key(key) else {
                e.push(path, unknown_msg("signal", key, Signal::ALL.iter().map(|s| s.key())));
                continue;
            };
            if sig.default_ramp().is_none() && (patch.from.is_some() || patch.full.is_some()) {
                e.push(path, "is not a graded signal: only `weight` applies");
            } else if global_ok.signals {
                super::check_signal(&path, sig, r.signal(p, sig), e);
            }
        }
    }
}

/// Which global sections validated, so a route does not repeat their errors.
#[derive(Debug, Clone, Copy)]
pub(super) struct GlobalOk {
    pub thresholds: bool,
    pub body: bool,
    pub signals: bool,
}

fn check_match(m: &RouteMatch, at: &str, e: &mut Errors) {
    match (&m.path, &m.prefix) {
        (None, None) => e.push(at, "needs path or prefix"),
        (Some(_), Some(_)) => e.push(at, "needs path or prefix, not both"),
        (Some(p), None) | (None, Some(p)) => {
            let field = if m.path.is_some() { "path" } else { "prefix" };
            if !p.starts_with('/') {
                e.push(format!("{at}.{field}"), format!("must start with '/', got {:?}", truncate(p)));
            } else if p.contains('?') {
                e.push(format!("{at}.{field}"), format!("must not contain '?' (the query is ignored), got {:?}", truncate(p)));
            } else if p.len() > 1024 {
                e.push(format!("{at}.{field}"), "must be at most 1024 bytes");
            }
        }
    }
    for (k, method) in m.method.iter().enumerate() {
        let path = if m.method.len() == 1 { format!("{at}.method") } else { format!("{at}.method[{k}]") };
        if method.is_empty() || method.len() > 32 || !method.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'-' || b == b'_') {
            e.push(path, format!("must be an HTTP method in upper case (POST, GET, ...), got {:?}", truncate(method)));
        }
    }
}

/// Warnings for valid routes that can never take effect.
pub(super) fn warnings(p: &Policy, out: &mut Vec<String>) {
    for (i, r) in p.routes.iter().enumerate() {
        if let Some(k) = p.routes[..i].iter().position(|earlier| r.shadowed_by(earlier)) {
            out.push(format!("routes[{i}] never applies: routes[{k}] comes first and matches every request it matches"));
        } else if r.body != BodyPatch::default() && !r.reaches_body_paths(&p.body.paths) {
            out.push(format!("routes[{i}].body never applies: no path the route matches is on body.paths"));
        }
    }
}

#[cfg(test)]
#[path = "routes_tests.rs"]
mod tests;
