//! The one normalization behind prompt templates: it turns a prompt into a space-separated
//! token sequence in which what users fill into a template is masked and what the template
//! fixes is kept.
//!
//! Rules, applied left to right in one pass:
//! 1. Fenced code (```` ``` ```` to ```` ``` ````, or to the end) and inline code (`` `...` `` on
//!    one line) become `<code>`.
//! 2. Quoted literals become `<str>`: `"..."` (up to 2 KB), `'...'` (one line, opening after a
//!    non-letter, closing before one, so apostrophes stay apostrophes), `“...”`, `„...“`,
//!    `«...»`, `「...」`, `『...』`.
//! 3. A run of letters, digits and joiners (`- . / \ : @ # % + = ? & ~`) is a chunk; trailing
//!    joiners are dropped. A chunk with `://` or starting `www.` is `<url>`; `x@y.z` is
//!    `<email>`; one with `/` or `\` that starts with `/ . ~ \`, has two separators, or has a
//!    `.` after the last one is `<path>`. Any other chunk splits at joiners into words.
//! 4. A word of 8+ hex digits with a digit is `<hex>`; starting with a digit, `0` (a number);
//!    with `_`, a digit, a lower-to-upper case change (camelCase) or over 48 bytes, `<id>`;
//!    capitalized (`Alice`, `Москва`, not `NASA`) and not at the start of a sentence, line
//!    or list item, `<name>`; otherwise the word lowercased (ASCII, Latin-1 and Cyrillic
//!    letters). Consecutive `0`s collapse into one, and so do consecutive `<name>`s.
//! 5. Each CJK character (Han, kana, Hangul) is a token of its own.
//! 6. Everything else (punctuation, symbols, emoji, whitespace) separates tokens and is dropped.
//!
//! After 64 unmatched quotes or backticks, quotes count as punctuation: the work is linear
//! in the text even when it is built to defeat the quote search.
//!
//! It deliberately does not stem, remove stop words, or understand markdown beyond code:
//! it must be cheap, deterministic and identical on every host.
//!
//! Speed: prose is mostly plain words, so runs of them (an ASCII letter, lower-case letters,
//! one ending) are read eight bytes at a time and emitted in one loop, two-byte letters and
//! CJK ideographs are classified without decoding, and tokens are written into spare room
//! of the output buffer rather than appended byte by byte; everything else takes the general
//! path. `src/prompt/pins.rs` pins the output of both paths bit for bit.

use memchr::memchr;

/// Longest `"..."` or Unicode-quoted literal masked as `<str>`, in bytes.
const MAX_QUOTE: usize = 2048;
/// Longest inline code or `'...'` literal, in bytes.
const MAX_INLINE: usize = 256;
/// Words longer than this (bytes) are masked as `<id>`.
const MAX_WORD: usize = 48;

// Byte classes of ASCII.
const SPACE: u8 = 0;
const WORD: u8 = 1; // letters, digits, '_'
const JOIN: u8 = 2;
const PUNCT: u8 = 3;
const DQ: u8 = 4;
const SQ: u8 = 5;
const BT: u8 = 6;
const HIGH: u8 = 7;

static CLASS: [u8; 256] = {
    let mut t = [PUNCT; 256];
    let mut i = 0;
    while i < 256 {
        let c = i as u8;
        t[i] = if c >= 0x80 {
            HIGH
        } else if c.is_ascii_alphanumeric() || c == b'_' {
            WORD
        } else if matches!(c, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c) {
            SPACE
        } else if matches!(c, b'-' | b'.' | b'/' | b'\\' | b':' | b'@' | b'#' | b'%' | b'+' | b'=' | b'?' | b'&' | b'~') {
            JOIN
        } else if c == b'"' {
            DQ
        } else if c == b'\'' {
            SQ
        } else if c == b'`' {
            BT
        } else {
            PUNCT
        };
        i += 1;
    }
    t
};

// Per-byte flags accumulated over a word.
const LOW: u8 = 1;
const UP: u8 = 2;
const DIG: u8 = 4;
const UND: u8 = 8;
const NONHEX: u8 = 16;
const JN: u8 = 32;
const HI: u8 = 64;
/// Ends a chunk, or needs a closer look (non-ASCII).
const STOP: u8 = 128;

static FLAGS: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        let c = i as u8;
        t[i] = if c >= 0x80 {
            HI | NONHEX | STOP
        } else if c.is_ascii_lowercase() {
            LOW | if c > b'f' { NONHEX } else { 0 }
        } else if c.is_ascii_uppercase() {
            UP | if c > b'F' { NONHEX } else { 0 }
        } else if c.is_ascii_digit() {
            DIG
        } else if c == b'_' {
            UND | NONHEX
        } else if CLASS[i] == JOIN {
            JN
        } else {
            STOP
        };
        i += 1;
    }
    t
};

/// What a non-ASCII character is to the normalizer.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Uc {
    Letter,
    Cjk,
    Punct,
    /// An opening quote with the UTF-8 bytes of its closing quote.
    Open(&'static [u8]),
}

/// Decodes the UTF-8 character at `i` (invalid bytes decode as U+FFFD, length 1).
#[inline]
fn decode(t: &[u8], i: usize) -> (u32, usize) {
    let b0 = t.get(i).copied().unwrap_or(0) as u32;
    let cont = |k: usize| t.get(i + k).map(|&b| b as u32).filter(|b| b & 0xC0 == 0x80);
    let r = match b0 {
        0xC2..=0xDF => cont(1).map(|b1| (((b0 & 0x1F) << 6) | (b1 & 0x3F), 2)),
        0xE0..=0xEF => cont(1).zip(cont(2)).map(|(b1, b2)| (((b0 & 0x0F) << 12) | ((b1 & 0x3F) << 6) | (b2 & 0x3F), 3)),
        0xF0..=0xF4 => cont(1).zip(cont(2)).zip(cont(3)).map(|((b1, b2), b3)| {
            (((b0 & 0x07) << 18) | ((b1 & 0x3F) << 12) | ((b2 & 0x3F) << 6) | (b3 & 0x3F), 4)
        }),
        _ => None,
    };
    r.unwrap_or((0xFFFD, 1))
}

/// Whether a two-byte character at `i` is a letter to [`uclass`] (U+00C0..=U+07FF but `×`
/// and `÷`: Latin-1 letters, Latin Extended, Greek, Cyrillic, ...), without decoding it.
#[inline]
fn two_byte_letter(t: &[u8], i: usize) -> bool {
    match (t.get(i), t.get(i + 1)) {
        (Some(0xC4..=0xDF), Some(&c)) => c & 0xC0 == 0x80,
        (Some(0xC3), Some(&c)) => c & 0xC0 == 0x80 && c != 0x97 && c != 0xB7,
        _ => false,
    }
}

/// Whether the character at `i` is a CJK ideograph in U+4000..=U+9FFF (three bytes), a
/// token of its own to [`uclass`], without decoding it.
#[inline]
fn han(t: &[u8], i: usize) -> bool {
    match (t.get(i), t.get(i + 1), t.get(i + 2)) {
        (Some(0xE4..=0xE9), Some(&c1), Some(&c2)) => c1 & 0xC0 == 0x80 && c2 & 0xC0 == 0x80,
        _ => false,
    }
}

/// Length of the non-ASCII character at `i` when it is a letter (it continues a word), else 0.
#[inline]
fn letter_len(t: &[u8], i: usize) -> usize {
    if two_byte_letter(t, i) {
        return 2;
    }
    let (cp, len) = decode(t, i);
    if uclass(cp) == Uc::Letter {
        len
    } else {
        0
    }
}

fn uclass(cp: u32) -> Uc {
    match cp {
        0xAB => Uc::Open("»".as_bytes()),
        0x201C => Uc::Open("”".as_bytes()),
        0x201E => Uc::Open("“".as_bytes()),
        0x300C => Uc::Open("」".as_bytes()),
        0x300E => Uc::Open("』".as_bytes()),
        0x80..=0xBF | 0xD7 | 0xF7 => Uc::Punct,
        0x2000..=0x2BFF | 0x2E00..=0x2E7F | 0x3000..=0x303F => Uc::Punct,
        0x2E80..=0x2FDF | 0x3040..=0x9FFF | 0xAC00..=0xD7AF | 0xF900..=0xFAFF | 0x20000..=0x3FFFF => Uc::Cjk,
        0xD800..=0xF8FF | 0xFE30..=0xFE4F | 0xFF00..=0xFFFF | 0x1F000..=0x1FAFF => Uc::Punct,
        _ => Uc::Letter,
    }
}

/// Lowercases `w` in place (ASCII, Latin-1 Supplement, basic Cyrillic; the length never
/// changes).
#[inline]
fn lower_in_place(w: &mut [u8]) {
    let mut k = 0;
    while let Some(&b) = w.get(k) {
        if b < 0x80 {
            if let Some(c) = w.get_mut(k) {
                c.make_ascii_lowercase();
            }
            k += 1;
            continue;
        }
        let n = w.get(k + 1).copied().unwrap_or(0);
        let pair = match (b, n) {
            (0xC3, 0x80..=0x9E) if n != 0x97 => [0xC3, n + 0x20],
            (0xD0, 0x90..=0x9F) => [0xD0, n + 0x20],
            (0xD0, 0xA0..=0xAF) => [0xD1, n - 0x20],
            (0xD0, 0x80..=0x8F) => [0xD1, n + 0x10],
            _ => {
                k += 1;
                continue;
            }
        };
        if let Some(d) = w.get_mut(k..k + 2) {
            d.copy_from_slice(&pair);
        }
        k += 2;
    }
}

/// Whether the two bytes `b0 b1` starting a letter are a non-ASCII upper-case letter to
/// [`lower_in_place`] and [`capitalized`] (Latin-1 `À..Þ` but `×`, Cyrillic `Ѐ..Я`).
#[inline]
fn upper2(b0: u8, b1: u8) -> bool {
    (b0 == 0xC3 && (0x80..=0x9E).contains(&b1) && b1 != 0x97) || (b0 == 0xD0 && (0x80..=0xAF).contains(&b1))
}

/// Whether `w` starts with an upper-case letter and has a lower-case one (a capitalized
/// word; all-caps acronyms are not names).
fn capitalized(w: &[u8]) -> bool {
    let upper = match (w.first(), w.get(1)) {
        (Some(b'A'..=b'Z'), _) => true,
        (Some(0xC3), Some(&n)) => (0x80..=0x9E).contains(&n) && n != 0x97,
        (Some(0xD0), Some(&n)) => (0x80..=0xAF).contains(&n),
        _ => false,
    };
    upper
        && w.windows(2).any(|p| {
            p[0].is_ascii_lowercase()
                || (p[0] == 0xC3 && (0x9F..=0xBF).contains(&p[1]))
                || (p[0] == 0xD0 && (0xB0..=0xBF).contains(&p[1]))
                || (p[0] == 0xD1 && (0x80..=0x9F).contains(&p[1]))
        })
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Last {
    Other,
    Num,
    Name,
}

/// Receives each token of a normalized text as soon as it is complete (so hashing and
/// marker search need no second pass).
pub trait Sink {
    /// Token `index` (0-based) with its bytes.
    fn token(&mut self, index: usize, tok: &[u8]);
}

impl Sink for () {
    #[inline]
    fn token(&mut self, _: usize, _: &[u8]) {}
}

/// The normalized token stream being written.
struct Out<'o, S: Sink + ?Sized> {
    /// The output; only `..len` is written, the rest is room to write into without a
    /// capacity check per byte (and without a `memcpy` call per short token).
    buf: &'o mut Vec<u8>,
    len: usize,
    /// Token start offsets; only `..ns` are written, the rest is room (as in `buf`).
    starts: &'o mut Vec<u32>,
    ns: usize,
    /// A type parameter, not a vtable: the fingerprint's sink is inlined into the token loop
    /// (an indirect call per token cost ~10 % of a prompt scan in V8).
    sink: &'o mut S,
    last: Last,
    /// At the start of a sentence, line or list item (capitalized words there are not names).
    start: bool,
}

impl<S: Sink + ?Sized> Out<'_, S> {
    /// Makes room for `n` more bytes after `len`.
    #[inline(always)]
    fn room(&mut self, n: usize) {
        if self.len + n > self.buf.len() {
            self.grow(n);
        }
    }

    #[cold]
    fn grow(&mut self, n: usize) {
        let want = (self.buf.len() * 2).max(self.len + n + 64);
        self.buf.resize(want, 0);
    }

    /// Appends `t`.
    #[inline]
    fn put(&mut self, t: &[u8]) {
        self.room(t.len());
        if let Some(d) = self.buf.get_mut(self.len..self.len + t.len()) {
            d.copy_from_slice(t);
        }
        self.len += t.len();
    }

    /// Appends the first `n` (at most 8) bytes of `x` with one 8-byte store.
    #[inline(always)]
    fn put8(&mut self, x: u64, n: usize) {
        self.room(8);
        // A fixed-size store (`copy_from_slice` is a call at opt-level "z").
        if let Some(Ok(d)) = self.buf.get_mut(self.len..self.len + 8).map(<&mut [u8; 8]>::try_from) {
            *d = x.to_le_bytes();
        }
        self.len += n.min(8);
    }

    /// The bytes written from `from` on.
    #[inline(always)]
    fn written(&mut self, from: usize) -> &mut [u8] {
        self.buf.get_mut(from..self.len).unwrap_or(&mut [])
    }

    /// Hands the token being written (if any) to the sink.
    #[inline(always)]
    fn done(&mut self) {
        if let Some(k) = self.ns.checked_sub(1) {
            let s = self.starts.get(k).map_or(self.len, |&s| s as usize);
            self.sink.token(k, self.buf.get(s..self.len).unwrap_or(&[]));
        }
    }

    #[cold]
    fn grow_starts(&mut self) {
        let want = (self.starts.len() * 2).max(self.ns + 64);
        self.starts.resize(want, 0);
    }

    #[inline]
    fn begin(&mut self) {
        self.begin_inline();
    }

    /// [`Out::begin`] inlined, for the plain-word loop.
    #[inline(always)]
    fn begin_inline(&mut self) {
        if self.len > 0 {
            self.done();
            self.put8(b' ' as u64, 1);
        }
        // Written into room rather than pushed (`Vec::push` is a call at opt-level "z").
        if self.ns >= self.starts.len() {
            self.grow_starts();
        }
        if let Some(slot) = self.starts.get_mut(self.ns) {
            *slot = self.len as u32;
        }
        self.ns += 1;
        self.last = Last::Other;
        self.start = false;
    }

    #[inline]
    fn raw(&mut self, t: &[u8]) {
        self.begin();
        self.put(t);
    }

    /// A mask that absorbs the same mask right before it (`1,000` or `New York` is one).
    #[inline]
    fn collapsing(&mut self, kind: Last, mask: &[u8]) {
        if self.last != kind {
            self.raw(mask);
        }
        self.last = kind;
    }

    /// Emits one word (no joiners) given its accumulated [`FLAGS`], camelCase flag, and
    /// whether it may hold a non-ASCII upper-case letter (see [`upper2`]; lowercasing and the
    /// name test are skipped without one).
    #[inline]
    fn word_flags(&mut self, w: &[u8], acc: u8, camel: bool, hi_upper: bool) {
        let first_digit = w.first().is_some_and(u8::is_ascii_digit);
        if acc & DIG != 0 && acc & NONHEX == 0 && w.len() >= 8 {
            self.raw(b"<hex>");
        } else if first_digit {
            self.collapsing(Last::Num, b"0");
        } else if acc & (UND | DIG) != 0 || camel || w.len() > MAX_WORD {
            self.raw(b"<id>");
        } else if !self.start
            && if acc & HI == 0 {
                acc & LOW != 0 && w.first().is_some_and(u8::is_ascii_uppercase)
            } else {
                (hi_upper || acc & UP != 0) && capitalized(w)
            }
        {
            self.collapsing(Last::Name, b"<name>");
        } else {
            self.begin();
            let at = self.len;
            self.put(w);
            if hi_upper {
                lower_in_place(self.written(at));
            } else if acc & UP != 0 {
                self.written(at).make_ascii_lowercase();
            }
        }
    }

    fn word(&mut self, w: &[u8]) {
        let (mut acc, mut cam, mut prev) = (0u8, 0u8, 0u8);
        for &b in w {
            let f = FLAGS[b as usize];
            cam |= (prev << 1) & f;
            prev = if f & HI != 0 { 0 } else { f };
            acc |= f;
        }
        self.word_flags(w, acc & !STOP, cam & UP != 0, acc & HI != 0);
    }

    fn chunk(&mut self, s: &[u8]) {
        let (mut seps, mut last_sep, mut last_dot, mut at, mut url) = (0u32, None, None, None, false);
        for (k, &b) in s.iter().enumerate() {
            match b {
                b'/' | b'\\' => {
                    seps += 1;
                    last_sep = Some(k);
                }
                b'.' => last_dot = Some(k),
                b'@' if at.is_none() => at = Some(k),
                b':' => url |= s.get(k + 1..k + 3) == Some(b"//"),
                _ => {}
            }
        }
        let url = url || s.len() > 4 && s.get(..4).is_some_and(|p| crate::util::eq_ci(p, b"www."));
        let email = matches!((at, last_dot), (Some(a), Some(d)) if a > 0 && d > a + 1);
        let path = seps > 0
            && (s.first().is_some_and(|c| matches!(c, b'/' | b'.' | b'~' | b'\\'))
                || seps >= 2
                || matches!((last_dot, last_sep), (Some(d), Some(p)) if d > p));
        if url {
            self.raw(b"<url>");
        } else if email {
            self.raw(b"<email>");
        } else if path {
            self.raw(b"<path>");
        } else {
            for w in s.split(|&b| CLASS[b as usize] == JOIN) {
                if !w.is_empty() {
                    self.word(w);
                }
            }
        }
    }
}

/// Whether the byte before `i` ends a word (so a `'` at `i` can open a quote).
#[inline]
fn after_word(t: &[u8], i: usize) -> bool {
    i > 0 && t.get(i - 1).is_some_and(|&b| CLASS[b as usize] == WORD || b >= 0x80)
}

/// Start of the first `pat` in `hay` (memchr on its last byte, then a compare: no searcher
/// to build per call).
#[inline]
fn find(hay: &[u8], pat: &[u8]) -> Option<usize> {
    let (&last, head) = pat.split_last()?;
    let mut from = head.len();
    while let Some(p) = memchr(last, hay.get(from..)?) {
        let end = from + p;
        if hay.get(end - head.len()..end) == Some(head) {
            return Some(end - head.len());
        }
        from = end + 1;
    }
    None
}

/// End of a one-line `'...'` literal opening at `i` (the index after its closing quote).
fn squote_end(t: &[u8], i: usize, quote: &[u8]) -> Option<usize> {
    let from = i + quote.len();
    let win = t.get(from..t.len().min(from + MAX_INLINE))?;
    let line = win.get(..memchr(b'\n', win).unwrap_or(win.len()))?;
    let mut k = 0;
    while let Some(p) = find(line.get(k..)?, quote) {
        let close = k + p;
        let after = from + close + quote.len();
        if close > 0 && !t.get(after).is_some_and(|&b| CLASS[b as usize] == WORD || b >= 0x80) {
            return Some(after);
        }
        k = close + quote.len();
    }
    None
}

/// Unmatched quotes and backticks after which quoting is ignored (bounds the searching an
/// adversarial text can cause to `MAX_MISSES * MAX_QUOTE` bytes).
const MAX_MISSES: u32 = 64;

/// Normalizes `text` into `out` (cleared first) and the start offset of every token into
/// `starts`; returns the number of tokens.
pub fn normalize(text: &[u8], out: &mut Vec<u8>, starts: &mut Vec<u32>) -> usize {
    normalize_into(text, out, starts, &mut ())
}

/// [`normalize`], handing every token to `sink` as it is completed.
pub fn normalize_into<S: Sink>(text: &[u8], out: &mut Vec<u8>, starts: &mut Vec<u32>, sink: &mut S) -> usize {
    normalize_gen(text, out, starts, sink)
}

fn normalize_gen<S: Sink + ?Sized>(text: &[u8], out: &mut Vec<u8>, starts: &mut Vec<u32>, sink: &mut S) -> usize {
    if out.len() < text.len() + 64 {
        out.resize(text.len() + 64, 0);
    }
    // Room for a token per four bytes; more grows it.
    if starts.len() < text.len() / 4 + 16 {
        starts.resize(text.len() / 4 + 16, 0);
    }
    let mut o = Out { buf: out, len: 0, starts, ns: 0, sink, last: Last::Other, start: true };
    let t = text;
    let n = t.len();
    let mut i = 0;
    let mut misses = 0u32;
    while let Some(&c) = t.get(i) {
        // The common classes first, as plain branches (a jump table mispredicts more).
        let class = CLASS[c as usize];
        if class == WORD {
            i = chunk_at(&mut o, t, i);
            continue;
        }
        if c == b' ' {
            i += 1;
            continue;
        }
        match class {
            SPACE | PUNCT => {
                o.start |= matches!(c, b'\n' | b'!' | b';' | b'(' | b'[' | b'{' | b'*' | b'#' | b'>' | b'|');
                i += 1;
            }
            WORD => i = chunk_at(&mut o, t, i),
            JOIN => {
                let next_word = t.get(i + 1).is_some_and(|&b| CLASS[b as usize] == WORD || b >= 0x80);
                if next_word && matches!(c, b'/' | b'.' | b'~' | b'\\') {
                    i = chunk_at(&mut o, t, i);
                } else {
                    o.start |= matches!(c, b'.' | b'?' | b':');
                    i += 1;
                }
            }
            DQ | SQ | BT if misses >= MAX_MISSES => i += 1,
            DQ => match t.get(i + 1..n.min(i + 1 + MAX_QUOTE)).and_then(|w| memchr(b'"', w)) {
                Some(k) => {
                    o.raw(b"<str>");
                    i += k + 2;
                }
                None => {
                    misses += 1;
                    i += 1;
                }
            },
            SQ => match (!after_word(t, i)).then(|| squote_end(t, i, b"'")) {
                Some(Some(end)) => {
                    o.raw(b"<str>");
                    i = end;
                }
                r => {
                    misses += r.is_some() as u32;
                    i += 1;
                }
            },
            BT => {
                if t.get(i..i + 3) == Some(b"```") {
                    let body = t.get(i + 3..).unwrap_or(&[]);
                    o.raw(b"<code>");
                    i = find(body, b"```").map_or(n, |k| i + 3 + k + 3);
                } else {
                    let win = t.get(i + 1..n.min(i + 1 + MAX_INLINE)).unwrap_or(&[]);
                    let line = win.get(..memchr(b'\n', win).unwrap_or(win.len())).unwrap_or(&[]);
                    match memchr(b'`', line) {
                        Some(k) => {
                            o.raw(b"<code>");
                            i += k + 2;
                        }
                        None => {
                            misses += 1;
                            i += 1;
                        }
                    }
                }
            }
            _ if two_byte_letter(t, i) => i = chunk_at(&mut o, t, i),
            _ if han(t, i) => {
                o.begin();
                o.put8(load8(t, i), 3);
                i += 3;
            }
            _ => {
                let (cp, len) = decode(t, i);
                match uclass(cp) {
                    Uc::Letter => i = chunk_at(&mut o, t, i),
                    Uc::Cjk => {
                        o.raw(t.get(i..i + len).unwrap_or(&[]));
                        i += len;
                    }
                    Uc::Open(_) | Uc::Punct if misses >= MAX_MISSES => i += len,
                    Uc::Open(close) => {
                        let win = t.get(i + len..n.min(i + len + MAX_QUOTE)).unwrap_or(&[]);
                        match find(win, close) {
                            Some(k) => {
                                o.raw(b"<str>");
                                i += len + k + close.len();
                            }
                            None => {
                                misses += 1;
                                i += len;
                            }
                        }
                    }
                    Uc::Punct if cp == 0x2018 && !after_word(t, i) => match squote_end(t, i, "’".as_bytes()) {
                        Some(end) => {
                            o.raw(b"<str>");
                            i = end;
                        }
                        None => {
                            misses += 1;
                            i += len;
                        }
                    },
                    Uc::Punct => {
                        o.start |= matches!(cp, 0x2026 | 0x3002 | 0xFF01 | 0xFF08 | 0xFF1A | 0xFF1B | 0xFF1F);
                        i += len;
                    }
                }
            }
        }
    }
    o.done();
    o.buf.truncate(o.len);
    o.starts.truncate(o.ns);
    o.ns
}

/// The eight bytes at `p` as a little-endian word, zero-padded past the end of `t`.
#[inline(always)]
pub(super) fn load8(t: &[u8], p: usize) -> u64 {
    let mut b = [0u8; 8];
    match t.get(p..p + 8).map(<[u8; 8]>::try_from) {
        Some(Ok(s)) => b = s,
        _ => {
            let rest = t.get(p..).unwrap_or(&[]);
            if let Some(d) = b.get_mut(..rest.len()) {
                d.copy_from_slice(rest);
            }
        }
    }
    u64::from_le_bytes(b)
}

const HIGH_BITS: u64 = 0x8080_8080_8080_8080;

/// The high bit of each byte of `x` that is an ASCII lower-case letter (no carries cross
/// bytes: every lane stays below 0x100).
#[inline(always)]
fn lower_mask(x: u64) -> u64 {
    let y = x & !HIGH_BITS;
    let at_least_a = y + 0x1F1F_1F1F_1F1F_1F1F; // lane >= 0x80 iff y >= b'a'
    let past_z = y + 0x0505_0505_0505_0505; // lane >= 0x80 iff y > b'z'
    at_least_a & !past_z & !x & HIGH_BITS
}

/// Whether byte `b` ends a chunk without being part of it (space, punctuation, quotes): a
/// [`FLAGS`] lookup (a 128-bit mask shift is a library call in Wasm).
#[inline(always)]
fn ends_chunk(b: u8) -> bool {
    FLAGS[b as usize] & (STOP | HI) == STOP
}

/// The common case of prose: emits the run of plain words (see [`plain_word`]) at `i`, each
/// with the space after it, in one loop; returns where the run ended (`None` when the first
/// word is not plain).
fn plain_words<S: Sink + ?Sized>(o: &mut Out<'_, S>, t: &[u8], mut i: usize) -> Option<usize> {
    let mut any = false;
    loop {
        match plain_word(o, t, i) {
            Some(next) => i = next,
            None => return any.then_some(i),
        }
        any = true;
        if !t.get(i).is_some_and(u8::is_ascii_alphabetic) {
            return Some(i);
        }
    }
}

/// One plain word, eight bytes at a time: an ASCII letter and lower-case letters after it
/// (`the`, `Because`), ended by a space, punctuation, a quote or the text's end, optionally
/// after one joiner (`word.` `word:`). Emits it exactly as [`chunk_slow`] would and returns
/// where it ended; `None` for anything else.
#[inline(always)]
fn plain_word<S: Sink + ?Sized>(o: &mut Out<'_, S>, t: &[u8], i: usize) -> Option<usize> {
    let first = *t.get(i)?;
    if !first.is_ascii_alphabetic() {
        return None;
    }
    // Byte 0 is the letter; the run of lower-case letters after it ends at the first other byte.
    let head = load8(t, i);
    let mut j = i + ((!lower_mask(head) & HIGH_BITS & !0x80).trailing_zeros() / 8) as usize;
    if j == i + 8 {
        loop {
            let run = ((!lower_mask(load8(t, j)) & HIGH_BITS).trailing_zeros() / 8) as usize;
            j += run;
            if run < 8 || j - i > MAX_WORD {
                break;
            }
        }
        if j - i > MAX_WORD {
            return None;
        }
    }
    // What follows: an end (kept), or one joiner and then an end (dropped; `.?:` end a sentence).
    // A short word's next byte is in `head` already (zero past the end of `t`, which ends it
    // just as the end does).
    let mut next = j;
    let after = if j - i < 8 { Some((head >> (8 * (j - i))) as u8) } else { t.get(j).copied() };
    if let Some(b) = after {
        if !ends_chunk(b) {
            if CLASS[b as usize] != JOIN || t.get(j + 1).is_some_and(|&a| !ends_chunk(a)) {
                return None;
            }
            next = j + 1;
        }
    }
    let w = t.get(i..j)?;
    let upper = first.is_ascii_uppercase();
    if upper && w.len() > 1 && !o.start {
        o.collapsing(Last::Name, b"<name>");
    } else {
        o.begin_inline();
        if w.len() <= 8 {
            // `| 0x20` lowercases the letter in byte 0; the rest is lower case already.
            o.put8(head | 0x20, w.len());
        } else {
            let at = o.len;
            o.put(w);
            if let Some(b) = o.written(at).first_mut() {
                b.make_ascii_lowercase();
            }
        }
    }
    if next > j && t.get(j).is_some_and(|b| matches!(b, b'.' | b'?' | b':')) {
        o.start = true;
    }
    if matches!(t.get(next), Some(b' ')) {
        next += 1;
    }
    Some(next)
}

/// Scans the chunk starting at `i`, emits it, and returns where it ended.
#[inline]
fn chunk_at<S: Sink + ?Sized>(o: &mut Out<'_, S>, t: &[u8], i: usize) -> usize {
    if let Some(j) = plain_words(o, t, i) {
        return j;
    }
    chunk_slow(o, t, i)
}

/// [`chunk_at`] for any chunk.
fn chunk_slow<S: Sink + ?Sized>(o: &mut Out<'_, S>, t: &[u8], i: usize) -> usize {
    // `cam` collects UP bits that follow a LOW byte (LOW << 1 == UP).
    let (mut j, mut acc, mut cam, mut prev, mut hi_upper) = (i, 0u8, 0u8, 0u8, false);
    while let Some(&b) = t.get(j) {
        let f = FLAGS[b as usize];
        if f & STOP != 0 {
            if f & HI == 0 {
                break;
            }
            let len = letter_len(t, j);
            if len == 0 {
                break;
            }
            hi_upper |= upper2(b, t.get(j + 1).copied().unwrap_or(0));
            acc |= f;
            prev = 0;
            j += len;
            continue;
        }
        cam |= (prev << 1) & f;
        prev = f;
        acc |= f;
        j += 1;
    }
    let camel = cam & UP != 0;
    let mut e = j;
    while e > i && t.get(e - 1).is_some_and(|&b| CLASS[b as usize] == JOIN) {
        e -= 1;
    }
    let w = t.get(i..e).unwrap_or(&[]);
    if !w.is_empty() {
        if acc & JN == 0 {
            o.word_flags(w, acc, camel, hi_upper);
        } else {
            o.chunk(w);
        }
    }
    if e < j && t.get(e..j).is_some_and(|tail| tail.iter().any(|b| matches!(b, b'.' | b'?' | b':'))) {
        o.start = true;
    }
    if matches!(t.get(j), Some(b' ')) {
        j += 1; // the usual single space: saves a trip through the main loop
    }
    j.max(i + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(s: &str) -> String {
        let (mut out, mut starts) = (Vec::new(), Vec::new());
        let n = normalize(s.as_bytes(), &mut out, &mut starts);
        let text = String::from_utf8(out).unwrap();
        assert_eq!(n, text.split(' ').filter(|w| !w.is_empty()).count(), "{text}");
        for (k, &st) in starts.iter().enumerate() {
            assert!(k == 0 || text.as_bytes()[st as usize - 1] == b' ');
        }
        text
    }

    #[test]
    fn masks_fill_ins() {
        assert_eq!(norm("Fix   the BUG in parseConfig() at line 42!"), "fix the bug in <id> at line 0");
        assert_eq!(norm("call user_id with 3.14 or 1,000,000 and 2 3"), "call <id> with 0 or 0 and 0");
        assert_eq!(norm(r#"Translate "Hello there" and 'bonjour' but don't stop"#), "translate <str> and <str> but don t stop");
        assert_eq!(norm("See https://ex.com/a?b=1, www.x.org, bob@mail.example.com."), "see <url> <url> <email>");
        assert_eq!(norm("Open /etc/hosts and src/main.rs, not and/or"), "open <path> and <path> not and or");
        assert_eq!(norm("commit 3f2a9c1d0e and 9abc and deadbeef"), "commit <hex> and 0 and deadbeef");
        assert_eq!(norm("Run `cargo test` then:\n```rust\nfn main() {}\n```\nDone"), "run <code> then <code> done");
        assert_eq!(norm("«Привет» и “hi”. Пошагово, ПОЖАЛУЙСТА"), "<str> и <str> пошагово пожалуйста");
        assert_eq!(norm("Write to Alice Johnson in New York. Thanks, Bob"), "write to <name> in <name> thanks <name>");
        assert_eq!(norm("- Item one\n- Item two: Next (See above) Иван Петров"), "item one item two next see above <name>");
        assert_eq!(norm("Rúbrica ÁRBOL ñ ¿qué?"), "rúbrica árbol ñ qué");
        assert_eq!(norm("请逐步思考。Answer"), "请 逐 步 思 考 answer");
        assert_eq!(norm("step-by-step"), "step by step");
        assert_eq!(norm("unclosed ```code to the end"), "unclosed <code>");
    }

    #[test]
    fn unmatched_quotes_stop_being_searched() {
        let (mut out, mut starts) = (Vec::new(), Vec::new());
        let text = "« a ".repeat(100) + "»";
        assert_eq!(normalize(text.as_bytes(), &mut out, &mut starts), 1, "a close within 2 KB pairs");
        // Openers farther than 2 KB from any close miss; after 64 misses quotes are punctuation.
        let text = "« a ".repeat(1000) + "»";
        assert_eq!(normalize(text.as_bytes(), &mut out, &mut starts), 1000);
        assert!(!out.windows(5).any(|w| w == b"<str>"));
        let text = " 'a'b".repeat(2000);
        assert_eq!(normalize(text.as_bytes(), &mut out, &mut starts), 4000);
    }

    /// The word-at-a-time helpers agree with the byte tables for every byte in every lane.
    #[test]
    fn word_helpers_match_the_byte_tables() {
        for c in 0..=255u8 {
            assert_eq!(ends_chunk(c), FLAGS[c as usize] & (STOP | HI) == STOP, "{c}");
            for lane in 0..8 {
                let fill = if c == b'q' { b'#' } else { b'q' };
                let mut b = [fill; 8];
                b[lane] = c;
                let m = lower_mask(u64::from_le_bytes(b));
                for (k, &x) in b.iter().enumerate() {
                    assert_eq!(m >> (8 * k + 7) & 1 == 1, x.is_ascii_lowercase(), "{c} in lane {lane}");
                }
            }
        }
        assert_eq!(load8(b"abc", 0), u64::from_le_bytes(*b"abc\0\0\0\0\0"));
        assert_eq!(load8(b"abc", 5), 0);
    }

    #[test]
    fn never_panics_on_odd_bytes() {
        for s in [&b"\xff\xfe\"'`"[..], b"\xe4\xb8", b"'", b"```", b"a'", b"\xe2\x80\x9c", b"/", b"x@", b"\xf0\x9f\x98"] {
            let (mut out, mut starts) = (Vec::new(), Vec::new());
            normalize(s, &mut out, &mut starts);
        }
    }
}
