//! Small shared helpers that keep the Wasm modules small.
//!
//! The standard library's stable and unstable sorts are fast but each instantiation adds
//! kilobytes of code; the lists sorted per request (cookies, reasons, header names) hold a
//! few dozen items at most, where an insertion sort is as fast and tiny. Not for large inputs.

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
}
