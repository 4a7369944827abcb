//! Two-slot sliding windows: the current slot and the previous one, rotated lazily when a
//! later slot number arrives. Time is an input: callers pass slot numbers (see
//! [`super::slot_of`]) and the elapsed fraction of the current slot.
//!
//! - [`Window`]: `N` counters per slot. The sliding estimate of the last slot length is
//!   `prev * (1 - elapsed) + cur` (the previous slot weighted by how much of it still falls
//!   inside the window), as in pingora's rate estimator.
//! - [`Bits`]: a 64-bit linear-counting bitmap per slot: distinct counts up to a few dozen
//!   (IP prefixes per account, accounts per template per time bucket) in 16 bytes.
//!
//! Both are mergeable: a counter delta adds to the slot it names (so every local increment
//! must be exported exactly once; `pend` tracks what was not exported yet), a bitmap delta
//! is or-ed (idempotent). Deltas older than the previous slot are dropped.

use super::codec::{put_u32, put_u64, put_varint, DecodeError, Reader};

/// `N` counters per slot for the current and the previous slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window<const N: usize> {
    slot: u32,
    cur: [u32; N],
    prev: [u32; N],
    pend: [u16; N],
    pend_prev: [u16; N],
}

impl<const N: usize> Default for Window<N> {
    fn default() -> Self {
        Window {
            slot: 0,
            cur: [0; N],
            prev: [0; N],
            pend: [0; N],
            pend_prev: [0; N],
        }
    }
}

impl<const N: usize> Window<N> {
    /// The current slot number.
    pub fn slot(&self) -> u32 {
        self.slot
    }

    fn advance(&mut self, slot: u32) {
        if slot <= self.slot {
            return;
        }
        if slot == self.slot.wrapping_add(1) {
            self.prev = self.cur;
            self.pend_prev = self.pend;
        } else {
            self.prev = [0; N];
            self.pend_prev = [0; N];
        }
        self.cur = [0; N];
        self.pend = [0; N];
        self.slot = slot;
    }

    fn add_inner(&mut self, slot: u32, n: &[u32; N], local: bool) {
        self.advance(slot);
        let (counts, pend) = if slot == self.slot {
            (&mut self.cur, &mut self.pend)
        } else if slot.wrapping_add(1) == self.slot {
            (&mut self.prev, &mut self.pend_prev)
        } else {
            return;
        };
        for i in 0..N {
            counts[i] = counts[i].saturating_add(n[i]);
            if local {
                pend[i] = pend[i].saturating_add(n[i].min(u16::MAX as u32) as u16);
            }
        }
    }

    /// Adds local counts at `slot` (they will be exported by [`Window::encode`]).
    #[inline]
    pub fn add(&mut self, slot: u32, n: [u32; N]) {
        self.add_inner(slot, &n, true);
    }

    /// Sliding estimate over the last slot length, as of `slot` with `frac` of it elapsed.
    #[inline]
    pub fn sliding(&self, slot: u32, frac: f64) -> [f64; N] {
        let keep = 1.0 - frac.clamp(0.0, 1.0);
        let mut out = [0.0; N];
        if slot <= self.slot {
            for ((o, &c), &p) in out.iter_mut().zip(&self.cur).zip(&self.prev) {
                *o = c as f64 + p as f64 * keep;
            }
        } else if slot == self.slot.wrapping_add(1) {
            for (o, &c) in out.iter_mut().zip(&self.cur) {
                *o = c as f64 * keep;
            }
        }
        out
    }

    /// True when local counts were not exported yet.
    pub fn pending(&self) -> bool {
        self.pend
            .iter()
            .chain(self.pend_prev.iter())
            .any(|&p| p != 0)
    }

    /// Appends the slot and the unexported local counts, and marks them exported.
    pub fn encode(&mut self, out: &mut Vec<u8>) {
        put_u32(out, self.slot);
        for i in 0..N {
            put_varint(out, self.pend[i] as u32);
            put_varint(out, self.pend_prev[i] as u32);
        }
        self.pend = [0; N];
        self.pend_prev = [0; N];
    }

    /// Adds an encoded delta from a peer (not re-exported).
    pub fn merge_encoded(&mut self, r: &mut Reader<'_>) -> Result<(), DecodeError> {
        let slot = r.u32("window slot")?;
        let (mut cur, mut prev) = ([0u32; N], [0u32; N]);
        for i in 0..N {
            cur[i] = r.varint("window count")?;
            prev[i] = r.varint("window count")?;
        }
        if slot > 0 {
            self.add_inner(slot - 1, &prev, false);
        }
        self.add_inner(slot, &cur, false);
        Ok(())
    }
}

/// Linear-counting estimate of distinct items from `set` of 64 bits set.
#[inline]
pub fn linear_count64(set: u32) -> f64 {
    match 64 - set.min(64) {
        // Saturated: as if half a bit were still zero.
        0 => 64.0 * (super::ln_int(128)),
        zeros => 64.0 * (super::ln_int(64) - super::ln_int(zeros)),
    }
}

/// A 64-bit linear-counting bitmap for the current and the previous slot.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Bits {
    cur: u64,
    prev: u64,
    epoch: u32,
    /// Unexported local changes: bit 0 the current slot, bit 1 the previous one.
    changed: u8,
}

impl Bits {
    fn advance(&mut self, epoch: u32) {
        if epoch <= self.epoch {
            return;
        }
        let next = epoch == self.epoch.wrapping_add(1);
        self.prev = if next { self.cur } else { 0 };
        self.changed = if next && self.changed & 1 != 0 { 2 } else { 0 };
        self.cur = 0;
        self.epoch = epoch;
    }

    /// Adds a (seeded) hash at slot `epoch`; true when its bit was set in neither slot
    /// (the item is new to the window, up to bitmap collisions).
    #[inline]
    pub fn insert(&mut self, epoch: u32, h: u64) -> bool {
        self.advance(epoch);
        if epoch < self.epoch {
            return false;
        }
        let bit = 1u64 << (h >> 58);
        let new = (self.cur | self.prev) & bit == 0;
        if self.cur & bit == 0 {
            self.cur |= bit;
            self.changed |= 1;
        }
        new
    }

    /// The (current, previous) bitmaps as of slot `epoch`.
    #[inline]
    fn at(&self, epoch: u32) -> (u64, u64) {
        if epoch <= self.epoch {
            (self.cur, self.prev)
        } else if epoch == self.epoch.wrapping_add(1) {
            (0, self.cur)
        } else {
            (0, 0)
        }
    }

    /// Distinct items over the current and the previous slot, as of slot `epoch`.
    #[inline]
    pub fn union_estimate(&self, epoch: u32) -> f64 {
        let (c, p) = self.at(epoch);
        linear_count64((c | p).count_ones())
    }

    /// The larger of the two slots' distinct counts, as of slot `epoch`.
    #[inline]
    pub fn max_estimate(&self, epoch: u32) -> f64 {
        let (c, p) = self.at(epoch);
        linear_count64(c.count_ones().max(p.count_ones()))
    }

    /// True when local inserts set bits since the last encode.
    pub fn changed(&self) -> bool {
        self.changed != 0
    }

    /// Appends the slot and the current and previous bitmaps, and clears [`Bits::changed`].
    pub fn encode(&mut self, out: &mut Vec<u8>) {
        put_u32(out, self.epoch);
        put_u64(out, self.cur);
        put_u64(out, if self.changed & 2 != 0 { self.prev } else { 0 });
        self.changed = 0;
    }

    fn or_slot(&mut self, epoch: u32, bits: u64) {
        self.advance(epoch);
        if epoch == self.epoch {
            self.cur |= bits;
        } else if epoch.wrapping_add(1) == self.epoch {
            self.prev |= bits;
        }
    }

    /// Ors an encoded delta from a peer into the slots it names.
    pub fn merge_encoded(&mut self, r: &mut Reader<'_>) -> Result<(), DecodeError> {
        let epoch = r.u32("bits slot")?;
        let cur = r.u64("bits")?;
        let prev = r.u64("bits")?;
        if let (true, Some(e)) = (prev != 0, epoch.checked_sub(1)) {
            self.or_slot(e, prev);
        }
        self.or_slot(epoch, cur);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sketch::mix64;

    #[test]
    fn window_slides_and_decays() {
        let mut w = Window::<1>::default();
        for _ in 0..60 {
            w.add(100, [1]);
        }
        assert_eq!(w.sliding(100, 0.5), [60.0]);
        // Next slot: the previous one fades out linearly as the new one elapses.
        w.add(101, [10]);
        assert_eq!(w.sliding(101, 0.0), [70.0]);
        assert_eq!(w.sliding(101, 0.25), [55.0]);
        assert_eq!(w.sliding(101, 1.0), [10.0]);
        // Without traffic, one slot later only the faded current slot is left; two: nothing.
        assert_eq!(w.sliding(102, 0.5), [5.0]);
        assert_eq!(w.sliding(103, 0.0), [0.0]);
        w.add(105, [3]);
        assert_eq!(w.sliding(105, 0.0), [3.0]);
    }

    #[test]
    fn window_delta_exchange_counts_each_increment_once() {
        let (mut a, mut b, mut all) = (
            Window::<2>::default(),
            Window::<2>::default(),
            Window::<2>::default(),
        );
        for t in 0..300u32 {
            let slot = 10 + t / 100;
            all.add(slot, [1, t % 2]);
            if t % 3 == 0 {
                a.add(slot, [1, t % 2])
            } else {
                b.add(slot, [1, t % 2])
            }
            if t % 7 == 6 || t == 299 {
                let (mut da, mut db) = (Vec::new(), Vec::new());
                a.encode(&mut da);
                b.encode(&mut db);
                a.merge_encoded(&mut Reader::new(&db)).unwrap();
                b.merge_encoded(&mut Reader::new(&da)).unwrap();
                assert!(!a.pending() && !b.pending());
            }
        }
        for w in [&a, &b] {
            assert_eq!(w.sliding(12, 0.3), all.sliding(12, 0.3));
        }
        assert!(a.merge_encoded(&mut Reader::new(&[0, 0, 0, 0, 1])).is_err());
    }

    #[test]
    fn bits_count_small_sets_and_merge_by_or() {
        let (mut a, mut b, mut all) = (Bits::default(), Bits::default(), Bits::default());
        for i in 0..20u64 {
            let h = mix64(i + 1);
            all.insert(7, h);
            if i % 2 == 0 {
                a.insert(7, h)
            } else {
                b.insert(7, h)
            };
        }
        let e = all.union_estimate(7);
        assert!((e - 20.0).abs() < 6.0, "{e}");
        let mut buf = Vec::new();
        b.encode(&mut buf);
        a.merge_encoded(&mut Reader::new(&buf)).unwrap();
        a.merge_encoded(&mut Reader::new(&buf)).unwrap();
        assert_eq!(a.union_estimate(7), e);
        // The previous slot still counts for the union, not for the current bucket.
        assert_eq!(a.union_estimate(8), e);
        assert_eq!(a.max_estimate(8), e);
        a.insert(8, mix64(999));
        assert_eq!(a.max_estimate(8), e);
        assert_eq!(a.union_estimate(10), 0.0);
        assert_eq!(linear_count64(0), 0.0);
        assert!(linear_count64(64) > 250.0);
    }
}
