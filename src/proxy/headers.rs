//! `proxy.*` signals from request headers, and the effective client IP.
//!
//! One pass over the headers classifies each name against short constant tables (ASCII
//! case-insensitive, no allocation); a request without proxy headers costs one compare per
//! table entry and header. `X-Forwarded-For` is read only when present: all its headers in
//! order, joined as one comma-separated list (empty elements skipped), counted from the
//! right. Entries may carry ports, brackets or quotes (`[2001:db8::1]:443`, `1.2.3.4:80`,
//! `"[::1]"`); garbage (`unknown`, `_hidden`) counts as a hop but never as an address.
//!
//! Not done here: trusting `Forwarded`, `X-Real-IP` or any other header for the client
//! address (any client can send them; only hops your own proxies append are trusted), and
//! judging the addresses themselves (that is [`super::CidrSet`]'s job in the engine).

use std::net::IpAddr;

use xxhash_rust::xxh3::xxh3_64;

use crate::request::Request;
use crate::signal::{Fired, Signal};

/// Headers that carry a client address set by a proxy or CDN; each fires
/// `proxy.client_ip_header`. Lowercase.
pub const CLIENT_IP_HEADERS: &[&str] = &[
    "x-real-ip",
    "client-ip",
    "true-client-ip",
    "x-cluster-client-ip",
    "x-originating-ip",
    "x-proxyuser-ip",
    "x-remote-ip",
    "x-remote-addr",
];

/// Headers added only by specific proxy software; each fires `proxy.vendor_header`.
/// Lowercase. `x-tinyproxy` (Tinyproxy's `XTinyproxy` option), `x-bluecoat-via` (Blue Coat
/// / Symantec ProxySG), `x-forwarded-server` (Apache `mod_proxy`), `x-imforwards` (Microsoft
/// ISA / TMG), `x-proxy-id`, `x-proxy-connection` and `x-via` (assorted forward proxies),
/// `surrogate-capability` (Squid as a reverse proxy, Varnish, Fastly, Akamai ESI).
pub const VENDOR_HEADERS: &[&str] = &[
    "x-proxy-id",
    "x-tinyproxy",
    "x-bluecoat-via",
    "x-forwarded-server",
    "x-imforwards",
    "x-proxy-connection",
    "x-via",
    "surrogate-capability",
];

/// Name prefixes of vendor headers (`x-squid-error`, ...); each fires `proxy.vendor_header`.
pub const VENDOR_PREFIXES: &[&str] = &["x-squid-"];

/// Header values only proxy software sends; each fires `proxy.vendor_header`. Lowercase name,
/// value compared trimmed and ASCII case-insensitively. `cache-control: max-age=259200` is
/// added by Squid to every request it forwards (its default `refresh_pattern` maximum,
/// 4320 minutes), even with `via off` and `forwarded_for delete` (seen in
/// `tests/data/proxies.json`).
pub const VENDOR_VALUES: &[(&str, &str)] = &[("cache-control", "max-age=259200")];

/// Headers that each fire one signal by name alone.
const NAMED: &[(&str, Signal)] = &[
    ("via", Signal::ProxyVia),
    ("forwarded", Signal::ProxyForwarded),
    ("proxy-connection", Signal::ProxyConnection),
    ("proxy-authorization", Signal::ProxyAuthorization),
];

/// What a header name means here.
enum Kind {
    /// Fires this signal.
    Fire(Signal),
    /// `X-Forwarded-For`: counted later.
    Xff,
}

/// Longest entry worth parsing as an address (`[v6 with v4 tail%zone]:port` fits easily).
const MAX_ENTRY: usize = 80;

fn classify(name: &[u8], value: &[u8]) -> Option<Kind> {
    // Every name we know starts with a letter; pseudo-headers and most others exit here.
    if name.len() < 3 || !matches!(name.first(), Some(b'v' | b'V' | b'f' | b'F' | b'p' | b'P' | b'x' | b'X' | b'c' | b'C' | b't' | b'T' | b's' | b'S')) {
        return None;
    }
    if crate::util::eq_ci(name, b"x-forwarded-for") {
        return Some(Kind::Xff);
    }
    if let Some(&(_, s)) = NAMED.iter().find(|(n, _)| crate::util::eq_ci(name, n.as_bytes())) {
        return Some(Kind::Fire(s));
    }
    if CLIENT_IP_HEADERS.iter().any(|n| crate::util::eq_ci(name, n.as_bytes())) {
        return Some(Kind::Fire(Signal::ProxyClientIpHeader));
    }
    let vendor = VENDOR_HEADERS.iter().any(|n| crate::util::eq_ci(name, n.as_bytes()))
        || VENDOR_PREFIXES
            .iter()
            .any(|p| name.len() > p.len() && name.get(..p.len()).is_some_and(|h| crate::util::eq_ci(h, p.as_bytes())));
    let vendor = vendor
        || VENDOR_VALUES
            .iter()
            .any(|(n, v)| crate::util::eq_ci(name, n.as_bytes()) && crate::util::eq_ci(value.trim_ascii(), v.as_bytes()));
    vendor.then_some(Kind::Fire(Signal::ProxyVendorHeader))
}

/// Fires `proxy.*` header signals and returns the effective client IP (IPv4-mapped IPv6
/// given as IPv4): with `trusted_hops = N >= 1`, the N-th `X-Forwarded-For` entry from the
/// right (entries to its left are extra hops and fire `proxy.xff_hops`; with fewer than N
/// entries, the leftmost); with N = 0, the peer address (and any entry is an extra hop).
/// Falls back to the peer address when the chosen entry is not an address.
pub fn check_headers(req: &Request, trusted_hops: u32, fired: &mut Fired) -> Option<IpAddr> {
    client_address(req, trusted_hops, fired).ip
}

/// What a request says about its client address (for the deployment check,
/// [`super::AddressCheck`], besides the address itself).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ClientAddress {
    /// The client address (what [`check_headers`] returns).
    pub ip: Option<IpAddr>,
    /// `X-Forwarded-For` entries the request carried.
    pub xff_entries: u64,
    /// A hash of the first entry beyond the trusted hops, what one more trusted hop would take
    /// as the client (0 when there is none): counted, never kept or shown.
    pub beyond: u64,
}

/// [`check_headers`] with what the deployment check counts besides the address.
pub fn client_address(req: &Request, trusted_hops: u32, fired: &mut Fired) -> ClientAddress {
    let peer = req.peer.ip.map(|ip| ip.to_canonical());
    let mut has_xff = false;
    for h in &req.headers {
        match classify(h.name, h.value) {
            Some(Kind::Fire(s)) => fired.fire(s),
            Some(Kind::Xff) => has_xff = true,
            None => {}
        }
    }
    if !has_xff {
        return ClientAddress { ip: peer, ..ClientAddress::default() };
    }
    let xff = forwarded_for(req, trusted_hops);
    if xff.entries > u64::from(trusted_hops) {
        fired.fire(Signal::ProxyXffHops);
    }
    let beyond = xff.beyond.map_or(0, |e| xxh3_64(e).max(1));
    ClientAddress { ip: xff.client.or(peer), xff_entries: xff.entries, beyond }
}

/// The client address `X-Forwarded-For` gives under `trusted_hops` (what [`check_headers`]
/// returns when it is not the peer's): with `Some`, the peer address does not matter to the
/// verdict, so a host may skip reading it.
pub fn forwarded_client(req: &Request, trusted_hops: u32) -> Option<IpAddr> {
    if trusted_hops == 0 {
        return None; // the peer is the client: no need to walk the header
    }
    forwarded_for(req, trusted_hops).client
}

/// One request's `X-Forwarded-For` list under the trusted hops.
struct Forwarded<'a> {
    /// Entries.
    entries: u64,
    /// The parsed client entry (None with 0 trusted hops or garbage).
    client: Option<IpAddr>,
    /// The first entry beyond the trusted hops, as sent.
    beyond: Option<&'a [u8]>,
}

/// Walks the `X-Forwarded-For` list from the right.
fn forwarded_for<'a>(req: &Request<'a>, trusted_hops: u32) -> Forwarded<'a> {
    let want = u64::from(trusted_hops);
    let mut total = 0u64;
    let mut chosen: Option<&[u8]> = None;
    let mut beyond: Option<&[u8]> = None;
    let mut leftmost: Option<&[u8]> = None;
    let values = req.headers.iter().rev().filter(|h| h.is("x-forwarded-for")).map(|h| h.value);
    for entry in values.flat_map(|v| v.rsplit(|&b| b == b',')).map(<[u8]>::trim_ascii).filter(|e| !e.is_empty()) {
        total += 1;
        if total == want {
            chosen = Some(entry);
        } else if total == want + 1 {
            beyond = Some(entry);
        }
        leftmost = Some(entry);
    }
    let entry = if total >= want { chosen } else { leftmost };
    let client = if want == 0 { None } else { entry.and_then(parse_ip_token) };
    Forwarded { entries: total, client, beyond }
}

/// Parses one forwarded-for token: `1.2.3.4`, `1.2.3.4:80`, `2001:db8::1`,
/// `[2001:db8::1]:443`, optionally double-quoted, with an IPv6 zone id ignored. Anything
/// else (`unknown`, obfuscated `_ids`, junk) is `None`. IPv4-mapped IPv6 comes back as IPv4.
pub fn parse_ip_token(raw: &[u8]) -> Option<IpAddr> {
    let mut t = raw.trim_ascii();
    if let Some(inner) = t.strip_prefix(b"\"").and_then(|r| r.strip_suffix(b"\"")) {
        t = inner.trim_ascii();
    }
    if t.len() > MAX_ENTRY {
        return None;
    }
    let ip = if let Some(rest) = t.strip_prefix(b"[") {
        let end = rest.iter().position(|&b| b == b']')?;
        let after = rest.get(end + 1..)?;
        if !(after.is_empty() || after.strip_prefix(b":").is_some_and(is_port)) {
            return None;
        }
        match parse_addr(rest.get(..end)?)? {
            ip @ IpAddr::V6(_) => ip,
            IpAddr::V4(_) => return None,
        }
    } else if let Some(ip) = parse_addr(t) {
        ip
    } else {
        // `a.b.c.d:port`: exactly one colon, IPv4 before it.
        let colon = t.iter().rposition(|&b| b == b':')?;
        let (host, port) = (t.get(..colon)?, t.get(colon + 1..)?);
        match parse_addr(host)? {
            ip @ IpAddr::V4(_) if is_port(port) => ip,
            _ => return None,
        }
    };
    Some(ip.to_canonical())
}

/// 1 to 5 ASCII digits.
fn is_port(b: &[u8]) -> bool {
    (1..=5).contains(&b.len()) && b.iter().all(u8::is_ascii_digit)
}

/// A bare IPv4 or IPv6 address; an IPv6 `%zone` suffix is dropped.
fn parse_addr(b: &[u8]) -> Option<IpAddr> {
    let b = match b.iter().position(|&c| c == b'%') {
        Some(i) if b.contains(&b':') => b.get(..i)?,
        _ => b,
    };
    std::str::from_utf8(b).ok()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::Header;

    fn ip(s: &str) -> Option<IpAddr> {
        Some(s.parse().unwrap())
    }

    fn run(headers: &[(&str, &str)], peer: &str, hops: u32) -> (Fired, Option<IpAddr>) {
        let mut r = Request::new();
        r.peer.ip = peer.parse().ok();
        r.headers = headers.iter().map(|(n, v)| Header::new(*n, *v)).collect();
        let mut f = Fired::default();
        let client = check_headers(&r, hops, &mut f);
        (f, client)
    }

    fn fired(f: &Fired) -> Vec<&'static str> {
        f.iter().map(|(s, _)| s.code()).collect()
    }

    #[test]
    fn no_proxy_headers_fire_nothing_and_keep_the_peer() {
        let (f, c) = run(&[(":authority", "api"), ("user-agent", "curl/8"), ("x-forwarded-proto", "https"), ("x-request-id", "1")], "::ffff:198.51.100.4", 1);
        assert!(fired(&f).is_empty());
        assert_eq!(c, ip("198.51.100.4"));
        let (_, c) = run(&[], "", 0);
        assert_eq!(c, None);
    }

    #[test]
    fn each_header_kind_fires_its_signal() {
        let cases: &[(&str, &str)] = &[
            ("Via", "proxy.via"),
            ("FORWARDED", "proxy.forwarded"),
            ("Proxy-Connection", "proxy.connection_header"),
            ("proxy-authorization", "proxy.authorization"),
            ("X-Real-IP", "proxy.client_ip_header"),
            ("X-ProxyUser-Ip", "proxy.client_ip_header"),
            ("x-remote-addr", "proxy.client_ip_header"),
            ("X-Tinyproxy", "proxy.vendor_header"),
            ("X-Squid-Error", "proxy.vendor_header"),
            ("surrogate-capability", "proxy.vendor_header"),
            ("X-BlueCoat-Via", "proxy.vendor_header"),
        ];
        for (name, code) in cases {
            let (f, _) = run(&[(name, "1.2.3.4")], "10.0.0.1", 0);
            assert_eq!(fired(&f), vec![*code], "{name}");
        }
        for name in ["x-squid-", "x-via-foo", "vias", "x-forwarded-host", "x-forwarded-proto", "proxy", "cache-control"] {
            let (f, _) = run(&[(name, "1")], "10.0.0.1", 0);
            assert!(fired(&f).is_empty(), "{name}");
        }
        let (f, _) = run(&[("Cache-Control", " max-age=259200 ")], "10.0.0.1", 0);
        assert_eq!(fired(&f), vec!["proxy.vendor_header"]);
        let (f, _) = run(&[("cache-control", "max-age=0")], "10.0.0.1", 0);
        assert!(fired(&f).is_empty());
    }

    #[test]
    fn xff_client_is_nth_from_the_right_across_headers() {
        let h = [("X-Forwarded-For", "203.0.113.9, 198.51.100.1"), ("x-forwarded-for", " 10.0.0.2 ,, ")];
        let (f, c) = run(&h, "10.0.0.3", 1);
        assert_eq!((fired(&f), c), (vec!["proxy.xff_hops"], ip("10.0.0.2")));
        let (f, c) = run(&h, "10.0.0.3", 2);
        assert_eq!((fired(&f), c), (vec!["proxy.xff_hops"], ip("198.51.100.1")));
        let (f, c) = run(&h, "10.0.0.3", 3);
        assert_eq!((fired(&f), c), (vec![], ip("203.0.113.9")));
        // Fewer entries than trusted hops: the leftmost one, no extra hop.
        let (f, c) = run(&h, "10.0.0.3", 8);
        assert_eq!((fired(&f), c), (vec![], ip("203.0.113.9")));
        // No trusted hops: any entry is extra and the peer stays the client.
        let (f, c) = run(&[("x-forwarded-for", "203.0.113.9")], "10.0.0.3", 0);
        assert_eq!((fired(&f), c), (vec!["proxy.xff_hops"], ip("10.0.0.3")));
        let (f, c) = run(&[("x-forwarded-for", " , ")], "10.0.0.3", 0);
        assert_eq!((fired(&f), c), (vec![], ip("10.0.0.3")));
    }

    #[test]
    fn the_entry_beyond_the_trusted_hops_is_hashed_for_the_check() {
        let address = |headers: &[(&str, &str)], hops: u32| {
            let mut r = Request::new();
            r.peer.ip = "10.0.0.3".parse().ok();
            r.headers = headers.iter().map(|(n, v)| Header::new(*n, *v)).collect();
            client_address(&r, hops, &mut Fired::default())
        };
        let h = [("X-Forwarded-For", "203.0.113.9, 198.51.100.1"), ("x-forwarded-for", " 10.0.0.2 ,, ")];
        let hash = |e: &str| xxh3_64(e.as_bytes());
        // The first entry left of the chosen one (the rightmost with no trusted hop).
        assert_eq!(address(&h, 0), ClientAddress { ip: ip("10.0.0.3"), xff_entries: 3, beyond: hash("10.0.0.2") });
        assert_eq!(address(&h, 1), ClientAddress { ip: ip("10.0.0.2"), xff_entries: 3, beyond: hash("198.51.100.1") });
        assert_eq!(address(&h, 2).beyond, hash("203.0.113.9"));
        assert_eq!(address(&h, 3).beyond, 0);
        assert_eq!(address(&h, 8), ClientAddress { ip: ip("203.0.113.9"), xff_entries: 3, beyond: 0 });
        assert_eq!(address(&[("via", "1.1 squid")], 0), ClientAddress { ip: ip("10.0.0.3"), ..ClientAddress::default() });
    }

    #[test]
    fn forwarded_client_is_what_check_headers_returns_unless_it_is_the_peer() {
        let cases: [(&[(&str, &str)], u32); 7] = [
            (&[], 1),
            (&[("x-forwarded-for", "1.2.3.4")], 1),
            (&[("x-forwarded-for", "1.2.3.4")], 0),
            (&[("x-forwarded-for", "9.9.9.9, 1.2.3.4")], 2),
            (&[("x-forwarded-for", "unknown")], 1),
            (&[("x-forwarded-for", "1.2.3.4"), ("x-forwarded-for", "5.6.7.8")], 3),
            (&[("via", "1.1 squid")], 1),
        ];
        for (headers, hops) in cases {
            let mut r = Request::new();
            r.headers = headers.iter().map(|(n, v)| Header::new(*n, *v)).collect();
            let without_peer = check_headers(&r, hops, &mut Fired::default());
            assert_eq!(forwarded_client(&r, hops), without_peer, "{headers:?} hops {hops}");
            r.peer.ip = "10.0.0.1".parse().ok();
            let with_peer = check_headers(&r, hops, &mut Fired::default());
            // When the headers give the client, the peer changes nothing.
            if forwarded_client(&r, hops).is_some() {
                assert_eq!(with_peer, without_peer, "{headers:?} hops {hops}");
            } else {
                assert_eq!(with_peer, r.peer.ip, "{headers:?} hops {hops}");
            }
        }
    }

    #[test]
    fn xff_garbage_falls_back_to_the_peer() {
        let (f, c) = run(&[("x-forwarded-for", "203.0.113.9, unknown")], "10.0.0.3", 1);
        assert_eq!((fired(&f), c), (vec!["proxy.xff_hops"], ip("10.0.0.3")));
        let (_, c) = run(&[("x-forwarded-for", "unknown, [2001:db8::1]:443")], "10.0.0.3", 1);
        assert_eq!(c, ip("2001:db8::1"));
        let mut r = Request::new();
        r.headers = vec![Header::new("x-forwarded-for", b"\xff\xfe, 1.2.3.4:80".as_slice())];
        let mut f = Fired::default();
        assert_eq!(check_headers(&r, 1, &mut f), ip("1.2.3.4"));
        assert_eq!(check_headers(&r, 2, &mut f), None);
    }

    #[test]
    fn tokens_parse_with_ports_brackets_quotes_and_zones() {
        for (raw, want) in [
            ("1.2.3.4", "1.2.3.4"),
            (" 1.2.3.4:80 ", "1.2.3.4"),
            ("2001:db8::1", "2001:db8::1"),
            ("[2001:db8::1]", "2001:db8::1"),
            ("[2001:db8::1]:443", "2001:db8::1"),
            ("\"[2001:db8::1]:443\"", "2001:db8::1"),
            ("fe80::1%eth0", "fe80::1"),
            ("::ffff:192.0.2.1", "192.0.2.1"),
            ("[::ffff:192.0.2.1]:8080", "192.0.2.1"),
        ] {
            assert_eq!(parse_ip_token(raw.as_bytes()), ip(want), "{raw}");
        }
        for raw in ["unknown", "_hidden", "", "[", "]", "[]", "[1.2.3.4]", "[::1]x", "[::1]:", "[::1]:123456", "1.2.3.4:", "1.2.3.4:x", "1.2.3.4:80:80", "2001:db8::1:80x", "1.2.3.4%eth0", "01.2.3.4", "\"", "[::1"] {
            assert_eq!(parse_ip_token(raw.as_bytes()), None, "{raw}");
        }
        assert_eq!(parse_ip_token(&[b'1'; 10_000]), None);
    }
}
