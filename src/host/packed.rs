//! The edge worker's per-request wire format between JS and Wasm: one text in (the request
//! head), one text out (what to do), so that a request crosses the boundary in one call with
//! two strings (and, for a body, its prefix as bytes in a second call), instead of a JSON
//! record in and a JSON verdict out.
//!
//! Both texts are lines separated by `\n`, which no Fetch header name or value, URL, method
//! or (validated) `request.cf` value can contain. The head:
//!
//! ```text
//! method \n url \n version \n client-ip \n ja4 \n ja3 \n country \n token \n name \n value \n name \n value ...
//! ```
//! (`url` is the request's full URL, its path and query are used; `version` `HTTP/2` etc. or
//! empty; the peer fields empty when unknown; `token` makes the reference id, see
//! [`crate::respond::reference`]; the headers as the Fetch `Headers` object iterates them.)
//! The outcome:
//!
//! ```text
//! forward|reply|hold \n status \n ticket \n reply body \n log line \n N \n N names to delete \n name \n value ...
//! ```
//! (a forward deletes the client-sent tag headers and sets the name / value pairs; a reply
//! answers with the status, body and these response headers; the log line, empty for most
//! requests, is for the worker's log. `ticket` is 0, or the number under which the engine
//! parked the request ([`super::tickets`]): on a forward, the engine learns from the body
//! when the worker hands it the prefix with that ticket; `hold` has nothing but the ticket,
//! and the worker reads the body prefix and hands it over with the ticket for the verdict.)
//!
//! Pure and host-free, so it is unit-tested natively; the wasm-bindgen entry points are in
//! `host::web::fetch`.

use std::net::IpAddr;

use crate::policy::Policy;
use crate::request::{Header, HttpVersion, Peer, Request};
use crate::respond::{for_each_tag, respond, Response};
use crate::score::{Action, Verdict};

/// The fixed fields at the start of a head, before the header pairs.
pub const HEAD_FIELDS: usize = 8;

/// A parsed request head (borrowing from the text).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Head<'a> {
    /// Method.
    pub method: &'a str,
    /// Path and query, from the URL.
    pub path: &'a str,
    /// HTTP version, when the host knows it.
    pub version: Option<HttpVersion>,
    /// Client address, when the host knows it.
    pub ip: Option<IpAddr>,
    /// TLS JA4.
    pub ja4: Option<&'a str>,
    /// TLS JA3 (hash).
    pub ja3: Option<&'a str>,
    /// ISO country code.
    pub country: Option<&'a str>,
    /// The reference-id token.
    pub token: &'a str,
    /// Headers, in the host's order.
    pub headers: Vec<Header<'a>>,
}

/// Parses a head; the error names what is wrong (the caller answers with the internal-error
/// verdict, so a malformed head is never forwarded unjudged under `fail_closed`).
pub fn parse_head(text: &str) -> Result<Head<'_>, String> {
    let mut lines = text.split('\n');
    let mut field = || lines.next().ok_or_else(|| format!("request head has fewer than {HEAD_FIELDS} fields"));
    let (method, url, version, ip, ja4, ja3, country, token) = (field()?, field()?, field()?, field()?, field()?, field()?, field()?, field()?);
    let non_empty = |s: &str| !s.is_empty();
    let version = match version {
        "" => None,
        v => Some(HttpVersion::parse(v).ok_or_else(|| format!("request head: unknown HTTP version {:?}", clip(v)))?),
    };
    let ip = match ip.trim() {
        "" => None,
        s => Some(s.parse::<IpAddr>().map_err(|_| format!("request head: invalid client IP {:?}", clip(s)))?),
    };
    let mut headers = Vec::with_capacity(24);
    while let Some(name) = lines.next() {
        let value = lines.next().ok_or("request head: a header name without a value")?;
        headers.push(Header::new(name, value));
    }
    Ok(Head {
        method,
        path: path_of(url),
        version,
        ip,
        ja4: Some(ja4).filter(|s| non_empty(s)),
        ja3: Some(ja3).filter(|s| non_empty(s)),
        country: Some(country).filter(|s| non_empty(s)),
        token,
        headers,
    })
}

/// At most 40 characters of `s`, for error messages.
fn clip(s: &str) -> &str {
    s.char_indices().nth(40).map_or(s, |(i, _)| &s[..i])
}

/// The path and query of a URL (`https://h/p?q` gives `/p?q`); a text without a scheme is
/// taken as a path already.
pub fn path_of(url: &str) -> &str {
    let Some(after) = url.find("://").map(|i| &url[i + 3..]) else { return url };
    match after.find(['/', '?']) {
        Some(i) if after.as_bytes()[i] == b'/' => &after[i..],
        Some(i) => &after[i..], // `https://h?q`: an empty path with a query
        None => "/",
    }
    .split('#')
    .next()
    .unwrap_or("/")
}

/// The engine's view of a parsed head: the body prefix cut at `limit`, header order unknown
/// (Fetch hosts cannot observe it).
pub fn request<'a>(head: Head<'a>, body: &'a [u8], body_complete: bool, limit: usize, asn: Option<u32>, now_ms: u64) -> Request<'a> {
    let (body, body_complete) = prefix(body, body_complete, limit);
    Request {
        method: head.method.as_bytes(),
        path: head.path.as_bytes(),
        version: head.version.unwrap_or_default(),
        headers: head.headers,
        order_known: false,
        body,
        body_complete,
        peer: Peer { ip: head.ip, ja4: head.ja4, ja3: head.ja3, asn, country: head.country },
        now_ms,
    }
}

/// At most `limit` bytes of a body read so far, and whether they are the whole body
/// (`complete`: the read reached the end).
pub fn prefix(body: &[u8], complete: bool, limit: usize) -> (&[u8], bool) {
    let cut = body.len().min(limit);
    (&body[..cut], complete && cut == body.len())
}

/// The outcome text for a verdict: what [`respond`] answers, the client-sent tag headers to
/// delete (`forged`, on a forward), a log line for blocked requests and `error`s, and the
/// `ticket` to learn from the body with (0: none).
pub fn outcome(v: &Verdict, policy: &Policy, reference: u64, forged: &[&str], error: Option<&str>, ticket: u32) -> String {
    let mut out = String::with_capacity(512);
    let log = match (error, v.enforced >= Action::Throttle) {
        (Some(e), _) => format!("internal error: {e} (ref {reference:016x})"),
        (None, true) => format!("{} ref {reference:016x} score {} reasons {} fp {}", v.enforced.as_str(), v.score, v.reason_codes(), v.hfp_hex()),
        (None, false) => String::new(),
    };
    if v.enforced <= Action::Tag {
        // Forward: the tags streamed into the text (what `respond` answers, without building them).
        out.push_str("forward\n0\n");
        line(&mut out, &ticket.to_string());
        out.push('\n');
        line(&mut out, &log);
        line(&mut out, &forged.len().to_string());
        for d in forged {
            line(&mut out, d);
        }
        let _ = for_each_tag::<()>(v, policy, reference, |n, val| {
            line(&mut out, n);
            line(&mut out, val);
            Ok(())
        });
    } else if let Response::Reply { status, headers, body } = respond(v, policy, reference) {
        out.push_str("reply\n");
        line(&mut out, &status.to_string());
        out.push_str("0\n");
        line(&mut out, &body);
        line(&mut out, &log);
        out.push_str("0\n");
        for (n, val) in &headers {
            line(&mut out, n);
            line(&mut out, val);
        }
    }
    out.pop(); // the last newline
    out
}

/// Adds `notice` (the engine's deployment notice, [`crate::Engine::take_notice`]) to an
/// outcome's log line, after what is there.
pub fn with_notice(out: &mut String, notice: &str) {
    let mut newlines = out.bytes().enumerate().filter(|&(_, b)| b == b'\n').map(|(i, _)| i);
    let Some(at) = newlines.nth(3).map(|i| i + 1) else { return };
    let end = newlines.next().unwrap_or(out.len());
    let mut add = String::new();
    line(&mut add, notice);
    add.pop();
    if end > at {
        add.insert_str(0, "; ");
    }
    out.insert_str(end, &add);
}

/// The outcome text of a request held for its body: read the prefix, then hand it over
/// with `ticket`.
pub fn hold(ticket: u32) -> String {
    format!("hold\n0\n{ticket}\n\n\n0")
}

/// Appends `s` and a newline; a field never spans lines (the texts put here have none, and
/// this keeps it so).
fn line(out: &mut String, s: &str) {
    if s.contains(['\n', '\r']) {
        out.extend(s.chars().map(|c| if c == '\n' || c == '\r' { ' ' } else { c }));
    } else {
        out.push_str(s);
    }
    out.push('\n');
}

/// Distinct client-sent header names that must be deleted before forwarding
/// ([`crate::respond::is_tag_header`]); Fetch names are lowercase already.
pub fn forged_names<'a>(headers: &[Header<'a>], prefix: &str) -> Vec<&'a str> {
    let mut out: Vec<&'a str> = Vec::new();
    for h in headers {
        if crate::respond::is_tag_header(h.name, prefix) {
            let name = std::str::from_utf8(h.name).unwrap_or_default();
            if !out.contains(&name) {
                out.push(name);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(fields: [&str; HEAD_FIELDS], headers: &[(&str, &str)]) -> String {
        let mut parts: Vec<&str> = fields.to_vec();
        for (n, v) in headers {
            parts.push(n);
            parts.push(v);
        }
        parts.join("\n")
    }

    #[test]
    fn heads_parse_into_the_request_view() {
        let text = head(
            ["POST", "https://api.example.com/v1/messages?beta=1", "HTTP/2", "203.0.113.9", "t13d", "", "NL", "tok-1"],
            &[("content-type", "application/json"), ("user-agent", "curl/8"), ("x-empty", "")],
        );
        let h = parse_head(&text).unwrap();
        assert_eq!((h.method, h.path, h.version, h.token), ("POST", "/v1/messages?beta=1", Some(HttpVersion::Http2), "tok-1"));
        assert_eq!((h.ip, h.ja4, h.ja3, h.country), (Some("203.0.113.9".parse().unwrap()), Some("t13d"), None, Some("NL")));
        assert_eq!(h.headers.len(), 3);
        assert_eq!(h.headers[2].value, b"");
        let r = request(h.clone(), b"0123456789", true, 4, Some(64500), 7);
        assert_eq!((r.body, r.body_complete, r.order_known, r.now_ms, r.peer.asn), (&b"0123"[..], false, false, 7, Some(64500)));
        assert_eq!(r.header("user-agent"), Some(&b"curl/8"[..]));
        let r = request(h, b"01", true, 4, None, 7);
        assert!(r.body_complete);
        // No headers at all, unknown version and peer.
        let text = head(["GET", "http://h", "", "", "", "", "", ""], &[]);
        let h = parse_head(&text).unwrap();
        assert_eq!((h.path, h.version, h.ip, h.headers.len()), ("/", None, None, 0));
    }

    #[test]
    fn malformed_heads_are_errors_not_panics() {
        assert!(parse_head("GET\n/").unwrap_err().contains("fewer than 8"));
        let odd = head(["GET", "/", "", "", "", "", "", ""], &[("a", "1")]) + "\nlonely";
        assert!(parse_head(&odd).unwrap_err().contains("without a value"));
        assert!(parse_head(&head(["GET", "/", "HTTP/9", "", "", "", "", ""], &[])).unwrap_err().contains("HTTP version"));
        assert!(parse_head(&head(["GET", "/", "", "1.2.3", "", "", "", ""], &[])).unwrap_err().contains("client IP"));
    }

    #[test]
    fn paths_come_from_urls() {
        for (url, path) in [
            ("https://h/v1/messages", "/v1/messages"),
            ("https://h:8443/a/b?x=1&y=2", "/a/b?x=1&y=2"),
            ("http://h", "/"),
            ("http://h?q=1", "?q=1"),
            ("http://h/p#frag", "/p"),
            ("/already/a/path?q", "/already/a/path?q"),
        ] {
            assert_eq!(path_of(url), path, "{url}");
        }
    }

    #[test]
    fn outcomes_carry_the_response_the_deletes_and_a_log_line() {
        let p = Policy::default();
        let mut v = Verdict { score: 12, ..Default::default() };
        v.fp.client = "curl";
        let text = outcome(&v, &p, 0xabc, &["x-distill-score", "x-distill"], None, 17);
        let lines: Vec<&str> = text.split('\n').collect();
        assert_eq!(&lines[..8], &["forward", "0", "17", "", "", "2", "x-distill-score", "x-distill"]);
        let pairs: Vec<(&str, &str)> = lines[8..].chunks(2).map(|c| (c[0], c[1])).collect();
        let Response::Forward { headers } = respond(&v, &p, 0xabc) else { panic!() };
        assert_eq!(pairs, headers.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect::<Vec<_>>());

        v.action = Action::Deny;
        v.enforced = Action::Deny;
        let text = outcome(&v, &p, 0xabc, &["x-distill-score"], None, 0);
        let lines: Vec<&str> = text.split('\n').collect();
        assert_eq!(&lines[..3], &["reply", "403", "0"]);
        assert_eq!(lines[3], r#"{"error":{"type":"forbidden","message":"request blocked","ref":"0000000000000abc"}}"#);
        assert!(lines[4].starts_with("deny ref 0000000000000abc score 12"), "{}", lines[4]);
        assert_eq!(&lines[5..], &["0", "content-type", "application/json"]);

        let text = outcome(&v, &p, 1, &[], Some("bad\nhead"), 0);
        assert_eq!(text.split('\n').nth(4), Some("internal error: bad head (ref 0000000000000001)"));

        // A held request: the ticket only, and the same field positions.
        let lines: Vec<String> = hold(42).split('\n').map(str::to_string).collect();
        assert_eq!(lines, ["hold", "0", "42", "", "", "0"]);
    }

    #[test]
    fn a_notice_joins_the_log_line_and_moves_no_field() {
        let p = Policy::default();
        let mut v = Verdict { score: 12, ..Default::default() };
        let mut text = outcome(&v, &p, 0xabc, &["x-distill"], None, 3);
        let before: Vec<String> = text.split('\n').map(str::to_string).collect();
        with_notice(&mut text, "warning: client address: x\ny");
        let after: Vec<&str> = text.split('\n').collect();
        assert_eq!(after[4], "warning: client address: x y");
        assert_eq!((&after[..4], &after[5..]), (&before[..4].iter().map(String::as_str).collect::<Vec<_>>()[..], &before[5..].iter().map(String::as_str).collect::<Vec<_>>()[..]));
        (v.action, v.enforced) = (Action::Deny, Action::Deny);
        let mut text = outcome(&v, &p, 0xabc, &[], None, 0);
        with_notice(&mut text, "n");
        let line = text.split('\n').nth(4).unwrap();
        assert!(line.starts_with("deny ref 0000000000000abc") && line.ends_with("; n"), "{line}");
    }

    #[test]
    fn forged_names_are_distinct_and_include_the_structured_header() {
        let h = [Header::new("x-distill-score", "1"), Header::new("x-distill", "a=1"), Header::new("x-distill-score", "2"), Header::new("accept", "*/*")];
        assert_eq!(forged_names(&h, "x-distill-"), vec!["x-distill-score", "x-distill"]);
    }

    proptest::proptest! {
        #[test]
        fn any_text_parses_or_fails_cleanly(text in "[\\PC\n]{0,200}") {
            if let Ok(h) = parse_head(&text) {
                let n = h.headers.len();
                let r = request(h, b"", true, 0, None, 0);
                proptest::prop_assert_eq!(r.headers.len(), n);
            }
        }
    }
}
