//! The simulated Internet: home ISPs, mobile carriers behind CGNAT, clouds, companies and a
//! university, each with an ASN, a country and address space, all in reserved or
//! documentation ranges so no generated address belongs to anyone:
//!
//! | who | IPv4 | ASN |
//! |---|---|---|
//! | home ISPs | `240.0.0.0/4` (reserved), two /16s each; IPv6 `2001:db8::/32`, one /48 per home | 4200000000 + i |
//! | mobile carriers | `100.64.0.0/10` (shared CGNAT space), a NAT pool of /24s each | 4200100000 + i |
//! | clouds | `198.18.0.0/16` (benchmarking), 64 /24s each | 4200200000 + i |
//! | hosting providers | `198.19.0.0/16` (benchmarking), 16 /24s each | 4200400000 + i |
//! | companies | `251.0.0.0/8` (reserved), a /24 each, a few egress addresses | their ISP's |
//! | university | `198.51.100.0/24` (documentation) | 4200300000 |
//!
//! It holds no per-request state: callers pick addresses with their own RNG.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::rng::Rng;

/// A country with its traffic weight and UTC offset in hours.
#[derive(Debug, Clone, Copy)]
pub struct Country {
    /// ISO code.
    pub code: &'static str,
    /// Share of legitimate users.
    pub weight: f64,
    /// Typical UTC offset (hours).
    pub utc_offset: i32,
}

/// Countries of the simulated user base.
pub const COUNTRIES: &[Country] = &[
    Country { code: "US", weight: 30.0, utc_offset: -6 },
    Country { code: "IN", weight: 10.0, utc_offset: 5 },
    Country { code: "GB", weight: 7.0, utc_offset: 0 },
    Country { code: "DE", weight: 7.0, utc_offset: 1 },
    Country { code: "BR", weight: 5.0, utc_offset: -3 },
    Country { code: "FR", weight: 5.0, utc_offset: 1 },
    Country { code: "CA", weight: 4.0, utc_offset: -5 },
    Country { code: "JP", weight: 4.0, utc_offset: 9 },
    Country { code: "KR", weight: 3.0, utc_offset: 9 },
    Country { code: "AU", weight: 3.0, utc_offset: 10 },
    Country { code: "NL", weight: 2.5, utc_offset: 1 },
    Country { code: "ES", weight: 2.5, utc_offset: 1 },
    Country { code: "PL", weight: 2.0, utc_offset: 1 },
    Country { code: "SG", weight: 2.0, utc_offset: 8 },
    Country { code: "MX", weight: 2.0, utc_offset: -6 },
    Country { code: "ID", weight: 2.0, utc_offset: 7 },
    Country { code: "VN", weight: 1.5, utc_offset: 7 },
    Country { code: "NG", weight: 1.5, utc_offset: 1 },
    Country { code: "IL", weight: 1.5, utc_offset: 2 },
    Country { code: "SE", weight: 1.0, utc_offset: 1 },
    Country { code: "IT", weight: 2.0, utc_offset: 1 },
    Country { code: "TR", weight: 1.5, utc_offset: 3 },
];

/// Home ISPs in the world (each its own ASN; their /16s stay below `250.0.0.0`).
pub const HOME_ISPS: u32 = 1200;
/// Mobile carriers.
pub const CARRIERS: u32 = 16;
/// /24s in one carrier's NAT pool.
pub const CARRIER_POOL_24S: u32 = 48;
/// Clouds (datacenter ASNs where legitimate servers also run).
pub const CLOUDS: u32 = 4;
/// Hosting providers (datacenter ASNs that rent proxy servers).
pub const HOSTERS: u32 = 16;

/// One network attachment's facts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Site {
    /// Address.
    pub ip: IpAddr,
    /// ASN.
    pub asn: u32,
    /// Index into [`COUNTRIES`].
    pub country: u16,
}

impl Site {
    /// ISO country code.
    pub fn country_code(&self) -> &'static str {
        COUNTRIES.get(self.country as usize).map_or("US", |c| c.code)
    }
}

/// A country index drawn by user weight.
pub fn pick_country(rng: &mut Rng) -> u16 {
    let w: Vec<f64> = COUNTRIES.iter().map(|c| c.weight).collect();
    rng.weighted(&w) as u16
}

/// Country of a home ISP (ISPs are spread over countries by weight, deterministically).
pub fn isp_country(isp: u32) -> u16 {
    let total: f64 = COUNTRIES.iter().map(|c| c.weight).sum();
    let mut x = (isp as f64 + 0.5) / HOME_ISPS as f64 * total;
    for (i, c) in COUNTRIES.iter().enumerate() {
        if x < c.weight {
            return i as u16;
        }
        x -= c.weight;
    }
    0
}

/// Exponent of the ISP size distribution within a country: market shares fall off as
/// `rank^-ZIPF` (a few national ISPs carry most homes; the largest has ~20 % of a country's
/// subscribers, the hundredth ~0.1 %), as broadband markets do.
pub const ZIPF: f64 = 1.1;

/// A home ISP in `country`, drawn by market share (see [`ZIPF`]): ISP `lo + k` of the
/// country's range has share proportional to `(k + 1)^-ZIPF`.
pub fn isp_in(country: u16, rng: &mut Rng) -> u32 {
    let total: f64 = COUNTRIES.iter().map(|c| c.weight).sum();
    let before: f64 = COUNTRIES.iter().take(country as usize).map(|c| c.weight).sum();
    let w = COUNTRIES.get(country as usize).map_or(1.0, |c| c.weight);
    let n = HOME_ISPS as f64;
    let lo = (before / total * n - 0.5).ceil().max(0.0) as u64;
    let hi = (((before + w) / total * n - 0.5).ceil() as u64).max(lo + 1) - 1;
    // Inverse CDF of the density x^-s on [1, m + 1), m ISPs: rank = floor(x) - 1.
    let m = (hi - lo + 1) as f64;
    let pow = |x: f64, a: f64| super::rng::exp(a * super::rng::ln(x));
    let top = pow(m + 1.0, 1.0 - ZIPF) - 1.0;
    let x = pow(1.0 + rng.f64() * top, 1.0 / (1.0 - ZIPF));
    let rank = (x.floor() as u64).saturating_sub(1).min(hi - lo);
    ((lo + rank) as u32).min(HOME_ISPS - 1)
}

/// A random home address of ISP `isp` (IPv4, or an IPv6 /48 of its own with `v6`).
pub fn home_site(isp: u32, v6: bool, rng: &mut Rng) -> Site {
    let asn = 4_200_000_000 + isp;
    let country = isp_country(isp);
    let ip = if v6 {
        let seg = |x: u64| x as u16;
        IpAddr::V6(Ipv6Addr::new(0x2001, 0x0db8, seg(isp as u64), seg(rng.below(65536)), seg(rng.below(65536)), seg(rng.below(65536)), seg(rng.below(65536)), seg(rng.below(65535) + 1)))
    } else {
        let block = 240 * 256 + isp * 2 + rng.below(2) as u32; // a /16 index inside 240.0.0.0/4
        IpAddr::V4(Ipv4Addr::new((block >> 8) as u8, block as u8, rng.below(256) as u8, rng.range(1, 254) as u8))
    };
    Site { ip, asn, country }
}

/// Country served by mobile carrier `c`.
pub fn carrier_country(c: u32) -> u16 {
    (c % 8) as u16
}

/// A mobile carrier serving `country`, if any (else a random one).
pub fn carrier_in(country: u16, rng: &mut Rng) -> u32 {
    let local: Vec<u32> = (0..CARRIERS).filter(|&c| carrier_country(c) == country).collect();
    rng.pick(&local).copied().unwrap_or_else(|| rng.below(CARRIERS as u64) as u32)
}

/// A CGNAT address of carrier `c` (its public NAT pool inside `100.64.0.0/10`).
pub fn carrier_site(c: u32, rng: &mut Rng) -> Site {
    let block = (c % CARRIERS) * 256 + rng.below(CARRIER_POOL_24S as u64) as u32; // /24 index inside 100.64/10
    let ip = Ipv4Addr::new(100, 64 + (block >> 8) as u8, block as u8, rng.range(1, 254) as u8);
    Site { ip: IpAddr::V4(ip), asn: 4_200_100_000 + c, country: carrier_country(c) }
}

/// Country where cloud `k`'s region is.
pub fn cloud_country(k: u32) -> u16 {
    [0, 3, 2, 13][(k % CLOUDS) as usize]
}

/// A server address in cloud `k` (`198.18.0.0/16`, 64 /24s per cloud).
pub fn cloud_site(k: u32, rng: &mut Rng) -> Site {
    let k = k % CLOUDS;
    let ip = Ipv4Addr::new(198, 18, (k * 64 + rng.below(64) as u32) as u8, rng.range(1, 254) as u8);
    Site { ip: IpAddr::V4(ip), asn: 4_200_200_000 + k, country: cloud_country(k) }
}

/// A server address at hosting provider `k` (`198.19.0.0/16`, 16 /24s per provider).
pub fn hoster_site(k: u32, rng: &mut Rng) -> Site {
    let k = k % HOSTERS;
    let ip = Ipv4Addr::new(198, 19, (k * 16 + rng.below(16) as u32) as u8, rng.range(1, 254) as u8);
    Site { ip: IpAddr::V4(ip), asn: 4_200_400_000 + k, country: [0u16, 3, 10, 2, 5, 13][(k % 6) as usize] }
}

/// Egress address `n` of company `corp`: its own /24 in `251.0.0.0/8` (reserved), inside
/// its business ISP's ASN.
pub fn company_site(corp: u32, n: u32) -> Site {
    let ip = Ipv4Addr::new(251, (corp >> 8) as u8, corp as u8, (10 + n % 200) as u8);
    let isp = (corp * 37) % HOME_ISPS;
    Site { ip: IpAddr::V4(ip), asn: 4_200_000_000 + isp, country: isp_country(isp) }
}

/// NAT address `n` of the university.
pub fn university_site(n: u32) -> Site {
    Site { ip: IpAddr::V4(Ipv4Addr::new(198, 51, 100, (10 + n % 240) as u8)), asn: 4_200_300_000, country: 3 }
}

/// A private (RFC 1918) address for `X-Forwarded-For` inside a company.
pub fn internal_ip(rng: &mut Rng) -> Ipv4Addr {
    Ipv4Addr::new(10, rng.below(32) as u8, rng.below(256) as u8, rng.range(2, 254) as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_stay_in_their_reserved_ranges() {
        let mut r = Rng::new(3);
        for _ in 0..2000 {
            let isp = r.below(HOME_ISPS as u64) as u32;
            let h = home_site(isp, false, &mut r);
            assert!(matches!(h.ip, IpAddr::V4(v) if v.octets()[0] >= 240), "{:?}", h.ip);
            assert!(matches!(home_site(isp, true, &mut r).ip, IpAddr::V6(v) if v.segments()[..2] == [0x2001, 0xdb8]));
            let m = carrier_site(r.below(CARRIERS as u64) as u32, &mut r);
            assert!(matches!(m.ip, IpAddr::V4(v) if v.octets()[0] == 100 && (64..128).contains(&v.octets()[1])));
            let c = cloud_site(r.below(CLOUDS as u64) as u32, &mut r);
            assert!(matches!(c.ip, IpAddr::V4(v) if v.octets()[..2] == [198, 18]));
            let h = hoster_site(r.below(HOSTERS as u64) as u32, &mut r);
            assert!(matches!(h.ip, IpAddr::V4(v) if v.octets()[..2] == [198, 19]));
        }
    }

    #[test]
    fn isp_shares_fall_off_by_rank() {
        let mut r = Rng::new(5);
        let mut counts = std::collections::HashMap::<u32, u32>::new();
        for _ in 0..20_000 {
            *counts.entry(isp_in(0, &mut r)).or_default() += 1;
        }
        let mut c: Vec<u32> = counts.into_values().collect();
        c.sort_unstable_by(|a, b| b.cmp(a));
        // The largest ISP of the country carries 15-30 % of its homes, the tenth 1-3 %.
        let share = |i: usize| c.get(i).copied().unwrap_or(0) as f64 / 20_000.0;
        assert!((0.15..0.30).contains(&share(0)), "{:?}", &c[..5]);
        assert!((0.01..0.03).contains(&share(9)), "{:?}", &c[..12]);
        assert!(c.len() > 150, "{}", c.len());
    }

    #[test]
    fn isps_belong_to_the_country_asked_for() {
        let mut r = Rng::new(4);
        for country in 0..COUNTRIES.len() as u16 {
            for _ in 0..20 {
                assert_eq!(isp_country(isp_in(country, &mut r)), country);
            }
        }
    }
}
