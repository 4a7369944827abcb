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
        Seeds { base: mix64(seed ^ 0x6473_6b74_6368_0001) }
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
    fn slot_of_splits_time() {
        assert_eq!(slot_of(125_000, 60_000), (2, 5_000.0 / 60_000.0));
        assert_eq!(slot_of(5, 0).0, 5);
    }
}
