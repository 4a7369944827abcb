//! Template fingerprints of a normalized token stream: a 64-bit SimHash over token shingles
//! (near-duplicates land a few bits apart) and an exact skeleton hash.
//!
//! The features are every token (hashed with seeded xxh3) and every pair of adjacent tokens
//! (the two token hashes mixed, order-sensitive): single tokens keep near-duplicates close
//! when a filled-in word changes, pairs keep word order and push unrelated prompts, which
//! share stop words, toward 32 bits apart. Bit `j` of the SimHash is set when more than half
//! of the feature hashes have bit `j` set. The per-bit counts are kept as bytes in eight
//! words (SWAR: 64 counters take 24 word operations per feature), so a token costs one
//! short xxh3, one mix and about fifty ALU operations, with no branches on the data.
//!
//! Expected distance: `64 * angle / pi` between the feature-count vectors, so prompts that
//! share a template and differ only in masked fill-ins (numbers, quotes, code, names, ids)
//! are 0 bits apart, a changed word in a 60-word template costs a few bits, and prompts that
//! share half their words are ~15 bits apart. It deliberately does not weight tokens: weighting
//! would need a vocabulary, and masked fill-ins already carry no weight.

use xxhash_rust::xxh3::xxh3_64_with_seed;

/// Seed of the shingle hashes (fixed, so templates compare across nodes and restarts).
pub const SHINGLE_SEED: u64 = 0x6469_7374_696c_6c73; // "distills"
/// Seed of the skeleton hash.
pub const SKELETON_SEED: u64 = 0x736b_656c_6574_6f6e; // "skeleton"

/// Number of differing bits between two SimHashes (0 = same template, ~32 = unrelated).
#[inline]
pub fn simhash_distance(a: u64, b: u64) -> u32 {
    (a ^ b).count_ones()
}

/// Exact hash of a normalized text.
#[inline]
pub fn skeleton(norm: &[u8]) -> u64 {
    xxh3_64_with_seed(norm, SKELETON_SEED)
}

/// 64 counters of set bits, in three tiers so that one feature costs a dozen word
/// operations: `nib[k]` holds 4-bit counts of bits `k, k+4, ..., k+60` (one shift, mask and
/// add per word), spilled every 7 pairs of features into 8-bit counts `bytes[k]` of bits
/// `k, k+8, ..., k+56`, spilled every 16 of those into `wide`.
struct Counters {
    nib: [u64; 4],
    bytes: [u64; 8],
    wide: [u32; 64],
    nib_fill: u32,
    byte_fill: u32,
    n: u32,
}

impl Default for Counters {
    fn default() -> Self {
        Counters { nib: [0; 4], bytes: [0; 8], wide: [0; 64], nib_fill: 0, byte_fill: 0, n: 0 }
    }
}

const NIBBLES: u64 = 0x1111_1111_1111_1111;
const LOW_NIBBLES: u64 = 0x0F0F_0F0F_0F0F_0F0F;

impl Counters {
    /// Adds two features (`b` is ignored when `two` is false).
    #[inline(always)]
    fn add2(&mut self, a: u64, b: u64, two: bool) {
        let b = if two { b } else { 0 };
        for (k, nib) in self.nib.iter_mut().enumerate() {
            *nib += ((a >> k) & NIBBLES) + ((b >> k) & NIBBLES);
        }
        self.n += 1 + two as u32;
        self.nib_fill += 1;
        if self.nib_fill == 7 {
            self.spill_nibbles();
        }
    }

    #[inline(never)]
    fn spill_nibbles(&mut self) {
        for k in 0..4 {
            let v = self.nib[k];
            self.bytes[k] += v & LOW_NIBBLES;
            self.bytes[k + 4] += (v >> 4) & LOW_NIBBLES;
            self.nib[k] = 0;
        }
        self.nib_fill = 0;
        self.byte_fill += 1;
        if self.byte_fill == 16 {
            self.spill_bytes();
        }
    }

    fn spill_bytes(&mut self) {
        for (k, lane) in self.bytes.iter_mut().enumerate() {
            for byte in 0..8 {
                self.wide[8 * byte + k] += ((*lane >> (8 * byte)) & 0xFF) as u32;
            }
            *lane = 0;
        }
        self.byte_fill = 0;
    }

    fn majority(&mut self) -> u64 {
        self.spill_nibbles();
        self.spill_bytes();
        let mut out = 0u64;
        for (bit, &count) in self.wide.iter().enumerate() {
            if 2 * count as u64 > self.n as u64 {
                out |= 1 << bit;
            }
        }
        out
    }
}

/// Hash of the shingle `(a, b)` of two token hashes (order matters). The inputs are already
/// xxh3 outputs, so one multiply-xorshift is enough to decorrelate the pair from its parts.
#[inline]
fn pair(a: u64, b: u64) -> u64 {
    let x = (a.rotate_left(23) ^ b ^ 0x9E37_79B9_7F4A_7C15).wrapping_mul(0xff51_afd7_ed55_8ccd);
    x ^ (x >> 29)
}

/// Streaming SimHash: feed tokens in order, then [`Shingler::finish`].
#[derive(Default)]
pub struct Shingler {
    acc: Counters,
    prev: Option<u64>,
}

impl Shingler {
    /// Adds one token (and the pair it forms with the previous one).
    #[inline]
    pub fn push(&mut self, tok: &[u8]) {
        let h = xxh3_64_with_seed(tok, SHINGLE_SEED);
        match self.prev {
            Some(p) => self.acc.add2(h, pair(p, h), true),
            None => self.acc.add2(h, 0, false),
        }
        self.prev = Some(h);
    }

    /// The SimHash of the tokens pushed so far.
    pub fn finish(&mut self) -> u64 {
        self.acc.majority()
    }
}

impl super::normalize::Sink for Shingler {
    #[inline]
    fn token(&mut self, _: usize, tok: &[u8]) {
        self.push(tok);
    }
}

/// SimHash of a normalized text whose token start offsets are `starts` (as written by
/// [`super::normalize::normalize`]).
pub fn simhash(norm: &[u8], starts: &[u32]) -> u64 {
    let mut sh = Shingler::default();
    for (k, &s) in starts.iter().enumerate() {
        let end = starts.get(k + 1).map_or(norm.len(), |&e| (e as usize).saturating_sub(1));
        sh.push(norm.get(s as usize..end).unwrap_or(&[]));
    }
    sh.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_take_the_majority() {
        let mut c = Counters::default();
        c.add2(0b1011, 0b0011, true);
        c.add2(0b0110, 0, false);
        c.add2(u64::MAX, 0, false);
        // bit0: 3 of 4, bit1: 4, bit2: 2 (tie: unset), bit3: 2, bit63: 1
        assert_eq!(c.majority(), 0b0011);
        // Long runs cross every spill boundary without overflowing a tier.
        for n in [1u64, 6, 7, 8, 111, 112, 113, 40_000] {
            let mut c = Counters::default();
            for i in 0..n {
                c.add2(1 | 1 << 63, 1 | 1 << 63 | (i & 1) << 40, true);
            }
            assert_eq!(c.majority(), 1 | 1 << 63, "{n}");
            assert_eq!((c.wide[0] as u64, c.wide[40] as u64, c.n as u64), (2 * n, n / 2, 2 * n), "{n}");
        }
        let mut c = Counters::default();
        for i in 0..5000u64 {
            c.add2(u64::MAX, if i % 3 == 0 { u64::MAX } else { 0 }, true);
        }
        c.majority();
        assert!(c.wide.iter().all(|&w| w == 5000 + 1667), "{:?}", &c.wide[..4]);
    }

    #[test]
    fn distance_counts_bits() {
        assert_eq!(simhash_distance(0, u64::MAX), 64);
        assert_eq!(simhash_distance(0b1010, 0b0110), 2);
    }
}
