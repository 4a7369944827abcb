//! HyperLogLog distinct counting with byte registers ([`Hll`]), precision 4..=18 chosen at
//! construction (standard error `1.04 / sqrt(2^p)`), for a few large global counts; and the
//! estimator shared with the per-key [`super::small_hll::SmallHll`].
//!
//! Inputs are 64-bit hashes already mixed with a seed ([`super::Seeds`]): the top `p` bits
//! pick a register, the rank of the rest is stored. Merge is the register-wise max, which is
//! idempotent, so re-applying a delta never double-counts. Estimates use linear counting
//! while it is the better estimator (small counts), raw HLL above; there is no bias table.

use super::codec::DecodeError;

/// Smallest precision of [`Hll`].
pub const MIN_P: u8 = 4;
/// Largest precision of [`Hll`].
pub const MAX_P: u8 = 18;

/// `2^-r` for a register value `r` (0..=64).
#[inline]
fn inv_pow2(r: u8) -> f64 {
    f64::from_bits((1023 - r.min(64) as u64) << 52)
}

fn alpha(m: f64) -> f64 {
    if m <= 16.0 {
        0.673
    } else if m <= 32.0 {
        0.697
    } else if m <= 64.0 {
        0.709
    } else {
        0.7213 / (1.0 + 1.079 / m)
    }
}

/// Cardinality from `m` registers with `inv_sum = sum(2^-r)` and `zeros` empty registers.
pub fn estimate_from(m: usize, inv_sum: f64, zeros: usize) -> f64 {
    let mf = m as f64;
    if inv_sum <= 0.0 {
        return 0.0;
    }
    let raw = alpha(mf) * mf * mf / inv_sum;
    if raw <= 2.5 * mf && zeros > 0 {
        mf * (super::ln_int(m as u32) - super::ln_int(zeros as u32))
    } else {
        raw
    }
}

/// Register index and rank of `h` for precision `p`, the rank capped at `cap`.
#[inline]
pub(super) fn split(h: u64, p: u8, cap: u8) -> (usize, u8) {
    let idx = (h >> (64 - p as u32)) as usize;
    let rank = ((h << p).leading_zeros() + 1).min(cap as u32) as u8;
    (idx, rank)
}

/// A HyperLogLog with byte registers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hll {
    p: u8,
    regs: Box<[u8]>,
}

impl Hll {
    /// An empty sketch of precision `p` (clamped to `MIN_P..=MAX_P`).
    pub fn new(p: u8) -> Self {
        let p = p.clamp(MIN_P, MAX_P);
        Hll {
            p,
            regs: vec![0u8; 1 << p].into_boxed_slice(),
        }
    }

    /// Heap bytes of a sketch of precision `p`.
    pub const fn bytes_for(p: u8) -> usize {
        1 << p
    }

    /// Precision (log2 of the register count).
    pub fn precision(&self) -> u8 {
        self.p
    }

    /// The registers.
    pub fn registers(&self) -> &[u8] {
        &self.regs
    }

    /// Relative standard error of the estimate.
    pub fn standard_error(&self) -> f64 {
        1.04 / (self.regs.len() as f64).sqrt()
    }

    /// Adds a (seeded) hash; true when a register changed.
    #[inline]
    pub fn insert(&mut self, h: u64) -> bool {
        let (idx, rank) = split(h, self.p, 65 - self.p);
        match self.regs.get_mut(idx) {
            Some(r) if rank > *r => {
                *r = rank;
                true
            }
            _ => false,
        }
    }

    /// Estimated number of distinct hashes inserted.
    pub fn estimate(&self) -> f64 {
        let mut sum = 0.0;
        let mut zeros = 0;
        for &r in self.regs.iter() {
            sum += inv_pow2(r);
            zeros += usize::from(r == 0);
        }
        estimate_from(self.regs.len(), sum, zeros)
    }

    /// Register-wise max with `regs` (a sketch of the same precision).
    pub fn merge_registers(&mut self, regs: &[u8]) -> Result<(), DecodeError> {
        if regs.len() != self.regs.len() {
            return Err(DecodeError::Invalid("hll precision"));
        }
        if regs.iter().any(|&r| r > 65 - self.p) {
            return Err(DecodeError::Invalid("hll register"));
        }
        for (a, &b) in self.regs.iter_mut().zip(regs) {
            *a = (*a).max(b);
        }
        Ok(())
    }

    /// Register-wise max with `other`: afterwards `self` estimates the union.
    pub fn merge(&mut self, other: &Hll) -> Result<(), DecodeError> {
        self.merge_registers(&other.regs)
    }

    /// Replaces the registers with `other`'s (same precision).
    pub fn copy_from(&mut self, other: &Hll) {
        if other.regs.len() == self.regs.len() {
            self.regs.copy_from_slice(&other.regs);
        }
    }

    /// Empties the sketch.
    pub fn clear(&mut self) {
        self.regs.fill(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sketch::mix64;

    fn h(i: u64, seed: u64) -> u64 {
        mix64(i ^ mix64(seed))
    }

    #[test]
    fn hll_accuracy_within_three_standard_errors() {
        for p in [10u8, 12, 14] {
            for n in [1_000u64, 100_000] {
                for seed in 1..=3 {
                    let mut s = Hll::new(p);
                    for i in 0..n {
                        s.insert(h(i, seed));
                    }
                    let err = (s.estimate() - n as f64).abs() / n as f64;
                    assert!(
                        err < 3.0 * s.standard_error(),
                        "p={p} n={n} seed={seed}: err {err:.4}"
                    );
                }
            }
        }
        assert_eq!(Hll::new(12).estimate(), 0.0);
    }

    #[test]
    fn hll_merge_equals_union_and_is_idempotent() {
        let (mut a, mut b, mut all) = (Hll::new(12), Hll::new(12), Hll::new(12));
        for i in 0..30_000u64 {
            all.insert(h(i, 9));
            if i < 20_000 {
                a.insert(h(i, 9));
            }
            if i >= 10_000 {
                b.insert(h(i, 9));
            }
        }
        a.merge(&b).unwrap();
        assert_eq!(a, all);
        a.merge(&b).unwrap();
        assert_eq!(a, all);
        assert!(a.merge(&Hll::new(10)).is_err());
        assert!(a.merge_registers(&[200u8; 4096]).is_err());
    }
}
