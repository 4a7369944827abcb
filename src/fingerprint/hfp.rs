//! `hfp`: our open header-shape fingerprint, an xxh3-64 (seed [`SEED`]) of a short
//! readable form `<m2><ver>:<names>`, e.g. `po11:user-agent,accept,content-type`.
//!
//! `m2` is the first two bytes of the lowercased method, `ver` is [`HttpVersion::code`],
//! and `names` are the header names joined by `,` after this normalization, which removes
//! exactly what hosts and proxies add, move or strip, so that one client gives one hfp
//! whether it is seen through Envoy, in a worker, or in a replayed capture:
//!
//! 1. Names are lowercased (ASCII, byte-wise; other bytes are kept as they are).
//! 2. Empty names and pseudo-headers (`:authority`, `:method`, ... any name starting with `:`)
//!    are dropped, and so is `host` (Envoy turns it into `:authority`, h2 has none).
//! 3. Hop-by-hop headers are dropped: `connection`, `keep-alive`, `proxy-connection`,
//!    `transfer-encoding`, `te`, `upgrade`, `trailer`.
//! 4. Headers Envoy adds are dropped: `x-request-id`, `x-forwarded-proto`, `x-envoy-*`.
//! 5. Proxy and CDN artifacts are dropped (they are scored separately by the proxy checks
//!    and depend on the path a request took, not on the client): `via`, `forwarded`,
//!    `x-forwarded-*`, `x-real-ip`, `cf-*`, `cdn-loop`, `true-client-ip`.
//! 6. The engine's own tags are dropped: `x-distill-*`.
//! 7. Consecutive repeats of one name collapse into one (h2 splits `cookie` into several).
//! 8. When the host cannot see header order (`Request::order_known == false`, Fetch API
//!    hosts), the names are sorted bytewise, every repeat collapses, and the separator after
//!    the version is `~` instead of `:` (`po11~accept,...`), so an order-free print never
//!    equals an ordered one.
//!
//! Header values never enter the print. `hfp` allocates nothing: it streams the bytes into
//! the hasher. `readable` allocates and renders non-UTF-8 bytes lossily (U+FFFD), so for
//! UTF-8 names `hfp(r) == xxh3_64_with_seed(readable(r), SEED)`.
//! Not done here: judging whether the shape fits the User-Agent (that is `claims`).

use crate::request::{Header, Request};
use xxhash_rust::xxh3::Xxh3;

/// Seed of the hfp hash (fixed: the same client gives the same hfp everywhere).
pub const SEED: u64 = 0x6466_7031; // "dfp1"

/// Exact names dropped by the normalization (steps 2-5), lowercase.
const DROP: &[&[u8]] = &[
    b"host", b"connection", b"keep-alive", b"proxy-connection", b"transfer-encoding", b"te",
    b"upgrade", b"trailer", b"x-request-id", b"x-forwarded-proto", b"via", b"forwarded",
    b"x-real-ip", b"cdn-loop", b"true-client-ip",
];

/// Name prefixes dropped by the normalization (steps 4-6), lowercase.
const DROP_PREFIX: &[&[u8]] = &[b"x-envoy-", b"x-forwarded-", b"cf-", b"x-distill-"];

/// Kept names sorted on the stack before falling back to a quadratic scan.
const SORT_CAP: usize = 128;

/// True when `name` survives the normalization (steps 2-6).
pub fn kept(name: &[u8]) -> bool {
    if name.first().map_or(true, |&b| b == b':') {
        return false;
    }
    !DROP.iter().any(|d| crate::util::eq_ci(name, d))
        && !DROP_PREFIX.iter().any(|p| name.get(..p.len()).is_some_and(|s| crate::util::eq_ci(s, p)))
}

/// The header-shape fingerprint of `req`.
pub fn hfp(req: &Request) -> u64 {
    // The readable form gathered on the stack and hashed at once (the streaming hasher's
    // per-piece cost is most of a few hundred bytes' hash); the streaming hash of the same
    // bytes, equal by xxh3's definition, when it does not fit.
    let (mut buf, mut n, mut fits) = ([0u8; 512], 0usize, true);
    walk(req, &mut |part| {
        if let Some(d) = buf.get_mut(n..n + part.len()).filter(|_| fits) {
            d.copy_from_slice(part);
            n += part.len();
        } else {
            fits = false;
        }
    });
    if let Some(b) = buf.get(..n).filter(|_| fits) {
        return xxhash_rust::xxh3::xxh3_64_with_seed(b, SEED);
    }
    let mut h = Xxh3::with_seed(SEED);
    walk(req, &mut |part| h.update(part));
    h.digest()
}

/// Readable form, e.g. `po11:user-agent,accept,content-type`.
pub fn readable(req: &Request) -> String {
    let mut out = Vec::with_capacity(16 + req.headers.len() * 16);
    walk(req, &mut |part| out.extend_from_slice(part));
    String::from_utf8_lossy(&out).into_owned()
}

/// Emits the readable form in pieces (already lowercased) to `emit`.
fn walk(req: &Request, emit: &mut dyn FnMut(&[u8])) {
    let m = req.method.get(..2).unwrap_or(req.method);
    lower_into(m, emit);
    emit(req.version.code().as_bytes());
    if req.order_known {
        emit(b":");
        let mut prev: Option<&[u8]> = None;
        for h in req.headers.iter().filter(|h| kept(h.name)) {
            if prev.is_some_and(|p| crate::util::eq_ci(p, h.name)) {
                continue;
            }
            name_into(prev.is_some(), h.name, emit);
            prev = Some(h.name);
        }
    } else {
        emit(b"~");
        sorted_names(&req.headers, emit);
    }
}

/// Emits the kept names of `headers` sorted and de-duplicated, without allocating.
fn sorted_names(headers: &[Header], emit: &mut dyn FnMut(&[u8])) {
    let mut idx = [0u16; SORT_CAP];
    let mut n = 0;
    for (i, h) in headers.iter().enumerate() {
        if kept(h.name) {
            if n == SORT_CAP || i > u16::MAX as usize {
                return sorted_names_scan(headers, emit);
            }
            idx[n] = i as u16;
            n += 1;
        }
    }
    let name = |i: u16| headers.get(i as usize).map_or(&b""[..], |h| h.name);
    let idx = &mut idx[..n];
    crate::util::insertion_sort_by(idx, |&a, &b| cmp_lower(name(a), name(b)));
    let mut prev: Option<&[u8]> = None;
    for &i in idx.iter() {
        let cur = name(i);
        if prev.is_some_and(|p| crate::util::eq_ci(p, cur)) {
            continue;
        }
        name_into(prev.is_some(), cur, emit);
        prev = Some(cur);
    }
}

/// Same output as [`sorted_names`] for any count: repeatedly emits the next larger name.
fn sorted_names_scan(headers: &[Header], emit: &mut dyn FnMut(&[u8])) {
    let mut prev: Option<&[u8]> = None;
    loop {
        let next = headers
            .iter()
            .map(|h| h.name)
            .filter(|n| kept(n) && prev.map_or(true, |p| cmp_lower(n, p).is_gt()))
            .min_by(|a, b| cmp_lower(a, b));
        let Some(cur) = next else { return };
        name_into(prev.is_some(), cur, emit);
        prev = Some(cur);
    }
}

/// Compares two names as their ASCII-lowercased bytes.
fn cmp_lower(a: &[u8], b: &[u8]) -> std::cmp::Ordering {
    a.iter()
        .map(u8::to_ascii_lowercase)
        .cmp(b.iter().map(u8::to_ascii_lowercase))
}

/// Emits `,` (unless first) and the lowercased name.
fn name_into(comma: bool, name: &[u8], emit: &mut dyn FnMut(&[u8])) {
    if comma {
        emit(b",");
    }
    lower_into(name, emit);
}

/// Emits `bytes` ASCII-lowercased through a small stack buffer.
fn lower_into(bytes: &[u8], emit: &mut dyn FnMut(&[u8])) {
    if !bytes.iter().any(u8::is_ascii_uppercase) {
        return emit(bytes); // already lowercase (Envoy and HTTP/2 names): no copy
    }
    let mut buf = [0u8; 64];
    for chunk in bytes.chunks(buf.len()) {
        let out = &mut buf[..chunk.len()];
        for (o, b) in out.iter_mut().zip(chunk) {
            *o = b.to_ascii_lowercase();
        }
        emit(out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fingerprint::testdata::{client, clients};
    use crate::request::HttpVersion;
    use xxhash_rust::xxh3::xxh3_64_with_seed;

    fn req<'a>(method: &'a str, headers: &[(&'a str, &'a str)]) -> Request<'a> {
        Request {
            method: method.as_bytes(),
            headers: headers.iter().map(|(n, v)| Header::new(*n, *v)).collect(),
            ..Request::new()
        }
    }

    #[test]
    fn golden_values_for_captured_clients() {
        // Pinned: changing the normalization changes every deployed allow/block list.
        // Cross-checked with Python's `xxhash.xxh3_64(readable, seed=0x64667031)`.
        let golden = [
            ("curl-post", "po11:user-agent,accept,x-api-key,anthropic-version,content-type,content-length", 0x75b7912fd0b71204u64),
            ("python-requests-post", "po11:user-agent,accept-encoding,accept,x-api-key,anthropic-version,content-length,content-type", 0x9730e2291d27daac),
            ("anthropic-python-post", "po11:accept-encoding,x-stainless-timeout,x-stainless-retry-count,x-stainless-read-timeout,\
accept,content-type,user-agent,x-stainless-lang,x-stainless-package-version,x-stainless-os,x-stainless-arch,\
x-stainless-runtime,x-stainless-runtime-version,authorization,x-stainless-async,anthropic-version,content-length", 0x7111d1ac94d76f96),
            ("chromium-get", "ge11:sec-ch-ua,sec-ch-ua-mobile,sec-ch-ua-platform,upgrade-insecure-requests,user-agent,\
accept,sec-fetch-site,sec-fetch-mode,sec-fetch-user,sec-fetch-dest,accept-encoding,accept-language", 0xf5b4e8f44014880c),
        ];
        for (name, text, value) in golden {
            let c = client(name);
            let r = c.request();
            assert_eq!(readable(&r), text, "{name}");
            assert_eq!(format!("{:016x}", hfp(&r)), format!("{value:016x}"), "{name}");
        }
    }

    #[test]
    fn hash_is_xxh3_of_readable_for_every_client() {
        for c in clients() {
            let mut r = c.request();
            for order_known in [true, false] {
                r.order_known = order_known;
                let text = readable(&r);
                assert_eq!(hfp(&r), xxh3_64_with_seed(text.as_bytes(), SEED), "{}", c.name);
                assert!(!text.contains("host") && !text.contains("connection"), "{text}");
            }
        }
    }

    /// Readable forms around and past the stack buffer's 512 bytes hash as the streaming
    /// hash of the whole form does (the one-shot path, its boundary, and the fallback).
    #[test]
    fn hash_is_xxh3_of_readable_at_any_length() {
        let check = |names: &[String], order_known: bool| {
            let pairs: Vec<(&str, &str)> = names.iter().map(|k| (k.as_str(), "v")).collect();
            let mut r = req("POST", &pairs);
            r.order_known = order_known;
            let text = readable(&r);
            assert_eq!(hfp(&r), xxh3_64_with_seed(text.as_bytes(), SEED), "{} bytes", text.len());
            text.len()
        };
        let mut lengths = Vec::new();
        for n in 0..120 {
            let names: Vec<String> = (0..n).map(|i| format!("x-h{i:03}{}", "a".repeat(i % 7))).collect();
            lengths.extend([true, false].map(|order_known| check(&names, order_known)));
        }
        let some = |lo: usize, hi: usize| lengths.iter().any(|l| (lo..=hi).contains(l));
        assert!(some(500, 512) && some(513, 530) && some(1025, usize::MAX), "{lengths:?}");
        // Exactly at the buffer's size and one byte either side: 40 names, the last one padded.
        for target in [511usize, 512, 513] {
            let mut names: Vec<String> = (0..40).map(|i| format!("x-h{i:03}")).collect();
            let pad = target - check(&names, true);
            if let Some(last) = names.last_mut() {
                last.push_str(&"a".repeat(pad));
            }
            assert_eq!(check(&names, true), target);
        }
    }

    #[test]
    fn distinct_shapes_give_distinct_prints() {
        // Stacks with the very same wire shape (httpx sync and async, wrappers sending
        // through an SDK) share a print; different shapes never collide.
        let all = clients();
        let mut seen: Vec<(u64, String, &str)> = Vec::new();
        for c in &all {
            let r = c.request();
            let (p, text) = (hfp(&r), readable(&r));
            if let Some((_, other_text, other)) = seen.iter().find(|(q, _, _)| *q == p) {
                assert_eq!(&text, other_text, "{} and {} share hfp {p:016x}", c.name, other);
            }
            seen.push((p, text, &c.name));
        }
        let distinct: std::collections::HashSet<u64> = seen.iter().map(|(p, _, _)| *p).collect();
        assert!(distinct.len() >= 60, "{} distinct prints", distinct.len());
    }

    #[test]
    fn same_client_through_envoy_gives_same_hfp() {
        for c in clients().iter().filter(|c| c.version == HttpVersion::Http11) {
            let direct = c.request();
            // What Envoy hands the filter: pseudo-headers first, names lowercased, Host
            // moved to :authority, hop-by-hop removed, its own headers appended.
            let lowered: Vec<(String, String)> =
                c.headers.iter().map(|(n, v)| (n.to_ascii_lowercase(), v.clone())).collect();
            let mut hs: Vec<(&str, &str)> =
                vec![(":authority", "api.example"), (":path", "/v1/messages"), (":method", "POST"), (":scheme", "http")];
            for (n, v) in &lowered {
                if n != "host" && n != "connection" && n != "keep-alive" {
                    hs.push((n, v));
                }
            }
            hs.extend([("x-forwarded-proto", "https"), ("x-request-id", "abc"), ("x-envoy-expected-rq-timeout-ms", "1"),
                ("x-forwarded-for", "1.2.3.4"), ("via", "1.1 cdn"), ("cf-ray", "x"), ("x-distill-score", "3")]);
            let mut via_envoy = req(&c.method, &hs);
            via_envoy.version = c.version;
            assert_eq!(hfp(&direct), hfp(&via_envoy), "{}", c.name);
            assert_eq!(readable(&direct), readable(&via_envoy), "{}", c.name);
        }
    }

    #[test]
    fn repeats_collapse_and_order_free_never_collides() {
        let split = req("GET", &[("accept", "*/*"), ("cookie", "a=1"), ("cookie", "b=2"), ("user-agent", "x")]);
        let joined = req("GET", &[("accept", "*/*"), ("Cookie", "a=1; b=2"), ("user-agent", "x")]);
        assert_eq!(readable(&split), "ge11:accept,cookie,user-agent");
        assert_eq!(hfp(&split), hfp(&joined));
        let reordered = req("GET", &[("user-agent", "x"), ("accept", "*/*"), ("cookie", "a")]);
        assert_ne!(hfp(&joined), hfp(&reordered));
        let (mut a, mut b) = (joined.clone(), reordered.clone());
        a.order_known = false;
        b.order_known = false;
        assert_eq!(readable(&a), "ge11~accept,cookie,user-agent");
        assert_eq!(hfp(&a), hfp(&b));
        // An ordered print whose names happen to be sorted still differs from the order-free one.
        let sorted_ordered = req("GET", &[("accept", "*/*"), ("cookie", "a"), ("user-agent", "x")]);
        assert_ne!(hfp(&sorted_ordered), hfp(&a));
    }

    #[test]
    fn large_header_counts_sort_like_small_ones() {
        let names: Vec<String> = (0..300).map(|i| format!("X-H{:03}", (i * 7919) % 300)).collect();
        let mut r = Request { method: b"POST", order_known: false, ..Request::new() };
        r.headers = names.iter().map(|n| Header::new(n, "v")).collect();
        r.headers.push(Header::new("x-h005", "dup"));
        let text = readable(&r);
        let mut expect: Vec<String> = (0..300).map(|i| format!("x-h{i:03}")).collect();
        expect.sort();
        assert_eq!(text, format!("po11~{}", expect.join(",")));
        // Under the cap both paths agree too.
        let small = &r.headers[..20];
        let (mut a, mut b) = (Vec::new(), Vec::new());
        sorted_names(small, &mut |p| a.extend_from_slice(p));
        sorted_names_scan(small, &mut |p| b.extend_from_slice(p));
        assert_eq!(a, b);
    }

    #[test]
    fn odd_bytes_do_not_panic() {
        let bad: &[u8] = &[0xff, 0xfe, b'A'];
        let long = "X".repeat(1000);
        let mut r = Request { method: &[0xc3], ..Request::new() };
        r.headers = vec![Header::new(bad, "v"), Header::new("", "v"), Header::new(":", ""), Header::new(&long, "")];
        let text = readable(&r);
        assert!(text.starts_with('\u{fffd}'), "{text}");
        assert!(text.ends_with(&"x".repeat(1000)));
        assert_eq!(text.matches(',').count(), 1, "empty and pseudo names dropped: {text}");
        let _ = hfp(&r);
        r.order_known = false;
        let _ = (hfp(&r), readable(&r));
        let empty = Request { method: b"", ..Request::new() };
        assert_eq!(readable(&empty), "11:");
    }
}
