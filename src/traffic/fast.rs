//! The fast path of [`super::LineDecoder`]: a hand-written reader for the record shape tools
//! write (the known fields, plain strings, one escaped `body`), decoding the body into a
//! reused buffer in one pass.
//!
//! It accepts a strict subset of what [`super::parse_line`] (serde) accepts and returns the
//! same [`Record`] for it. Anything else (unknown or duplicate fields, escapes outside `body`,
//! numbers with a fraction or exponent, labels that are not plain strings, lone surrogates,
//! invalid JSON) returns `None`, and the caller parses the line with serde: same value, same
//! error message. It never panics.

use std::borrow::Cow;

use super::{PeerRecord, Record};

/// Index of the first `"`, `\` or control character (< 0x20) in `b` at or after `i`, or `b.len()`.
#[inline]
fn special(b: &[u8], i: usize) -> usize {
    crate::util::find_escape::<true, true>(b, i)
}

struct Reader<'s> {
    s: &'s str,
    i: usize,
}

impl<'s> Reader<'s> {
    #[inline]
    fn peek(&mut self) -> Option<u8> {
        while let Some(&c) = self.s.as_bytes().get(self.i) {
            if c == b' ' || c == b'\n' || c == b'\r' || c == b'\t' {
                self.i += 1;
            } else {
                return Some(c);
            }
        }
        None
    }

    #[inline]
    fn eat(&mut self, c: u8) -> Option<()> {
        (self.peek()? == c).then(|| self.i += 1)
    }

    /// `null` (true) or not (false, nothing consumed).
    fn null(&mut self) -> Option<bool> {
        if self.peek()? != b'n' {
            return Some(false);
        }
        let end = self.i + 4;
        (self.s.as_bytes().get(self.i..end)? == b"null").then(|| self.i = end).map(|_| true)
    }

    /// A string without escapes.
    #[inline]
    fn plain(&mut self) -> Option<&'s str> {
        self.eat(b'"')?;
        let start = self.i;
        let end = special(self.s.as_bytes(), start);
        (self.s.as_bytes().get(end) == Some(&b'"')).then_some(())?;
        self.i = end + 1;
        self.s.get(start..end)
    }

    fn plain_or_null(&mut self) -> Option<Option<&'s str>> {
        if self.null()? {
            return Some(None);
        }
        self.plain().map(Some)
    }

    /// A whole number without sign, fraction or exponent that fits `u64`.
    fn number(&mut self) -> Option<u64> {
        let b = self.s.as_bytes();
        let first = self.peek()?;
        if !first.is_ascii_digit() {
            return None;
        }
        let mut n: u64 = 0;
        let start = self.i;
        while let Some(&c) = b.get(self.i).filter(|c| c.is_ascii_digit()) {
            n = n.checked_mul(10)?.checked_add((c - b'0') as u64)?;
            self.i += 1;
        }
        if first == b'0' && self.i - start > 1 {
            return None;
        }
        match b.get(self.i) {
            Some(b'.' | b'e' | b'E') => None,
            _ => Some(n),
        }
    }

    /// A string, escapes decoded into `buf` when it has any (then `None` is returned as the
    /// borrowed text and the caller reads `buf`).
    fn text(&mut self, buf: &mut String) -> Option<Option<&'s str>> {
        self.eat(b'"')?;
        let b = self.s.as_bytes();
        let start = self.i;
        let mut run = start;
        let mut escaped = false;
        loop {
            let k = special(b, run);
            match b.get(k)? {
                b'"' => {
                    self.i = k + 1;
                    if !escaped {
                        return Some(Some(self.s.get(start..k)?));
                    }
                    buf.push_str(self.s.get(run..k)?);
                    return Some(None);
                }
                b'\\' => {
                    if !escaped {
                        buf.clear();
                        escaped = true;
                    }
                    buf.push_str(self.s.get(run..k)?);
                    run = k;
                    // Escapes come in a row in JSON inside JSON (`\\\"`): no search between them.
                    while b.get(run) == Some(&b'\\') {
                        run = escape(b, run, buf)?;
                    }
                }
                _ => return None, // a control character
            }
        }
    }
}

/// Decodes the escape at `b[k]` (a backslash) into `buf`; the index after it, or `None` for an
/// escape serde rejects or that this reader leaves to serde (a lone surrogate).
#[inline]
fn escape(b: &[u8], k: usize, buf: &mut String) -> Option<usize> {
    let e = *b.get(k + 1)?;
    match ESCAPES.get(e as usize) {
        Some(&c) if c != 0 => {
            buf.push(c as char);
            Some(k + 2)
        }
        _ if e == b'u' => {
            let hi = hex4(b, k + 2)?;
            let c = match hi {
                0xD800..=0xDBFF => {
                    (b.get(k + 6..k + 8)? == b"\\u").then_some(())?;
                    let lo = hex4(b, k + 8)?;
                    (0xDC00..=0xDFFF).contains(&lo).then_some(())?;
                    buf.push(char::from_u32(0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00))?);
                    return Some(k + 12);
                }
                _ => char::from_u32(hi)?,
            };
            buf.push(c);
            Some(k + 6)
        }
        _ => None,
    }
}

/// The byte each one-character escape stands for (`\n` -> newline, ...); 0: not one.
/// A table lookup instead of a jump table: escapes come every few bytes in a body.
const ESCAPES: [u8; 128] = {
    let mut t = [0u8; 128];
    t[b'"' as usize] = b'"';
    t[b'\\' as usize] = b'\\';
    t[b'/' as usize] = b'/';
    t[b'b' as usize] = 8;
    t[b'f' as usize] = 12;
    t[b'n' as usize] = b'\n';
    t[b'r' as usize] = b'\r';
    t[b't' as usize] = b'\t';
    t
};

fn hex4(b: &[u8], i: usize) -> Option<u32> {
    let mut v = 0;
    for &c in b.get(i..i + 4)? {
        v = v * 16 + (c as char).to_digit(16)?;
    }
    Some(v)
}

/// Calls `f` for each key of an object (its value follows); false from `f` or any syntax
/// error ends with `None`.
fn object<'s>(r: &mut Reader<'s>, mut f: impl FnMut(&mut Reader<'s>, &'s str) -> Option<()>) -> Option<()> {
    r.eat(b'{')?;
    if r.peek()? == b'}' {
        r.i += 1;
        return Some(());
    }
    loop {
        let key = r.plain()?;
        r.eat(b':')?;
        f(r, key)?;
        match r.peek()? {
            b',' => r.i += 1,
            b'}' => {
                r.i += 1;
                return Some(());
            }
            _ => return None,
        }
    }
}

/// Sets `slot` once; a second value (a duplicate field) is `None`.
fn once<T>(slot: &mut Option<T>, v: T) -> Option<()> {
    match slot {
        Some(_) => None,
        None => {
            *slot = Some(v);
            Some(())
        }
    }
}

fn headers<'s>(r: &mut Reader<'s>) -> Option<Vec<(Cow<'s, str>, Cow<'s, str>)>> {
    let mut out = Vec::with_capacity(16);
    r.eat(b'[')?;
    if r.peek()? == b']' {
        r.i += 1;
        return Some(out);
    }
    loop {
        r.eat(b'[')?;
        let name = r.plain()?;
        r.eat(b',')?;
        let value = r.plain()?;
        r.eat(b']')?;
        out.push((Cow::Borrowed(name), Cow::Borrowed(value)));
        match r.peek()? {
            b',' => r.i += 1,
            b']' => {
                r.i += 1;
                return Some(out);
            }
            _ => return None,
        }
    }
}

fn peer<'s>(r: &mut Reader<'s>) -> Option<PeerRecord<'s>> {
    let (mut ip, mut ja4, mut ja3, mut asn, mut country) = (None, None, None, None, None);
    object(r, |r, key| match key {
        "ip" => once(&mut ip, r.plain_or_null()?),
        "ja4" => once(&mut ja4, r.plain_or_null()?),
        "ja3" => once(&mut ja3, r.plain_or_null()?),
        "country" => once(&mut country, r.plain_or_null()?),
        "asn" => {
            let v = if r.null()? { None } else { Some(u32::try_from(r.number()?).ok()?) };
            once(&mut asn, v)
        }
        _ => None,
    })?;
    Some(PeerRecord {
        ip: ip.flatten().map(Cow::Borrowed),
        ja4: ja4.flatten().map(Cow::Borrowed),
        ja3: ja3.flatten().map(Cow::Borrowed),
        asn: asn.flatten(),
        country: country.flatten().map(Cow::Borrowed),
    })
}

/// Reads `line` as a record, or `None` when it is not of the shape this reader handles. An
/// escaped body is decoded into `buf`.
pub(crate) fn record<'s>(line: &'s str, buf: &'s mut String) -> Option<Record<'s>> {
    let r = &mut Reader { s: line, i: 0 };
    let (mut ts, mut method, mut path, mut version, mut hdrs) = (None, None, None, None, None);
    let (mut body, mut b64, mut pr, mut label) = (None, None, None, None);
    let mut in_buf = false;
    object(r, |r, key| match key {
        "ts_ms" => once(&mut ts, r.number()?),
        "method" => once(&mut method, r.plain()?),
        "path" => once(&mut path, r.plain()?),
        "version" => once(&mut version, r.plain_or_null()?),
        "headers" => once(&mut hdrs, headers(r)?),
        "body" => {
            let v = if r.null()? {
                None
            } else {
                match r.text(buf)? {
                    Some(s) => Some(s),
                    None => {
                        in_buf = true;
                        Some("")
                    }
                }
            };
            once(&mut body, v)
        }
        "body_b64" => once(&mut b64, r.plain_or_null()?),
        "peer" => once(&mut pr, if r.null()? { None } else { Some(peer(r)?) }),
        "label" => once(&mut label, r.plain_or_null()?),
        _ => None,
    })?;
    if r.peek().is_some() {
        return None; // trailing characters
    }
    let buf: &'s String = buf;
    let body = body.flatten().map(|s| Cow::Borrowed(if in_buf { buf.as_str() } else { s }));
    Some(Record {
        ts_ms: ts?,
        method: Cow::Borrowed(method?),
        path: Cow::Borrowed(path?),
        version: version.flatten().map(Cow::Borrowed),
        headers: hdrs.unwrap_or_default(),
        body,
        body_b64: b64.flatten().map(Cow::Borrowed),
        peer: pr.flatten(),
        label: label.flatten().map(|l| serde_json::Value::String(l.to_owned())),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn special_finds_the_first_quote_backslash_or_control() {
        let s = b"abcdefghijklmnop\"qrs";
        assert_eq!(special(s, 0), 16);
        assert_eq!(special(b"ab\\cdefghij\"", 0), 2);
        assert_eq!(special(b"abcdefgh\x01", 0), 8);
        assert_eq!(special(b"\x7f\x80\x9f\xa0\xff abc", 0), 9);
        assert_eq!(special(b"a\"", 1), 1);
        // Every position, every special byte, with and without borrows below it.
        for pos in 0..20 {
            for &c in &[b'"', b'\\', 0u8, 0x1f] {
                let mut v = vec![b'x'; 20];
                v[pos] = c;
                assert_eq!(special(&v, 0), pos);
                v.iter_mut().skip(pos + 1).for_each(|b| *b = 0);
                assert_eq!(special(&v, 0), pos);
            }
        }
        assert_eq!(special(b"plain text", 0), 10);
    }

    /// Both parsers agree: the same record and body, or the same error. Returns whether the
    /// fast reader handled the line itself.
    fn agree(line: &str) -> bool {
        let mut buf = String::new();
        let fast = record(line, &mut buf).is_some();
        let mut dec = crate::traffic::LineDecoder::new();
        if let Some(d) = crate::traffic::decoders_disagree(&mut dec, line) {
            panic!("{d}: {line}");
        }
        fast
    }

    const SEEDS: &[&str] = &[
        r#"{"ts_ms":1745280000000,"method":"POST","path":"/v1/messages","headers":[["host","a"],["user-agent","node"]],"peer":{"ip":"10.0.0.1","asn":64500},"body":"{\"model\": \"x\", \"messages\": [{\"role\": \"user\", \"content\": \"a\\nb \\\"q\\\" \\u00e9\\ud83d\\ude00\"}]}","label":"legit"}"#,
        r#" { "ts_ms" : 5 , "method" : "GET" , "path" : "/" , "version" : "HTTP/2" , "headers" : [ ] , "peer" : { "ja4" : "t13d" , "ja3" : null , "country" : "US" } , "label" : null } "#,
        r#"{"ts_ms":0,"method":"POST","path":"/v1/messages","body":"plain body, no escapes","peer":null,"version":null}"#,
        r#"{"ts_ms":1,"method":"POST","path":"/p","body_b64":"aGk=","headers":[["A","b"]]}"#,
        r#"{"ts_ms":2,"method":"POST","path":"/p","body":"\u00e9\t\/\b\f\r\\ \u2028 \ud800\udc00 \u0000"}"#,
        "{\"ts_ms\":3,\"method\":\"GET\",\"path\":\"/caf\u{e9}\",\"headers\":[[\"x\",\"\u{4e2d}\u{6587}\"]],\"body\":\"\u{1F600}\\n\"}",
    ];

    #[test]
    fn agrees_with_serde_on_records_and_errors() {
        for line in SEEDS {
            assert!(agree(line), "fast reader should take {line}");
        }
        for line in [
            r#"{"ts_ms":1,"method":"GET","path":"/","extra":[1]}"#,
            r#"{"ts_ms":1,"method":"GET","path":"/","ts_ms":2}"#,
            r#"{"ts_ms":1.5,"method":"GET","path":"/"}"#,
            r#"{"ts_ms":1e3,"method":"GET","path":"/"}"#,
            r#"{"ts_ms":01,"method":"GET","path":"/"}"#,
            r#"{"ts_ms":-1,"method":"GET","path":"/"}"#,
            r#"{"ts_ms":18446744073709551616,"method":"GET","path":"/"}"#,
            r#"{"ts_ms":1,"method":"GET"}"#,
            r#"{"ts_ms":1,"method":"GET","path":"/","body":"\ud800"}"#,
            r#"{"ts_ms":1,"method":"GET","path":"/","body":"\udc00x"}"#,
            r#"{"ts_ms":1,"method":"GET","path":"/","body":"\ud800\u0041"}"#,
            r#"{"ts_ms":1,"method":"GET","path":"/","body":"\x"}"#,
            "{\"ts_ms\":1,\"method\":\"GET\",\"path\":\"/\",\"body\":\"a\u{1}b\"}",
            r#"{"ts_ms":1,"method":"GET","path":"/","body":"a\u00"}"#,
            r#"{"ts_ms":1,"method":"GET","path":"/","body":17}"#,
            r#"{"ts_ms":1,"method":"GET","path":"/","label":{"a":[1,2]}}"#,
            r#"{"ts_ms":1,"method":"GET","path":"/","label":"\u0041"}"#,
            r#"{"ts_ms":1,"method":"GET","path":"/","peer":{"asn":4294967296}}"#,
            r#"{"ts_ms":1,"method":"GET","path":"/","peer":{"asn":1,"asn":2}}"#,
            r#"{"ts_ms":1,"method":"GET","path":"/","headers":[["a"]]}"#,
            r#"{"ts_ms":1,"method":"GET","path":"/","headers":null}"#,
            r#"{"ts_ms":1,"method":"G\u0045T","path":"/"}"#,
            r#"{"ts_ms":1,"method":"GET","path":"/"} x"#,
            r#"{"ts_ms":1,"method":"GET","path":"/",}"#,
            r#"{"ts_ms":1,"method":"","path":"/"}"#,
            r#"{"ts_ms":1,"method":"GET","path":"/","body":"x","body_b64":"eA=="}"#,
            r#"{"ts_ms":1,"method":"GET","path":"/","peer":{"ip":"1.2.3"}}"#,
            r#"{"ts_ms":1,"method":"GET","path":"/","version":"SPDY/3"}"#,
            "",
            "{",
            "[]",
            "nul",
        ] {
            agree(line);
        }
    }

    /// Random edits of the seed records (JSON punctuation, escapes, digits, letters, control
    /// and non-ASCII characters): every result parses the same way with both parsers.
    #[test]
    fn agrees_with_serde_on_mutated_records() {
        const PIECES: &[&str] = &[
            "\"", "\\", "\\u", "\\ud83d", "\\ude00", "\\n", "\\\"", ",", ":", "{", "}", "[", "]", " ", "0", "1", "9", "-", ".",
            "e", "null", "a", "\u{1}", "\u{e9}", "\u{1F600}", "\"body\":", "\"label\":", "\"peer\":{", "\"asn\":", "\"ts_ms\":",
        ];
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = move |n: usize| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x % n as u64) as usize
        };
        let (mut fast, mut total) = (0, 0);
        for round in 0..20_000 {
            let mut s: String = SEEDS[round % SEEDS.len()].to_string();
            for _ in 0..1 + next(3) {
                let mut at = next(s.len() + 1);
                while !s.is_char_boundary(at) {
                    at -= 1;
                }
                let mut end = (at + next(4)).min(s.len());
                while !s.is_char_boundary(end) {
                    end -= 1;
                }
                let piece = if next(3) == 0 { "" } else { PIECES[next(PIECES.len())] };
                s.replace_range(at..end, piece);
            }
            fast += agree(&s) as u32;
            total += 1;
        }
        // Both paths are exercised.
        assert!(fast > total / 10 && fast < total, "fast path took {fast} of {total}");
    }
}
