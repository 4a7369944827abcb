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

/// The anchor of `text` (see the module docs), if it names a compound identifier.
pub fn anchor(text: &[u8]) -> Option<u64> {
    // (hash, score, first position)
    let mut cand = [(0u64, 0u32, 0u32); MAX_CANDIDATES];
    let mut n = 0usize;
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
        let called = text.get(i) == Some(&b'(');
        let h = folded_hash(id);
        let score = 1 + 2 * called as u32;
        match cand.iter_mut().take(n).find(|c| c.0 == h) {
            Some(c) => c.1 += score,
            None if n < MAX_CANDIDATES => {
                cand[n] = (h, score, start as u32);
                n += 1;
            }
            None => {}
        }
    }
    cand.iter()
        .take(n)
        .max_by(|a, b| a.1.cmp(&b.1).then(b.2.cmp(&a.2)))
        .map(|c| c.0)
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
}
