//! Proxy indicators in headers, the effective client IP, and CIDR list matching. (stub)

use std::net::IpAddr;

use crate::request::Request;
use crate::signal::Fired;

/// One parsed CIDR block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    /// Network address.
    pub addr: IpAddr,
    /// Prefix length.
    pub len: u8,
}

impl Cidr {
    /// Parses `a.b.c.d/n`, `x:y::/n` or a bare address.
    pub fn parse(s: &str) -> Result<Cidr, String> {
        let (a, l) = match s.split_once('/') {
            Some((a, l)) => (a, Some(l)),
            None => (s, None),
        };
        let addr: IpAddr = a.trim().parse().map_err(|_| format!("invalid CIDR {s:?}: bad address"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let len = match l {
            None => max,
            Some(l) => l.trim().parse::<u8>().ok().filter(|&n| n <= max).ok_or_else(|| format!("invalid CIDR {s:?}: prefix length must be 0..={max}"))?,
        };
        Ok(Cidr { addr, len })
    }
}

/// A set of CIDR blocks with fast membership tests.
#[derive(Debug, Clone, Default)]
pub struct CidrSet {}

impl CidrSet {
    /// Builds a set from already-validated CIDR strings (invalid ones are skipped).
    pub fn new<S: AsRef<str>>(_list: &[S]) -> Self {
        CidrSet {}
    }

    /// True when `ip` is in any block.
    pub fn contains(&self, _ip: IpAddr) -> bool {
        false
    }

    /// Number of blocks after merging.
    pub fn len(&self) -> usize {
        0
    }

    /// True when the set is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Fires `proxy.*` header signals and returns the effective client IP: the peer address, or
/// with `trusted_hops > 0` the `X-Forwarded-For` entry that many hops from the right.
pub fn check_headers(req: &Request, _trusted_hops: u32, _fired: &mut Fired) -> Option<IpAddr> {
    req.peer.ip
}
