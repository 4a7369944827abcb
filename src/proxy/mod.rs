//! Proxy indicators: `proxy.*` header signals, the effective client IP behind
//! `X-Forwarded-For`, and CIDR list matching for the `ip.*` signals.
//!
//! [`check_headers`] reads the request headers once, without allocating, and fires a signal
//! per kind of proxy artifact (see [`headers`]). [`CidrSet`] holds IPv4 and IPv6 blocks as
//! sorted, merged, disjoint ranges and answers membership by binary search (see [`cidr`]).
//!
//! Deliberately not here: ASN lists, reverse DNS, live proxy/Tor feeds (policies carry the
//! lists; hosts refresh them), and any trust in `Forwarded` / `X-Real-IP` for the client
//! address: only `X-Forwarded-For` with the policy's `proxy.trusted_hops` moves it.

pub mod cidr;
pub mod headers;

pub use cidr::{Cidr, CidrSet};
pub use headers::{check_headers, parse_ip_token, CLIENT_IP_HEADERS, VENDOR_HEADERS, VENDOR_PREFIXES};
