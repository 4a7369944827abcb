//! Host-independent pieces of the Envoy adapter: the proxy-wasm header-map wire format,
//! peer facts as Envoy prints them, the request-view assembly, the rules for a held body and
//! for a body read as it streams past ([`PrefixReader`]), the metric names and the adapter
//! options carried next to the policy in the plugin configuration.
//!
//! Everything here is pure and compiles on every target, so it is unit-tested natively.
//! It never calls the host (see `abi.rs`) and never decides a verdict (the engine does).

use std::borrow::Cow;
use std::net::IpAddr;

use serde_json::Value;

use crate::fleet::FleetConfig;
use crate::policy::{PolicyError, PolicyErrors};
use crate::request::{Header, HttpVersion, Peer, Request};
use crate::score::Action;
use crate::signal::Signal;

/// Parses a proxy-wasm header map (`u32 count`, `count x (u32 name_len, u32 value_len)`,
/// then each name and value followed by a NUL) into headers borrowing from `buf`.
/// Returns `None` when the buffer is malformed; an empty buffer is an empty map.
pub fn parse_pairs(buf: &[u8]) -> Option<Vec<Header<'_>>> {
    let pairs = Pairs::new(buf)?;
    let mut out = Vec::with_capacity(pairs.left);
    for h in pairs {
        out.push(h?);
    }
    Some(out)
}

/// The first value of header `name` (exact bytes, e.g. `:path`) in a serialized header map,
/// without allocating; `None` when absent or when the map is malformed before it.
pub fn find_value<'a>(buf: &'a [u8], name: &[u8]) -> Option<&'a [u8]> {
    Pairs::new(buf)?.map_while(|h| h).find(|h| h.name == name).map(|h| h.value)
}

/// Iterator over a serialized header map; yields `None` once (then stops) on malformed input.
struct Pairs<'a> {
    buf: &'a [u8],
    sizes_at: usize,
    data_at: usize,
    left: usize,
}

impl<'a> Pairs<'a> {
    fn new(buf: &'a [u8]) -> Option<Self> {
        if buf.is_empty() {
            return Some(Pairs { buf, sizes_at: 0, data_at: 0, left: 0 });
        }
        let count = read_u32(buf, 0)? as usize;
        // Each pair needs at least 8 bytes of sizes and 2 NULs: bounds the allocation.
        if count > buf.len() / 10 {
            return None;
        }
        Some(Pairs { buf, sizes_at: 4, data_at: 4 + count * 8, left: count })
    }

    fn next_pair(&mut self) -> Option<Header<'a>> {
        let name_len = read_u32(self.buf, self.sizes_at)? as usize;
        let value_len = read_u32(self.buf, self.sizes_at + 4)? as usize;
        self.sizes_at += 8;
        let name = self.field(name_len)?;
        let value = self.field(value_len)?;
        Some(Header { name, value })
    }

    /// Takes `len` bytes and the NUL after them.
    fn field(&mut self, len: usize) -> Option<&'a [u8]> {
        let end = self.data_at.checked_add(len)?;
        let bytes = self.buf.get(self.data_at..end)?;
        if !matches!(self.buf.get(end), Some(0)) {
            return None;
        }
        self.data_at = end + 1;
        Some(bytes)
    }
}

impl<'a> Iterator for Pairs<'a> {
    type Item = Option<Header<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.left == 0 {
            return None;
        }
        let pair = self.next_pair();
        self.left = if pair.is_some() { self.left - 1 } else { 0 };
        Some(pair)
    }
}

fn read_u32(buf: &[u8], at: usize) -> Option<u32> {
    let b = buf.get(at..at.checked_add(4)?)?;
    Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

/// Serializes header pairs in the proxy-wasm header-map format (for local replies).
pub fn serialize_pairs(pairs: &[(String, String)]) -> Vec<u8> {
    let size = 4 + pairs.iter().map(|(k, v)| 10 + k.len() + v.len()).sum::<usize>();
    let mut out = Vec::with_capacity(size);
    out.extend_from_slice(&(pairs.len() as u32).to_le_bytes());
    for (k, v) in pairs {
        out.extend_from_slice(&(k.len() as u32).to_le_bytes());
        out.extend_from_slice(&(v.len() as u32).to_le_bytes());
    }
    for (k, v) in pairs {
        out.extend_from_slice(k.as_bytes());
        out.push(0);
        out.extend_from_slice(v.as_bytes());
        out.push(0);
    }
    out
}

/// Parses Envoy's `source.address` property: `1.2.3.4:5678`, `[::1]:5678`, or a bare
/// address. Anything else (a Unix socket path, garbage) is `None`.
pub fn parse_socket_addr(b: &[u8]) -> Option<IpAddr> {
    let s = std::str::from_utf8(b).ok()?.trim();
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Some(ip);
    }
    if let Some(rest) = s.strip_prefix('[') {
        let (host, _) = rest.split_once(']')?;
        // Drop an IPv6 zone id (`fe80::1%eth0`).
        let host = host.split('%').next().unwrap_or(host);
        return host.parse().ok();
    }
    let (host, port) = s.rsplit_once(':')?;
    if port.is_empty() || !port.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    host.parse().ok()
}

/// A TLS fingerprint as handed over by Envoy (filter state or header): `None` when absent,
/// `-` (Envoy's "no value"), not UTF-8, too long, or not printable ASCII.
pub fn fingerprint_value(b: &[u8]) -> Option<&str> {
    let s = std::str::from_utf8(b).ok()?.trim();
    let ok = !s.is_empty() && s != "-" && s.len() <= 256 && s.bytes().all(|c| c.is_ascii_graphic());
    ok.then_some(s)
}

/// Parses the `request.protocol` property (`HTTP/1.1`, `HTTP/2`, ...); unknown is HTTP/1.1.
pub fn parse_version(b: &[u8]) -> HttpVersion {
    std::str::from_utf8(b).ok().and_then(HttpVersion::parse).unwrap_or_default()
}

/// Builds the request view from the header map Envoy handed over (pseudo-headers included,
/// in the order Envoy gives them), the body prefix and the peer facts.
pub fn build_request<'a>(headers: Vec<Header<'a>>, body: &'a [u8], body_complete: bool, peer: Peer<'a>, version: HttpVersion, now_ms: u64) -> Request<'a> {
    let pseudo = |name: &str| headers.iter().find(|h| h.name == name.as_bytes()).map(|h| h.value).unwrap_or_default();
    let method = pseudo(":method");
    let path = pseudo(":path");
    Request { method, path, version, headers, order_known: true, body, body_complete, peer, now_ms }
}

/// Distinct names of client-sent headers that carry the tag prefix (they must be removed
/// before forwarding so that clients cannot forge tags).
pub fn forged_tag_names<'a>(headers: &[Header<'a>], prefix: &str) -> Vec<&'a [u8]> {
    let mut out: Vec<&[u8]> = Vec::new();
    for h in headers {
        if crate::respond::is_tag_header(h.name, prefix) && !out.iter().any(|n| crate::util::eq_ci(n, h.name)) {
            out.push(h.name);
        }
    }
    out
}

/// The bytes a request's reference id is hashed from ([`crate::respond::reference`]): Envoy's
/// `x-request-id` (a UUID it generates; a client may send its own, so it is not used alone),
/// the request time and this VM's request sequence number, which keep ids apart when a
/// request id repeats or is absent.
pub fn reference_token(request_id: Option<&[u8]>, now_ms: u64, seq: u64) -> Vec<u8> {
    let id = request_id.unwrap_or_default();
    let mut t = Vec::with_capacity(id.len().min(128) + 16);
    t.extend_from_slice(&id[..id.len().min(128)]);
    t.extend_from_slice(&now_ms.to_le_bytes());
    t.extend_from_slice(&seq.to_le_bytes());
    t
}

/// The request's reference id ([`crate::respond::reference`] of [`reference_token`]).
pub fn reference_id(policy: &crate::policy::Policy, request_id: Option<&[u8]>, now_ms: u64, seq: u64) -> u64 {
    crate::respond::reference(policy, &reference_token(request_id, now_ms, seq))
}

/// What to do with the request at this point of the stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Decide now with what is at hand.
    Decide,
    /// Hold the request and keep buffering the body.
    Buffer,
}

/// At a body chunk of a held request (`buffered` = bytes buffered so far): decide at the end
/// of the body or once the prefix the engine reads is buffered (the rest then streams, so
/// large bodies are never held whole and never hit Envoy's buffer limit).
pub fn on_body(buffered: usize, limit: usize, end_of_stream: bool) -> Step {
    if end_of_stream || buffered >= limit {
        Step::Decide
    } else {
        Step::Buffer
    }
}

/// The body prefix of a request decided at its headers, copied chunk by chunk as the body
/// streams past (each chunk is forwarded at once) for the engine to learn from: at most
/// `limit` bytes are kept, and the chunks after the cap are not read.
#[derive(Debug, Clone, Default)]
pub struct PrefixReader {
    limit: usize,
    seen: usize,
    bytes: Vec<u8>,
}

impl PrefixReader {
    /// A reader keeping at most `limit` bytes.
    pub fn new(limit: usize) -> Self {
        PrefixReader { limit, seen: 0, bytes: Vec::new() }
    }

    /// How many bytes to copy of the next chunk, `size` bytes long (counted as seen).
    pub fn take(&mut self, size: usize) -> usize {
        self.seen = self.seen.saturating_add(size);
        size.min(self.limit.saturating_sub(self.bytes.len()))
    }

    /// Appends the bytes copied of a chunk (the first chunk is kept as it came: no copy).
    pub fn push(&mut self, chunk: Vec<u8>) {
        if self.bytes.is_empty() {
            self.bytes = chunk;
        } else {
            self.bytes.extend_from_slice(&chunk);
        }
        self.bytes.truncate(self.limit);
    }

    /// `Some(complete)` once the prefix is ready to learn from: the body ended (`end`) or the
    /// cap is reached; `complete` when the prefix is the whole body.
    pub fn ready(&self, end: bool) -> Option<bool> {
        (end || self.bytes.len() >= self.limit).then_some(end && self.seen == self.bytes.len())
    }

    /// The prefix so far.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }
}

/// Prefix of every metric name.
pub const METRIC_PREFIX: &str = "distill_guard";

/// Name of the counter of requests whose enforced action is `a`.
pub fn action_metric(a: Action) -> String {
    format!("{METRIC_PREFIX}.action.{}", a.as_str())
}

/// Name of the counter of verdicts that carry reason `s`.
pub fn reason_metric(s: Signal) -> String {
    format!("{METRIC_PREFIX}.reason.{}", s.code())
}

/// Name of the counter of requests.
pub const REQUESTS_METRIC: &str = "distill_guard.requests";

/// Name of the counter of internal errors.
pub const INTERNAL_ERROR_METRIC: &str = "distill_guard.internal_error";

/// Name of the counter of requests held for their body (the engine asked for it).
pub const HELD_METRIC: &str = "distill_guard.body.held";

/// Name of the counter of bodies learned from as they streamed past.
pub const LEARNED_METRIC: &str = "distill_guard.body.learned";

/// Name of the counter of bodies left unread by `body.heavy_learn_one_in`.
pub const SKIPPED_METRIC: &str = "distill_guard.body.skipped";
/// Counter of the deployment checks' warnings logged ([`crate::engine::checks`]).
pub const DEPLOYMENT_WARNINGS_METRIC: &str = "distill_guard.deployment.warnings";
/// Counter of the windows of requests the deployment checks judged (that they ran at all).
pub const DEPLOYMENT_WINDOWS_METRIC: &str = "distill_guard.deployment.windows";

/// Key of the adapter options in the plugin configuration (next to the policy's keys).
pub const OPTIONS_KEY: &str = "envoy";

/// Options of the Envoy adapter itself, from the plugin configuration's `envoy` object. They
/// describe the listener, not the policy, so they are not part of [`crate::Policy`].
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Options {
    /// Read JA4 / JA3 from filter state `distill_guard.ja4` / `.ja3` (two property reads per
    /// request). Only listeners with `tls_inspector` and a `set_filter_state` filter filling
    /// those keys have them (see `envoy/envoy-tls.yaml.in`); off by default.
    pub tls_fingerprints: bool,
    /// Put the verdict in filter state for Envoy's access log and rate limiters
    /// (`wasm.distill_guard`, and `wasm.distill_guard.cluster` on tagged requests: one or two
    /// `set_property` calls per request; see [`super::apply::VERDICT_STATE`]). Off by default.
    pub filter_state: bool,
    /// Read the client's ASN and country from the headers a geoip filter before this one
    /// fills ([`super::geo`]; no extra host call). Only listeners that remove client-sent
    /// copies first have trustworthy values (see `envoy/geoip.yaml.in`); off by default.
    pub geo_headers: bool,
    /// Log the campaign report ([`crate::campaign`]) as one line per campaign every
    /// `interval_s` seconds (`envoy.campaigns`); off by default.
    pub campaigns: Option<CampaignLog>,
}

/// The `envoy.campaigns` option: `interval_s` (default 60) and the tracker settings
/// ([`crate::campaign::Settings`]; `sample` defaults to 100 account ids per line here).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CampaignLog {
    /// Seconds between two reports (1..=86,400).
    pub interval_s: u32,
    /// The tracker's settings.
    pub settings: crate::campaign::Settings,
}

/// Account ids per campaign log line unless `envoy.campaigns.sample` says otherwise.
pub const LOG_SAMPLE: u32 = 100;

fn parse_campaigns(raw: &Value, path: &str) -> Result<CampaignLog, PolicyErrors> {
    let mut rest = raw.clone();
    let mut interval_s = 60;
    let mut errors = Vec::new();
    if let Value::Object(map) = &mut rest {
        if let Some(v) = map.remove("interval_s") {
            match v.as_u64() {
                Some(x @ 1..=86_400) => interval_s = x as u32,
                _ => errors.push(PolicyError { path: format!("{path}.interval_s"), message: format!("must be a whole number 1..=86400, got {v}") }),
            }
        }
        if !map.contains_key("sample") {
            map.insert("sample".into(), Value::from(LOG_SAMPLE));
        }
    }
    match crate::campaign::Settings::from_value(&rest, path) {
        Ok(settings) if errors.is_empty() => Ok(CampaignLog { interval_s, settings }),
        Ok(_) => Err(PolicyErrors(errors)),
        Err(e) => {
            errors.extend(e.0);
            Err(PolicyErrors(errors))
        }
    }
}

/// Splits the plugin configuration into the policy text, the adapter [`Options`] and the
/// fleet settings (`envoy.fleet`, see [`crate::fleet`]): the policy is the whole document
/// minus its top-level `envoy` member. Without that member the
/// text is returned as is (and invalid JSON is left for the policy parser to report).
///
/// The member is cut out of the text rather than removed from a parsed document and
/// re-serialized: a JSON value serializer would cost the module ~11 KB.
pub fn split_plugin_config(text: &str) -> Result<(Cow<'_, str>, Options, Option<FleetConfig>), PolicyErrors> {
    split_plugin_config_for(text, Filter::Wasm)
}

/// Which Envoy filter reads a plugin configuration: they reach the fleet's bridge differently
/// (the Wasm filter through the cluster `envoy.fleet.upstream`, the native filter by its
/// address, `envoy.fleet.bridge`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Filter {
    /// The proxy-wasm filter (`super::http`).
    Wasm,
    /// The dynamic module (`crate::host::native`).
    Native,
}

/// [`split_plugin_config`] for `filter`.
pub fn split_plugin_config_for(text: &str, filter: Filter) -> Result<(Cow<'_, str>, Options, Option<FleetConfig>), PolicyErrors> {
    let Some(m) = top_level_member(text.as_bytes(), OPTIONS_KEY.as_bytes()) else {
        return Ok((Cow::Borrowed(text), Options::default(), None));
    };
    let raw = text.get(m.value.clone()).and_then(|v| serde_json::from_str::<Value>(v).ok());
    let (options, fleet) = parse_options(raw.as_ref().unwrap_or(&Value::Null), filter)?;
    let (Some(head), Some(tail)) = (text.get(..m.cut.start), text.get(m.cut.end..)) else {
        return Ok((Cow::Borrowed(text), options, fleet));
    };
    Ok((Cow::Owned(format!("{head}{tail}")), options, fleet))
}

/// The campaign log's lines for `engine`'s campaign report (`envoy.campaigns`; none without a
/// tracker): `distill-guard: campaign {json}`, one per campaign, the campaign as in
/// `distill-guard campaigns --format json` with the engine's request counts. Account ids and
/// key hashes only.
pub fn campaign_lines(engine: &crate::Engine) -> Vec<String> {
    engine.campaigns().map_or_else(Vec::new, |t| report_lines(t, None))
}

/// The campaign log lines of tracker `t` as of its latest request; `workers`: how many
/// worker VMs' trackers it merges (a field of each line when given).
pub fn report_lines(t: &crate::campaign::Tracker, workers: Option<u32>) -> Vec<String> {
    let r = t.report(t.last_ms());
    r.campaigns
        .iter()
        .map(|c| {
            let mut line = serde_json::json!({"report_ms": r.now_ms, "requests": r.requests, "flagged": r.flagged, "campaigns_total": r.campaigns_total, "campaign": c});
            if let (Some(w), Some(m)) = (workers, line.as_object_mut()) {
                m.insert("workers".into(), w.into());
            }
            format!("distill-guard: campaign {line}")
        })
        .collect()
}

/// The engine, adapter options and fleet settings of a plugin configuration's text (empty
/// text: the built-in default policy).
pub fn parse_config(text: &str) -> Result<(crate::Engine, Options, Option<FleetConfig>), PolicyErrors> {
    parse_config_for(text, Filter::Wasm)
}

/// [`parse_config`] for `filter`.
pub fn parse_config_for(text: &str, filter: Filter) -> Result<(crate::Engine, Options, Option<FleetConfig>), PolicyErrors> {
    let text = if text.trim().is_empty() { "{}" } else { text };
    let (policy, options, fleet) = split_plugin_config_for(text, filter)?;
    Ok((crate::Engine::from_json(&policy)?, options, fleet))
}

/// The log lines of a plugin configuration the filter refuses: every error with its path,
/// then their count (each to be prefixed with the filter's name).
pub fn refusal_lines(errors: &PolicyErrors) -> Vec<String> {
    let mut lines: Vec<String> = errors.0.iter().map(|e| format!("policy error: {e}")).collect();
    lines.push(format!("{} policy error(s); the filter does not start", errors.0.len()));
    lines
}

/// The log line of a loaded plugin configuration: the policy's name, mode, thresholds and the
/// adapter options.
pub fn loaded_line(policy: &crate::policy::Policy, options: &Options) -> String {
    let (p, o) = (policy, options);
    format!(
        "policy {:?} loaded (mode {:?}, thresholds tag {} / throttle {} / deny {}, fail_closed {}; envoy.tls_fingerprints {}, envoy.filter_state {}, envoy.geo_headers {})",
        p.name, p.mode, p.thresholds.tag, p.thresholds.throttle, p.thresholds.deny, p.fail_closed, o.tls_fingerprints, o.filter_state, o.geo_headers
    )
}

/// Where a top-level member sits in a JSON object text.
struct Member {
    /// The bytes to remove: the member and one comma next to it.
    cut: std::ops::Range<usize>,
    /// Its value.
    value: std::ops::Range<usize>,
}

/// Finds the top-level member whose key is exactly `key` (no escapes) in the JSON object
/// `b`; `None` when absent or when `b` is not an object this scanner can walk.
fn top_level_member(b: &[u8], key: &[u8]) -> Option<Member> {
    let ws = |mut i: usize| {
        while b.get(i).is_some_and(|c| c.is_ascii_whitespace()) {
            i += 1;
        }
        i
    };
    let mut i = ws(0);
    if b.get(i) != Some(&b'{') {
        return None;
    }
    i += 1;
    // End of the previous member's value, when there is one (its comma follows it).
    let mut prev_end: Option<usize> = None;
    loop {
        i = ws(i);
        if b.get(i) != Some(&b'"') {
            return None; // `}` of an empty or finished object, or not JSON
        }
        let start = i;
        let key_end = skip_string(b, i)?;
        let this = b.get(start + 1..key_end - 1)? == key;
        i = ws(key_end);
        if b.get(i) != Some(&b':') {
            return None;
        }
        let value_start = ws(i + 1);
        let value_end = skip_value(b, value_start)?;
        i = ws(value_end);
        let next = b.get(i).copied();
        if this {
            let cut = match (next, prev_end) {
                (Some(b','), _) => start..i + 1,
                (Some(b'}'), Some(p)) => p..value_end,
                (Some(b'}'), None) => start..value_end,
                _ => return None,
            };
            return Some(Member { cut, value: value_start..value_end });
        }
        if next != Some(b',') {
            return None;
        }
        prev_end = Some(value_end);
        i += 1;
    }
}

/// Index just past the JSON string starting at `b[i] == '"'`.
fn skip_string(b: &[u8], mut i: usize) -> Option<usize> {
    i += 1;
    loop {
        match b.get(i)? {
            b'\\' => i += 2,
            b'"' => return Some(i + 1),
            _ => i += 1,
        }
    }
}

/// Index just past the JSON value starting at `b[i]` (not validated: the parsers do that).
fn skip_value(b: &[u8], mut i: usize) -> Option<usize> {
    match b.get(i)? {
        b'"' => skip_string(b, i),
        b'{' | b'[' => {
            let mut depth = 0usize;
            loop {
                match b.get(i)? {
                    b'"' => {
                        i = skip_string(b, i)?;
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return Some(i + 1);
                        }
                    }
                    _ => {}
                }
                i += 1;
            }
        }
        _ => {
            let start = i;
            while b.get(i).is_some_and(|&c| !matches!(c, b',' | b'}' | b']') && !c.is_ascii_whitespace()) {
                i += 1;
            }
            (i > start).then_some(i)
        }
    }
}

fn parse_options(raw: &Value, filter: Filter) -> Result<(Options, Option<FleetConfig>), PolicyErrors> {
    let err = |path: String, message: &str| PolicyError { path, message: message.to_string() };
    let Value::Object(map) = raw else {
        return Err(PolicyErrors(vec![err(OPTIONS_KEY.to_string(), "expected an object")]));
    };
    let mut options = Options::default();
    let mut fleet = None;
    let mut errors = Vec::new();
    for (key, value) in map {
        let path = format!("{OPTIONS_KEY}.{key}");
        match (key.as_str(), value) {
            ("tls_fingerprints", Value::Bool(b)) => options.tls_fingerprints = *b,
            ("filter_state", Value::Bool(b)) => options.filter_state = *b,
            ("geo_headers", Value::Bool(b)) => options.geo_headers = *b,
            ("tls_fingerprints" | "filter_state" | "geo_headers", _) => errors.push(err(path, "expected a boolean")),
            ("fleet", v) => match FleetConfig::from_value(v, &path) {
                Ok(f) => {
                    match (filter, f.bridge.is_some()) {
                        (Filter::Wasm, true) => errors.push(err(format!("{path}.bridge"), "the Wasm filter reaches the bridge through the cluster named by `upstream`; `bridge` is the native filter's")),
                        (Filter::Native, false) if f.enabled => errors.push(err(format!("{path}.bridge"), "required by the native filter: the bridge's IP:port (it calls the bridge itself, not through an Envoy cluster)")),
                        _ => {}
                    }
                    fleet = Some(f);
                }
                Err(e) => errors.extend(e.0),
            },
            ("campaigns", v) => match parse_campaigns(v, &path) {
                Ok(c) => options.campaigns = Some(c),
                Err(e) => errors.extend(e.0),
            },
            _ => errors.push(err(path, "unknown key (known: tls_fingerprints, filter_state, geo_headers, campaigns, fleet)")),
        }
    }
    if errors.is_empty() {
        Ok((options, fleet))
    } else {
        Err(PolicyErrors(errors))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
        p.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn header_map_round_trips_and_keeps_order_and_bytes() {
        let buf = serialize_pairs(&pairs(&[(":path", "/v1/messages"), ("x-a", "1"), ("x-a", "")]));
        let h = parse_pairs(&buf).unwrap();
        assert_eq!(h.len(), 3);
        assert_eq!(h[0].name, b":path");
        assert_eq!(h[2].value, b"");
        // Non-UTF-8 values survive untouched.
        let mut raw = serialize_pairs(&pairs(&[("x-bin", "ab")]));
        let n = raw.len();
        raw[n - 2] = 0xff;
        assert_eq!(parse_pairs(&raw).unwrap()[0].value, &[b'a', 0xff][..]);
        assert_eq!(parse_pairs(&[]).unwrap().len(), 0);
    }

    #[test]
    fn malformed_header_maps_are_rejected_not_panicking() {
        let good = serialize_pairs(&pairs(&[("a", "b"), ("cc", "dd")]));
        for cut in 0..good.len() {
            assert!(parse_pairs(&good[..cut]).is_none() || cut == 0, "cut {cut}");
        }
        let mut bad_nul = good.clone();
        let at = 4 + 16 + 1; // NUL after the first name
        bad_nul[at] = b'x';
        assert!(parse_pairs(&bad_nul).is_none());
        assert!(parse_pairs(&[0xff, 0xff, 0xff, 0xff]).is_none());
        let mut huge = good;
        huge[4..8].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(parse_pairs(&huge).is_none());
    }

    #[test]
    fn socket_addresses_parse_v4_v6_and_reject_junk() {
        assert_eq!(parse_socket_addr(b"203.0.113.7:5678"), Some("203.0.113.7".parse().unwrap()));
        assert_eq!(parse_socket_addr(b"[::1]:5678"), Some("::1".parse().unwrap()));
        assert_eq!(parse_socket_addr(b"[fe80::1%eth0]:80"), Some("fe80::1".parse().unwrap()));
        assert_eq!(parse_socket_addr(b"2001:db8::1"), Some("2001:db8::1".parse().unwrap()));
        assert_eq!(parse_socket_addr(b"10.0.0.1"), Some("10.0.0.1".parse().unwrap()));
        for junk in [&b"/tmp/envoy.sock"[..], b"", b"1.2.3.4:", b"[::1", b"\xff:1", b"host:80"] {
            assert_eq!(parse_socket_addr(junk), None, "{junk:?}");
        }
    }

    #[test]
    fn fingerprint_values_drop_placeholders() {
        assert_eq!(fingerprint_value(b"t13d1516h2_8daaf6152771_e5627efa2ab1"), Some("t13d1516h2_8daaf6152771_e5627efa2ab1"));
        assert_eq!(fingerprint_value(b"-"), None);
        assert_eq!(fingerprint_value(b""), None);
        assert_eq!(fingerprint_value(b"a b"), None);
        assert_eq!(fingerprint_value(&[b'a'; 300]), None);
    }

    #[test]
    fn request_view_takes_method_and_path_from_pseudo_headers() {
        let buf = serialize_pairs(&pairs(&[(":authority", "x"), (":path", "/v1/messages?beta=1"), (":method", "POST"), ("user-agent", "curl/8")]));
        assert_eq!(find_value(&buf, b":path"), Some(&b"/v1/messages?beta=1"[..]));
        assert_eq!(find_value(&buf, b":scheme"), None);
        assert_eq!(find_value(&buf[..buf.len() - 1], b":path"), Some(&b"/v1/messages?beta=1"[..]));
        assert_eq!(find_value(&buf[..20], b":path"), None);
        let h = parse_pairs(&buf).unwrap();
        let r = build_request(h, b"{}", true, Peer::default(), parse_version(b"HTTP/2"), 7);
        assert_eq!(r.method, b"POST");
        assert_eq!(r.path_only(), b"/v1/messages");
        assert_eq!(r.version, HttpVersion::Http2);
        assert_eq!(r.header("user-agent"), Some(&b"curl/8"[..]));
        assert_eq!(parse_version(b"SPDY/3"), HttpVersion::Http11);
    }

    #[test]
    fn forged_tags_are_found_once_each_ignoring_case() {
        let buf = serialize_pairs(&pairs(&[("x-distill-score", "0"), ("X-Distill-Score", "1"), ("x-distill-action", "allow"), ("x-dist", "1"), ("x-distill", "score=0"), ("X-DISTILL", "")]));
        let h = parse_pairs(&buf).unwrap();
        let names = forged_tag_names(&h, "x-distill-");
        assert_eq!(names, vec![&b"x-distill-score"[..], b"x-distill-action", b"x-distill"]);
    }

    #[test]
    fn body_rule_buffers_until_end_or_limit() {
        assert_eq!(on_body(10, 100, false), Step::Buffer);
        assert_eq!(on_body(100, 100, false), Step::Decide);
        assert_eq!(on_body(10, 100, true), Step::Decide);
    }

    #[test]
    fn prefix_reader_keeps_the_prefix_and_stops_at_the_cap() {
        // One chunk, the whole body: complete.
        let mut r = PrefixReader::new(10);
        assert_eq!(r.take(4), 4);
        r.push(b"abcd".to_vec());
        assert_eq!(r.ready(false), None);
        assert_eq!(r.ready(true), Some(true));
        // Chunks past the cap: only what fits is read, and the prefix is ready at the cap.
        let mut r = PrefixReader::new(10);
        assert_eq!(r.take(6), 6);
        r.push(b"012345".to_vec());
        assert_eq!(r.ready(false), None);
        assert_eq!(r.take(6), 4);
        r.push(b"6789".to_vec());
        assert_eq!((r.bytes(), r.ready(false)), (&b"0123456789"[..], Some(false)));
        assert_eq!(r.take(100), 0);
        assert_eq!(r.ready(true), Some(false), "the body went on past the cap");
        // Exactly the cap, ending there: complete. An empty last chunk changes nothing.
        let mut r = PrefixReader::new(4);
        assert_eq!(r.take(4), 4);
        r.push(b"wxyz".to_vec());
        assert_eq!(r.take(0), 0);
        assert_eq!(r.ready(true), Some(true));
        // A host that hands back more than asked is cut at the cap.
        let mut r = PrefixReader::new(3);
        r.take(5);
        r.push(b"12345".to_vec());
        assert_eq!(r.bytes(), b"123");
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(buf in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..256)) {
            let _ = parse_pairs(&buf);
            let _ = find_value(&buf, b":path");
            let _ = parse_socket_addr(&buf);
            let _ = fingerprint_value(&buf);
            let _ = parse_version(&buf);
        }

        #[test]
        fn serialized_maps_parse_back(p in proptest::collection::vec(("[a-z:-]{0,12}", "[ -~]{0,20}"), 0..20)) {
            let buf = serialize_pairs(&p);
            let back = parse_pairs(&buf).unwrap();
            let back: Vec<(String, String)> = back.iter().map(|h| (String::from_utf8_lossy(h.name).into(), String::from_utf8_lossy(h.value).into())).collect();
            proptest::prop_assert_eq!(back, p);
        }
    }

    #[test]
    fn plugin_config_splits_into_policy_and_options() {
        let (policy, o, _) = split_plugin_config(r#"{"name": "x"}"#).unwrap();
        assert!(matches!(policy, Cow::Borrowed(_)));
        assert_eq!(o, Options::default());
        for text in ["", "not json", r#"{"name": "envoy"}"#, r#"["envoy"]"#, r#"{"a": {"envoy": {"tls_fingerprints": true}}}"#] {
            let (policy, o, _) = split_plugin_config(text).unwrap();
            assert_eq!((policy.as_ref(), o), (text, Options::default()));
        }
        let on = r#"{"tls_fingerprints": true}"#;
        let cases = [
            (format!(r#"{{"name": "x", "envoy": {on}, "mode": "shadow"}}"#), r#"{"name": "x",  "mode": "shadow"}"#),
            (format!(r#"{{"envoy": {on}, "name": "x"}}"#), r#"{ "name": "x"}"#),
            (format!("{{\"name\": \"a,}}\\\"\", \"b\": [1, {{\"c\": \"]\"}}],\n \"envoy\" :\t{on} }}"), "{\"name\": \"a,}\\\"\", \"b\": [1, {\"c\": \"]\"}] }"),
            (format!(r#" {{ "envoy" : {on} }} "#), " {  } "),
        ];
        for (text, want) in &cases {
            let (policy, o, _) = split_plugin_config(text).unwrap();
            assert!(o.tls_fingerprints, "{text}");
            assert_eq!(policy.as_ref(), *want);
            let _: Value = serde_json::from_str(&policy).unwrap();
        }
        let (policy, o, _) = split_plugin_config(r#"{"envoy": {"tls_fingerprints": false}, "name": "x"}"#).unwrap();
        assert_eq!((policy.as_ref(), o.tls_fingerprints), (r#"{ "name": "x"}"#, false));
        crate::Engine::from_json(&policy).unwrap();
    }

    #[test]
    fn the_campaigns_option_is_validated_by_path() {
        let (_, o, _) = split_plugin_config(r#"{"envoy": {"campaigns": {"interval_s": 30, "min_accounts": 5}}}"#).unwrap();
        let c = o.campaigns.unwrap();
        assert_eq!((c.interval_s, c.settings.min_accounts, c.settings.sample), (30, 5, LOG_SAMPLE));
        let (_, o, _) = split_plugin_config(r#"{"envoy": {"campaigns": {}}}"#).unwrap();
        assert_eq!(o.campaigns.unwrap().interval_s, 60);
        let e = split_plugin_config(r#"{"envoy": {"campaigns": {"interval_s": 0, "min_accounts": 1, "colour": 1}}}"#).unwrap_err();
        let paths: Vec<&str> = e.0.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(paths, ["envoy.campaigns.interval_s", "envoy.campaigns.colour", "envoy.campaigns.min_accounts"]);
    }

    proptest::proptest! {
        #[test]
        fn splitting_removes_exactly_the_options(keys in proptest::collection::vec("[a-z\\\\\"{}\\[\\],: ]{1,8}", 0..6), at in 0usize..7, pretty in proptest::bool::ANY) {
            let mut doc: Vec<(String, Value)> = keys.iter().enumerate()
                .map(|(i, k)| (format!("{k}{i}"), serde_json::json!({"v": [k, i, {"k": k}]}))).collect();
            let expected = Value::Object(doc.iter().cloned().collect());
            doc.insert(at.min(doc.len()), ("envoy".to_string(), serde_json::json!({"tls_fingerprints": true})));
            let sep = if pretty { ",\n  " } else { "," };
            let members: Vec<String> = doc.iter().map(|(k, v)| format!("{}: {}", Value::String(k.clone()), v)).collect();
            let text = format!("{{{}}}", members.join(sep));
            let (policy, o, _) = split_plugin_config(&text).unwrap();
            proptest::prop_assert!(o.tls_fingerprints);
            let back: Value = serde_json::from_str(&policy).unwrap();
            proptest::prop_assert_eq!(back, expected);
        }

        #[test]
        fn arbitrary_configs_never_panic(text in "[ {}\\[\\]\",:a-z0-9\\\\]{0,40}") {
            let _ = split_plugin_config(&text);
            let _ = split_plugin_config(&format!("{{\"envoy\":{text}"));
        }
    }

    #[test]
    fn bad_options_are_errors_with_paths() {
        let e = split_plugin_config(r#"{"envoy": {"tls_fingerprints": "yes", "ja5": 1, "filter_state": 1}}"#).unwrap_err();
        let paths: Vec<&str> = e.0.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(paths, vec!["envoy.filter_state", "envoy.ja5", "envoy.tls_fingerprints"]);
        let (_, o, _) = split_plugin_config(r#"{"envoy": {"filter_state": true}}"#).unwrap();
        assert_eq!(o, Options { tls_fingerprints: false, filter_state: true, geo_headers: false, campaigns: None });
        let (_, o, _) = split_plugin_config(r#"{"envoy": {"geo_headers": true}}"#).unwrap();
        assert!(o.geo_headers && !o.filter_state);
        assert_eq!(split_plugin_config(r#"{"envoy": {"geo_headers": "on"}}"#).unwrap_err().0[0].path, "envoy.geo_headers");
        let e = split_plugin_config(r#"{"envoy": true}"#).unwrap_err();
        assert_eq!(e.0[0].path, "envoy");
    }

    #[test]
    fn the_fleet_bridge_is_the_native_filters_alone() {
        let native = r#"{"envoy": {"fleet": {"namespace": "eu", "bridge": "127.0.0.1:7379"}}}"#;
        let e = split_plugin_config(native).unwrap_err();
        assert_eq!(e.0.iter().map(|e| e.path.as_str()).collect::<Vec<_>>(), vec!["envoy.fleet.bridge"]);
        let (_, _, fleet) = split_plugin_config_for(native, Filter::Native).unwrap();
        assert_eq!(fleet.and_then(|f| f.bridge), Some("127.0.0.1:7379".parse().unwrap()));
        let e = split_plugin_config_for(r#"{"envoy": {"fleet": {"namespace": "eu"}}}"#, Filter::Native).unwrap_err();
        assert_eq!(e.0[0].path, "envoy.fleet.bridge");
        assert!(e.0[0].message.contains("required"), "{}", e.0[0].message);
        assert!(split_plugin_config_for(r#"{"envoy": {"fleet": {"enabled": false}}}"#, Filter::Native).is_ok());
    }

    #[test]
    fn fleet_settings_travel_in_the_adapter_options() {
        let (policy, _, fleet) = split_plugin_config(r#"{"name": "x", "envoy": {"fleet": {"namespace": "eu"}}}"#).unwrap();
        assert_eq!(policy, r#"{"name": "x"}"#);
        assert_eq!(fleet.map(|f| f.namespace), Some("eu".to_string()));
        assert_eq!(split_plugin_config(r#"{"name": "x"}"#).unwrap().2, None);
        let e = split_plugin_config(r#"{"envoy": {"fleet": {"namespace": "a b", "timeout_ms": 0}}}"#).unwrap_err();
        let paths: Vec<&str> = e.0.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(paths, vec!["envoy.fleet.namespace", "envoy.fleet.timeout_ms"]);
    }

    #[test]
    fn metric_names_are_stable() {
        assert_eq!(action_metric(Action::Throttle), "distill_guard.action.throttle");
        assert_eq!(reason_metric(Signal::ProxyVia), "distill_guard.reason.proxy.via");
    }

    #[test]
    fn a_configuration_loads_or_is_refused_with_every_error_named() {
        let (engine, options, fleet) = parse_config("  ").unwrap();
        assert_eq!(engine.policy().name, crate::policy::Policy::default().name);
        assert!(!options.filter_state && fleet.is_none());
        let line = loaded_line(engine.policy(), &Options { filter_state: true, ..Options::default() });
        assert!(line.starts_with("policy ") && line.contains("envoy.filter_state true"), "{line}");

        let Err(errors) = parse_config(r#"{"envoy": {"filter_state": 1}, "thresholds": {"tag": 0}, "signals": {"proxy_via": {"weight": 250}}}"#) else {
            panic!("accepted")
        };
        let lines = refusal_lines(&errors);
        assert_eq!(lines.len(), errors.0.len() + 1);
        assert!(lines.iter().any(|l| l.starts_with("policy error: envoy.filter_state")), "{lines:?}");
        assert_eq!(lines.last().unwrap(), &format!("{} policy error(s); the filter does not start", errors.0.len()));
    }
}
