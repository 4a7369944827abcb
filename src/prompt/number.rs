//! JSON numbers of a request body (`max_tokens`, `temperature`, `n`, `top_logprobs`) to
//! `f64` without core's float parser, which is ~16 KB of the Wasm modules.
//!
//! Accepts what `str::parse::<f64>` accepts after a leading `-` or digit (`1.`, `-.5` and
//! `1.e5` included) and refuses the rest. Up to 19 significant digits are kept; with at
//! most 15 and a decimal exponent within ±22 the result is exact (one correctly rounded
//! multiplication or division of two exact values), which covers every value a client
//! sends in practice. Beyond that it is within a few units in the last place: the values
//! feed thresholds, not arithmetic that needs the last bit.

/// Exact powers of ten as `f64`.
const POW10: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

/// Largest mantissa for which `m as f64` is exact.
const EXACT_MANTISSA: u64 = 1 << 53;

/// Reads a run of ASCII digits into `m` (up to 19 significant digits); returns the digits
/// read and how many were dropped for lack of room.
fn digits(s: &[u8], i: &mut usize, m: &mut u64, kept: &mut u32) -> (u32, u32) {
    let (mut read, mut dropped) = (0u32, 0u32);
    while let Some(&c) = s.get(*i) {
        if !c.is_ascii_digit() {
            break;
        }
        read = read.saturating_add(1);
        if *kept < 19 {
            *m = *m * 10 + (c - b'0') as u64;
            if *m != 0 {
                *kept += 1;
            }
        } else {
            dropped = dropped.saturating_add(1);
        }
        *i += 1;
    }
    (read, dropped)
}

/// The value of `s`, or `None` when it is not a decimal number.
pub(crate) fn parse(s: &[u8]) -> Option<f64> {
    let mut i = 0;
    let neg = s.first() == Some(&b'-');
    if neg {
        i = 1;
    }
    let (mut m, mut kept) = (0u64, 0u32);
    let (int_read, int_dropped) = digits(s, &mut i, &mut m, &mut kept);
    let mut exp: i64 = int_dropped as i64;
    let mut frac_read = 0;
    if s.get(i) == Some(&b'.') {
        i += 1;
        let (read, dropped) = digits(s, &mut i, &mut m, &mut kept);
        frac_read = read;
        // Every fraction digit taken into `m` (leading zeros included) shifts it one place.
        exp -= (read - dropped) as i64;
    }
    if int_read == 0 && frac_read == 0 {
        return None;
    }
    if let Some(b'e' | b'E') = s.get(i) {
        i += 1;
        let eneg = match s.get(i) {
            Some(b'-') => {
                i += 1;
                true
            }
            Some(b'+') => {
                i += 1;
                false
            }
            _ => false,
        };
        let start = i;
        let mut e: i64 = 0;
        while let Some(&c) = s.get(i) {
            if !c.is_ascii_digit() {
                break;
            }
            e = (e * 10 + (c - b'0') as i64).min(1_000_000);
            i += 1;
        }
        if i == start {
            return None;
        }
        exp += if eneg { -e } else { e };
    }
    if i != s.len() {
        return None;
    }
    let v = if m == 0 {
        0.0
    } else if m <= EXACT_MANTISSA && (-22..=22).contains(&exp) {
        let p = POW10.get(exp.unsigned_abs() as usize).copied().unwrap_or(1.0);
        if exp < 0 { m as f64 / p } else { m as f64 * p }
    } else {
        scaled(m as f64, exp)
    };
    Some(if neg { -v } else { v })
}

/// `x * 10^exp` by steps of at most 10^22 (saturating to infinity or zero).
fn scaled(mut x: f64, mut exp: i64) -> f64 {
    exp = exp.clamp(-800, 800);
    while exp != 0 && x != 0.0 && x.is_finite() {
        let step = exp.clamp(-22, 22);
        let p = POW10.get(step.unsigned_abs() as usize).copied().unwrap_or(1.0);
        x = if step < 0 { x / p } else { x * p };
        exp -= step;
    }
    x
}

#[cfg(test)]
mod tests {
    use super::*;

    fn std(s: &str) -> Option<f64> {
        s.parse::<f64>().ok()
    }

    #[test]
    fn exact_where_clients_write_numbers() {
        for s in [
            "0", "-0", "1", "7", "1024", "64000", "128000", "0.7", "0.1", "0.25", "1.0", "2.0", "-1",
            "0.0001", "1e3", "1E3", "1e+3", "25e-1", "1.5e2", "9007199254740992", "123456789012345",
            "3.141592653589793", "1.", "-.5", "1.e5", "0.000000000000000000001", "00012", "1e22",
            "1e-22", "12345678901234567890", "0.30000000000000004",
        ] {
            let got = parse(s.as_bytes());
            assert_eq!(got.map(f64::to_bits), std(s).map(f64::to_bits), "{s}");
        }
    }

    #[test]
    fn refuses_what_is_not_a_number() {
        for s in ["", "-", ".", "-.", "1e", "1e+", "1x", "1.2.3", "--1", "1-", "0x10", "inf", "-inf", "nan", "1 ", " 1", "1e5e"] {
            assert_eq!(parse(s.as_bytes()), None, "{s}");
        }
    }

    #[test]
    fn close_to_core_on_random_numbers() {
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let int = x % 1_000_000_000;
            let frac = (x >> 32) % 100_000;
            let e = ((x >> 50) % 80) as i64 - 40;
            for s in [format!("{int}.{frac:05}"), format!("{int}e{e}"), format!("-{}.{}e{e}", int % 1000, frac)] {
                let (a, b) = (parse(s.as_bytes()).unwrap(), std(&s).unwrap());
                let ulp = (a.to_bits() as i64 - b.to_bits() as i64).abs();
                assert!(ulp <= 2, "{s}: {a} vs {b}");
                if s.len() <= 16 && !s.contains('e') {
                    assert_eq!(a.to_bits(), b.to_bits(), "{s}");
                }
            }
        }
    }
}
