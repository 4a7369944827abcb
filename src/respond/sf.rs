//! A minimal RFC 9651 (HTTP Structured Field Values) serializer for one dictionary: the bare
//! items distill-guard's structured verdict header uses (integers, tokens, strings, inner
//! lists of tokens), written into a caller's buffer without allocating per member.
//!
//! Values that cannot be written as asked are still written validly, never dropped: a token
//! that is not a valid `sf-token` becomes an `sf-string`, and a string character outside
//! printable ASCII (which RFC 9651 strings cannot carry) becomes `?`. It does not parse
//! structured fields (the tests carry an independent parser) and knows nothing of verdicts.

/// Writes the members of one dictionary (`a=1, b=tok, c="s", d=(x y)`) into `out`.
pub struct Dict<'a> {
    out: &'a mut String,
    first: bool,
}

impl<'a> Dict<'a> {
    /// Starts a dictionary at the end of `out` (which is not cleared).
    pub fn new(out: &'a mut String) -> Self {
        Dict { out, first: true }
    }

    /// Writes the separator and `key=`. Keys are constants of this crate: valid `sf-key`s.
    fn key(&mut self, key: &str) {
        debug_assert!(is_key(key), "{key:?} is not an sf-key");
        if !self.first {
            self.out.push_str(", ");
        }
        self.first = false;
        self.out.push_str(key);
        self.out.push('=');
    }

    /// `key=N`; `n` is clamped to RFC 9651's integer range (15 decimal digits).
    pub fn integer(&mut self, key: &str, n: i64) {
        self.key(key);
        push_integer(self.out, n);
    }

    /// `key=token`, or `key="..."` when `t` is not a valid `sf-token`.
    pub fn token(&mut self, key: &str, t: &str) {
        self.key(key);
        push_token_or_string(self.out, t);
    }

    /// `key="..."` (escaped as RFC 9651 requires).
    pub fn string(&mut self, key: &str, s: &str) {
        self.key(key);
        push_string(self.out, s);
    }

    /// `key=(a b c)`: an inner list of tokens (strings where an item is not a valid token).
    pub fn tokens<'t>(&mut self, key: &str, items: impl IntoIterator<Item = &'t str>) {
        self.key(key);
        self.out.push('(');
        for (i, t) in items.into_iter().enumerate() {
            if i > 0 {
                self.out.push(' ');
            }
            push_token_or_string(self.out, t);
        }
        self.out.push(')');
    }
}

/// Largest magnitude of an `sf-integer`.
pub const MAX_INTEGER: i64 = 999_999_999_999_999;

fn push_integer(out: &mut String, n: i64) {
    let n = n.clamp(-MAX_INTEGER, MAX_INTEGER);
    if n < 0 {
        out.push('-');
    }
    let mut digits = [0u8; 15];
    let mut m = n.unsigned_abs();
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (m % 10) as u8;
        m /= 10;
        if m == 0 {
            break;
        }
    }
    out.extend(digits[at..].iter().map(|&d| d as char));
}

/// True for an `sf-key`: `( lcalpha / "*" ) *( lcalpha / DIGIT / "_" / "-" / "." / "*" )`.
pub fn is_key(k: &str) -> bool {
    let b = k.as_bytes();
    matches!(b.first(), Some(b'a'..=b'z' | b'*'))
        && b.iter().all(|&c| matches!(c, b'a'..=b'z' | b'0'..=b'9' | b'_' | b'-' | b'.' | b'*'))
}

/// True for an `sf-token`: `( ALPHA / "*" ) *( tchar / ":" / "/" )`.
pub fn is_token(t: &str) -> bool {
    let b = t.as_bytes();
    matches!(b.first(), Some(c) if c.is_ascii_alphabetic() || *c == b'*') && b.iter().all(|&c| is_tchar(c) || c == b':' || c == b'/')
}

/// RFC 9110 `tchar`.
fn is_tchar(c: u8) -> bool {
    c.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&c)
}

fn push_token_or_string(out: &mut String, t: &str) {
    if is_token(t) {
        out.push_str(t);
    } else {
        push_string(out, t);
    }
}

/// Appends `s` as an `sf-string`: `"` and `\` escaped, anything but printable ASCII as `?`.
pub fn push_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            ' '..='~' => out.push(c),
            _ => out.push('?'),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An independent RFC 9651 dictionary parser (section 4.2), for the bare items this
    /// serializer writes plus what it must never write (so a wrong output fails to parse).
    mod parse {
        #[derive(Debug, Clone, PartialEq)]
        pub enum Item {
            Integer(i64),
            Token(String),
            Str(String),
            Inner(Vec<Item>),
        }

        pub fn dictionary(input: &str) -> Result<Vec<(String, Item)>, String> {
            let b = input.as_bytes();
            let mut i = 0;
            let mut out: Vec<(String, Item)> = Vec::new();
            skip_sp(b, &mut i);
            while i < b.len() {
                let key = key(b, &mut i)?;
                let value = if b.get(i) == Some(&b'=') {
                    i += 1;
                    member(b, &mut i)?
                } else {
                    return Err(format!("{key}: bare keys (booleans) are not written by the serializer"));
                };
                if b.get(i) == Some(&b';') {
                    return Err("parameters are not written by the serializer".into());
                }
                out.retain(|(k, _)| *k != key);
                out.push((key, value));
                while matches!(b.get(i), Some(b' ' | b'\t')) {
                    i += 1;
                }
                if i == b.len() {
                    return Ok(out);
                }
                if b[i] != b',' {
                    return Err(format!("expected ',' at {i}"));
                }
                i += 1;
                while matches!(b.get(i), Some(b' ' | b'\t')) {
                    i += 1;
                }
                if i == b.len() {
                    return Err("trailing comma".into());
                }
            }
            Ok(out)
        }

        fn skip_sp(b: &[u8], i: &mut usize) {
            while b.get(*i) == Some(&b' ') {
                *i += 1;
            }
        }

        fn key(b: &[u8], i: &mut usize) -> Result<String, String> {
            let start = *i;
            if !matches!(b.get(*i), Some(b'a'..=b'z' | b'*')) {
                return Err(format!("bad key start at {start}"));
            }
            while matches!(b.get(*i), Some(b'a'..=b'z' | b'0'..=b'9' | b'_' | b'-' | b'.' | b'*')) {
                *i += 1;
            }
            Ok(String::from_utf8_lossy(&b[start..*i]).into_owned())
        }

        fn member(b: &[u8], i: &mut usize) -> Result<Item, String> {
            if b.get(*i) != Some(&b'(') {
                return bare(b, i);
            }
            *i += 1;
            let mut items = Vec::new();
            loop {
                skip_sp(b, i);
                match b.get(*i) {
                    Some(b')') => {
                        *i += 1;
                        return Ok(Item::Inner(items));
                    }
                    None => return Err("unterminated inner list".into()),
                    _ => {}
                }
                items.push(bare(b, i)?);
                if !matches!(b.get(*i), Some(b' ' | b')')) {
                    return Err(format!("bad inner list at {}", *i));
                }
            }
        }

        fn bare(b: &[u8], i: &mut usize) -> Result<Item, String> {
            match b.get(*i) {
                Some(b'-' | b'0'..=b'9') => {
                    let start = *i;
                    *i += 1;
                    while b.get(*i).is_some_and(u8::is_ascii_digit) {
                        *i += 1;
                    }
                    let text = std::str::from_utf8(&b[start..*i]).unwrap();
                    if text.trim_start_matches('-').len() > 15 || b.get(*i) == Some(&b'.') {
                        return Err("integer too long or decimal".into());
                    }
                    text.parse().map(Item::Integer).map_err(|e| e.to_string())
                }
                Some(b'"') => {
                    *i += 1;
                    let mut s = String::new();
                    loop {
                        match b.get(*i) {
                            None => return Err("unterminated string".into()),
                            Some(b'\\') => {
                                match b.get(*i + 1) {
                                    Some(&c @ (b'"' | b'\\')) => s.push(c as char),
                                    _ => return Err("bad escape".into()),
                                }
                                *i += 2;
                            }
                            Some(b'"') => {
                                *i += 1;
                                return Ok(Item::Str(s));
                            }
                            Some(&c) if (0x20..=0x7e).contains(&c) => {
                                s.push(c as char);
                                *i += 1;
                            }
                            Some(c) => return Err(format!("byte {c:#x} in a string")),
                        }
                    }
                }
                Some(c) if c.is_ascii_alphabetic() || *c == b'*' => {
                    let start = *i;
                    while b.get(*i).is_some_and(|&c| c.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~:/".contains(&c)) {
                        *i += 1;
                    }
                    Ok(Item::Token(String::from_utf8_lossy(&b[start..*i]).into_owned()))
                }
                _ => Err(format!("unexpected byte at {}", *i)),
            }
        }
    }

    use parse::Item;

    fn dict(f: impl FnOnce(&mut Dict)) -> String {
        let mut s = String::new();
        f(&mut Dict::new(&mut s));
        s
    }

    #[test]
    fn writes_the_shape_rfc_9651_describes() {
        let s = dict(|d| {
            d.integer("score", 41);
            d.token("action", "tag");
            d.tokens("reasons", ["proxy.via", "client.scripted"]);
            d.string("fp", "9f0c1d2e3f405162");
        });
        assert_eq!(s, r#"score=41, action=tag, reasons=(proxy.via client.scripted), fp="9f0c1d2e3f405162""#);
        assert_eq!(dict(|d| d.tokens("reasons", [])), "reasons=()");
        assert_eq!(dict(|_| {}), "");
    }

    #[test]
    fn strings_are_escaped_and_tokens_fall_back_to_strings() {
        assert_eq!(dict(|d| d.string("s", r#"a "q" \ b"#)), r#"s="a \"q\" \\ b""#);
        assert_eq!(dict(|d| d.string("s", "é\u{7f}\t")), r#"s="???""#);
        // A token must start with a letter or `*`: hex starting with a digit is a string.
        assert_eq!(dict(|d| d.token("t", "9f0c")), r#"t="9f0c""#);
        assert_eq!(dict(|d| d.token("t", "a b")), r#"t="a b""#);
        assert_eq!(dict(|d| d.token("t", "")), r#"t="""#);
        assert_eq!(dict(|d| d.token("t", "anthropic-sdk-python/1:x")), "t=anthropic-sdk-python/1:x");
        assert_eq!(dict(|d| d.tokens("l", ["ok", "not ok", "2x"])), r#"l=(ok "not ok" "2x")"#);
    }

    #[test]
    fn integers_stay_in_range() {
        assert_eq!(dict(|d| d.integer("n", 0)), "n=0");
        assert_eq!(dict(|d| d.integer("n", -7)), "n=-7");
        assert_eq!(dict(|d| d.integer("n", i64::MAX)), "n=999999999999999");
        assert_eq!(dict(|d| d.integer("n", i64::MIN)), "n=-999999999999999");
    }

    #[test]
    fn keys_and_tokens_follow_the_grammar() {
        for k in ["score", "a", "*x", "a_b-c.d*9"] {
            assert!(is_key(k), "{k}");
        }
        for k in ["", "Score", "9a", "a b", "a=b", "_a"] {
            assert!(!is_key(k), "{k}");
        }
        for t in ["tag", "*", "proxy.via", "a:b/c", "X-Y", "a!#$%&'*+-.^_`|~"] {
            assert!(is_token(t), "{t}");
        }
        for t in ["", "1a", "-a", "a b", "a\"", "a,b", "a;b", "a(b", "a=b", "é"] {
            assert!(!is_token(t), "{t}");
        }
    }

    proptest::proptest! {
        /// Whatever goes in, the output parses as an RFC 9651 dictionary and gives back each
        /// value (strings as their printable-ASCII projection, tokens as tokens or strings).
        #[test]
        fn any_input_serializes_to_a_parseable_dictionary(
            n in proptest::prelude::any::<i64>(),
            t in "\\PC{0,12}",
            s in "\\PC{0,24}",
            list in proptest::collection::vec("[a-z.*:/0-9 ]{0,8}", 0..5),
        ) {
            let text = dict(|d| {
                d.integer("n", n);
                d.token("t", &t);
                d.string("s", &s);
                d.tokens("l", list.iter().map(String::as_str));
            });
            let got = parse::dictionary(&text).map_err(|e| proptest::test_runner::TestCaseError::fail(format!("{e}: {text}")))?;
            let printable = |x: &str| x.chars().map(|c| if (' '..='~').contains(&c) { c } else { '?' }).collect::<String>();
            let as_item = |x: &str| if is_token(x) { Item::Token(x.to_string()) } else { Item::Str(printable(x)) };
            let want = vec![
                ("n".to_string(), Item::Integer(n.clamp(-MAX_INTEGER, MAX_INTEGER))),
                ("t".to_string(), as_item(&t)),
                ("s".to_string(), Item::Str(printable(&s))),
                ("l".to_string(), Item::Inner(list.iter().map(|x| as_item(x)).collect())),
            ];
            proptest::prop_assert_eq!(got, want);
        }
    }
}
