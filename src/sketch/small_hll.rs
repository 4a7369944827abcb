//! A per-key, two-slot *windowed* HyperLogLog with 4-bit registers (16..=512 of them) that
//! live in a caller-owned byte slice (a table's arena), with an O(1) estimate.
//!
//! The slice holds `[cur | uni]`: the registers of the current window slot, and the union
//! of the previous and the current slot; the estimate is of `uni`, so it covers between one
//! and two windows of history. Rotation is lazy (on the next touch). Ranks are capped at 15,
//! which only matters beyond ~`m * 2^15` distinct items. Merge is the register max, so
//! deltas are idempotent. It does not hash: inputs are seeded 64-bit hashes.

use super::codec::{put_u32, DecodeError, Reader};
use super::hll::{estimate_from, split};

/// Largest precision of [`SmallHll`] (512 registers, 256 bytes per slot).
pub const SMALL_MAX_P: u8 = 9;

/// Reads nibble `i` of packed registers.
#[inline]
fn nib(regs: &[u8], i: usize) -> u8 {
    let b = regs.get(i / 2).copied().unwrap_or(0);
    if i % 2 == 0 {
        b & 0x0f
    } else {
        b >> 4
    }
}

/// Writes nibble `i` of packed registers.
#[inline]
fn set_nib(regs: &mut [u8], i: usize, v: u8) {
    if let Some(b) = regs.get_mut(i / 2) {
        *b = if i % 2 == 0 {
            (*b & 0xf0) | v
        } else {
            (*b & 0x0f) | (v << 4)
        };
    }
}

/// Nibble-wise max of two packed register bytes.
#[inline]
fn max_nib(a: u8, b: u8) -> u8 {
    (a & 0x0f).max(b & 0x0f) | (a & 0xf0).max(b & 0xf0)
}

/// `2^15 * (1 - 2^-r)`: a register's contribution to the deficit (0 for an empty register).
#[inline]
fn deficit_of(r: u8) -> u32 {
    (1u32 << 15) - (1u32 << (15 - r.min(15) as u32))
}

/// A windowed HLL with 4-bit registers stored in a caller-owned slice of
/// [`SmallHll::bytes`] bytes. All-zero is the valid empty state (so table arenas need no
/// initialization beyond zeroing).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SmallHll {
    epoch: u32,
    /// `sum(2^15 * (1 - 2^-r))` over the `uni` registers.
    deficit: u32,
    /// Nonzero `uni` registers.
    nonzero: u16,
    /// Local changes not exported yet: [`CUR`] (this slot), [`PREV`] (the slot before,
    /// when it rotated out before an export).
    changed: u8,
}

/// [`SmallHll`] delta flag: the current slot's registers follow.
const CUR: u8 = 1;
/// [`SmallHll`] delta flag: the previous slot's registers (approximated by `uni`) follow.
const PREV: u8 = 2;
/// [`SmallHll`] delta flag: the current slot's block is sparse.
const SPARSE_CUR: u8 = 4;
/// [`SmallHll`] delta flag: the previous slot's block is sparse.
const SPARSE_PREV: u8 = 8;

impl SmallHll {
    /// Arena bytes per sketch of precision `p` (`cur` and `uni`, 4 bits per register).
    pub const fn bytes(p: u8) -> usize {
        1 << p
    }

    /// The window slot the sketch is at.
    pub fn epoch(&self) -> u32 {
        self.epoch
    }

    /// True when local inserts changed the registers since the last encode.
    pub fn changed(&self) -> bool {
        self.changed != 0
    }

    fn recompute(&mut self, uni: &[u8]) {
        let (mut deficit, mut nonzero) = (0u32, 0u16);
        for &b in uni {
            for r in [b & 0x0f, b >> 4] {
                deficit += deficit_of(r);
                nonzero += u16::from(r != 0);
            }
        }
        self.deficit = deficit;
        self.nonzero = nonzero;
    }

    /// Moves the window to `epoch` (no-op for the current or an older epoch).
    pub fn rotate(&mut self, regs: &mut [u8], epoch: u32) {
        if epoch <= self.epoch {
            return;
        }
        if self.nonzero == 0 {
            // Empty (uni is a superset of cur): nothing to move or clear.
            self.epoch = epoch;
            self.changed = 0;
            return;
        }
        let half = regs.len() / 2;
        let (cur, uni) = regs.split_at_mut(half);
        if epoch == self.epoch.wrapping_add(1) {
            uni.copy_from_slice(cur);
            cur.fill(0);
            self.recompute(uni);
            self.changed = if self.changed & CUR != 0 { PREV } else { 0 };
        } else {
            regs.fill(0);
            self.deficit = 0;
            self.nonzero = 0;
            self.changed = 0;
        }
        self.epoch = epoch;
    }

    /// Adds a (seeded) hash at window slot `epoch`; true when `cur` changed.
    #[inline]
    pub fn insert(&mut self, regs: &mut [u8], p: u8, epoch: u32, h: u64) -> bool {
        self.rotate(regs, epoch);
        if epoch < self.epoch {
            return false;
        }
        let (idx, rank) = split(h, p, 15);
        let half = regs.len() / 2;
        let (cur, uni) = regs.split_at_mut(half);
        if rank <= nib(cur, idx) {
            return false;
        }
        set_nib(cur, idx, rank);
        self.changed |= CUR;
        let old = nib(uni, idx);
        if rank > old {
            set_nib(uni, idx, rank);
            self.deficit = self.deficit - deficit_of(old) + deficit_of(rank);
            self.nonzero += u16::from(old == 0);
        }
        true
    }

    /// Estimate for a sketch already rotated to the current epoch (O(1)).
    #[inline]
    pub fn estimate(&self, p: u8) -> f64 {
        let m = 1usize << p;
        let inv_sum = m as f64 - self.deficit as f64 / 32768.0;
        estimate_from(m, inv_sum, m - self.nonzero as usize)
    }

    /// Estimate as of window slot `epoch`, without rotating (O(m) one slot after the last touch).
    pub fn estimate_at(&self, regs: &[u8], p: u8, epoch: u32) -> f64 {
        if epoch <= self.epoch {
            self.estimate(p)
        } else if epoch == self.epoch.wrapping_add(1) {
            let mut tmp = SmallHll::default();
            tmp.recompute(regs.get(..regs.len() / 2).unwrap_or(&[]));
            tmp.estimate(p)
        } else {
            0.0
        }
    }

    /// Appends the delta a peer needs and clears [`SmallHll::changed`]: the epoch, a flag
    /// byte, the `cur` registers when they changed, and the `uni` registers as the previous
    /// slot when that rotated out unexported (`uni` may already hold some current-slot
    /// data; peers that rotated only add it to their union, where it belongs anyway).
    /// A block with few nonzero registers is written sparse (see [`put_block`]).
    pub fn encode(&mut self, regs: &[u8], out: &mut Vec<u8>) {
        let half = regs.len() / 2;
        put_u32(out, self.epoch);
        let flags_at = out.len();
        out.push(0);
        let mut flags = 0;
        if self.changed & CUR != 0 {
            flags |= CUR | (put_block(regs.get(..half).unwrap_or(&[]), out) * SPARSE_CUR);
        }
        if self.changed & PREV != 0 {
            flags |= PREV | (put_block(regs.get(half..).unwrap_or(&[]), out) * SPARSE_PREV);
        }
        if let Some(f) = out.get_mut(flags_at) {
            *f = flags;
        }
        self.changed = 0;
    }

    /// Appends the whole sketch in [`SmallHll::encode`]'s format, whatever changed: the
    /// `cur` registers as the current slot and `uni` as the previous one, so that
    /// [`SmallHll::merge_encoded`] gives the union of both sketches (a snapshot, where
    /// `encode` writes a delta). Leaves [`SmallHll::changed`] as it is.
    pub fn encode_full(&self, regs: &[u8], out: &mut Vec<u8>) {
        let half = regs.len() / 2;
        put_u32(out, self.epoch);
        let flags_at = out.len();
        out.push(0);
        let mut flags = CUR | (put_block(regs.get(..half).unwrap_or(&[]), out) * SPARSE_CUR);
        flags |= PREV | (put_block(regs.get(half..).unwrap_or(&[]), out) * SPARSE_PREV);
        if let Some(f) = out.get_mut(flags_at) {
            *f = flags;
        }
    }

    /// Max-merges registers of slot `epoch` from a peer.
    fn merge_slot(&mut self, regs: &mut [u8], epoch: u32, theirs: &[u8]) {
        self.rotate(regs, epoch);
        let half = regs.len() / 2;
        let (cur, uni) = regs.split_at_mut(half);
        if epoch == self.epoch {
            for (a, &b) in cur.iter_mut().zip(theirs) {
                *a = max_nib(*a, b);
            }
        } else if epoch.wrapping_add(1) != self.epoch {
            return;
        }
        for (a, &b) in uni.iter_mut().zip(theirs) {
            *a = max_nib(*a, b);
        }
        self.recompute(uni);
    }

    /// Merges an encoded delta (register max; idempotent). Peer data of the previous slot
    /// only enters `uni`; data older than that is dropped.
    pub fn merge_encoded(
        &mut self,
        regs: &mut [u8],
        r: &mut Reader<'_>,
    ) -> Result<(), DecodeError> {
        let epoch = r.u32("hll epoch")?;
        let flags = r.u8("hll flags")?;
        if flags & (CUR | PREV) == 0
            || flags & !(CUR | PREV | SPARSE_CUR | SPARSE_PREV) != 0
            || (flags & SPARSE_CUR != 0 && flags & CUR == 0)
            || (flags & SPARSE_PREV != 0 && flags & PREV == 0)
        {
            return Err(DecodeError::Invalid("hll flags"));
        }
        let half = regs.len() / 2;
        let (mut cur, mut prev) = ([0u8; MAX_HALF], [0u8; MAX_HALF]);
        let cur = cur
            .get_mut(..half)
            .ok_or(DecodeError::Invalid("hll size"))?;
        let prev = prev
            .get_mut(..half)
            .ok_or(DecodeError::Invalid("hll size"))?;
        if flags & CUR != 0 {
            get_block(r, flags & SPARSE_CUR != 0, cur)?;
        }
        if flags & PREV != 0 {
            get_block(r, flags & SPARSE_PREV != 0, prev)?;
        }
        if let (true, Some(e)) = (flags & PREV != 0, epoch.checked_sub(1)) {
            self.merge_slot(regs, e, prev);
        }
        if flags & CUR != 0 {
            self.merge_slot(regs, epoch, cur);
        }
        Ok(())
    }
}

/// Largest register block in bytes (`2^SMALL_MAX_P / 2`).
const MAX_HALF: usize = 1 << (SMALL_MAX_P - 1);

/// Writes a packed register block, sparse when that is shorter: `count u8`, then per
/// nonzero register `index u16 LE, value u8`; else the packed bytes. Returns 1 when sparse.
fn put_block(block: &[u8], out: &mut Vec<u8>) -> u8 {
    let nonzero: usize = block
        .iter()
        .map(|&b| usize::from(b & 0x0f != 0) + usize::from(b >> 4 != 0))
        .sum();
    if 3 * nonzero + 1 >= block.len() || nonzero > u8::MAX as usize {
        out.extend_from_slice(block);
        return 0;
    }
    out.push(nonzero as u8);
    for i in 0..block.len() * 2 {
        let v = nib(block, i);
        if v != 0 {
            out.extend_from_slice(&(i as u16).to_le_bytes());
            out.push(v);
        }
    }
    1
}

/// Reads a block written by [`put_block`] into `dense` (zeroed, `dense.len()` bytes).
fn get_block(r: &mut Reader<'_>, sparse: bool, dense: &mut [u8]) -> Result<(), DecodeError> {
    if !sparse {
        dense.copy_from_slice(r.bytes(dense.len(), "hll registers")?);
        return Ok(());
    }
    let n = r.u8("hll sparse count")?;
    for _ in 0..n {
        let idx = r.bytes(2, "hll sparse index")?;
        let i = u16::from_le_bytes([
            idx.first().copied().unwrap_or(0),
            idx.get(1).copied().unwrap_or(0),
        ]) as usize;
        let v = r.u8("hll sparse value")?;
        if i >= dense.len() * 2 || v == 0 || v > 15 {
            return Err(DecodeError::Invalid("hll sparse register"));
        }
        set_nib(dense, i, v);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sketch::codec::Reader;
    use crate::sketch::mix64;

    fn h(i: u64, seed: u64) -> u64 {
        mix64(i ^ mix64(seed))
    }

    #[test]
    fn small_hll_accuracy_on_average() {
        let p = 6;
        let mut regs = vec![0u8; SmallHll::bytes(p)];
        for n in [10u64, 100, 1_000] {
            let mut total_err = 0.0;
            for trial in 0..200u64 {
                regs.fill(0);
                let mut s = SmallHll::default();
                for i in 0..n {
                    s.insert(&mut regs, p, 5, h(i, trial + 100 * n));
                }
                let e = s.estimate(p);
                let rel = (e - n as f64) / n as f64;
                assert!(rel.abs() < 5.0 * 1.04 / 8.0, "n={n} trial={trial} est={e}");
                total_err += rel;
            }
            assert!(
                (total_err / 200.0).abs() < 0.05,
                "n={n} bias {}",
                total_err / 200.0
            );
        }
    }

    #[test]
    fn small_hll_window_rotates_and_expires() {
        let p = 7;
        let mut regs = vec![0u8; SmallHll::bytes(p)];
        let mut s = SmallHll::default();
        for i in 0..50 {
            s.insert(&mut regs, p, 10, h(i, 1));
        }
        let a = s.estimate(p);
        assert!((a - 50.0).abs() < 10.0, "{a}");
        for i in 1000..1050 {
            s.insert(&mut regs, p, 11, h(i, 1));
        }
        let ab = s.estimate(p);
        assert!((ab - 100.0).abs() < 20.0, "{ab}");
        // One slot later only the second batch is left; two slots later nothing.
        let b = s.estimate_at(&regs, p, 12);
        assert!((b - 50.0).abs() < 10.0, "{b}");
        assert_eq!(s.estimate_at(&regs, p, 13), 0.0);
        s.rotate(&mut regs, 12);
        assert_eq!(s.estimate(p), b);
        s.rotate(&mut regs, 20);
        assert_eq!(s.estimate(p), 0.0);
    }

    #[test]
    fn small_hll_encoded_merge_equals_single_sketch() {
        let p = 6;
        let n = SmallHll::bytes(p);
        let (mut ra, mut rb, mut rall) = (vec![0u8; n], vec![0u8; n], vec![0u8; n]);
        let (mut a, mut b, mut all) = (
            SmallHll::default(),
            SmallHll::default(),
            SmallHll::default(),
        );
        for i in 0..400u64 {
            let epoch = 3 + (i / 200) as u32;
            all.insert(&mut rall, p, epoch, h(i, 4));
            if i % 2 == 0 {
                a.insert(&mut ra, p, epoch, h(i, 4));
            } else {
                b.insert(&mut rb, p, epoch, h(i, 4));
            }
            if i % 50 == 49 {
                let (mut da, mut db) = (Vec::new(), Vec::new());
                a.encode(&ra, &mut da);
                b.encode(&rb, &mut db);
                a.merge_encoded(&mut ra, &mut Reader::new(&db)).unwrap();
                b.merge_encoded(&mut rb, &mut Reader::new(&da)).unwrap();
                // Re-applying is harmless.
                b.merge_encoded(&mut rb, &mut Reader::new(&da)).unwrap();
            }
        }
        assert_eq!(ra, rall);
        assert_eq!(rb, rall);
        assert_eq!(a.estimate(p), all.estimate(p));
        assert!(b
            .merge_encoded(&mut rb, &mut Reader::new(&[1, 0, 0]))
            .is_err());
        assert!(b
            .merge_encoded(&mut rb, &mut Reader::new(&[1, 0, 0, 0, 4]))
            .is_err());
        // One register: written sparse (epoch, flags, count, index, value).
        let (mut one, mut r1) = (SmallHll::default(), vec![0u8; n]);
        one.insert(&mut r1, p, 9, h(1, 1));
        let mut buf = Vec::new();
        one.encode(&r1, &mut buf);
        assert_eq!(buf.len(), 4 + 1 + 1 + 3);
        let (mut two, mut r2) = (SmallHll::default(), vec![0u8; n]);
        two.merge_encoded(&mut r2, &mut Reader::new(&buf)).unwrap();
        assert_eq!(r2, r1);
        // A sparse register out of range or zero is refused.
        let bad_index = [9, 0, 0, 0, 1 | 4, 1, 0xff, 0x00, 3];
        assert!(two
            .merge_encoded(&mut r2, &mut Reader::new(&bad_index))
            .is_err());
        let zero_value = [9, 0, 0, 0, 1 | 4, 1, 0, 0, 0];
        assert!(two
            .merge_encoded(&mut r2, &mut Reader::new(&zero_value))
            .is_err());
    }
}
