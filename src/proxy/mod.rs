//! Proxy indicators: `proxy.*` header signals, the effective client IP behind
//! `X-Forwarded-For`, and CIDR list matching for the `ip.*` signals.
//!
//! [`check_headers`] reads the request headers once, without allocating, and fires a signal
//! per kind of proxy artifact (see [`headers`]). [`CidrSet`] holds IPv4 and IPv6 blocks as
//! sorted, merged, disjoint ranges and answers membership by binary search (see [`cidr`]).
//!
//! [`AddressCheck`] watches whether that address is a client's at all (a deployment check: too
//! few or too many trusted hops, no address; see [`address`]).
//!
//! Deliberately not here: ASN lists, reverse DNS, live proxy/Tor feeds (policies carry the
//! lists; hosts refresh them), and any trust in `Forwarded` / `X-Real-IP` for the client
//! address: only `X-Forwarded-For` with the policy's `proxy.trusted_hops` moves it.

pub mod address;
pub mod cidr;
pub mod headers;

pub use address::{AddressCheck, Finding};
pub use cidr::{Cidr, CidrSet};
pub use headers::{check_headers, client_address, ClientAddress, forwarded_client, parse_ip_token, CLIENT_IP_HEADERS, VENDOR_HEADERS, VENDOR_PREFIXES, VENDOR_VALUES};

#[cfg(test)]
mod tests {
    use std::net::IpAddr;

    use serde_json::Value;

    use super::check_headers;
    use crate::request::{Header, HttpVersion, Request};
    use crate::signal::Fired;

    /// Requests captured behind real squid and tinyproxy (tests/data/capture_proxies.py).
    const CAPTURED: &str = include_str!("../../tests/data/proxies.json");

    fn text<'a>(v: &'a Value, key: &str) -> &'a str {
        v[key].as_str().unwrap_or_else(|| panic!("missing {key}"))
    }

    #[test]
    fn captured_proxy_requests_fire_the_expected_signals() {
        let doc: Value = serde_json::from_str(CAPTURED).unwrap();
        assert_eq!(doc["source"], "captured");
        let reqs = doc["requests"].as_array().unwrap();
        assert!(reqs.len() >= 10);
        for proxy in ["squid", "tinyproxy", "none"] {
            assert!(reqs.iter().any(|r| r["proxy"] == proxy), "{proxy}");
        }
        let mut fired_any = 0;
        for r in reqs {
            let id = text(r, "id");
            let headers: Vec<(String, String)> = r["headers"]
                .as_array()
                .unwrap()
                .iter()
                .map(|h| (h[0].as_str().unwrap().to_string(), h[1].as_str().unwrap().to_string()))
                .collect();
            let mut req = Request::new();
            req.method = text(r, "method").as_bytes();
            req.path = text(r, "target").as_bytes();
            req.version = HttpVersion::parse(text(r, "version")).unwrap();
            req.peer.ip = Some(text(r, "peer_ip").parse().unwrap());
            req.headers = headers.iter().map(|(n, v)| Header::new(n, v)).collect();

            let mut fired = Fired::default();
            check_headers(&req, 0, &mut fired);
            let mut got: Vec<&str> = fired.iter().map(|(s, _)| s.code()).collect();
            let mut want: Vec<&str> = r["expect_signals"].as_array().unwrap().iter().map(|s| s.as_str().unwrap()).collect();
            got.sort_unstable();
            want.sort_unstable();
            assert_eq!(got, want, "{id}");
            fired_any += usize::from(!got.is_empty());

            for (hops, ip) in r["expect_client_ip"].as_object().unwrap() {
                let hops: u32 = hops.parse().unwrap();
                let want: IpAddr = ip.as_str().unwrap().parse().unwrap();
                assert_eq!(check_headers(&req, hops, &mut Fired::default()), Some(want), "{id} trusted_hops={hops}");
            }
        }
        assert!(fired_any >= 8, "only {fired_any} captured requests fired a signal");
    }
}
