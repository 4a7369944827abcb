//! A fixed-capacity, set-associative table from 64-bit keys to small entries, each with a
//! fixed-size byte arena (for packed sketch registers).
//!
//! All memory is allocated in [`Table::new`] and never grows. Keys (already seeded hashes)
//! pick a bucket of [`WAYS`] slots; a bucket is one cache line of slot words, each holding a
//! 38-bit key tag, a 2-bit hit counter (repeat touches after insertion, saturating at 3) and
//! a 24-bit last-seen stamp in seconds (wrapping every ~194 days).
//!
//! **Eviction rule**: a new key takes an empty slot of its bucket, else the slot with the
//! largest `age - hits * grace` (age = seconds since last seen; `grace` is set per table;
//! ties: the lowest slot). So among entries seen equally recently, one-off keys go first,
//! and a key touched repeatedly (a campaign's template or fingerprint, a busy account)
//! survives a flood of one-off keys for up to `3 * grace` seconds longer. The evicted
//! entry's data, including any delta not yet exported, is dropped. Two keys with equal
//! bucket and tag share a slot (probability about `WAYS / 2^38` per lookup).
//!
//! The table also keeps a dirty bit per slot, for exporting deltas of touched entries.
//! It does not know what its entries mean, how they merge, or what time it is.

/// Slots per bucket.
pub const WAYS: usize = 8;
const STAMP_BITS: u32 = 24;
const STAMP_MASK: u64 = (1 << STAMP_BITS) - 1;
const TAG_SHIFT: u32 = 26;
const TAG_MASK: u64 = (1 << 38) - 1;
const HITS_MASK: u64 = 3 << STAMP_BITS;

/// One slot's entry with the full key (needed to export it).
#[derive(Debug, Clone, Default)]
pub struct Slot<E> {
    /// The full key.
    pub key: u64,
    /// The entry.
    pub entry: E,
}

/// A fixed-capacity set-associative table (see the module docs for the eviction rule).
#[derive(Debug, Clone)]
pub struct Table<E> {
    words: Box<[u64]>,
    slots: Box<[Slot<E>]>,
    arena: Box<[u8]>,
    stride: usize,
    dirty: Box<[u64]>,
    buckets: usize,
    grace: i64,
}

#[inline]
fn tag_of(key: u64) -> u64 {
    ((key >> TAG_SHIFT) & TAG_MASK) | 1
}

#[inline]
fn age(now: u32, stamp: u64) -> u64 {
    (now as u64).wrapping_sub(stamp) & STAMP_MASK
}

impl<E: Default + Clone> Table<E> {
    /// Capacity actually allocated for a requested `capacity` (rounded up to whole buckets).
    pub const fn rounded(capacity: usize) -> usize {
        capacity.div_ceil(WAYS) * WAYS
    }

    /// Heap bytes of a table of `capacity` entries with `stride` arena bytes each.
    pub const fn bytes_for(capacity: usize, stride: usize) -> usize {
        let cap = Self::rounded(capacity);
        cap * (8 + std::mem::size_of::<Slot<E>>() + stride) + cap.div_ceil(64) * 8
    }

    /// A table of `capacity` entries (0 disables it: every lookup misses) whose entries
    /// earn `grace_s` seconds of eviction grace per repeat touch.
    pub fn new(capacity: usize, stride: usize, grace_s: u32) -> Self {
        let cap = Self::rounded(capacity);
        Table {
            words: vec![0u64; cap].into_boxed_slice(),
            slots: vec![Slot::default(); cap].into_boxed_slice(),
            arena: vec![0u8; cap * stride].into_boxed_slice(),
            stride,
            dirty: vec![0u64; cap.div_ceil(64)].into_boxed_slice(),
            buckets: cap / WAYS,
            grace: grace_s as i64,
        }
    }

    /// Heap bytes actually allocated (equals [`Table::bytes_for`] of the same arguments).
    pub fn allocated_bytes(&self) -> usize {
        self.words.len() * 8
            + std::mem::size_of_val(&*self.slots)
            + self.arena.len()
            + self.dirty.len() * 8
    }

    /// Number of slots.
    pub fn capacity(&self) -> usize {
        self.words.len()
    }

    /// Number of occupied slots (O(capacity)).
    pub fn len(&self) -> usize {
        self.words.iter().filter(|&&w| w != 0).count()
    }

    /// True when no slot is occupied.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    #[inline]
    fn bucket_start(&self, key: u64) -> usize {
        (((key & 0xffff_ffff) * self.buckets as u64) >> 32) as usize * WAYS
    }

    /// Slot index of `key`, if present.
    #[inline]
    pub fn find(&self, key: u64) -> Option<usize> {
        let start = self.bucket_start(key);
        let tag = tag_of(key);
        let bucket = self.words.get(start..start + WAYS)?;
        bucket
            .iter()
            .position(|&w| w >> TAG_SHIFT == tag)
            .map(|i| start + i)
    }

    /// Slot index of `key`, inserting it (evicting per the module rule) when absent, and
    /// stamping it as seen at `now_s`. `None` only for a disabled (zero-capacity) table.
    #[inline]
    pub fn upsert(&mut self, key: u64, now_s: u32) -> Option<usize> {
        let start = self.bucket_start(key);
        let tag = tag_of(key);
        let now = now_s as u64 & STAMP_MASK;
        let bucket = self.words.get_mut(start..start + WAYS)?;
        let mut victim = 0;
        let mut victim_score = i64::MIN;
        for (i, w) in bucket.iter_mut().enumerate() {
            if *w >> TAG_SHIFT == tag {
                let hits = ((*w & HITS_MASK) + (1 << STAMP_BITS)).min(HITS_MASK);
                // Keep the newer stamp (merges may carry older ones).
                let stamp = if age(now_s, *w & STAMP_MASK) < (1 << (STAMP_BITS - 1)) {
                    now
                } else {
                    *w & STAMP_MASK
                };
                *w = (tag << TAG_SHIFT) | hits | stamp;
                return Some(start + i);
            }
            let score = if *w == 0 {
                i64::MAX
            } else {
                age(now_s, *w & STAMP_MASK) as i64
                    - ((*w & HITS_MASK) >> STAMP_BITS) as i64 * self.grace
            };
            if score > victim_score {
                victim = i;
                victim_score = score;
            }
        }
        if let Some(w) = bucket.get_mut(victim) {
            *w = (tag << TAG_SHIFT) | now;
        }
        let idx = start + victim;
        if let Some(slot) = self.slots.get_mut(idx) {
            *slot = Slot {
                key,
                entry: E::default(),
            };
        }
        if let Some(regs) = self
            .arena
            .get_mut(idx * self.stride..(idx + 1) * self.stride)
        {
            regs.fill(0);
        }
        self.clear_dirty(idx);
        Some(idx)
    }

    /// Loads the bucket of `key` (if any) into the cache (a hint: issue it for several tables before
    /// looking any of them up, so that the memory accesses overlap).
    #[inline]
    pub fn warm_bucket(&self, key: Option<u64>) {
        if let Some(w) = key.and_then(|k| self.words.get(self.bucket_start(k))) {
            std::hint::black_box(*w);
        }
    }

    /// Loads slot `i`'s (if any) entry and arena into the cache (a hint, like [`Table::warm_bucket`]).
    #[inline]
    pub fn warm_slot(&self, i: Option<usize>) {
        let Some(i) = i else { return };
        if let Some(slot) = self.slots.get(i) {
            std::hint::black_box(slot.key);
        }
        if let Some(b) = self.arena.get(i * self.stride) {
            std::hint::black_box(*b);
        }
    }

    /// The entry in slot `i` with its arena bytes.
    #[inline]
    pub fn get(&self, i: usize) -> Option<(&E, &[u8])> {
        let slot = self.slots.get(i)?;
        let regs = self.arena.get(i * self.stride..(i + 1) * self.stride)?;
        Some((&slot.entry, regs))
    }

    /// The entry in slot `i` with its arena bytes, mutably.
    #[inline]
    pub fn get_mut(&mut self, i: usize) -> Option<(&mut E, &mut [u8])> {
        let slot = self.slots.get_mut(i)?;
        let regs = self.arena.get_mut(i * self.stride..(i + 1) * self.stride)?;
        Some((&mut slot.entry, regs))
    }

    /// Marks slot `i` as holding local changes not exported yet.
    #[inline]
    pub fn mark_dirty(&mut self, i: usize) {
        if let Some(w) = self.dirty.get_mut(i / 64) {
            *w |= 1 << (i % 64);
        }
    }

    fn clear_dirty(&mut self, i: usize) {
        if let Some(w) = self.dirty.get_mut(i / 64) {
            *w &= !(1 << (i % 64));
        }
    }

    /// Number of dirty slots.
    pub fn dirty_count(&self) -> usize {
        self.dirty.iter().map(|w| w.count_ones() as usize).sum()
    }

    /// Calls `f(slot, key, entry, arena)` for every occupied slot, in slot order.
    pub fn for_each<'s>(&'s self, mut f: impl FnMut(usize, u64, &'s E, &'s [u8])) {
        for (i, &w) in self.words.iter().enumerate() {
            if w == 0 {
                continue;
            }
            if let (Some(slot), Some(regs)) = (self.slots.get(i), self.arena.get(i * self.stride..(i + 1) * self.stride)) {
                f(i, slot.key, &slot.entry, regs);
            }
        }
    }

    /// Calls `f(key, stamp, entry, arena)` for every dirty slot, in slot order, and clears
    /// the dirty bits.
    pub fn drain_dirty(&mut self, mut f: impl FnMut(u64, u32, &mut E, &mut [u8])) {
        for wi in 0..self.dirty.len() {
            let mut bits = self.dirty.get(wi).copied().unwrap_or(0);
            while bits != 0 {
                let i = wi * 64 + bits.trailing_zeros() as usize;
                bits &= bits - 1;
                let stamp = (self.words.get(i).copied().unwrap_or(0) & STAMP_MASK) as u32;
                let stride = self.stride;
                if let (Some(slot), Some(regs)) = (
                    self.slots.get_mut(i),
                    self.arena.get_mut(i * stride..(i + 1) * stride),
                ) {
                    f(slot.key, stamp, &mut slot.entry, regs);
                }
            }
            if let Some(w) = self.dirty.get_mut(wi) {
                *w = 0;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sketch::mix64;

    #[test]
    fn finds_inserted_keys_and_never_grows() {
        let mut t: Table<u32> = Table::new(100, 4, 0);
        assert_eq!(t.capacity(), 104);
        assert_eq!(t.allocated_bytes(), Table::<u32>::bytes_for(100, 4));
        for k in 0..50u64 {
            let i = t.upsert(mix64(k + 1), 10).unwrap();
            let (e, regs) = t.get_mut(i).unwrap();
            *e = k as u32;
            regs[0] = 7;
        }
        let found = (0..50u64).filter(|&k| {
            t.find(mix64(k + 1)).and_then(|i| t.get(i)).map(|(e, _)| *e) == Some(k as u32)
        });
        assert!(found.count() >= 45);
        for k in 0..100_000u64 {
            t.upsert(mix64(k + 1_000), 11);
        }
        assert_eq!(t.capacity(), 104);
        assert_eq!(t.len(), 104);
        assert_eq!(t.allocated_bytes(), Table::<u32>::bytes_for(100, 4));
        let mut seen = 0;
        t.for_each(|i, key, _, regs| {
            assert_eq!(t.find(key), Some(i));
            assert_eq!(regs.len(), 4);
            seen += 1;
        });
        assert_eq!(seen, 104);
    }

    #[test]
    fn evicts_the_oldest_in_the_bucket_and_resets_it() {
        let mut t: Table<u32> = Table::new(8, 2, 0);
        for k in 0..8u64 {
            let i = t.upsert(mix64(k + 1), k as u32).unwrap();
            *t.get_mut(i).unwrap().0 = 1;
            t.get_mut(i).unwrap().1.fill(9);
        }
        // Refresh key 0 so that key 1 is now the oldest.
        t.upsert(mix64(1), 100);
        let i = t.upsert(mix64(99), 101).unwrap();
        assert!(t.find(mix64(2)).is_none());
        assert!(t.find(mix64(1)).is_some());
        assert_eq!(t.get(i).unwrap(), (&0, &[0u8, 0][..]));
    }

    #[test]
    fn repeat_touches_earn_grace() {
        let mut t: Table<u8> = Table::new(8, 0, 60);
        // Key 1 is touched three more times at t=0; keys 2..8 once at t=30.
        for _ in 0..4 {
            t.upsert(mix64(1), 0);
        }
        for k in 2..=8u64 {
            t.upsert(mix64(k), 30);
        }
        // At t=100 key 1 is the oldest (age 100) but its grace (3 x 60) keeps it.
        t.upsert(mix64(99), 100);
        assert!(t.find(mix64(1)).is_some());
        assert_eq!(
            (2..=8u64).filter(|&k| t.find(mix64(k)).is_none()).count(),
            1
        );
        // Much later plain age wins again.
        for k in 200..207u64 {
            t.upsert(mix64(k), 1_000);
        }
        t.upsert(mix64(300), 1_001);
        assert!(t.find(mix64(1)).is_none());
    }

    #[test]
    fn dirty_slots_drain_once_and_zero_capacity_is_disabled() {
        let mut t: Table<u8> = Table::new(64, 0, 0);
        let a = t.upsert(mix64(5), 1).unwrap();
        let b = t.upsert(mix64(6), 1).unwrap();
        t.mark_dirty(a);
        t.mark_dirty(b);
        t.mark_dirty(b);
        let mut keys = Vec::new();
        t.drain_dirty(|k, _, _, _| keys.push(k));
        keys.sort();
        let mut want = vec![mix64(5), mix64(6)];
        want.sort();
        assert_eq!(keys, want);
        assert_eq!(t.dirty_count(), 0);
        let mut z: Table<u8> = Table::new(0, 4, 0);
        assert_eq!(z.upsert(1, 1), None);
        assert_eq!(z.find(1), None);
    }
}
