//! CIDR blocks and sets of them, for the `networks.*` and `allow.cidrs` policy lists.
//!
//! A [`CidrSet`] normalizes its blocks into sorted, merged, disjoint address ranges (`u32`
//! for IPv4, `u128` for IPv6) and answers [`CidrSet::contains`] with one binary search, so a
//! list of 100,000 prefixes costs ~17 comparisons per lookup and 8 or 32 bytes per range.
//!
//! IPv4 and IPv4-mapped IPv6 are one address space: `::ffff:a.b.c.d` is looked up as
//! `a.b.c.d`, a block written as `::ffff:10.0.0.0/104` is the IPv4 block `10.0.0.0/8`, and an
//! IPv6 block that spans the whole mapped range (`::/0`, `::/80`) also covers every IPv4
//! address. Host bits after the prefix (`10.1.2.3/8`) are masked off, not rejected.
//!
//! Not supported: zone ids (`fe80::1%eth0`), netmask notation (`10.0.0.0/255.0.0.0`),
//! address ranges (`a-b`), and the deprecated IPv4-compatible form (`::a.b.c.d`), which is
//! treated as the plain IPv6 address it spells.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// First address of the IPv4-mapped IPv6 range `::ffff:0:0/96`.
const MAPPED_LO: u128 = 0xffff_u128 << 32;
/// Last address of the IPv4-mapped IPv6 range.
const MAPPED_HI: u128 = MAPPED_LO | 0xffff_ffff;

/// One parsed CIDR block; `addr` is the network address (host bits cleared).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    /// Network address.
    pub addr: IpAddr,
    /// Prefix length.
    pub len: u8,
}

impl Cidr {
    /// Parses `a.b.c.d/n`, `x:y::/n` or a bare address; host bits are masked off.
    pub fn parse(s: &str) -> Result<Cidr, String> {
        let (a, l) = match s.split_once('/') {
            Some((a, l)) => (a, Some(l)),
            None => (s, None),
        };
        let addr: IpAddr = a.trim().parse().map_err(|_| format!("invalid CIDR {s:?}: bad address"))?;
        let max: u8 = if addr.is_ipv4() { 32 } else { 128 };
        let len = match l.map(str::trim) {
            None => max,
            Some(l) => Some(l)
                .filter(|l| !l.is_empty() && l.len() <= 3 && l.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|l| l.parse::<u8>().ok())
                .filter(|&n| n <= max)
                .ok_or_else(|| format!("invalid CIDR {s:?}: prefix length must be 0..={max}"))?,
        };
        let addr = match addr {
            IpAddr::V4(a) => IpAddr::V4(Ipv4Addr::from(v4_range(u32::from(a), len).0)),
            IpAddr::V6(a) => IpAddr::V6(Ipv6Addr::from(v6_range(u128::from(a), len).0)),
        };
        Ok(Cidr { addr, len })
    }

    /// True when `ip` lies in this block (IPv4-mapped IPv6 counts as IPv4, see module docs).
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.bounds(), ip.to_canonical()) {
            (Bounds::V4((lo, hi)), IpAddr::V4(a)) => (lo..=hi).contains(&u32::from(a)),
            (Bounds::V6((lo, hi)), IpAddr::V6(a)) => (lo..=hi).contains(&u128::from(a)),
            (Bounds::V6((lo, hi)), IpAddr::V4(a)) => (lo..=hi).contains(&(MAPPED_LO | u128::from(u32::from(a)))),
            (Bounds::V4(_), IpAddr::V6(_)) => false,
        }
    }

    /// The block's first and last address, as IPv4 or IPv6 integers.
    fn bounds(&self) -> Bounds {
        match self.addr {
            IpAddr::V4(a) => Bounds::V4(v4_range(u32::from(a), self.len)),
            IpAddr::V6(a) => Bounds::V6(v6_range(u128::from(a), self.len)),
        }
    }
}

/// First and last address of a block.
enum Bounds {
    V4((u32, u32)),
    V6((u128, u128)),
}

/// `(network, broadcast)` of `a/len` for IPv4 (`len` is at most 32).
fn v4_range(a: u32, len: u8) -> (u32, u32) {
    let host = u32::MAX.checked_shr(u32::from(len)).unwrap_or(0);
    (a & !host, a | host)
}

/// `(first, last)` of `a/len` for IPv6 (`len` is at most 128).
fn v6_range(a: u128, len: u8) -> (u128, u128) {
    let host = u128::MAX.checked_shr(u32::from(len)).unwrap_or(0);
    (a & !host, a | host)
}

/// An unsigned address integer that ranges can be merged over.
trait Addr: Copy + Ord {
    /// The next address, `None` at the top of the space.
    fn succ(self) -> Option<Self>;
}

impl Addr for u32 {
    fn succ(self) -> Option<Self> {
        self.checked_add(1)
    }
}

impl Addr for u128 {
    fn succ(self) -> Option<Self> {
        self.checked_add(1)
    }
}

/// Sorts `ranges` and merges overlapping and adjacent ones in place.
fn merge<T: Addr>(ranges: &mut Vec<(T, T)>) {
    ranges.sort_unstable();
    let mut out = 0usize;
    for i in 0..ranges.len() {
        let (lo, hi) = ranges[i];
        if out > 0 {
            let last = &mut ranges[out - 1];
            // Adjacent when `lo` is at most one past the previous end.
            if last.1.succ().map_or(true, |next| lo <= next) {
                if hi > last.1 {
                    last.1 = hi;
                }
                continue;
            }
        }
        ranges[out] = (lo, hi);
        out += 1;
    }
    ranges.truncate(out);
}

/// True when `x` lies in one of the sorted, disjoint `ranges`.
#[inline]
fn find<T: Addr>(ranges: &[(T, T)], x: T) -> bool {
    let i = ranges.partition_point(|&(lo, _)| lo <= x);
    i.checked_sub(1).and_then(|i| ranges.get(i)).is_some_and(|&(_, hi)| x <= hi)
}

/// A set of CIDR blocks with fast membership tests.
#[derive(Debug, Clone, Default)]
pub struct CidrSet {
    v4: Vec<(u32, u32)>,
    v6: Vec<(u128, u128)>,
}

impl CidrSet {
    /// Builds a set from already-validated CIDR strings (invalid ones are skipped).
    pub fn new<S: AsRef<str>>(list: &[S]) -> Self {
        Self::from_cidrs(list.iter().filter_map(|s| Cidr::parse(s.as_ref()).ok()))
    }

    /// Builds a set from parsed blocks.
    pub fn from_cidrs(blocks: impl IntoIterator<Item = Cidr>) -> Self {
        let mut set = CidrSet::default();
        for c in blocks {
            set.push(c);
        }
        set.finish();
        set
    }

    /// Adds one block's ranges (unsorted until [`CidrSet::finish`]).
    fn push(&mut self, c: Cidr) {
        match c.bounds() {
            Bounds::V4(r) => self.v4.push(r),
            Bounds::V6((lo, hi)) if lo >= MAPPED_LO && hi <= MAPPED_HI => {
                self.v4.push(((lo - MAPPED_LO) as u32, (hi - MAPPED_LO) as u32));
            }
            Bounds::V6((lo, hi)) => {
                if lo <= MAPPED_LO && hi >= MAPPED_HI {
                    self.v4.push((0, u32::MAX));
                }
                self.v6.push((lo, hi));
            }
        }
    }

    /// Sorts and merges the ranges.
    fn finish(&mut self) {
        merge(&mut self.v4);
        merge(&mut self.v6);
        self.v4.shrink_to_fit();
        self.v6.shrink_to_fit();
    }

    /// True when `ip` is in any block.
    #[inline]
    pub fn contains(&self, ip: IpAddr) -> bool {
        match ip.to_canonical() {
            IpAddr::V4(a) => find(&self.v4, u32::from(a)),
            IpAddr::V6(a) => find(&self.v6, u128::from(a)),
        }
    }

    /// Number of disjoint ranges after merging (IPv4 plus IPv6).
    pub fn len(&self) -> usize {
        self.v4.len() + self.v6.len()
    }

    /// True when the set is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn parse_masks_host_bits_and_rejects_bad_lengths() {
        let c = Cidr::parse("10.1.2.3/8").unwrap();
        assert_eq!((c.addr, c.len), (ip("10.0.0.0"), 8));
        let c = Cidr::parse(" 2001:db8::ffff/32 ").unwrap();
        assert_eq!((c.addr, c.len), (ip("2001:db8::"), 32));
        assert_eq!(Cidr::parse("1.2.3.4").unwrap().len, 32);
        assert_eq!(Cidr::parse("::1").unwrap().len, 128);
        assert_eq!(Cidr::parse("0.0.0.0/0").unwrap().addr, ip("0.0.0.0"));
        for bad in ["10.0.0.0/33", "::/129", "10.0.0.0/", "10.0.0.0/+8", "10.0.0.0/-1", "10.0.0/8", "x/8", "", "1.2.3.4/8/9"] {
            assert!(Cidr::parse(bad).is_err(), "{bad}");
        }
        assert!(Cidr::parse("10.0.0.0/40").unwrap_err().contains("0..=32"));
    }

    #[test]
    fn set_merges_overlapping_and_adjacent_blocks() {
        let s = CidrSet::new(&["10.0.0.0/9", "10.128.0.0/9", "10.5.0.0/16", "192.168.1.7", "bogus", "2001:db8::/33", "2001:db8:8000::/33"]);
        assert_eq!(s.len(), 3, "{s:?}");
        assert!(s.contains(ip("10.255.255.255")));
        assert!(s.contains(ip("10.0.0.0")));
        assert!(!s.contains(ip("11.0.0.0")));
        assert!(!s.contains(ip("9.255.255.255")));
        assert!(s.contains(ip("192.168.1.7")));
        assert!(!s.contains(ip("192.168.1.8")));
        assert!(s.contains(ip("2001:db8:ffff::1")));
        assert!(!s.contains(ip("2001:db9::")));
        assert!(CidrSet::new::<&str>(&[]).is_empty());
    }

    #[test]
    fn extremes_of_the_address_space() {
        let s = CidrSet::new(&["0.0.0.0/0"]);
        assert!(s.contains(ip("0.0.0.0")) && s.contains(ip("255.255.255.255")));
        assert!(!s.contains(ip("2001:db8::1")));
        let s = CidrSet::new(&["255.255.255.255/32", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "0.0.0.0/32", "::/128"]);
        assert!(s.contains(ip("255.255.255.255")) && s.contains(ip("0.0.0.0")));
        assert!(!s.contains(ip("255.255.255.254")) && !s.contains(ip("0.0.0.1")));
        assert!(s.contains(ip("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")) && s.contains(ip("::")));
        assert!(!s.contains(ip("::2")));
    }

    #[test]
    fn ipv4_mapped_ipv6_shares_the_ipv4_ranges() {
        let s = CidrSet::new(&["203.0.113.0/24"]);
        assert!(s.contains(ip("::ffff:203.0.113.9")));
        assert!(!s.contains(ip("::ffff:203.0.114.9")));
        let s = CidrSet::new(&["::ffff:10.0.0.0/104"]);
        assert_eq!(s.len(), 1);
        assert!(s.contains(ip("10.9.9.9")) && s.contains(ip("::ffff:10.1.1.1")));
        assert!(!s.contains(ip("11.0.0.0")));
        let all6 = CidrSet::new(&["::/0"]);
        assert!(all6.contains(ip("1.2.3.4")) && all6.contains(ip("2001:db8::1")));
        assert!(Cidr::parse("::ffff:10.0.0.0/104").unwrap().contains(ip("10.2.3.4")));
        assert!(!Cidr::parse("2001:db8::/32").unwrap().contains(ip("10.2.3.4")));
    }
}
