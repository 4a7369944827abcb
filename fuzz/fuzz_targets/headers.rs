//! Decodes fuzz bytes into a request's method, path and header list (shared by targets).
//!
//! Layout: byte 0 picks the HTTP version (bits 0-1) and whether header order is known
//! (bit 2); the rest is split on `\n`: line 1 is the method, line 2 the path, every further
//! line one header. A header line `@X value` uses the X-th entry of [`NAMES`] (X is any byte,
//! taken modulo the table size) so the fuzzer reaches the names the checks look for; any
//! other line is split at the first `:` into name and value (no `:`: empty value). Bytes stay
//! raw: names and values may be non-UTF-8, empty, or contain any byte but `\n`.

use distill_guard::{Header, HttpVersion, Request};

/// Header names the fingerprint and claim checks treat specially.
pub const NAMES: [&str; 32] = [
    "user-agent", "host", ":authority", ":method", ":path", ":scheme", "accept", "accept-language",
    "accept-encoding", "content-type", "content-length", "connection", "cookie", "referer", "origin",
    "x-api-key", "authorization", "anthropic-version", "x-stainless-lang", "x-stainless-runtime",
    "x-stainless-runtime-version", "x-stainless-package-version", "x-stainless-os", "x-stainless-arch",
    "sec-ch-ua", "sec-ch-ua-platform", "sec-fetch-mode", "sec-fetch-site", "via", "forwarded",
    "x-forwarded-for", "proxy-connection",
];

/// Builds a request view borrowing from `data`.
pub fn request(data: &[u8]) -> Request<'_> {
    let mut req = Request::new();
    let Some((&flags, rest)) = data.split_first() else { return req };
    req.version = match flags & 3 {
        0 => HttpVersion::Http10,
        1 => HttpVersion::Http11,
        2 => HttpVersion::Http2,
        _ => HttpVersion::Http3,
    };
    req.order_known = flags & 4 == 0;
    let mut lines = rest.split(|&b| b == b'\n');
    req.method = lines.next().unwrap_or_default();
    req.path = lines.next().unwrap_or_default();
    for line in lines {
        let h = match line {
            [b'@', x, value @ ..] => {
                let value = value.strip_prefix(b" ").unwrap_or(value);
                Header::new(NAMES[*x as usize % NAMES.len()], value)
            }
            _ => match line.iter().position(|&b| b == b':') {
                // A leading ':' belongs to the name (pseudo-header): split at the next one.
                Some(0) => match line[1..].iter().position(|&b| b == b':') {
                    Some(i) => Header::new(&line[..i + 1], &line[i + 2..]),
                    None => Header::new(line, b""),
                },
                Some(i) => Header::new(&line[..i], &line[i + 1..]),
                None => Header::new(line, b""),
            },
        };
        req.headers.push(h);
    }
    req
}
