//! Is the client address the client's? A deployment check on the traffic itself.
//!
//! Every `cluster.*_prefix`, `account.ip_*` and `ip.*` signal reads the client address the
//! policy's `proxy.trusted_hops` picks. Two misconfigurations show in the requests, whatever
//! their senders do, and both make those signals misfire silently:
//!
//! - **Too few trusted hops** (typically 0 behind the operator's own load balancer, ingress or
//!   CDN): most requests carry `X-Forwarded-For` entries beyond `proxy.trusted_hops` and come
//!   from one /24 or /48, from private addresses, or from a few networks on behalf of several
//!   times as many clients (a CDN's edge addresses, spread over many /24s). Users then share
//!   their proxy's address: a crowd reads as a pool.
//! - **Too many trusted hops**: most requests carry fewer `X-Forwarded-For` entries than
//!   `proxy.trusted_hops`, so the leftmost entry, which the client wrote, is taken: a client
//!   chooses its address (and a fresh one per request reads as a rotating pool).
//!
//! A third: most requests have **no client address** at all (an edge worker without its
//! client-IP header, a host that does not pass the peer).
//!
//! [`AddressCheck`] counts these per window of [`WINDOW`] requests (memory: a few words and two
//! 1,024-bit sets of hashes; no time, no addresses but the top prefix) and judges each full
//! window; the engine's deployment checks (`crate::engine::checks`) turn a judgement into one
//! line for the host's log. It never changes a verdict: a warning cannot be an evasion oracle,
//! and a single proxy exit that sends most of a small deployment's traffic with its own
//! `X-Forwarded-For` reads the same as a load balancer (the line says "if").

use std::net::IpAddr;

use super::ClientAddress;

/// Requests per judged window.
pub const WINDOW: u32 = 256;
/// Share of a window's requests a finding needs.
pub const SHARE: f64 = 0.5;
/// A proxy layer spread over several networks: at least this many times as many distinct
/// clients beyond the trusted hops as networks they came from.
pub const SPREAD: f64 = 3.0;
/// ... and at least this many distinct clients (a window of a few clients tells nothing).
pub const SPREAD_CLIENTS: f64 = 24.0;

/// What one window of requests says about the client address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Finding {
    /// No full window yet.
    #[default]
    Unknown,
    /// Nothing wrong seen.
    Ok,
    /// Most requests come from one network or from private addresses, with `X-Forwarded-For`
    /// entries beyond the trusted hops: the address is probably the operator's own proxy.
    OneProxy {
        /// The /24 or /48 (its first address) most of them came from (public), or one of
        /// the private networks they came from.
        network: Option<IpAddr>,
        /// Private, loopback, link-local or shared (100.64/10) addresses.
        private: bool,
        /// Share of the window's requests.
        percent: u8,
    },
    /// Most requests come from a few networks, with `X-Forwarded-For` entries beyond the
    /// trusted hops that name several times as many distinct clients: the addresses are
    /// probably the operator's CDN or balancers (public, spread over several /24s).
    ProxyLayer {
        /// One of the networks they came from (its first address): the one most came from.
        network: Option<IpAddr>,
        /// Distinct /24 or /48 networks they came from (estimated).
        networks: u16,
        /// Distinct clients their `X-Forwarded-For` entries named (estimated).
        clients: u16,
        /// Share of the window's requests.
        percent: u8,
    },
    /// Most requests carry fewer `X-Forwarded-For` entries than the trusted hops.
    Spoofable {
        /// Share of the window's requests.
        percent: u8,
        /// The policy's `proxy.trusted_hops`.
        trusted_hops: u32,
    },
    /// Most requests have no client address.
    Missing {
        /// Share of the window's requests.
        percent: u8,
    },
}

impl Finding {
    /// The kind of finding (the shares and networks aside): 0 for no warning; a new kind is a
    /// new line in the log.
    pub fn kind(&self) -> u8 {
        match self {
            Finding::Unknown | Finding::Ok => 0,
            // One misconfiguration (too few trusted hops), whichever way the window shows it.
            Finding::OneProxy { .. } | Finding::ProxyLayer { .. } => 1,
            Finding::Spoofable { .. } => 2,
            Finding::Missing { .. } => 3,
        }
    }

    /// The warning's text (`None` for no warning); the engine's checks add how it ends.
    pub fn message(&self) -> Option<String> {
        let fix = "every signal on client addresses misfires until it is fixed";
        Some(match *self {
            Finding::Unknown | Finding::Ok => return None,
            Finding::OneProxy { network, private, percent } => {
                let from = match (network, private) {
                    (Some(n), true) => format!("private addresses (among them {})", cidr(n)),
                    (Some(n), false) => format!("one network ({})", cidr(n)),
                    (None, _) => "private addresses".to_string(),
                };
                format!("warning: client address: {percent} % of the last {WINDOW} requests came from {from} with X-Forwarded-For entries beyond proxy.trusted_hops; if that is your own load balancer or proxy, raise proxy.trusted_hops to the hops your infrastructure adds: {fix}")
            }
            Finding::ProxyLayer { network, networks, clients, percent } => {
                let from = match (networks, network) {
                    (0 | 1, Some(n)) => format!("one network ({})", cidr(n)),
                    (_, Some(n)) => format!("{networks} networks (among them {})", cidr(n)),
                    (_, None) => format!("{networks} networks"),
                };
                format!("warning: client address: {percent} % of the last {WINDOW} requests came from {from} on behalf of about {clients} distinct clients named by X-Forwarded-For entries beyond proxy.trusted_hops; if those are your CDN or load balancers, raise proxy.trusted_hops to the hops your infrastructure adds: {fix}")
            }
            Finding::Spoofable { percent, trusted_hops } => format!(
                "warning: client address: {percent} % of the last {WINDOW} requests carried fewer X-Forwarded-For entries than proxy.trusted_hops ({trusted_hops}), so their client address is the leftmost entry, which a client can write itself; lower proxy.trusted_hops to the hops your infrastructure adds: {fix}"
            ),
            Finding::Missing { percent } => format!(
                "warning: client address: {percent} % of the last {WINDOW} requests had no client address (the host passed none: the edge worker's CLIENT_IP_HEADER, Envoy's set_filter_state filter); {fix}"
            ),
        })
    }
}

/// `n`'s /24 or /48 as text, written out here: `IpAddr`'s own formatting would add IPv6's
/// zero compression to the edge module for this one line.
fn cidr(n: IpAddr) -> String {
    match n {
        IpAddr::V4(v4) => {
            let [a, b, c, _] = v4.octets();
            format!("{a}.{b}.{c}.0/24")
        }
        IpAddr::V6(v6) => {
            let [a, b, c, ..] = v6.segments();
            format!("{a:x}:{b:x}:{c:x}::/48")
        }
    }
}

/// The first address of `ip`'s /24 or /48: the network of [`crate::engine::prefix_key`],
/// kept as an address (compared without hashing, and named in the warning).
fn network_of(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, c, _] = v4.octets();
            IpAddr::from([a, b, c, 0])
        }
        IpAddr::V6(v6) => {
            let s = v6.segments();
            IpAddr::from([s[0], s[1], s[2], 0, 0, 0, 0, 0])
        }
    }
}

/// Addresses no client on the internet reaches a gateway from: private, loopback, link-local,
/// shared (carrier-grade NAT, 100.64/10), IPv6 unique-local and link-local.
pub fn is_internal(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            v4.is_private() || v4.is_loopback() || v4.is_link_local() || (a == 100 && (64..128).contains(&b))
        }
        IpAddr::V6(v6) => {
            let s0 = v6.segments()[0];
            v6.is_loopback() || (s0 & 0xfe00) == 0xfc00 || (s0 & 0xffc0) == 0xfe80
        }
    }
}

/// A 1,024-bit set of hashes: distinct counts up to a window's requests within a few percent
/// (linear counting).
#[derive(Debug, Clone, Copy)]
struct Distinct([u64; 16]);

impl Default for Distinct {
    fn default() -> Self {
        Distinct([0; 16])
    }
}

impl Distinct {
    #[inline]
    fn insert(&mut self, hash: u64) {
        let bit = (hash >> 54) as usize; // the top ten bits
        if let Some(w) = self.0.get_mut(bit / 64) {
            *w |= 1 << (bit % 64);
        }
    }

    /// The estimated number of distinct hashes inserted.
    fn estimate(&self) -> f64 {
        let m = 1024.0;
        let zeros = m - self.0.iter().map(|w| f64::from(w.count_ones())).sum::<f64>();
        -m * (zeros.max(1.0) / m).ln()
    }
}

/// A hash of a network (from [`network_of`]) for [`Distinct`].
fn network_hash(net: IpAddr) -> u64 {
    let v = match net {
        IpAddr::V4(v4) => u64::from(u32::from(v4)),
        IpAddr::V6(v6) => {
            let n = u128::from(v6);
            (n >> 64) as u64 ^ (n as u64).rotate_left(17) ^ 0x9E37_79B9_7F4A_7C15
        }
    };
    let x = v.wrapping_mul(0xff51_afd7_ed55_8ccd);
    x ^ (x >> 31)
}

/// Counts of the current window and the judgement of the last full one.
#[derive(Debug, Clone, Default)]
pub struct AddressCheck {
    n: u32,
    missing: u32,
    short: u32,
    /// Requests with entries beyond the trusted hops, and of them from internal addresses.
    beyond: u32,
    beyond_internal: u32,
    /// Requests with entries beyond the trusted hops from `candidate`'s network.
    on_candidate: u32,
    /// The network most requests with entries beyond the trusted hops came from in the
    /// previous window (Boyer-Moore majority vote), counted in this one.
    candidate: Option<IpAddr>,
    vote: Option<IpAddr>,
    votes: u32,
    /// The networks requests with entries beyond the trusted hops came from, and the clients
    /// those entries named.
    networks: Distinct,
    clients: Distinct,
    /// The latest of those networks (named when the majority vote ends without one).
    latest: Option<IpAddr>,
    finding: Finding,
}

impl AddressCheck {
    /// Counts one request: what the engine read of its client address and the policy's
    /// trusted hops. True when it closed a window (a new [`AddressCheck::finding`]).
    #[inline]
    pub fn record(&mut self, a: ClientAddress, trusted_hops: u32) -> bool {
        self.n += 1;
        let beyond = a.xff_entries > u64::from(trusted_hops);
        match a.ip {
            None => self.missing += 1,
            Some(ip) if beyond => {
                self.beyond += 1;
                self.beyond_internal += u32::from(is_internal(ip));
                let net = network_of(ip);
                self.on_candidate += u32::from(self.candidate == Some(net));
                if self.votes == 0 {
                    (self.vote, self.votes) = (Some(net), 1);
                } else if self.vote == Some(net) {
                    self.votes += 1;
                } else {
                    self.votes -= 1;
                }
                self.networks.insert(network_hash(net));
                self.latest = Some(net);
                if a.beyond != 0 {
                    self.clients.insert(a.beyond);
                }
            }
            Some(_) => {}
        }
        self.short += u32::from(trusted_hops > 0 && a.xff_entries < u64::from(trusted_hops));
        let full = self.n >= WINDOW;
        if full {
            self.judge(trusted_hops);
        }
        full
    }

    fn judge(&mut self, trusted_hops: u32) {
        let n = f64::from(self.n);
        let pct = |k: u32| (100.0 * f64::from(k) / n).round().min(100.0) as u8;
        let most = |k: u32| f64::from(k) >= SHARE * n;
        let (networks, clients) = (self.networks.estimate(), self.clients.estimate());
        let vote = self.vote.filter(|_| self.votes > 0);
        self.finding = if most(self.missing) {
            Finding::Missing { percent: pct(self.missing) }
        } else if most(self.beyond_internal) {
            let network = vote.filter(|&n| is_internal(n));
            Finding::OneProxy { network, private: true, percent: pct(self.beyond_internal) }
        } else if most(self.on_candidate) {
            Finding::OneProxy { network: self.candidate, private: false, percent: pct(self.on_candidate) }
        } else if most(self.beyond) && clients >= SPREAD_CLIENTS && clients >= SPREAD * networks {
            let (networks, clients) = (networks.round() as u16, clients.round() as u16);
            Finding::ProxyLayer { network: vote.or(self.latest), networks, clients, percent: pct(self.beyond) }
        } else if most(self.short) {
            Finding::Spoofable { percent: pct(self.short), trusted_hops }
        } else {
            Finding::Ok
        };
        *self = AddressCheck { candidate: vote, finding: self.finding, ..Default::default() };
    }

    /// The judgement of the last full window.
    pub fn finding(&self) -> Finding {
        self.finding
    }
}

#[cfg(test)]
#[path = "address_tests.rs"]
mod tests;
