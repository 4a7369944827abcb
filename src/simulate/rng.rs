//! The simulator's explicit, seeded PRNG: xoshiro256** seeded through SplitMix64.
//!
//! Deterministic across platforms: integer arithmetic, floats built from the top 53 bits,
//! and [`ln`] / [`exp`] computed here from correctly rounded IEEE operations only (the
//! platform's libm may round differently natively and in Wasm), so a (scenario, seed) pair
//! yields the same traffic in the CLI and in the browser. Not cryptographic, and
//! deliberately not the `rand` crate.

/// SplitMix64 step: used to expand seeds and to derive independent sub-streams.
#[inline]
pub fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Mixes several words into one seed (order matters).
pub fn mix(parts: &[u64]) -> u64 {
    let mut s = 0x5D15_7111_u64;
    let mut out = 0;
    for &p in parts {
        s ^= p;
        out = splitmix64(&mut s);
    }
    out
}

/// Natural logarithm of `x > 0` (NaN otherwise) with only +, -, *, /: `x = m * 2^e` with
/// `m` in `[sqrt(1/2), sqrt(2))`, then the atanh series of `(m - 1) / (m + 1)`.
pub fn ln(x: f64) -> f64 {
    if x.is_nan() || x <= 0.0 {
        return f64::NAN;
    }
    if x.is_infinite() {
        return x;
    }
    let (mut m, mut e) = (x, 0i32);
    while m >= std::f64::consts::SQRT_2 {
        m *= 0.5;
        e += 1;
    }
    while m < std::f64::consts::FRAC_1_SQRT_2 {
        m *= 2.0;
        e -= 1;
    }
    let s = (m - 1.0) / (m + 1.0);
    let s2 = s * s;
    let (mut term, mut sum) = (s, 0.0);
    let mut k = 1.0;
    while k < 40.0 {
        sum += term / k;
        term *= s2;
        k += 2.0;
    }
    2.0 * sum + e as f64 * std::f64::consts::LN_2
}

/// `e^x` with only +, -, *, /: `x = k ln 2 + r`, a Taylor series for `e^r`, then `k` exact doublings.
pub fn exp(x: f64) -> f64 {
    if x.is_nan() {
        return x;
    }
    if x > 709.0 {
        return f64::INFINITY;
    }
    if x < -745.0 {
        return 0.0;
    }
    let k = (x / std::f64::consts::LN_2).round();
    let r = x - k * std::f64::consts::LN_2;
    let (mut term, mut sum) = (1.0, 1.0);
    for i in 1..24 {
        term *= r / i as f64;
        sum += term;
    }
    let mut k = k as i32;
    while k > 0 {
        sum *= 2.0;
        k -= 1;
    }
    while k < 0 {
        sum *= 0.5;
        k += 1;
    }
    sum
}

/// xoshiro256** generator.
#[derive(Debug, Clone)]
pub struct Rng {
    s: [u64; 4],
}

impl Rng {
    /// A generator seeded from one word.
    pub fn new(seed: u64) -> Self {
        let mut sm = seed;
        let s = [splitmix64(&mut sm), splitmix64(&mut sm), splitmix64(&mut sm), splitmix64(&mut sm)];
        Rng { s }
    }

    /// A generator for a named sub-stream of `seed` (e.g. one per account).
    pub fn derive(seed: u64, stream: u64, index: u64) -> Self {
        Rng::new(mix(&[seed, stream, index]))
    }

    /// Next 64 random bits.
    #[inline]
    pub fn next_u64(&mut self) -> u64 {
        let r = self.s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = self.s[1] << 17;
        self.s[2] ^= self.s[0];
        self.s[3] ^= self.s[1];
        self.s[1] ^= self.s[2];
        self.s[0] ^= self.s[3];
        self.s[2] ^= t;
        self.s[3] = self.s[3].rotate_left(45);
        r
    }

    /// Uniform in `0..n` (0 when `n == 0`), by multiply-shift (bias below 2^-32 for our sizes).
    #[inline]
    pub fn below(&mut self, n: u64) -> u64 {
        ((self.next_u64() as u128 * n as u128) >> 64) as u64
    }

    /// Uniform index into a collection of `n` items.
    #[inline]
    pub fn index(&mut self, n: usize) -> usize {
        self.below(n as u64) as usize
    }

    /// Uniform in `lo..=hi` (returns `lo` when `hi < lo`).
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        if hi <= lo {
            lo
        } else {
            lo + self.below(hi - lo + 1)
        }
    }

    /// Uniform float in `[0, 1)`.
    #[inline]
    pub fn f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// True with probability `p`.
    #[inline]
    pub fn chance(&mut self, p: f64) -> bool {
        self.f64() < p
    }

    /// A uniformly chosen item; `None` for an empty slice.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> Option<&'a T> {
        items.get(self.index(items.len()))
    }

    /// Index chosen with probability proportional to `weights` (0 when all are zero).
    pub fn weighted(&mut self, weights: &[f64]) -> usize {
        let total: f64 = weights.iter().filter(|w| **w > 0.0).sum();
        if total <= 0.0 {
            return 0;
        }
        let mut x = self.f64() * total;
        for (i, &w) in weights.iter().enumerate() {
            if w > 0.0 {
                if x < w {
                    return i;
                }
                x -= w;
            }
        }
        weights.iter().rposition(|w| *w > 0.0).unwrap_or(0)
    }

    /// Exponentially distributed with the given mean.
    pub fn exp(&mut self, mean: f64) -> f64 {
        -mean * ln(1.0 - self.f64())
    }

    /// Log-normally distributed with the given median and spread `sigma` (of the log).
    pub fn lognormal(&mut self, median: f64, sigma: f64) -> f64 {
        median * exp(sigma * self.normal())
    }

    /// Standard normal (Marsaglia's polar method: no trigonometry).
    pub fn normal(&mut self) -> f64 {
        loop {
            let u = 2.0 * self.f64() - 1.0;
            let v = 2.0 * self.f64() - 1.0;
            let s = u * u + v * v;
            if s > 0.0 && s < 1.0 {
                return u * (-2.0 * ln(s) / s).sqrt();
            }
        }
    }

    /// Poisson-distributed count with mean `lambda` (normal approximation above 30).
    pub fn poisson(&mut self, lambda: f64) -> u64 {
        if lambda <= 0.0 {
            return 0;
        }
        if lambda > 30.0 {
            return (lambda + lambda.sqrt() * self.normal()).round().max(0.0) as u64;
        }
        let l = exp(-lambda);
        let mut k = 0;
        let mut p = 1.0;
        loop {
            p *= self.f64();
            if p <= l {
                return k;
            }
            k += 1;
        }
    }

    /// `n` lowercase hex digits.
    pub fn hex(&mut self, n: usize) -> String {
        const H: &[u8; 16] = b"0123456789abcdef";
        (0..n).map(|_| H[self.index(16)] as char).collect()
    }

    /// `n` characters from the base62 alphabet (API-key bodies, ids).
    pub fn base62(&mut self, n: usize) -> String {
        const A: &[u8; 62] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
        (0..n).map(|_| A[self.index(62)] as char).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_stream_and_streams_differ() {
        let a: Vec<u64> = (0..8).scan(Rng::new(7), |r, _| Some(r.next_u64())).collect();
        let b: Vec<u64> = (0..8).scan(Rng::new(7), |r, _| Some(r.next_u64())).collect();
        assert_eq!(a, b);
        assert_ne!(Rng::derive(7, 1, 0).next_u64(), Rng::derive(7, 1, 1).next_u64());
        assert_ne!(Rng::derive(7, 1, 0).next_u64(), Rng::derive(7, 2, 0).next_u64());
    }

    #[test]
    fn portable_ln_and_exp_match_the_platform() {
        let mut r = Rng::new(11);
        for _ in 0..10_000 {
            let x = r.f64() * 1e3 + 1e-9;
            assert!((ln(x) - x.ln()).abs() <= 1e-13 * x.ln().abs().max(1.0), "{x}");
            let y = r.f64() * 80.0 - 40.0;
            assert!((exp(y) - y.exp()).abs() <= 1e-13 * y.exp(), "{y}");
        }
        assert!(ln(0.0).is_nan() && ln(-1.0).is_nan());
        assert_eq!(exp(-1000.0), 0.0);
        assert_eq!(exp(0.0), 1.0);
        let n = 20_000;
        let (mut s1, mut s2) = (0.0, 0.0);
        for _ in 0..n {
            let z = r.normal();
            s1 += z;
            s2 += z * z;
        }
        assert!((s1 / n as f64).abs() < 0.03 && (s2 / n as f64 - 1.0).abs() < 0.05);
    }

    #[test]
    fn distributions_stay_in_range_and_have_the_right_mean() {
        let mut r = Rng::new(1);
        let n = 20_000;
        let mut sum = 0.0;
        for _ in 0..n {
            assert!(r.below(10) < 10);
            let x = r.f64();
            assert!((0.0..1.0).contains(&x));
            sum += r.exp(5.0);
        }
        let mean = sum / n as f64;
        assert!((mean - 5.0).abs() < 0.3, "{mean}");
        let pm = (0..n).map(|_| r.poisson(4.0)).sum::<u64>() as f64 / n as f64;
        assert!((pm - 4.0).abs() < 0.2, "{pm}");
        let mut counts = [0u32; 3];
        for _ in 0..n {
            counts[r.weighted(&[1.0, 0.0, 3.0])] += 1;
        }
        assert_eq!(counts[1], 0);
        assert!(counts[2] > counts[0] * 2);
        assert_eq!(r.weighted(&[0.0, 0.0]), 0);
        assert_eq!(r.range(5, 5), 5);
    }
}
