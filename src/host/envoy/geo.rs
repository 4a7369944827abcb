//! Network facts from Envoy's geoip filter: the client's ASN and country, read from the two
//! request headers an `envoy.filters.http.geoip` filter placed before this one fills (see
//! `envoy/geoip.yaml.in`), with the adapter option `envoy.geo_headers`.
//!
//! They come in the header map the filter reads anyway, so they cost no extra host call
//! (a property or filter-state read goes through Envoy's expression evaluator). The names
//! carry the `x-distill-` prefix: the header-shape fingerprint ignores them, and the filter
//! removes them with the other `x-distill-*` headers before the request goes upstream.
//!
//! The values are trusted only because the listener removes client-sent copies before the
//! geoip filter runs: Envoy's geoip filter overwrites a header on a successful lookup but
//! leaves a client's copy in place when the lookup finds nothing. Parsing is defensive: a
//! value that is not one plain ASN or one two-letter code, or a header that appears more
//! than once, gives no fact. Pure and host-independent, so it is unit-tested natively.

use crate::request::{Header, Peer};

/// Header the geoip filter fills with the client's autonomous system number (`64500`).
pub const ASN_HEADER: &[u8] = b"x-distill-geo-asn";
/// Header the geoip filter fills with the client's ISO 3166-1 alpha-2 country code (`DE`).
pub const COUNTRY_HEADER: &[u8] = b"x-distill-geo-country";

/// Sets `peer.asn` and `peer.country` from the geo headers in `headers` (left as they are
/// when a header is absent, repeated or malformed).
pub fn read_into<'a>(headers: &[Header<'a>], peer: &mut Peer<'a>) {
    if let Some(asn) = only_value(headers, ASN_HEADER).and_then(parse_asn) {
        peer.asn = Some(asn);
    }
    if let Some(country) = only_value(headers, COUNTRY_HEADER).and_then(parse_country) {
        peer.country = Some(country);
    }
}

/// The value of `name` when it appears exactly once (ASCII case ignored).
fn only_value<'a>(headers: &[Header<'a>], name: &[u8]) -> Option<&'a [u8]> {
    let mut found = headers.iter().filter(|h| crate::util::eq_ci(h.name, name));
    let first = found.next()?;
    found.next().is_none().then_some(first.value)
}

/// An ASN as Envoy prints it (`64500`), or with an `AS` prefix (`AS64500`); surrounding
/// spaces are ignored. `None` for 0 (reserved: "no ASN"), anything past `u32`, or any other
/// byte.
pub fn parse_asn(value: &[u8]) -> Option<u32> {
    let v = value.trim_ascii();
    let digits = match v {
        [a, s, rest @ ..] if a.eq_ignore_ascii_case(&b'a') && s.eq_ignore_ascii_case(&b's') => rest,
        _ => v,
    };
    if digits.is_empty() || digits.len() > 10 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let n = digits.iter().fold(0u64, |n, &d| n * 10 + u64::from(d - b'0'));
    u32::try_from(n).ok().filter(|&n| n != 0)
}

/// A two-letter country code (`DE`; ASCII letters only, kept as sent); `None` otherwise.
pub fn parse_country(value: &[u8]) -> Option<&str> {
    let v = value.trim_ascii();
    if v.len() != 2 || !v.iter().all(u8::is_ascii_alphabetic) {
        return None;
    }
    std::str::from_utf8(v).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn asns_parse_plain_or_prefixed_and_junk_is_ignored() {
        assert_eq!(parse_asn(b"64500"), Some(64500));
        assert_eq!(parse_asn(b" 15169 "), Some(15169));
        assert_eq!(parse_asn(b"AS174"), Some(174));
        assert_eq!(parse_asn(b"as4294967295"), Some(u32::MAX));
        for junk in [&b""[..], b"0", b"AS", b"-1", b"+5", b"4294967296", b"99999999999999999999", b"12 34", b"1.5", b"AS 1", b"\xff\xfe", b"64500,64501", b"0x10"] {
            assert_eq!(parse_asn(junk), None, "{junk:?}");
        }
    }

    #[test]
    fn countries_are_two_letters() {
        assert_eq!(parse_country(b"DE"), Some("DE"));
        assert_eq!(parse_country(b" fr "), Some("fr"));
        for junk in [&b""[..], b"D", b"DEU", b"D1", b"--", b"\xc3\x9c\xc3\x9c", b"Germany", b"\xff\xff"] {
            assert_eq!(parse_country(junk), None, "{junk:?}");
        }
    }

    #[test]
    fn facts_come_from_single_headers_only() {
        let h = |pairs: &'static [(&'static str, &'static str)]| pairs.iter().map(|(n, v)| Header::new(*n, *v)).collect::<Vec<_>>();
        let mut p = Peer::default();
        read_into(&h(&[("user-agent", "x"), ("x-distill-geo-asn", "64501"), ("X-Distill-Geo-Country", "FR")]), &mut p);
        assert_eq!((p.asn, p.country), (Some(64501), Some("FR")));
        // Repeated (a client's copy next to Envoy's would be ambiguous) or malformed: no fact.
        let mut p = Peer::default();
        read_into(&h(&[("x-distill-geo-asn", "1"), ("x-distill-geo-asn", "2"), ("x-distill-geo-country", "Germany")]), &mut p);
        assert_eq!((p.asn, p.country), (None, None));
        let mut p = Peer { asn: Some(7), ..Peer::default() };
        read_into(&h(&[("x-geo-asn", "64500")]), &mut p);
        assert_eq!(p.asn, Some(7), "other names are not read; a fact already known stays");
    }
}
