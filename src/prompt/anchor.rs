//! Task anchors: the code identifier a prompt is about.
//!
//! A coding task names what it asks for — the function or class to write, fix or test
//! (`has_close_elements`, `parseConfig`) — in a signature, in worked examples, in tests.
//! Rephrasing a task (other openers, synonyms, another format: a stub, a "should pass these
//! tests" request, a chatty question) changes most of its words but keeps that name, so a
//! task's clusters can key on it where a near-duplicate hash of the whole text does not
//! match. The anchor is the most prominent *compound* identifier of the text (snake_case
//! with an inner underscore, or camelCase, 6 to 64 characters): the one used most often,
//! with a bonus for being called or defined (`name(`); ties go to the first seen. Plain
//! words, `__dunder__` names and a few identifiers every codebase has are never anchors.
//! The hash is of the identifier folded to lowercase. Texts without one have no anchor.
//!
//! Allocation-free, one pass, at most [`MAX_CANDIDATES`] distinct candidates tracked (later
//! new ones are ignored). It does not parse code or know languages.

/// Distinct candidate identifiers tracked per text.
pub const MAX_CANDIDATES: usize = 16;

/// Identifiers too common in everyone's code to say what a task is about.
const COMMON: &[&[u8]] = &[
    b"user_id", b"api_key", b"file_path", b"file_name", b"to_string", b"is_empty", b"unwrap_or", b"created_at",
    b"updated_at", b"max_tokens", b"console_log", b"getelementbyid", b"addeventlistener", b"queryselector",
    b"setstate", b"usestate", b"useeffect", b"tostring", b"isinstance", b"print_function", b"read_csv",
];

#[inline]
fn ident_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_'
}

#[inline]
fn ident_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// True for snake_case with an underscore between alphanumerics, or camelCase (a lowercase
/// letter followed by an uppercase one), without leading or trailing underscores.
fn compound(id: &[u8]) -> bool {
    if id.len() < 6 || id.len() > 64 || id.first() == Some(&b'_') || id.last() == Some(&b'_') {
        return false;
    }
    id.windows(3).any(|w| w[1] == b'_' && w[0].is_ascii_alphanumeric() && w[2].is_ascii_alphanumeric())
        || id.windows(2).any(|w| w[0].is_ascii_lowercase() && w[1].is_ascii_uppercase())
}

fn folded_hash(id: &[u8]) -> u64 {
    let mut buf = [0u8; 64];
    let n = id.len().min(64);
    for (d, s) in buf.iter_mut().zip(id) {
        *d = s.to_ascii_lowercase();
    }
    xxhash_rust::xxh3::xxh3_64_with_seed(buf.get(..n).unwrap_or(&[]), 0xA4C4_0001)
}

fn common(id: &[u8]) -> bool {
    COMMON.iter().any(|c| crate::util::eq_ci(id, c))
}

const LOW7: u64 = 0x7F7F_7F7F_7F7F_7F7F;
const HIGH_BITS: u64 = 0x8080_8080_8080_8080;

/// The high bit of each byte of `x` in `lo..=hi` (ASCII; bytes >= 0x80 never): exact, no
/// carry crosses a byte.
#[inline(always)]
fn in_range(x: u64, lo: u8, hi: u8) -> u64 {
    let y = x & LOW7;
    let at_least_lo = y + (0x80 - lo as u64) * 0x0101_0101_0101_0101;
    let past_hi = y + (0x7F - hi as u64) * 0x0101_0101_0101_0101;
    at_least_lo & !past_hi & !x & HIGH_BITS
}

/// The first index `>= i` that marks a possible compound identifier: a `_`, or an upper-case
/// letter right after a lower-case one (camelCase). Eight bytes at a time: prose has neither,
/// and the anchor's cost was its byte-by-byte walk over every word.
#[inline]
fn next_mark(t: &[u8], mut i: usize) -> Option<usize> {
    while i < t.len() {
        // Zero-padded past the end: a zero byte is neither a letter nor `_`, so marks nothing.
        let x = super::normalize::load8(t, i);
        // The byte before each lane: byte i-1 shifted in below the first.
        let before = i.checked_sub(1).and_then(|k| t.get(k)).copied().unwrap_or(0) as u64;
        let prev = x << 8 | before;
        let u = x ^ 0x5F5F_5F5F_5F5F_5F5F; // lanes equal to `_` become zero
        let underscore = !(((u & LOW7) + LOW7) | u) & HIGH_BITS;
        let camel = in_range(prev, b'a', b'z') & in_range(x, b'A', b'Z');
        let m = underscore | camel;
        if m != 0 {
            let at = i + (m.trailing_zeros() / 8) as usize;
            return (at < t.len()).then_some(at);
        }
        i += 8;
    }
    None
}

/// The anchor of `text` (see the module docs), if it names a compound identifier.
///
/// An identifier is a maximal run of ASCII letters, digits and `_` that does not start with
/// a digit. Only runs holding a `_` or a lower-to-upper case change can be compound, so the
/// walk jumps from one such mark ([`next_mark`]) to the run around it; the runs it skips
/// would be dropped by [`compound`] anyway, so the result is that of checking every run in
/// order (the test `marks_find_what_a_full_walk_finds` compares the two).
pub fn anchor(text: &[u8]) -> Option<u64> {
    let mut cand = Candidates::default();
    let mut i = 0usize;
    while let Some(mark) = next_mark(text, i) {
        let mut start = mark;
        while start > i && text.get(start - 1).is_some_and(|&b| ident_byte(b)) {
            start -= 1;
        }
        let mut end = mark;
        while text.get(end).is_some_and(|&b| ident_byte(b)) {
            end += 1;
        }
        i = end.max(mark + 1);
        let Some(id) = text.get(start..end) else { continue };
        if !id.first().is_some_and(|&b| ident_start(b)) || !compound(id) || common(id) {
            continue;
        }
        cand.add(id, text.get(end) == Some(&b'('), start);
    }
    cand.best()
}

/// The identifiers seen so far, up to [`MAX_CANDIDATES`]: (folded hash, score, first
/// position). A call (`name(`) scores three, a mention one.
#[derive(Default)]
struct Candidates {
    seen: [(u64, u32, u32); MAX_CANDIDATES],
    n: usize,
}

impl Candidates {
    #[inline]
    fn add(&mut self, id: &[u8], called: bool, start: usize) {
        let h = folded_hash(id);
        let score = 1 + 2 * called as u32;
        let n = self.n;
        match self.seen.iter_mut().take(n).find(|c| c.0 == h) {
            Some(c) => c.1 += score,
            None => {
                if let Some(c) = self.seen.get_mut(n) {
                    *c = (h, score, start as u32);
                    self.n += 1;
                }
            }
        }
    }

    /// The highest score; the first seen among equals.
    fn best(&self) -> Option<u64> {
        self.seen
            .iter()
            .take(self.n)
            .max_by(|a, b| a.1.cmp(&b.1).then(b.2.cmp(&a.2)))
            .map(|c| c.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phrasings_of_one_task_share_the_anchor() {
        let a = anchor(b"Complete the function.\n```python\ndef count_vowels_with_sum(text: str, k: int):\n    \"\"\"Count the vowels...\n    >>> count_vowels_with_sum(\"level\", 3) == 2\n    \"\"\"\n```");
        let b = anchor(b"can you write `count_vowels_with_sum` in python? it should determine how many vowels... e.g. count_vowels_with_sum(\"banana\", 2) == 1");
        let c = anchor(b"Write a Python function to count the vowels in text. Your code should pass these tests:\n\nassert count_vowels_with_sum(\"abracadabra\", 4) == 3");
        assert!(a.is_some());
        assert_eq!(a, b);
        assert_eq!(a, c);
        assert_eq!(anchor(b"Implement countVowelsWithSum please"), anchor(b"COUNTVOWELSWITHSUM? no: countVowelsWithSum(x)"));
    }

    #[test]
    fn plain_text_and_common_names_have_none() {
        assert_eq!(anchor(b"Write an email to my landlord about the broken heating, keep it polite."), None);
        assert_eq!(anchor(b"def __init__(self, user_id, api_key): self.user_id = user_id"), None);
        assert_eq!(anchor(b"x_y ab_c _private_ trailing_"), None);
        assert_eq!(anchor(b""), None);
    }

    #[test]
    fn the_called_identifier_wins_over_a_mentioned_one() {
        let t = b"my helper_value is set, then parse_orders(rows) fails; helper_value stays";
        assert_eq!(anchor(t), Some(folded_hash(b"parse_orders")));
    }

    #[test]
    fn never_panics_on_odd_bytes() {
        let mut t = vec![0xffu8; 300];
        t.extend_from_slice("ünïcode_ÿ a_bcdefgh".as_bytes());
        t.extend(std::iter::repeat(b'a').take(200));
        t.push(b'_');
        let _ = anchor(&t);
        let many: String = (0..40).map(|i| format!("name_{i:03}x ")).collect();
        assert!(anchor(many.as_bytes()).is_some());
    }

    /// The anchor as first written: every identifier checked in one byte-by-byte walk.
    fn reference(text: &[u8]) -> Option<u64> {
        let mut cand = Candidates::default();
        let mut i = 0usize;
        while i < text.len() {
            let b = text[i];
            if !ident_start(b) || (i > 0 && ident_byte(text[i - 1])) {
                i += 1;
                continue;
            }
            let start = i;
            while i < text.len() && ident_byte(text[i]) {
                i += 1;
            }
            let id = &text[start..i];
            if !compound(id) || common(id) {
                continue;
            }
            cand.add(id, text.get(i) == Some(&b'('), start);
        }
        cand.best()
    }

    /// [`anchor`] jumps between marks; it must agree with the full walk on any text.
    #[test]
    fn marks_find_what_a_full_walk_finds() {
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        let alphabet = b"aZ_9 (xY.q_Bc\xc3\xa9\n";
        for len in [0usize, 1, 2, 7, 8, 9, 15, 16, 17, 63, 64, 65, 200, 1000, 4000] {
            for _ in 0..200 {
                let t: Vec<u8> = (0..len)
                    .map(|_| {
                        x ^= x << 13;
                        x ^= x >> 7;
                        x ^= x << 17;
                        alphabet[(x % alphabet.len() as u64) as usize]
                    })
                    .collect();
                assert_eq!(anchor(&t), reference(&t), "{:?}", String::from_utf8_lossy(&t));
            }
        }
        for t in [
            &b"Complete the function.\ndef count_vowels_with_sum(text: str, k: int):\n >>> count_vowels_with_sum(\"level\", 3)"[..],
            b"Implement countVowelsWithSum please; COUNTVOWELSWITHSUM? no: countVowelsWithSum(x)",
            b"9abc_defgh x9_abcdef _abc_defg abc_defg_ aaaaaaaBbbbbbbb a_b_c_d_e",
            b"my helper_value is set, then parse_orders(rows) fails; helper_value stays",
        ] {
            assert_eq!(anchor(t), reference(t));
        }
        let many: String = (0..40).map(|i| format!("name_{i:03}x fooBar{i} ")).collect();
        assert_eq!(anchor(many.as_bytes()), reference(many.as_bytes()));
    }
}
