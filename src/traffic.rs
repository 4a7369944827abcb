//! The traffic-file format every tool shares: one JSON record per line (JSONL).
//!
//! ```json
//! {"ts_ms": 1745280000123, "method": "POST", "path": "/v1/messages", "version": "HTTP/1.1",
//!  "headers": [["Host","api.example.com"],["User-Agent","..."]], "body": "...",
//!  "peer": {"ip": "203.0.113.7", "ja4": "t13d...", "ja3": "...", "asn": 64500, "country": "US"},
//!  "label": "legit"}
//! ```
//! `headers` are in wire order with original case; `body` is UTF-8 text, or `body_b64`
//! holds base64 bytes instead; `peer` fields are optional; other fields are ignored here and
//! left untouched. Parsing borrows from the line where it can; it never panics on bad input.
//!
//! [`parse_line`] parses one line with serde. [`LineDecoder`] gives the same results for a
//! stream of lines, faster: a hand-written reader ([`fast`]) for the common record shape that
//! decodes an escaped body into one reused buffer, and [`parse_line`] for everything else.

mod fast;

use std::borrow::Cow;
use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use crate::request::{Header, HttpVersion, Peer, Request};

/// Connection facts of a record.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PeerRecord<'a> {
    /// Client address.
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    pub ip: Option<Cow<'a, str>>,
    /// TLS JA4.
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    pub ja4: Option<Cow<'a, str>>,
    /// TLS JA3.
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    pub ja3: Option<Cow<'a, str>>,
    /// ASN.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub asn: Option<u32>,
    /// Country code.
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    pub country: Option<Cow<'a, str>>,
}

/// One traffic record.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Record<'a> {
    /// Time of the request, ms since the Unix epoch.
    pub ts_ms: u64,
    /// Method.
    #[serde(borrow)]
    pub method: Cow<'a, str>,
    /// Path with query.
    #[serde(borrow)]
    pub path: Cow<'a, str>,
    /// `HTTP/1.1` (default), `HTTP/2`, ...
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    pub version: Option<Cow<'a, str>>,
    /// Headers in wire order, original case.
    #[serde(default, borrow)]
    pub headers: Vec<(Cow<'a, str>, Cow<'a, str>)>,
    /// Body as UTF-8 text.
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    pub body: Option<Cow<'a, str>>,
    /// Body as base64 (instead of `body`).
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    pub body_b64: Option<Cow<'a, str>>,
    /// Connection facts.
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    pub peer: Option<PeerRecord<'a>>,
    /// Free-form label (`legit`, a campaign name, ...), copied to outputs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<serde_json::Value>,
}

/// A record decoded into the pieces a [`Request`] borrows.
#[derive(Debug, Clone)]
pub struct Decoded<'a> {
    record: Record<'a>,
    /// The decoded `body_b64`; a text body is read from the record.
    b64: Option<Vec<u8>>,
    version: HttpVersion,
    ip: Option<IpAddr>,
}

/// Parses one line. Errors are one-line messages (the caller adds the line number).
pub fn parse_line(line: &str) -> Result<Decoded<'_>, String> {
    let record: Record<'_> = serde_json::from_str(line).map_err(|e| e.to_string())?;
    decode(record)
}

/// Parses a stream of lines with one reused body buffer: the same results as [`parse_line`]
/// (records and error messages), without a copy of the body or a tree of the record on the
/// common shape (known fields, plain strings, an escaped `body`, a plain-string `label`).
#[derive(Debug, Default)]
pub struct LineDecoder {
    body: String,
}

impl LineDecoder {
    /// A decoder with an empty buffer.
    pub fn new() -> Self {
        Self::default()
    }

    /// Parses one line like [`parse_line`]; the result borrows the line and this decoder.
    pub fn parse<'s>(&'s mut self, line: &'s str) -> Result<Decoded<'s>, String> {
        match fast::record(line, &mut self.body) {
            Some(record) => decode(record),
            None => parse_line(line),
        }
    }
}

/// What [`LineDecoder`] (`dec`, reused across lines as `replay` does) and [`parse_line`]
/// disagree on for `line`, if anything: they must return the same record and body, or the
/// same error. For the unit tests and the fuzz target that hold the fast path to serde.
#[doc(hidden)]
pub fn decoders_disagree(dec: &mut LineDecoder, line: &str) -> Option<String> {
    match (parse_line(line), dec.parse(line)) {
        (Ok(a), Ok(b)) if a.record() != b.record() => Some(format!("records differ: {:?} / {:?}", a.record(), b.record())),
        (Ok(a), Ok(b)) if a.body() != b.body() => Some("bodies differ".into()),
        (Err(a), Err(b)) if a != b => Some(format!("errors differ: {a} / {b}")),
        (Ok(_), Err(e)) => Some(format!("only the fast decoder failed: {e}")),
        (Err(e), Ok(_)) => Some(format!("only serde failed: {e}")),
        _ => None,
    }
}

/// Checks a parsed record and decodes its body, version and peer address.
pub fn decode(record: Record<'_>) -> Result<Decoded<'_>, String> {
    if record.method.is_empty() {
        return Err("method: must not be empty".into());
    }
    let version = match &record.version {
        None => HttpVersion::Http11,
        Some(v) => HttpVersion::parse(v).ok_or_else(|| format!("version: unknown HTTP version {v:?}"))?,
    };
    let b64 = match (&record.body, &record.body_b64) {
        (Some(_), Some(_)) => return Err("body and body_b64: give one, not both".into()),
        (None, Some(b)) => Some(base64_decode(b).ok_or("body_b64: invalid base64")?),
        _ => None,
    };
    let ip = match record.peer.as_ref().and_then(|p| p.ip.as_ref()) {
        None => None,
        Some(s) => Some(s.parse::<IpAddr>().map_err(|_| format!("peer.ip: invalid IP address {s:?}"))?),
    };
    Ok(Decoded { record, b64, version, ip })
}

impl<'a> Decoded<'a> {
    /// The record as parsed.
    pub fn record(&self) -> &Record<'a> {
        &self.record
    }

    /// The body: the text of `body`, the bytes of `body_b64`, or empty.
    pub fn body(&self) -> &[u8] {
        match (&self.b64, &self.record.body) {
            (Some(b), _) => b,
            (None, Some(t)) => t.as_bytes(),
            (None, None) => &[],
        }
    }

    /// The request view, with the body cut at `max_body` bytes.
    pub fn request(&self, max_body: usize) -> Request<'_> {
        let r = &self.record;
        let peer = r.peer.as_ref();
        let body = self.body();
        let cut = body.len().min(max_body);
        Request {
            method: r.method.as_bytes(),
            path: r.path.as_bytes(),
            version: self.version,
            headers: r.headers.iter().map(|(n, v)| Header::new(n.as_ref(), v.as_ref())).collect(),
            order_known: true,
            body: body.get(..cut).unwrap_or(body),
            body_complete: cut == body.len(),
            peer: Peer {
                ip: self.ip,
                ja4: peer.and_then(|p| p.ja4.as_deref()),
                ja3: peer.and_then(|p| p.ja3.as_deref()),
                asn: peer.and_then(|p| p.asn),
                country: peer.and_then(|p| p.country.as_deref()),
            },
            now_ms: r.ts_ms,
        }
    }
}

/// Decodes standard or URL-safe base64, padded or not; `None` on any invalid character.
pub fn base64_decode(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len() / 4 * 3 + 3);
    let mut acc: u32 = 0;
    let mut bits = 0;
    for &c in s.trim_end_matches('=').as_bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            b'\n' | b'\r' => continue,
            _ => return None,
        };
        acc = (acc << 6) | v as u32;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    Some(out)
}

/// Encodes bytes as standard padded base64.
pub fn base64_encode(b: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut s = String::with_capacity(b.len().div_ceil(3) * 4);
    for ch in b.chunks(3) {
        let n = (ch[0] as u32) << 16 | (*ch.get(1).unwrap_or(&0) as u32) << 8 | *ch.get(2).unwrap_or(&0) as u32;
        for i in 0..4 {
            if i <= ch.len() {
                s.push(T[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                s.push('=');
            }
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_full_record() {
        let line = r#"{"ts_ms": 5, "method": "POST", "path": "/v1/messages", "version": "HTTP/2",
            "headers": [["Host","a"],["User-Agent","curl/8.5.0"]], "body": "{\"model\":\"x\"}",
            "peer": {"ip": "203.0.113.7", "ja4": "t13d", "asn": 64500, "country": "US"}, "label": "legit", "extra": [1]}"#;
        let d = parse_line(line).unwrap();
        let r = d.request(4);
        assert_eq!(r.version, HttpVersion::Http2);
        assert_eq!(r.header("user-agent"), Some(&b"curl/8.5.0"[..]));
        assert_eq!(r.body, b"{\"mo");
        assert!(!r.body_complete);
        assert_eq!(r.peer.asn, Some(64500));
        assert_eq!(r.now_ms, 5);
        assert_eq!(d.record().label, Some(serde_json::json!("legit")));
    }

    #[test]
    fn bad_records_say_what_is_wrong() {
        assert!(parse_line("{").is_err());
        assert!(parse_line(r#"{"ts_ms":1,"method":"GET","path":"/","peer":{"ip":"1.2.3"}}"#).unwrap_err().contains("peer.ip"));
        assert!(parse_line(r#"{"ts_ms":1,"method":"GET","path":"/","version":"SPDY/3"}"#).unwrap_err().contains("version"));
        assert!(parse_line(r#"{"ts_ms":1,"method":"GET","path":"/","body_b64":"@@"}"#).unwrap_err().contains("base64"));
    }

    #[test]
    fn base64_round_trips() {
        for n in 0..20 {
            let data: Vec<u8> = (0..n).map(|i| (i * 37 + 11) as u8).collect();
            assert_eq!(base64_decode(&base64_encode(&data)).unwrap(), data);
        }
        assert_eq!(base64_decode("aGk").unwrap(), b"hi");
    }
}
