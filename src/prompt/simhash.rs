//! Template fingerprints of a normalized token stream: a 64-bit SimHash over token shingles
//! (near-duplicates land a few bits apart) and an exact skeleton hash.
//!
//! The features are every token (hashed with seeded xxh3) and every pair of adjacent tokens
//! (the two token hashes mixed, order-sensitive): single tokens keep near-duplicates close
//! when a filled-in word changes, pairs keep word order and push unrelated prompts, which
//! share stop words, toward 32 bits apart. Bit `j` of the SimHash is set when more than half
//! of the feature hashes have bit `j` set. The per-bit counts are bit-sliced (a carry-save
//! adder tree over sixteen features at a time, about five word operations per feature), so
//! a token costs one short xxh3, one mix and about a dozen ALU operations, with no branches
//! on the data.
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

/// Carry-save adder: the sum bits and carry bits of three words added bit by bit.
#[inline(always)]
fn csa(a: u64, b: u64, c: u64) -> (u64, u64) {
    let u = a ^ b;
    (u ^ c, (a & b) | (u & c))
}

const LANE_LOW_BITS: u64 = 0x0101_0101_0101_0101;

/// 64 counters of set bits, bit-sliced: features wait in `pend` until there are sixteen,
/// then a tree of 15 carry-save adders (Harley-Seal) adds them into the running bit planes
/// `ones`, `twos`, `fours`, `eights` (about five word operations per feature, none per bit)
/// and yields the word of bits whose count passed a multiple of sixteen. Those go into 8-bit
/// counts `bytes[k]` of bits `k, k+8, ..., k+56`, spilled every 255 trees into `wide`. A
/// bit's count is `16 * wide + eights * 8 + fours * 4 + twos * 2 + ones`.
struct Counters {
    pend: [u64; 16],
    np: usize,
    ones: u64,
    twos: u64,
    fours: u64,
    eights: u64,
    bytes: [u64; 8],
    byte_fill: u32,
    wide: [u32; 64],
    n: u32,
}

impl Default for Counters {
    fn default() -> Self {
        Counters { pend: [0; 16], np: 0, ones: 0, twos: 0, fours: 0, eights: 0, bytes: [0; 8], byte_fill: 0, wide: [0; 64], n: 0 }
    }
}

impl Counters {
    /// Adds two features (`b` is ignored when `two` is false).
    #[inline(always)]
    fn add2(&mut self, a: u64, b: u64, two: bool) {
        if let Some([x, y]) = self.pend.get_mut(self.np..self.np + 2).and_then(|p| <&mut [u64; 2]>::try_from(p).ok()) {
            (*x, *y) = (a, if two { b } else { 0 });
        }
        self.np += 2;
        self.n += 1 + two as u32;
        if self.np >= 16 {
            self.tree();
        }
    }

    /// Adds four pending features into `ones` and `twos`; returns their carry into the fours.
    #[inline(always)]
    fn quad(&mut self, [a, b, c, d]: [u64; 4]) -> u64 {
        let (ones, twos_a) = csa(self.ones, a, b);
        let (ones, twos_b) = csa(ones, c, d);
        let (twos, fours) = csa(self.twos, twos_a, twos_b);
        (self.ones, self.twos) = (ones, twos);
        fours
    }

    /// Adds the sixteen pending features (zeros where fewer are pending).
    #[inline(never)]
    fn tree(&mut self) {
        let [p0, p1, p2, p3, p4, p5, p6, p7, p8, p9, p10, p11, p12, p13, p14, p15] = self.pend;
        let (fa, fb) = (self.quad([p0, p1, p2, p3]), self.quad([p4, p5, p6, p7]));
        let (fours, eights_a) = csa(self.fours, fa, fb);
        self.fours = fours;
        let (fa, fb) = (self.quad([p8, p9, p10, p11]), self.quad([p12, p13, p14, p15]));
        let (fours, eights_b) = csa(self.fours, fa, fb);
        self.fours = fours;
        let (eights, sixteens) = csa(self.eights, eights_a, eights_b);
        self.eights = eights;
        for (k, lane) in self.bytes.iter_mut().enumerate() {
            *lane += (sixteens >> k) & LANE_LOW_BITS;
        }
        self.pend = [0; 16];
        self.np = 0;
        self.byte_fill += 1;
        if self.byte_fill == 255 {
            self.spill_bytes();
        }
    }

    fn spill_bytes(&mut self) {
        for (k, lane) in self.bytes.iter_mut().enumerate() {
            for byte in 0..8 {
                if let Some(w) = self.wide.get_mut(8 * byte + k) {
                    *w += ((*lane >> (8 * byte)) & 0xFF) as u32;
                }
            }
            *lane = 0;
        }
        self.byte_fill = 0;
    }

    /// How many features had bit `bit` set (after [`Counters::flush`]).
    fn count(&self, bit: usize) -> u64 {
        let b = |plane: u64, weight: u64| (plane >> bit & 1) * weight;
        16 * self.wide.get(bit).copied().unwrap_or(0) as u64 + b(self.eights, 8) + b(self.fours, 4) + b(self.twos, 2) + b(self.ones, 1)
    }

    /// Adds what is pending, so that [`Counters::count`] is complete.
    fn flush(&mut self) {
        if self.np > 0 {
            self.tree();
        }
        self.spill_bytes();
    }

    fn majority(&mut self) -> u64 {
        self.flush();
        let mut out = 0u64;
        for bit in 0..64 {
            if 2 * self.count(bit) > self.n as u64 {
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
    #[inline(always)]
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
        // Long runs cross every tree and spill boundary without overflowing a tier.
        for n in [1u64, 6, 7, 8, 9, 111, 112, 113, 2039, 2040, 2041, 40_000] {
            let mut c = Counters::default();
            for i in 0..n {
                c.add2(1 | 1 << 63, 1 | 1 << 63 | (i & 1) << 40, true);
            }
            assert_eq!(c.majority(), 1 | 1 << 63, "{n}");
            assert_eq!((c.count(0), c.count(40), c.count(63), c.count(1), c.n as u64), (2 * n, n / 2, 2 * n, 0, 2 * n), "{n}");
        }
        let mut c = Counters::default();
        for i in 0..5000u64 {
            c.add2(u64::MAX, if i % 3 == 0 { u64::MAX } else { 0 }, true);
        }
        c.majority();
        assert!((0..64).all(|b| c.count(b) == 5000 + 1667), "{}", c.count(0));
    }

    /// The counts equal a plain per-bit count on random features, odd and even in number.
    #[test]
    fn counters_count_exactly() {
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        for len in [0usize, 1, 5, 8, 9, 100, 700, 4100] {
            let (mut c, mut plain) = (Counters::default(), [0u64; 64]);
            for i in 0..len {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let (a, b, two) = (x, x.rotate_left(17) & x, i % 5 != 0);
                c.add2(a, b, two);
                for (bit, p) in plain.iter_mut().enumerate() {
                    *p += (a >> bit & 1) + if two { b >> bit & 1 } else { 0 };
                }
            }
            c.flush();
            assert!((0..64).all(|b| c.count(b) == plain[b]), "{len}");
        }
    }

    #[test]
    fn distance_counts_bits() {
        assert_eq!(simhash_distance(0, u64::MAX), 64);
        assert_eq!(simhash_distance(0b1010, 0b0110), 2);
    }
}
