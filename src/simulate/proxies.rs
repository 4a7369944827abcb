//! What proxies do to a request on its way to the API, modelled on the real captures in
//! `tests/data/proxies.json`: a corporate Squid with TLS inspection (Host and Connection
//! moved to the end, known header names in canonical case, `Via`, `X-Forwarded-For` with the
//! inside address, `Cache-Control: max-age=259200`), and the artifacts a misconfigured
//! commercial exit leaks (a Tinyproxy `Via`, `Proxy-Connection`, `Proxy-Authorization`).
//!
//! A well-run residential or datacenter pool tunnels TLS with CONNECT and changes nothing:
//! that is the default (`leak_proxy_headers: 0`).

use std::borrow::Cow;
use std::net::Ipv4Addr;

use super::rng::Rng;

/// Headers of a rendered request.
pub type Headers<'a> = Vec<(Cow<'a, str>, Cow<'a, str>)>;

/// Header names Squid knows and writes in canonical case.
const SQUID_KNOWN: &[&str] = &[
    "Accept", "Accept-Encoding", "Accept-Language", "Authorization", "Cache-Control", "Connection", "Content-Length",
    "Content-Type", "Cookie", "Host", "Origin", "Referer", "User-Agent",
];

/// Rewrites `h` as Squid 5 with TLS inspection forwards it for a company's user at `inside`.
pub fn corporate_squid(h: &mut Headers<'_>, corp: u32, inside: Ipv4Addr) {
    let host = h.iter().find(|(n, _)| n.eq_ignore_ascii_case("host")).map(|(_, v)| v.clone());
    h.retain(|(n, _)| !n.eq_ignore_ascii_case("host") && !n.eq_ignore_ascii_case("connection"));
    for (n, _) in h.iter_mut() {
        if let Some(k) = SQUID_KNOWN.iter().find(|k| n.eq_ignore_ascii_case(k)) {
            *n = Cow::Borrowed(k);
        }
    }
    if let Some(host) = host {
        h.push(("Host".into(), host));
    }
    h.push(("Via".into(), format!("1.1 proxy{corp}.corp.example (squid/5.7)").into()));
    h.push(("X-Forwarded-For".into(), inside.to_string().into()));
    h.push(("Cache-Control".into(), "max-age=259200".into()));
    h.push(("Connection".into(), "keep-alive".into()));
}

/// With probability `share`, adds one artifact a misconfigured exit leaks.
pub fn leak(h: &mut Headers<'_>, share: f64, r: &mut Rng) {
    if !r.chance(share) {
        return;
    }
    match r.below(3) {
        0 => {
            let at = h.iter().position(|(n, _)| n.eq_ignore_ascii_case("host")).map_or(0, |i| i + 1);
            h.insert(at, ("Via".into(), "1.1 vm (tinyproxy/1.11.1)".into()));
        }
        1 => {
            let at = h.len().saturating_sub(1);
            h.insert(at, ("Proxy-Connection".into(), "Keep-Alive".into()));
        }
        _ => {
            let cred = crate::traffic::base64_encode(format!("user-{}:{}", r.base62(8), r.base62(12)).as_bytes());
            h.push(("Proxy-Authorization".into(), format!("Basic {cred}").into()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(h: &Headers<'_>) -> Vec<String> {
        h.iter().map(|(n, _)| n.to_string()).collect()
    }

    #[test]
    fn squid_rewrite_matches_the_capture() {
        // python-requests direct vs through squid, from tests/data/proxies.json.
        let mut h: Headers<'_> = ["Host", "User-Agent", "Accept-Encoding", "Accept", "Connection", "x-api-key", "content-type", "Content-Length"]
            .iter()
            .map(|n| (Cow::Borrowed(*n), Cow::Borrowed("v")))
            .collect();
        corporate_squid(&mut h, 3, Ipv4Addr::new(10, 0, 0, 7));
        assert_eq!(
            names(&h),
            ["User-Agent", "Accept-Encoding", "Accept", "x-api-key", "Content-Type", "Content-Length", "Host", "Via", "X-Forwarded-For", "Cache-Control", "Connection"]
        );
        assert!(h.iter().any(|(n, v)| n == "X-Forwarded-For" && v == "10.0.0.7"));
    }

    #[test]
    fn leaks_happen_at_the_configured_share() {
        let mut r = Rng::new(4);
        let mut leaked = 0;
        for _ in 0..2000 {
            let mut h: Headers<'_> = vec![("Host".into(), "a".into()), ("Content-Length".into(), "1".into())];
            leak(&mut h, 0.1, &mut r);
            leaked += usize::from(h.len() > 2);
        }
        assert!((150..250).contains(&leaked), "{leaked}");
    }
}
