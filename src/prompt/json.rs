//! A small pull lexer over JSON bytes: strings as raw spans, scalars, object keys and array
//! elements on demand, and an iterative skip of any value with a depth limit.
//!
//! It deliberately builds no tree and allocates nothing: callers walk the shape they care
//! about and skip the rest. It is lenient where leniency is cheap (skipped values are only
//! bracket-balanced, not validated; unknown escapes are kept) and never panics: every read
//! is bounds-checked and the end of input is reported as [`Stop::Eof`].

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;

/// Index of the first `a` in `s`. The runs between escapes in a JSON string are short (code,
/// quoted text), so the first 64 bytes are searched eight at a time inline, and only longer
/// runs pay for memchr's call and setup (natively; in Wasm, where memchr has no vector code
/// either, the same loop runs to the end and memchr's copy is left out).
///
/// Each word is tested with `(x - ONES) & !x & HIGHS`: its lowest flagged byte is exact (a
/// borrow only runs upwards, into bytes after the first match), which is all a search needs.
#[inline(always)]
pub(crate) fn find1(s: &[u8], a: u8) -> Option<usize> {
    let va = ONES * a as u64;
    let mut k = 0;
    while cfg!(target_arch = "wasm32") || k < 64 {
        let Some(Ok(w)) = s.get(k..k + 8).map(<[u8; 8]>::try_from) else { break };
        let x = u64::from_le_bytes(w) ^ va;
        let m = x.wrapping_sub(ONES) & !x & HIGHS;
        if m != 0 {
            return Some(k + (m.trailing_zeros() / 8) as usize);
        }
        k += 8;
    }
    let rest = s.get(k..)?;
    #[cfg(not(target_arch = "wasm32"))]
    let found = memchr::memchr(a, rest);
    #[cfg(target_arch = "wasm32")]
    let found = rest.iter().position(|&c| c == a);
    found.map(|p| k + p)
}

/// Why a walk stopped before the end of the document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stop {
    /// The input ended inside the document (a cut body, or invalid JSON if it was complete).
    Eof,
    /// Invalid JSON; the message names what was expected.
    Bad(&'static str),
    /// Containers nested deeper than [`MAX_DEPTH`] inside a skipped value.
    Deep,
}

/// Lexer result.
pub(crate) type R<T> = Result<T, Stop>;

/// Deepest container nesting accepted inside a skipped value.
pub(crate) const MAX_DEPTH: u32 = 128;

/// A byte range of the input.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Span {
    /// First byte.
    pub start: usize,
    /// One past the last byte.
    pub end: usize,
}

/// A string's raw content (between the quotes, escapes not decoded).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Str {
    /// Raw content.
    pub span: Span,
    /// True when the content holds a backslash escape.
    pub escaped: bool,
}

/// Pull lexer state: the input and a cursor.
pub(crate) struct Lexer<'a> {
    /// The input.
    pub b: &'a [u8],
    /// Cursor (byte offset).
    pub i: usize,
}

impl<'a> Lexer<'a> {
    /// A lexer at the start of `b`.
    pub fn new(b: &'a [u8]) -> Self {
        Lexer { b, i: 0 }
    }

    /// The bytes of `s`.
    #[inline]
    pub fn bytes(&self, s: Span) -> &'a [u8] {
        self.b.get(s.start..s.end).unwrap_or(&[])
    }

    #[inline]
    fn ws(&mut self) {
        while let Some(&c) = self.b.get(self.i) {
            if c == b' ' || c == b'\n' || c == b'\r' || c == b'\t' {
                self.i += 1;
            } else {
                return;
            }
        }
    }

    /// The next non-whitespace byte, not consumed.
    #[inline]
    pub fn peek(&mut self) -> R<u8> {
        self.ws();
        self.b.get(self.i).copied().ok_or(Stop::Eof)
    }

    /// Consumes byte `c` (after whitespace) or fails with `what`.
    #[inline(always)]
    pub fn expect(&mut self, c: u8, what: &'static str) -> R<()> {
        if self.peek()? == c {
            self.i += 1;
            Ok(())
        } else {
            Err(Stop::Bad(what))
        }
    }

    /// Reads a string; on a cut input returns what was read and `false`.
    #[inline]
    pub fn string_partial(&mut self) -> R<(Str, bool)> {
        self.expect(b'"', "expected a string")?;
        let start = self.i;
        // Keys and short values end within a few bytes: a plain loop beats memchr's setup.
        for (k, &c) in self.b.get(start..).unwrap_or(&[]).iter().take(24).enumerate() {
            if c == b'"' {
                self.i = start + k + 1;
                return Ok((Str { span: Span { start, end: start + k }, escaped: false }, true));
            }
            if c == b'\\' {
                break;
            }
        }
        Ok(self.string_long(start))
    }

    /// The rest of a string from `start`: the first quote that no backslash escapes (an even
    /// run of backslashes before it) ends it. Escaped quotes are rarer than escapes (every
    /// `\\n` in code), so only quotes are searched for.
    #[inline(never)]
    fn string_long(&mut self, start: usize) -> (Str, bool) {
        let b = self.b;
        let mut j = start;
        loop {
            let Some(k) = b.get(j..).and_then(|rest| find1(rest, b'"')).map(|k| j + k) else {
                // Cut inside the string: an escape that lost its escaped byte is dropped.
                self.i = b.len();
                let end = if backslashes_before(b, start, b.len()) % 2 == 1 { b.len() - 1 } else { b.len() };
                return (Str { span: Span { start, end: end.max(start) }, escaped: true }, false);
            };
            if backslashes_before(b, start, k) % 2 == 0 {
                self.i = k + 1;
                let escaped = b.get(start..k).and_then(|s| find1(s, b'\\')).is_some();
                return (Str { span: Span { start, end: k }, escaped }, true);
            }
            j = k + 1;
        }
    }

    /// Reads a complete string.
    #[inline]
    pub fn string(&mut self) -> R<Str> {
        match self.string_partial()? {
            (s, true) => Ok(s),
            _ => Err(Stop::Eof),
        }
    }

    /// Reads a number or literal (`true`, `false`, `null`) as a raw span.
    pub fn scalar(&mut self) -> R<Span> {
        let c = self.peek()?;
        if !(c == b'-' || c.is_ascii_digit() || c == b't' || c == b'f' || c == b'n') {
            return Err(Stop::Bad("expected a value"));
        }
        let start = self.i;
        while let Some(&c) = self.b.get(self.i) {
            if c.is_ascii_alphanumeric() || c == b'-' || c == b'+' || c == b'.' {
                self.i += 1;
            } else {
                return Ok(Span { start, end: self.i });
            }
        }
        Err(Stop::Eof)
    }

    /// Skips any value; returns its span. Strings inside containers are skipped whole, so
    /// brackets inside them do not count.
    pub fn skip(&mut self) -> R<Span> {
        let c = self.peek()?;
        let start = self.i;
        match c {
            b'"' => {
                self.string()?;
            }
            b'{' | b'[' => {
                let mut depth: u32 = 0;
                loop {
                    let rest = self.b.get(self.i..).unwrap_or(&[]);
                    // Jump to the next structural byte of interest.
                    let Some(k) = rest.iter().position(|&c| matches!(c, b'"' | b'{' | b'[' | b'}' | b']')) else {
                        self.i = self.b.len();
                        return Err(Stop::Eof);
                    };
                    self.i += k;
                    match rest.get(k) {
                        Some(b'"') => {
                            self.string()?;
                            continue;
                        }
                        Some(b'{' | b'[') => {
                            depth += 1;
                            if depth > MAX_DEPTH {
                                return Err(Stop::Deep);
                            }
                        }
                        _ => {
                            depth = depth.saturating_sub(1);
                            if depth == 0 {
                                self.i += 1;
                                break;
                            }
                        }
                    }
                    self.i += 1;
                }
            }
            _ => {
                self.scalar()?;
            }
        }
        Ok(Span { start, end: self.i })
    }

    /// Next key of an object whose `{` was consumed, or `None` at its `}`.
    #[inline]
    pub fn key(&mut self, first: &mut bool) -> R<Option<Str>> {
        let c = self.peek()?;
        if c == b'}' {
            self.i += 1;
            return Ok(None);
        }
        if !*first {
            if c != b',' {
                return Err(Stop::Bad("expected ',' or '}'"));
            }
            self.i += 1;
        }
        *first = false;
        let k = self.string()?;
        self.expect(b':', "expected ':'")?;
        Ok(Some(k))
    }

    /// Whether another element follows in an array whose `[` was consumed (false at `]`).
    pub fn elem(&mut self, first: &mut bool) -> R<bool> {
        let c = self.peek()?;
        if c == b']' {
            self.i += 1;
            return Ok(false);
        }
        if !*first {
            if c != b',' {
                return Err(Stop::Bad("expected ',' or ']'"));
            }
            self.i += 1;
        }
        *first = false;
        Ok(true)
    }
}

impl Lexer<'_> {
    /// Calls `each` on every object element of the array that follows (with its `{`
    /// consumed; `each` reads the keys); other elements, and a value that is not an array, are
    /// skipped.
    pub fn objects(&mut self, mut each: impl FnMut(&mut Self) -> R<()>) -> R<()> {
        if self.peek()? != b'[' {
            return self.skip().map(drop);
        }
        self.i += 1;
        let mut first = true;
        while self.elem(&mut first)? {
            if self.peek()? == b'{' {
                self.i += 1;
                each(self)?;
            } else {
                self.skip()?;
            }
        }
        Ok(())
    }
}

/// The number of backslashes right before `b[k]`, not looking before `start`.
fn backslashes_before(b: &[u8], start: usize, k: usize) -> usize {
    b.get(start..k).map_or(0, |s| s.iter().rev().take_while(|&&c| c == b'\\').count())
}

/// Appends the decoded content of a JSON string (`raw`, between the quotes, possibly cut) to
/// `out`, keeping `out` at most `cap` bytes. Returns false when the cap cut it.
///
/// Decodes every escape including `\uXXXX` and surrogate pairs (a lone surrogate becomes
/// U+FFFD); unknown escapes keep the escaped byte; a cut escape at the end is dropped. Bytes
/// are copied as they are: invalid UTF-8 is left for [`fix_utf8`].
pub(crate) fn unescape(raw: &[u8], out: &mut Vec<u8>, cap: usize) -> bool {
    let mut i = 0;
    while i < raw.len() {
        let rest = raw.get(i..).unwrap_or(&[]);
        let run = find1(rest, b'\\').unwrap_or(rest.len());
        let room = cap.saturating_sub(out.len());
        if run > room {
            out.extend_from_slice(rest.get(..room).unwrap_or(&[]));
            return false;
        }
        out.extend_from_slice(rest.get(..run).unwrap_or(&[]));
        i += run;
        let Some(&e) = raw.get(i + 1) else { return true };
        i += 2;
        let c = match e {
            b'n' => '\n',
            b't' => '\t',
            b'r' => '\r',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'u' => {
                let Some(hi) = hex4(raw, i) else {
                    if raw.len() < i + 4 {
                        return true; // cut inside the escape
                    }
                    continue; // invalid escape: dropped
                };
                i += 4;
                if (0xD800..0xDC00).contains(&hi) {
                    let tail = raw.get(i..).unwrap_or(&[]);
                    if tail.len() < 6 && tail.iter().enumerate().all(|(k, &c)| match k {
                        0 => c == b'\\',
                        1 => c == b'u',
                        _ => c.is_ascii_hexdigit(),
                    }) {
                        return true; // cut between the halves of a surrogate pair
                    }
                    let lo = (matches!(raw.get(i), Some(b'\\')) && matches!(raw.get(i + 1), Some(b'u'))).then(|| hex4(raw, i + 2)).flatten();
                    match lo {
                        Some(lo) if (0xDC00..0xE000).contains(&lo) => {
                            i += 6;
                            char::from_u32(0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)).unwrap_or('\u{FFFD}')
                        }
                        _ => '\u{FFFD}',
                    }
                } else {
                    char::from_u32(hi).unwrap_or('\u{FFFD}')
                }
            }
            // `\"`, `\\`, `\/` and unknown escapes keep the escaped byte.
            other => {
                if out.len() >= cap {
                    return false;
                }
                out.push(other);
                continue;
            }
        };
        let mut tmp = [0u8; 4];
        let enc = c.encode_utf8(&mut tmp).as_bytes();
        if out.len() + enc.len() > cap {
            return false;
        }
        out.extend_from_slice(enc);
    }
    true
}

fn hex4(raw: &[u8], i: usize) -> Option<u32> {
    let h = raw.get(i..i + 4)?;
    let mut v = 0u32;
    for &c in h {
        v = v * 16 + (c as char).to_digit(16)?;
    }
    Some(v)
}

/// Makes `buf` valid UTF-8 in place: invalid bytes become `?`, a cut sequence at the end is
/// dropped. Never allocates.
pub(crate) fn fix_utf8(buf: &mut Vec<u8>) {
    let mut from = 0;
    while let Some(rest) = buf.get(from..) {
        match std::str::from_utf8(rest) {
            Ok(_) => return,
            Err(e) => {
                let bad = from + e.valid_up_to();
                match e.error_len() {
                    Some(n) => {
                        if let Some(s) = buf.get_mut(bad..bad + n) {
                            s.fill(b'?');
                        }
                        from = bad + n;
                    }
                    None => {
                        buf.truncate(bad);
                        return;
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn un(raw: &str, cap: usize) -> (String, bool) {
        let mut out = Vec::new();
        let full = unescape(raw.as_bytes(), &mut out, cap);
        fix_utf8(&mut out);
        (String::from_utf8(out).unwrap(), full)
    }

    #[test]
    fn unescape_decodes_escapes_and_surrogates() {
        assert_eq!(un(r#"a\nb\"c\\d\/e\u00e9\u4e2d"#, 100).0, "a\nb\"c\\d/eé中");
        assert_eq!(un(r#"\ud83d\ude00!"#, 100).0, "😀!");
        assert_eq!(un(r#"\ud83d x"#, 100).0, "\u{FFFD} x");
        assert_eq!(un(r#"a\ud83d\ude"#, 100).0, "a");
        assert_eq!(un(r#"\ude00"#, 100).0, "\u{FFFD}");
        assert_eq!(un(r#"ab\u00"#, 100).0, "ab");
        assert_eq!(un(r#"ab\"#, 100).0, "ab");
        assert_eq!(un("héllo wörld", 4), ("h\u{e9}l".into(), false));
        assert_eq!(un(r#"\u4e2d\u4e2d"#, 4), ("中".into(), false));
    }

    #[test]
    fn fix_utf8_replaces_and_trims() {
        let mut b = vec![b'a', 0xff, b'b', 0xe4, 0xb8];
        fix_utf8(&mut b);
        assert_eq!(b, b"a?b");
    }

    #[test]
    fn find1_finds_the_first_byte() {
        let mut s = vec![b'a'; 200];
        assert_eq!(find1(&s, b'\\'), None);
        for at in [0usize, 1, 7, 8, 9, 63, 64, 65, 150, 199] {
            for needle in [b'"', b'\\'] {
                s.fill(b'a');
                s[at] = needle;
                // A byte one above the needle right after it (a borrow flags it too) and a
                // second match later: the first match is still the one found.
                s[199.min(at + 1)] = needle + 1;
                s[199.min(at + 3)] = needle;
                s[at] = needle;
                assert_eq!(find1(&s, needle), Some(at), "{at}");
                assert_eq!(find1(&s[..at], needle), None, "{at}");
            }
        }
        // Bytes next to the searched one (0x21, 0x23, 0xA2, 0x5B...) never match.
        for needle in [b'"', b'\\'] {
            let odd: Vec<u8> = (0..=255u8).filter(|&c| c != needle).collect();
            assert_eq!(find1(&odd, needle), None);
            let mut x: u32 = 99;
            for len in 0..90 {
                let v: Vec<u8> = (0..len)
                    .map(|_| {
                        x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                        [b'a', needle, needle + 1, needle - 1, needle ^ 0x80, 0, 0xff][(x >> 16) as usize % 7]
                    })
                    .collect();
                assert_eq!(find1(&v, needle), v.iter().position(|&c| c == needle), "{v:?}");
            }
        }
    }

    #[test]
    fn skip_and_strings() {
        let mut lx = Lexer::new(br#" {"a":[1,{"b":"]}"}],"c":true} x"#);
        let s = lx.skip().unwrap();
        assert_eq!(lx.bytes(s), br#"{"a":[1,{"b":"]}"}],"c":true}"#);
        let mut lx = Lexer::new(br#""abc\"d"#);
        let (s, done) = lx.string_partial().unwrap();
        assert!(!done);
        assert_eq!(lx.bytes(s.span), br#"abc\"d"#);
        let deep = "[".repeat(200);
        assert_eq!(Lexer::new(deep.as_bytes()).skip(), Err(Stop::Deep));
        assert_eq!(Lexer::new(b"[[1,2]").skip(), Err(Stop::Eof));
        assert_eq!(Lexer::new(b"}").skip(), Err(Stop::Bad("expected a value")));
    }
}
