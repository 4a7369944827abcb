//! Small shared helpers that keep the Wasm modules small.
//!
//! The standard library's stable and unstable sorts are fast but each instantiation adds
//! kilobytes of code; the lists sorted per request (cookies, reasons, header names) hold a
//! few dozen items at most, where an insertion sort is as fast and tiny. Not for large inputs.
//! [`find_escape`] finds the end of a JSON string run without a call per escape.
//! [`eq_ci`] compares header names ignoring ASCII case with the length test inlined: most
//! comparisons in a header lookup fail on the length (the Wasm builds, at opt-level "z",
//! would otherwise call core's comparison for every header).

use std::cmp::Ordering;

/// Stable in-place insertion sort by `cmp`. O(n^2): for short slices only (<= a few hundred).
pub fn insertion_sort_by<T, F: FnMut(&T, &T) -> Ordering>(v: &mut [T], mut cmp: F) {
    for i in 1..v.len() {
        let mut j = i;
        while j > 0 && cmp(&v[j - 1], &v[j]) == Ordering::Greater {
            v.swap(j - 1, j);
            j -= 1;
        }
    }
}

/// `a.eq_ignore_ascii_case(b)`, with the length test inlined at every call site.
#[inline(always)]
pub fn eq_ci(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && eq_ci_same_len(a, b)
}

/// [`eq_ci`] for slices of the same length, eight bytes at a time.
#[inline(never)]
fn eq_ci_same_len(mut a: &[u8], mut b: &[u8]) -> bool {
    while let (Some((x, ra)), Some((y, rb))) = (a.split_first_chunk::<8>(), b.split_first_chunk::<8>()) {
        if fold8(u64::from_le_bytes(*x)) != fold8(u64::from_le_bytes(*y)) {
            return false;
        }
        (a, b) = (ra, rb);
    }
    a.iter().zip(b).all(|(x, y)| x.to_ascii_lowercase() == y.to_ascii_lowercase())
}

/// `x` with every ASCII upper-case letter lowercased (byte-wise `to_ascii_lowercase`; no
/// carries cross bytes: every lane stays below 0x100).
#[inline(always)]
fn fold8(x: u64) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    let y = x & !(ONES * 0x80);
    let at_least_a = y + ONES * 0x3F; // lane >= 0x80 iff y >= b'A'
    let past_z = y + ONES * 0x25; // lane >= 0x80 iff y > b'Z'
    x | (at_least_a & !past_z & !x & ONES * 0x80) >> 2
}

/// Index of the first `\\` at or after `i` in `b`, or of a `"` too with `QUOTE`, or of a
/// control character (< 0x20) too with `CTRL`; `b.len()` when there is none (`i` when `i`
/// is past the end).
///
/// Code and JSON inside JSON have an escape every few bytes, where a call to memchr per escape
/// costs more than the run: the first 32 bytes are looked at eight at a time; a longer run is
/// handed to memchr (without `CTRL`).
#[inline]
pub fn find_escape<const QUOTE: bool, const CTRL: bool>(b: &[u8], mut i: usize) -> usize {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let mut words = 0;
    // The lowest flagged byte of each zero-byte test is exact (borrows only run upwards).
    while let Some(Ok(w)) = b.get(i..i + 8).map(<[u8; 8]>::try_from) {
        let v = u64::from_le_bytes(w);
        let s = v ^ (ONES * b'\\' as u64);
        let mut m = s.wrapping_sub(ONES) & !s;
        if QUOTE {
            let q = v ^ (ONES * b'"' as u64);
            m |= q.wrapping_sub(ONES) & !q;
        }
        if CTRL {
            m |= v.wrapping_sub(ONES * 0x20) & !v;
        }
        m &= HIGH;
        if m != 0 {
            return i + (m.trailing_zeros() / 8) as usize;
        }
        i += 8;
        words += 1;
        if !CTRL && words == 4 {
            let rest = b.get(i..).unwrap_or(&[]);
            let k = if QUOTE { memchr::memchr2(b'"', b'\\', rest) } else { memchr::memchr(b'\\', rest) };
            return i + k.unwrap_or(rest.len());
        }
    }
    while let Some(&c) = b.get(i) {
        if c == b'\\' || (QUOTE && c == b'"') || (CTRL && c < 0x20) {
            return i;
        }
        i += 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorts_stably() {
        let mut v = vec![(3, 'a'), (1, 'b'), (3, 'c'), (2, 'd'), (1, 'e')];
        insertion_sort_by(&mut v, |a, b| a.0.cmp(&b.0));
        assert_eq!(v, vec![(1, 'b'), (1, 'e'), (2, 'd'), (3, 'a'), (3, 'c')]);
        let mut e: Vec<u8> = vec![];
        insertion_sort_by(&mut e, |a, b| a.cmp(b));
    }

    #[test]
    fn eq_ci_matches_core() {
        let words: [&[u8]; 9] = [b"", b"a", b"A", b"@", b"`", b"user-agent", b"User-Agent", b"user-agenT", b"user_agent"];
        for a in words {
            for b in words {
                assert_eq!(eq_ci(a, b), a.eq_ignore_ascii_case(b), "{a:?} {b:?}");
            }
        }
        for x in 0..=255u8 {
            for y in 0..=255u8 {
                assert_eq!(eq_ci(&[x], &[y]), x.eq_ignore_ascii_case(&y));
                // Every lane of the word-at-a-time path, and the tail after it.
                for lane in [0, 3, 7, 8, 10] {
                    let (mut a, mut b) = ([b'q'; 11], [b'Q'; 11]);
                    (a[lane], b[lane]) = (x, y);
                    assert_eq!(eq_ci(&a, &b), x.eq_ignore_ascii_case(&y), "{x} {y} {lane}");
                }
            }
        }
    }

    #[test]
    fn find_escape_finds_the_first_special_byte() {
        fn naive(b: &[u8], i: usize, quote: bool, ctrl: bool) -> usize {
            (i..b.len()).find(|&k| b[k] == b'\\' || (quote && b[k] == b'"') || (ctrl && b[k] < 0x20)).unwrap_or(b.len())
        }
        let alphabet = [b'a', b'"', b'\\', 0, 0x1f, 0x20, 0x21, 0x7f, 0x80, 0x9f, 0xa0, 0xff, b'\n'];
        let mut x: u32 = 12345;
        for len in 0..100 {
            for _ in 0..40 {
                let v: Vec<u8> = (0..len)
                    .map(|_| {
                        x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                        // Mostly plain bytes, so that runs are long enough to reach memchr.
                        if (x >> 16) % 16 == 0 { alphabet[(x >> 20) as usize % alphabet.len()] } else { b'x' }
                    })
                    .collect();
                for i in [0, 1, 7, 9, 40].into_iter().filter(|&i| i <= len) {
                    assert_eq!(find_escape::<true, true>(&v, i), naive(&v, i, true, true), "{v:?} {i}");
                    assert_eq!(find_escape::<true, false>(&v, i), naive(&v, i, true, false), "{v:?} {i}");
                    assert_eq!(find_escape::<false, false>(&v, i), naive(&v, i, false, false), "{v:?} {i}");
                }
            }
        }
    }
}
