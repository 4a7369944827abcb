//! JA4H, FoxIO's HTTP client fingerprint, as an opt-in compatibility output
//! (policy `fingerprints.ja4h`; off by default).
//!
//! JA4H is part of JA4+ and is under the FoxIO License 1.1 (patent pending; commercial use
//! needs a licence from FoxIO). This is an independent implementation written from the
//! published description and checked against FoxIO's test vectors
//! (`shared/vectors/ja4h.json`); the project's own open fingerprint is `hfp`.
//!
//! Format `a_b_c_d`:
//! - `a` = method code (FoxIO's two-letter table: `ge` `po` `pu` `pa` `de` `he` `op` ...,
//!   `00` for unlisted methods), version (`10` `11` `20` `30`), `c`/`n` (Cookie present),
//!   `r`/`n` (Referer present), header count (2 digits, at most 99) and the language
//!   field of the first Accept-Language ([`language`]; `0000` when absent).
//! - `b` = first 12 hex of SHA-256 of the header names in received order joined by `,`,
//!   original case, without pseudo-headers, `Cookie` and `Referer` (the ones counted in `a`).
//! - `c` = same over the cookie names sorted bytewise (stable); `d` = over the `name=value`
//!   cookie pairs in that order. Empty lists give `000000000000`. Cookie pieces without
//!   `=` are skipped. `ja4h_r` shows the lists instead of their hashes.
//!
//! This follows FoxIO's current Wireshark implementation, which produced the vectors. Its
//! language field works on bytes (letters lowercased, any other byte as two hex digits),
//! so non-ASCII Accept-Language values can neither panic nor be cut inside a character
//! (FoxIO's Python and Rust versions differ there: `*` gives `*000`, not `2a00`).
//!
//! Through Envoy, header names arrive lowercased and `Host` arrives as the `:authority`
//! pseudo-header, so JA4H there is the JA4H of the lowercase names: for HTTP/1.x a request
//! with `:authority` but no `host` header is treated as having `host` first (where
//! HTTP/1.1 clients send it); for HTTP/2 and HTTP/3 pseudo-headers are skipped as the spec
//! says. Hosts that sort headers (`order_known == false`) get a JA4H of the sorted order,
//! which will not match FoxIO's databases.

use super::sha256::{hex_prefix, Sha256};
use crate::request::{HttpVersion, Request};

/// The parts of a JA4H before formatting.
struct Parts<'a> {
    a: String,
    names: Vec<&'a [u8]>,
    /// `(name, name=value)` cookie pieces, stably sorted by name.
    cookies: Vec<(&'a [u8], &'a [u8])>,
}

/// JA4H of `req`.
pub fn ja4h(req: &Request) -> String {
    let p = parts(req);
    let b = hash_list(p.names.iter().copied());
    let c = hash_list(p.cookies.iter().map(|c| c.0));
    let d = hash_list(p.cookies.iter().map(|c| c.1));
    let s = |h: [u8; 12]| String::from_utf8_lossy(&h).into_owned();
    format!("{}_{}_{}_{}", p.a, s(b), s(c), s(d))
}

/// JA4H_r (raw, unhashed) of `req`.
pub fn ja4h_r(req: &Request) -> String {
    let p = parts(req);
    let join = |items: &mut dyn Iterator<Item = &[u8]>| {
        let mut out = Vec::new();
        for (i, it) in items.enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.extend_from_slice(it);
        }
        String::from_utf8_lossy(&out).into_owned()
    };
    let b = join(&mut p.names.iter().copied());
    let c = join(&mut p.cookies.iter().map(|c| c.0));
    let d = join(&mut p.cookies.iter().map(|c| c.1));
    format!("{}_{}_{}_{}", p.a, b, c, d)
}

fn parts<'a>(req: &Request<'a>) -> Parts<'a> {
    let h1 = matches!(req.version, HttpVersion::Http10 | HttpVersion::Http11);
    let mut names: Vec<&'a [u8]> = Vec::with_capacity(req.headers.len() + 1);
    if h1 && !req.has("host") && req.has(":authority") {
        names.push(b"host");
    }
    let (mut cookie, mut referer) = (false, false);
    let mut cookies = Vec::new();
    for h in &req.headers {
        if h.name.first().map_or(true, |&b| b == b':') {
            continue;
        }
        if h.is("referer") {
            referer = true;
        } else if h.name.get(..6).is_some_and(|p| crate::util::eq_ci(p, b"cookie")) {
            if h.name.len() == 6 {
                cookie = true;
                split_cookies(h.value, &mut cookies);
            }
        } else {
            names.push(h.name);
        }
    }
    crate::util::insertion_sort_by(&mut cookies, |x: &(&[u8], &[u8]), y| x.0.cmp(y.0));

    let mut a = String::with_capacity(12);
    a.push_str(method_code(req.method));
    a.push_str(req.version.code());
    a.push(if cookie { 'c' } else { 'n' });
    a.push(if referer { 'r' } else { 'n' });
    let n = names.len().min(99);
    a.push(char::from(b'0' + (n / 10) as u8));
    a.push(char::from(b'0' + (n % 10) as u8));
    let lang = req.header("accept-language").map_or(*b"0000", language);
    a.extend(lang.iter().map(|&b| char::from(b)));
    Parts { a, names, cookies }
}

/// Splits one Cookie value into `(name, name=value)` pieces.
fn split_cookies<'a>(value: &'a [u8], out: &mut Vec<(&'a [u8], &'a [u8])>) {
    for piece in value.split(|&b| b == b';') {
        let piece = piece.trim_ascii();
        if piece.is_empty() {
            continue;
        }
        if let Some(eq) = piece.iter().position(|&b| b == b'=') {
            out.push((piece.get(..eq).unwrap_or_default().trim_ascii(), piece));
        }
    }
}

/// The 4-byte language field, as FoxIO's current implementation builds it: look at the
/// first 5 bytes of the value only, skip whitespace and `-`, stop at `,` or `;`, keep ASCII
/// letters lowercased and write any other byte as two hex digits; pad with `0`, cut to 4.
/// Always ASCII, so multibyte input can never be cut inside a character.
pub fn language(value: &[u8]) -> [u8; 4] {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = [b'0'; 6];
    let mut n = 0;
    for &b in value.iter().take(5) {
        if b == b',' || b == b';' || n >= 4 {
            break;
        }
        if b.is_ascii_whitespace() || b == 0x0b || b == b'-' {
            continue;
        }
        if b.is_ascii_alphabetic() {
            out[n] = b.to_ascii_lowercase();
            n += 1;
        } else {
            out[n] = HEX[usize::from(b >> 4)];
            out[n + 1] = HEX[usize::from(b & 0xf)];
            n += 2;
        }
    }
    [out[0], out[1], out[2], out[3]]
}

/// JA4H's two-letter method code (FoxIO's table; `00` for methods it does not list).
pub fn method_code(method: &[u8]) -> &'static str {
    const MAP: &[(&str, &str)] = &[
        ("GET", "ge"), ("POST", "po"), ("PUT", "pu"), ("PATCH", "pa"), ("DELETE", "de"),
        ("HEAD", "he"), ("OPTIONS", "op"), ("CONNECT", "co"), ("TRACE", "tr"), ("ACL", "ac"),
        ("BASELINE-CONTROL", "ba"), ("BIND", "bi"), ("CHECKIN", "cn"), ("CHECKOUT", "ct"),
        ("COPY", "cy"), ("LABEL", "la"), ("LINK", "li"), ("LOCK", "lo"), ("MERGE", "me"),
        ("MKACTIVITY", "ma"), ("MKCALENDAR", "mc"), ("MKCOL", "ml"), ("MKREDIRECTREF", "mr"),
        ("MKWORKSPACE", "mw"), ("MOVE", "mo"), ("M-SEARCH", "ms"), ("NOTIFY", "no"), ("PRI", "pr"),
        ("PROPFIND", "pf"), ("PROPPATCH", "pp"), ("PURGE", "pr"), ("REBIND", "rb"), ("REPORT", "rp"),
        ("SEARCH", "se"), ("SUBSCRIBE", "su"), ("UNBIND", "ub"), ("UNCHECKOUT", "uc"), ("UNLINK", "ui"),
        ("UNLOCK", "uo"), ("UNSUBSCRIBE", "un"), ("UPDATE", "up"), ("UPDATEREDIRECTREF", "ur"),
        ("VERSION-CONTROL", "ve"),
    ];
    MAP.iter().find(|(m, _)| crate::util::eq_ci(method, m.as_bytes())).map_or("00", |(_, c)| c)
}

/// First 12 hex of SHA-256 over the items joined by `,`; zeros for an empty list.
fn hash_list<'a>(items: impl Iterator<Item = &'a [u8]>) -> [u8; 12] {
    let mut h = Sha256::new();
    let mut any = false;
    for it in items {
        if any {
            h.update(b",");
        }
        h.update(it);
        any = true;
    }
    if any {
        hex_prefix::<12>(&h.finish())
    } else {
        [b'0'; 12]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::Header;

    fn vectors() -> serde_json::Value {
        // `shared/` sits beside the checkout (main, CI); helper worktrees are one level deeper.
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/vectors/ja4h.json");
        let alt = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/vectors/ja4h.json");
        let text = std::fs::read_to_string(path)
            .or_else(|_| std::fs::read_to_string(alt))
            .unwrap_or_else(|e| panic!("{path}: {e}"));
        serde_json::from_str(&text).expect("vectors parse")
    }

    #[test]
    fn foxio_vectors() {
        let doc = vectors();
        let list = doc["vectors"].as_array().expect("vectors");
        assert!(list.len() >= 20, "expected the full vector set");
        for v in list {
            let s = |k: &str| v[k].as_str().unwrap_or_default().to_string();
            let (method, version) = (s("method"), s("version"));
            let headers: Vec<(String, String)> = v["headers"]
                .as_array()
                .expect("headers")
                .iter()
                .map(|h| (h[0].as_str().unwrap_or("").into(), h[1].as_str().unwrap_or("").into()))
                .collect();
            let req = Request {
                method: method.as_bytes(),
                version: HttpVersion::parse(&version).expect("version"),
                headers: headers.iter().map(|(n, v)| Header::new(n, v)).collect(),
                ..Request::new()
            };
            assert_eq!(ja4h_r(&req), s("expected_ja4h_r"), "{}", s("source"));
            assert_eq!(ja4h(&req), s("expected_ja4h"), "{}", s("source"));
        }
    }

    #[test]
    fn captured_curl_matches_foxio_curl_mapping() {
        // `curl URL`: the captured GET without the API's Authorization header.
        let mut c = crate::fingerprint::testdata::client("curl-get");
        c.headers.retain(|(n, _)| n != "Authorization");
        assert_eq!(ja4h(&c.request()), "ge11nn030000_fe444ad14866_000000000000_000000000000");
    }

    #[test]
    fn envoy_view_puts_authority_first_as_host() {
        let h = |n: &'static str, v: &'static str| Header::new(n, v);
        let mut r = Request { method: b"GET", ..Request::new() };
        r.headers = vec![h(":authority", "a.example"), h(":path", "/"), h(":method", "GET"),
            h("user-agent", "curl/8"), h("accept", "*/*")];
        assert_eq!(ja4h_r(&r), "ge11nn030000_host,user-agent,accept__");
        // Same client seen directly, names lowercased: identical.
        let mut d = Request { method: b"GET", ..Request::new() };
        d.headers = vec![h("host", "a.example"), h("user-agent", "curl/8"), h("accept", "*/*")];
        assert_eq!(ja4h(&d), ja4h(&r));
        // HTTP/2 keeps skipping pseudo-headers.
        r.version = HttpVersion::Http2;
        assert_eq!(ja4h_r(&r), "ge20nn020000_user-agent,accept__");
    }

    #[test]
    fn language_field() {
        assert_eq!(&language(b"en-US,en;q=0.9"), b"enus");
        assert_eq!(&language(b"ru-RU"), b"ruru");
        assert_eq!(&language(b"da, en-GB;q=0.8"), b"da00");
        assert_eq!(&language(b"de;q=1"), b"de00");
        assert_eq!(&language(b" zh-Hant-TW"), b"zhh0"); // only the first 5 bytes count
        assert_eq!(&language(b"*"), b"2a00");
        assert_eq!(&language(b"es-419"), b"es34");
        assert_eq!(&language(b""), b"0000");
        assert_eq!(&language("é-FR".as_bytes()), b"c3a9");
        assert_eq!(&language("日本".as_bytes()), b"e697");
        assert_eq!(&language(&[b'e', b'n', b'u', 0xff]), b"enuf");
        assert_eq!(&language(b"abcdefgh"), b"abcd");
    }

    #[test]
    fn method_codes() {
        assert_eq!(method_code(b"GET"), "ge");
        assert_eq!(method_code(b"post"), "po");
        assert_eq!(method_code(b"MKCOL"), "ml");
        assert_eq!(method_code(b"M-SEARCH"), "ms");
        assert_eq!(method_code(b"BREW"), "00");
        assert_eq!(method_code(&[0xc3]), "00");
    }

    #[test]
    fn multibyte_and_odd_input_never_panics() {
        let samples: [&[u8]; 8] = [
            "日本語-JP,ja;q=0.9".as_bytes(), "ελ-GR".as_bytes(), "😀😀".as_bytes(), "a😀".as_bytes(),
            "ab😀".as_bytes(), "abc😀".as_bytes(), &[0xe6, 0x97], &[0xc3, 0x28, b'-', 0xa0, 0xa1],
        ];
        for lang in samples {
            for cut in 0..=lang.len() {
                let value = &lang[..cut];
                let r = Request {
                    method: &[0xc3, 0xa9, b'X'],
                    headers: vec![Header::new("Accept-Language", value), Header::new(&[0xff, 0xfe][..], "x"),
                        Header::new("Cookie", &[0xff, b'=', 0xfe][..]), Header::new("", "")],
                    ..Request::new()
                };
                let j = ja4h(&r);
                assert_eq!(j.split('_').count(), 4, "{j}");
                let a = j.split('_').next().unwrap_or_default();
                assert!(a.starts_with("0011cn02"), "{a}");
                assert!(a.is_ascii(), "{a}");
                assert_eq!(a.len(), 12, "{a}");
                let _ = ja4h_r(&r);
            }
        }
    }

    #[test]
    fn cookie_only_and_empty() {
        let r = Request { method: b"GET", headers: vec![Header::new("Cookie", "b=2; a=1;; x; a=0")], ..Request::new() };
        assert_eq!(ja4h_r(&r), "ge11cn000000__a,a,b_a=1,a=0,b=2");
        assert!(ja4h(&r).starts_with("ge11cn000000_000000000000_"));
        let e = Request::new();
        assert_eq!(ja4h(&e), "0011nn000000_000000000000_000000000000_000000000000");
    }
}
