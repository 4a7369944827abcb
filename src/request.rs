//! The host-neutral request view every host builds and the engine reads.
//!
//! It borrows from the host's buffers (no copies of header values or bodies) and carries
//! everything the engine may use: the request line, headers in received order as bytes,
//! a bounded body prefix, what the host knows about the peer, and the current time.
//! It does not parse anything itself beyond cheap, allocation-free lookups.

use std::net::IpAddr;

/// One header as received: name and value as raw bytes (may be non-UTF-8).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header<'a> {
    /// Header name as received (hosts may have lowercased it).
    pub name: &'a [u8],
    /// Header value as received.
    pub value: &'a [u8],
}

impl<'a> Header<'a> {
    /// Builds a header from anything byte-like.
    pub fn new(name: &'a (impl AsRef<[u8]> + ?Sized), value: &'a (impl AsRef<[u8]> + ?Sized)) -> Self {
        Header { name: name.as_ref(), value: value.as_ref() }
    }

    /// True when the name equals `lower` ignoring ASCII case (`lower` must be lowercase).
    #[inline(always)]
    pub fn is(&self, lower: &str) -> bool {
        crate::util::eq_ci(self.name, lower.as_bytes())
    }
}

/// HTTP protocol version of the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HttpVersion {
    /// HTTP/1.0
    Http10,
    /// HTTP/1.1
    #[default]
    Http11,
    /// HTTP/2
    Http2,
    /// HTTP/3
    Http3,
}

impl HttpVersion {
    /// Parses `HTTP/1.1`, `HTTP/2`, `h2`, `2`, ... (case-insensitive); unknown text is `None`.
    pub fn parse(s: &str) -> Option<Self> {
        let s = s.trim();
        let s = s
            .strip_prefix("HTTP/")
            .or_else(|| s.strip_prefix("http/"))
            .unwrap_or(s);
        match s {
            "1.0" => Some(Self::Http10),
            "1.1" => Some(Self::Http11),
            "2" | "2.0" | "h2" | "h2c" => Some(Self::Http2),
            "3" | "3.0" | "h3" => Some(Self::Http3),
            _ => None,
        }
    }

    /// Two-character form used by fingerprints: `10`, `11`, `20`, `30`.
    pub fn code(self) -> &'static str {
        match self {
            Self::Http10 => "10",
            Self::Http11 => "11",
            Self::Http2 => "20",
            Self::Http3 => "30",
        }
    }

    /// Canonical text, `HTTP/1.1` etc.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Http10 => "HTTP/1.0",
            Self::Http11 => "HTTP/1.1",
            Self::Http2 => "HTTP/2",
            Self::Http3 => "HTTP/3",
        }
    }
}

/// What the host knows about the client connection.
#[derive(Debug, Clone, Copy, Default)]
pub struct Peer<'a> {
    /// Source address of the connection (before any X-Forwarded-For processing).
    pub ip: Option<IpAddr>,
    /// TLS JA4 fingerprint, when the host computes it.
    pub ja4: Option<&'a str>,
    /// TLS JA3 fingerprint (hash form), when the host computes it.
    pub ja3: Option<&'a str>,
    /// Autonomous system number, when the host knows it.
    pub asn: Option<u32>,
    /// ISO country code, when the host knows it.
    pub country: Option<&'a str>,
}

/// The request as the engine sees it.
#[derive(Debug, Clone, Default)]
pub struct Request<'a> {
    /// Method, e.g. `POST`.
    pub method: &'a [u8],
    /// Path with query string, e.g. `/v1/messages?beta=true`.
    pub path: &'a [u8],
    /// Protocol version.
    pub version: HttpVersion,
    /// Headers in received order. Hosts may include pseudo-headers (`:authority` ...).
    pub headers: Vec<Header<'a>>,
    /// False when the host cannot observe header order (Fetch API hosts sort headers).
    pub order_known: bool,
    /// A prefix of the body (possibly empty), at most the policy's `body.max_bytes`.
    pub body: &'a [u8],
    /// True when `body` is the whole body; false when it was cut at the cap.
    pub body_complete: bool,
    /// Connection facts.
    pub peer: Peer<'a>,
    /// Current time in milliseconds (any epoch, monotone per engine).
    pub now_ms: u64,
}

impl<'a> Request<'a> {
    /// An empty request with header order known and a complete (empty) body.
    pub fn new() -> Self {
        Request { order_known: true, body_complete: true, ..Default::default() }
    }

    /// First value of the header `lower` (lowercase name), ignoring ASCII case.
    #[inline]
    pub fn header(&self, lower: &str) -> Option<&'a [u8]> {
        self.headers.iter().find(|h| h.is(lower)).map(|h| h.value)
    }

    /// True when a header `lower` is present.
    #[inline]
    pub fn has(&self, lower: &str) -> bool {
        self.headers.iter().any(|h| h.is(lower))
    }

    /// All values of the header `lower`, in order.
    pub fn headers_named<'s>(&'s self, lower: &'s str) -> impl Iterator<Item = &'a [u8]> + 's {
        self.headers.iter().filter(move |h| h.is(lower)).map(|h| h.value)
    }

    /// Path without the query string.
    pub fn path_only(&self) -> &'a [u8] {
        match self.path.iter().position(|&b| b == b'?') {
            Some(i) => &self.path[..i],
            None => self.path,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_lookup_is_case_insensitive() {
        let mut r = Request::new();
        r.headers.push(Header::new("User-Agent", "curl/8"));
        r.headers.push(Header::new("x-a", "1"));
        r.headers.push(Header::new("X-A", "2"));
        assert_eq!(r.header("user-agent"), Some(&b"curl/8"[..]));
        assert_eq!(r.headers_named("x-a").count(), 2);
        assert!(!r.has("accept"));
    }

    #[test]
    fn version_parse_and_path_only() {
        assert_eq!(HttpVersion::parse("HTTP/2"), Some(HttpVersion::Http2));
        assert_eq!(HttpVersion::parse("HTTP/1.0"), Some(HttpVersion::Http10));
        assert_eq!(HttpVersion::parse("SPDY"), None);
        let r = Request { path: b"/v1/messages?x=1", ..Request::new() };
        assert_eq!(r.path_only(), b"/v1/messages");
    }
}
