//! `CidrSet` at scale: 100,000 deterministic pseudo-random prefixes (IPv4, IPv6 and
//! IPv4-mapped IPv6, heavily overlapping, host bits often set) and 200,000 lookups compared
//! with two independent reference matchers: one hash set per prefix length (all lookups)
//! and a plain linear scan over every prefix (a sample). Correctness only; timings printed.

use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Instant;

use distill_guard::proxy::CidrSet;

/// splitmix64: a tiny deterministic generator (no dependency, same sequence everywhere).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

const MAPPED: u128 = 0xffff_u128 << 32;

/// One generated prefix: exactly what the string says, before any masking.
#[derive(Clone, Copy)]
enum Prefix {
    V4(u32, u8),
    V6(u128, u8),
}

fn mask4(a: u32, len: u8) -> u32 {
    if len == 0 { 0 } else { a & (u32::MAX << (32 - u32::from(len))) }
}

fn mask6(a: u128, len: u8) -> u128 {
    if len == 0 { 0 } else { a & (u128::MAX << (128 - u32::from(len))) }
}

fn gen_prefixes(rng: &mut Rng, n: usize) -> (Vec<Prefix>, Vec<String>) {
    // A few thousand top-level blocks, so that prefixes overlap, nest and touch.
    const TOPS: u64 = 4096;
    let v4_tops: Vec<u32> = (0..TOPS).map(|_| (rng.next() as u32) & 0xffff_0000).collect();
    let v6_tops: Vec<u128> = (0..TOPS).map(|_| u128::from(0x2001_0db8_0000_u64 | (rng.next() & 0xffff)) << 80).collect();
    let mut prefixes = Vec::with_capacity(n);
    let mut strings = Vec::with_capacity(n);
    for _ in 0..n {
        let kind = rng.below(100);
        let p = if kind < 60 {
            let top = v4_tops[rng.below(TOPS) as usize];
            let a = top | ((rng.next() as u32) & 0xffff);
            let len = match rng.below(50) {
                0 => 16 + rng.below(2) as u8,
                1..=19 => 18 + rng.below(7) as u8,
                _ => 25 + rng.below(8) as u8,
            };
            Prefix::V4(a, len)
        } else if kind < 95 {
            let top = v6_tops[rng.below(TOPS) as usize];
            let a = top | (u128::from(rng.next() & 0xffff) << 64) | u128::from(rng.next());
            let len = match rng.below(50) {
                0 => 48 + rng.below(2) as u8,
                1..=19 => 50 + rng.below(14) as u8,
                _ => 64 + rng.below(65) as u8,
            };
            Prefix::V6(a, len)
        } else {
            // IPv4-mapped IPv6 block, /96 to /128.
            let top = v4_tops[rng.below(TOPS) as usize];
            let a = MAPPED | u128::from(top | ((rng.next() as u32) & 0xffff));
            Prefix::V6(a, 96 + rng.below(33) as u8)
        };
        // Write host bits set about half the time (they must be masked off).
        let s = match p {
            Prefix::V4(a, len) => {
                let shown = if rng.below(2) == 0 { a } else { mask4(a, len) };
                if len == 32 && rng.below(2) == 0 { format!("{}", Ipv4Addr::from(shown)) } else { format!("{}/{len}", Ipv4Addr::from(shown)) }
            }
            Prefix::V6(a, len) => {
                let shown = if rng.below(2) == 0 { a } else { mask6(a, len) };
                format!("{}/{len}", Ipv6Addr::from(shown))
            }
        };
        prefixes.push(p);
        strings.push(s);
    }
    (prefixes, strings)
}

/// Reference 1: one hash set of network addresses per prefix length.
struct ByLength {
    v4: Vec<HashSet<u32>>,
    v6: Vec<HashSet<u128>>,
}

impl ByLength {
    fn new(prefixes: &[Prefix]) -> Self {
        let mut r = ByLength { v4: vec![HashSet::new(); 33], v6: vec![HashSet::new(); 129] };
        for &p in prefixes {
            match p {
                Prefix::V4(a, len) => r.v4[usize::from(len)].insert(mask4(a, len)),
                Prefix::V6(a, len) => r.v6[usize::from(len)].insert(mask6(a, len)),
            };
        }
        r
    }

    fn contains(&self, ip: IpAddr) -> bool {
        // An IPv4 address is also its IPv4-mapped IPv6 form, and vice versa.
        let (v4, v6) = match ip {
            IpAddr::V4(a) => (Some(u32::from(a)), MAPPED | u128::from(u32::from(a))),
            IpAddr::V6(a) => {
                let x = u128::from(a);
                ((x >> 32 == 0xffff).then_some(x as u32), x)
            }
        };
        let hit4 = v4.is_some_and(|a| (0..=32u8).any(|len| self.v4[usize::from(len)].contains(&mask4(a, len))));
        hit4 || (0..=128u8).any(|len| self.v6[usize::from(len)].contains(&mask6(v6, len)))
    }
}

/// Reference 2: test every prefix.
fn linear(prefixes: &[Prefix], ip: IpAddr) -> bool {
    let as6 = match ip {
        IpAddr::V4(a) => MAPPED | u128::from(u32::from(a)),
        IpAddr::V6(a) => u128::from(a),
    };
    prefixes.iter().any(|&p| match p {
        Prefix::V4(a, len) => as6 >> 32 == 0xffff && mask4(as6 as u32, len) == mask4(a, len),
        Prefix::V6(a, len) => mask6(as6, len) == mask6(a, len),
    })
}

/// Queries near block edges (first, last, one outside), inside, and at random.
fn gen_queries(rng: &mut Rng, prefixes: &[Prefix], n: usize) -> Vec<IpAddr> {
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        let p = prefixes[rng.below(prefixes.len() as u64) as usize];
        let pick = rng.below(8);
        let ip = match p {
            Prefix::V4(a, len) => {
                let (lo, hi) = (mask4(a, len), mask4(a, len) | !mask4(u32::MAX, len));
                let x = match pick {
                    0 => lo,
                    1 => hi,
                    2 => lo.wrapping_sub(1),
                    3 => hi.wrapping_add(1),
                    4 | 5 => lo | (rng.next() as u32 & !mask4(u32::MAX, len)),
                    _ => rng.next() as u32,
                };
                if rng.below(4) == 0 { IpAddr::V6(Ipv4Addr::from(x).to_ipv6_mapped()) } else { IpAddr::V4(Ipv4Addr::from(x)) }
            }
            Prefix::V6(a, len) => {
                let (lo, hi) = (mask6(a, len), mask6(a, len) | !mask6(u128::MAX, len));
                let x = match pick {
                    0 => lo,
                    1 => hi,
                    2 => lo.wrapping_sub(1),
                    3 => hi.wrapping_add(1),
                    4 | 5 => lo | ((u128::from(rng.next()) << 64 | u128::from(rng.next())) & !mask6(u128::MAX, len)),
                    _ => a ^ (u128::from(rng.next()) << 48),
                };
                IpAddr::V6(Ipv6Addr::from(x))
            }
        };
        out.push(ip);
    }
    out
}

#[test]
fn hundred_thousand_prefixes_match_the_reference() {
    let mut rng = Rng(0x00d1_5711_1c1d_2026);
    let (prefixes, strings) = gen_prefixes(&mut rng, 100_000);
    let t = Instant::now();
    let set = CidrSet::new(&strings);
    let built = t.elapsed();
    assert!(!set.is_empty() && set.len() <= strings.len());
    let reference = ByLength::new(&prefixes);
    let queries = gen_queries(&mut rng, &prefixes, 200_000);

    let t = Instant::now();
    let got: Vec<bool> = queries.iter().map(|&ip| set.contains(ip)).collect();
    let looked = t.elapsed();
    let mut hits = 0;
    for (ip, &g) in queries.iter().zip(&got) {
        assert_eq!(g, reference.contains(*ip), "{ip}");
        hits += usize::from(g);
    }
    // Both outcomes are well represented, so equality means something.
    assert!(hits > 20_000 && hits < 180_000, "hits {hits}");
    eprintln!("100k prefixes -> {} ranges, built in {built:?}; 200k lookups in {looked:?}; {hits} hits", set.len());

    // The per-length reference itself against a plain scan, on a sample.
    for (ip, &g) in queries.iter().zip(&got).step_by(400) {
        assert_eq!(g, linear(&prefixes, *ip), "linear {ip}");
    }
}
