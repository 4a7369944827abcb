//! Count-min sketch: `depth` rows of `width` saturating `u32` counters, one seeded hash
//! per row; the estimate is the minimum over rows, never below the true count and above it
//! by at most `e * total / width` with probability `1 - exp(-depth)`.
//!
//! Merge is element-wise addition, so a sketch of the union of two streams is the sum of
//! their sketches; delta bookkeeping (what changed since the last
//! exchange) is left to the caller. Conservative update ([`CountMin::add_conservative`])
//! lowers over-estimates but is then no longer a linear sketch: sums of conservatively
//! updated sketches are still upper bounds, but no longer equal to one sketch of the union.
//! Not used by the built-in state signals (their keyed tables count exactly); provided for
//! hosts and experiments that need frequencies of unbounded key sets.

use super::codec::{put_u32, put_varint, DecodeError, Reader};
use super::mix64;

/// A seeded count-min sketch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CountMin {
    width: u32,
    seeds: Box<[u64]>,
    counts: Box<[u32]>,
}

impl CountMin {
    /// An empty sketch of `depth` (1..=16) rows and `width` (>= 16) columns.
    pub fn new(depth: usize, width: usize, seed: u64) -> Self {
        let depth = depth.clamp(1, 16);
        let width = width.clamp(16, u32::MAX as usize);
        let seeds = (0..depth as u64)
            .map(|i| mix64(seed ^ mix64(i + 1)))
            .collect();
        CountMin {
            width: width as u32,
            seeds,
            counts: vec![0u32; depth * width].into_boxed_slice(),
        }
    }

    /// Heap bytes of a sketch of these dimensions.
    pub const fn bytes_for(depth: usize, width: usize) -> usize {
        depth * width * 4 + depth * 8
    }

    /// Rows.
    pub fn depth(&self) -> usize {
        self.seeds.len()
    }

    /// Columns.
    pub fn width(&self) -> usize {
        self.width as usize
    }

    #[inline]
    fn cell(&self, row: usize, seed: u64, key: u64) -> usize {
        let h = mix64(key ^ seed);
        row * self.width as usize + (((h >> 32) * self.width as u64) >> 32) as usize
    }

    /// Adds `n` occurrences of `key`.
    #[inline]
    pub fn add(&mut self, key: u64, n: u32) {
        for row in 0..self.seeds.len() {
            let seed = self.seeds.get(row).copied().unwrap_or(0);
            let i = self.cell(row, seed, key);
            if let Some(c) = self.counts.get_mut(i) {
                *c = c.saturating_add(n);
            }
        }
    }

    /// Adds `n` occurrences of `key`, raising only the counters below the new estimate.
    pub fn add_conservative(&mut self, key: u64, n: u32) {
        let target = self.estimate(key).saturating_add(n);
        for row in 0..self.seeds.len() {
            let seed = self.seeds.get(row).copied().unwrap_or(0);
            let i = self.cell(row, seed, key);
            if let Some(c) = self.counts.get_mut(i) {
                *c = (*c).max(target);
            }
        }
    }

    /// Estimated occurrences of `key` (an upper bound).
    #[inline]
    pub fn estimate(&self, key: u64) -> u32 {
        let mut est = u32::MAX;
        for (row, &seed) in self.seeds.iter().enumerate() {
            est = est.min(
                self.counts
                    .get(self.cell(row, seed, key))
                    .copied()
                    .unwrap_or(0),
            );
        }
        est
    }

    /// Adds `other` (same dimensions and seed) into `self`.
    pub fn merge(&mut self, other: &CountMin) -> Result<(), DecodeError> {
        if other.seeds != self.seeds || other.width != self.width {
            return Err(DecodeError::Invalid("count-min shape"));
        }
        for (a, &b) in self.counts.iter_mut().zip(other.counts.iter()) {
            *a = a.saturating_add(b);
        }
        Ok(())
    }

    /// Empties the sketch.
    pub fn clear(&mut self) {
        self.counts.fill(0);
    }

    /// Appends the nonzero counters as `(index delta, count)` varint pairs.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let nonzero = self.counts.iter().filter(|&&c| c != 0).count();
        put_u32(out, nonzero as u32);
        let mut last = 0usize;
        for (i, &c) in self.counts.iter().enumerate().filter(|(_, &c)| c != 0) {
            put_varint(out, (i - last) as u32);
            put_varint(out, c);
            last = i;
        }
    }

    /// Adds an encoded sketch of the same dimensions.
    pub fn merge_encoded(&mut self, r: &mut Reader<'_>) -> Result<(), DecodeError> {
        let n = r.u32("count-min cells")? as usize;
        if n > self.counts.len() {
            return Err(DecodeError::Invalid("count-min cells"));
        }
        let mut idx = 0usize;
        for _ in 0..n {
            idx += r.varint("count-min index")? as usize;
            let c = r.varint("count-min count")?;
            let cell = self
                .counts
                .get_mut(idx)
                .ok_or(DecodeError::Invalid("count-min index"))?;
            *cell = cell.saturating_add(c);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sketch::codec::Reader;

    #[test]
    fn never_underestimates_and_error_is_bounded() {
        let mut s = CountMin::new(4, 2048, 7);
        let mut total = 0u64;
        for k in 0..5_000u64 {
            let n = (k % 13 + 1) as u32;
            s.add(k, n);
            total += n as u64;
        }
        let bound = (std::f64::consts::E * total as f64 / 2048.0).ceil() as u32;
        let mut over = 0;
        for k in 0..5_000u64 {
            let truth = (k % 13 + 1) as u32;
            let e = s.estimate(k);
            assert!(e >= truth);
            over += u32::from(e - truth > bound);
        }
        assert!(over < 5_000 / 50, "{over} keys above the bound");
        assert!(s.estimate(999_999) <= bound);
    }

    #[test]
    fn merge_is_addition_and_survives_encoding() {
        let (mut a, mut b, mut all) = (
            CountMin::new(3, 256, 1),
            CountMin::new(3, 256, 1),
            CountMin::new(3, 256, 1),
        );
        for k in 0..1_000u64 {
            all.add(k % 97, 1);
            if k % 3 == 0 {
                a.add(k % 97, 1)
            } else {
                b.add(k % 97, 1)
            }
        }
        let mut c = a.clone();
        c.merge(&b).unwrap();
        assert_eq!(c, all);
        let mut buf = Vec::new();
        b.encode(&mut buf);
        a.merge_encoded(&mut Reader::new(&buf)).unwrap();
        assert_eq!(a, all);
        assert!(a.merge(&CountMin::new(3, 256, 2)).is_err());
        assert!(a
            .merge_encoded(&mut Reader::new(&buf[..buf.len() - 1]))
            .is_err());
    }

    #[test]
    fn conservative_update_is_tighter() {
        let (mut plain, mut cons) = (CountMin::new(2, 64, 3), CountMin::new(2, 64, 3));
        for k in 0..2_000u64 {
            plain.add(k % 500, 1);
            cons.add_conservative(k % 500, 1);
        }
        let err = |s: &CountMin| (0..500u64).map(|k| (s.estimate(k) - 4) as u64).sum::<u64>();
        assert!(err(&cons) < err(&plain));
        assert!((0..500u64).all(|k| cons.estimate(k) >= 4));
    }
}
