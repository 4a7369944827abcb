//! Deterministic, seeded, mergeable, bounded sketches: HyperLogLog (distinct counts),
//! count-min (frequencies), two-slot sliding windows (rates, shares, small distinct sets)
//! and a fixed-capacity set-associative table to key them by.
//!
//! Every structure takes time as a slot number computed by the caller and hashes as `u64`
//! already mixed with an explicit seed ([`Seeds`]): two processes with the same seed build
//! identical sketches from the same input, so sketches from different workers or nodes can
//! be merged (HLL: register max, count-min and counters: add, bitmaps: or). Nothing here
//! allocates after construction, reads a clock, or draws randomness. What the sketches
//! mean for detection (which keys, which windows, which signals) lives in [`crate::state`].

pub mod cms;
pub mod codec;
pub mod hll;
pub mod small_hll;
pub mod table;
pub mod window;

/// The splitmix64 finalizer: a fast bijective 64-bit mixer (every output bit depends on
/// every input bit).
#[inline]
pub const fn mix64(mut x: u64) -> u64 {
    x ^= x >> 30;
    x = x.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x ^= x >> 27;
    x = x.wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// Per-purpose hash seeds derived from one explicit seed, so that keys of different kinds
/// (an account id and a prefix hash that happen to be equal) never collide.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Seeds {
    base: u64,
}

impl Seeds {
    /// Seeds derived from `seed`.
    pub const fn new(seed: u64) -> Self {
        Seeds {
            base: mix64(seed ^ 0x6473_6b74_6368_0001),
        }
    }

    /// The seed of purpose `domain` (any small constant naming a key kind).
    #[inline]
    pub const fn of(&self, domain: u64) -> u64 {
        mix64(self.base ^ domain.wrapping_mul(0x9e37_79b9_7f4a_7c15))
    }

    /// `key` hashed under purpose `domain`.
    #[inline]
    pub const fn hash(&self, domain: u64, key: u64) -> u64 {
        mix64(key ^ self.of(domain))
    }
}

/// Natural logarithm of a positive, finite `x` from basic IEEE operations only, so that
/// every target (native, Wasm) computes bit-identical estimates; relative error < 1e-13.
/// Returns 0 for `x <= 0` or non-finite `x` (callers never pass those).
pub fn ln(x: f64) -> f64 {
    if !(x > 0.0 && x.is_finite()) {
        return 0.0;
    }
    const LN2: f64 = std::f64::consts::LN_2;
    const SQRT2: f64 = std::f64::consts::SQRT_2;
    let (mut m, mut e) = (x, 0i32);
    // Normalize subnormals first, then split x = m * 2^e with m in [sqrt(1/2), sqrt(2)).
    if m < f64::MIN_POSITIVE {
        m *= 2f64.powi(54);
        e -= 54;
    }
    let bits = m.to_bits();
    e += ((bits >> 52) & 0x7ff) as i32 - 1023;
    m = f64::from_bits((bits & 0x000f_ffff_ffff_ffff) | 0x3ff0_0000_0000_0000);
    if m > SQRT2 {
        m *= 0.5;
        e += 1;
    }
    // ln m = 2 atanh(s), s = (m - 1) / (m + 1), |s| < 0.172: odd series to s^17.
    let s = (m - 1.0) / (m + 1.0);
    let z = s * s;
    let mut acc = 1.0 / 17.0;
    for k in [15.0, 13.0, 11.0, 9.0, 7.0, 5.0, 3.0, 1.0] {
        acc = acc * z + 1.0 / k;
    }
    e as f64 * LN2 + 2.0 * s * acc
}

/// Largest argument served by the [`ln_int`] table.
const LN_TABLE: usize = 512;

/// `ln(n)` for a positive integer: a table for `n <= 512` (built once with [`ln`], so the
/// same on every target), [`ln`] above. Linear-counting estimates need it on every request.
#[inline]
pub fn ln_int(n: u32) -> f64 {
    static TABLE: std::sync::OnceLock<[f64; LN_TABLE + 1]> = std::sync::OnceLock::new();
    let table = TABLE.get_or_init(|| {
        let mut t = [0.0; LN_TABLE + 1];
        for (i, v) in t.iter_mut().enumerate().skip(1) {
            *v = ln(i as f64);
        }
        t
    });
    match table.get(n as usize) {
        Some(&v) => v,
        None => ln(n as f64),
    }
}

/// Slot number and elapsed fraction of `now_ms` for slots of `slot_ms` milliseconds.
#[inline]
pub fn slot_of(now_ms: u64, slot_ms: u64) -> (u32, f64) {
    let slot_ms = slot_ms.max(1);
    let slot = (now_ms / slot_ms) as u32;
    let frac = (now_ms % slot_ms) as f64 / slot_ms as f64;
    (slot, frac)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeds_separate_domains_and_are_reproducible() {
        let a = Seeds::new(7);
        let b = Seeds::new(7);
        assert_eq!(a.hash(1, 42), b.hash(1, 42));
        assert_ne!(a.hash(1, 42), a.hash(2, 42));
        assert_ne!(a.hash(1, 42), Seeds::new(8).hash(1, 42));
    }

    #[test]
    fn portable_ln_matches_std() {
        for x in [
            1e-300,
            1e-5,
            0.3,
            0.7,
            1.0,
            1.5,
            2.0,
            3.0,
            64.0 / 7.0,
            512.0,
            1e6,
            1.7e308,
        ] {
            let (a, b) = (ln(x), x.ln());
            assert!(
                (a - b).abs() <= 1e-13 * b.abs().max(1.0),
                "ln({x}) = {a}, std {b}"
            );
        }
        assert_eq!(ln(0.0), 0.0);
        assert_eq!(ln(f64::NAN), 0.0);
        assert_eq!(ln(1.0), 0.0);
        for n in [1u32, 2, 7, 64, 512, 513, 100_000] {
            assert_eq!(ln_int(n), ln(n as f64));
        }
    }

    #[test]
    fn slot_of_splits_time() {
        assert_eq!(slot_of(125_000, 60_000), (2, 5_000.0 / 60_000.0));
        assert_eq!(slot_of(5, 0).0, 5);
    }
}
