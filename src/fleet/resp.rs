//! A bounded reader of the one Redis reply shape the sync uses, in the RESP2 text protocol
//! the bridge forwards (webdis `.raw`): an error line, or one flat array whose elements are
//! bulk strings, integers or status lines (webdis re-encodes integers as bulk strings).
//!
//! The input is hostile (whatever answers on the bridge's address): every length is checked
//! against what is left, counts against a caller's bound, and anything else (nested arrays,
//! nil elements, trailing bytes) is an error. Nothing is copied: elements borrow the buffer.

use crate::sketch::codec::DecodeError;

/// A reply the sync can use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply<'a> {
    /// `-ERR ...`: the store refused the command (the text after `-`).
    Error(&'a [u8]),
    /// `*N` followed by N bulk strings, integers or status lines (their bytes).
    Array(Vec<&'a [u8]>),
}

/// Longest header line (`$`, `*`, `:` and their digits) accepted.
const MAX_LINE: usize = 24;
/// Longest error line kept.
const MAX_ERROR: usize = 512;

struct Cursor<'a> {
    buf: &'a [u8],
}

impl<'a> Cursor<'a> {
    /// The bytes up to the next CRLF (which is consumed), at most `max` of them.
    fn line(&mut self, max: usize, what: &'static str) -> Result<&'a [u8], DecodeError> {
        let window = &self.buf[..self.buf.len().min(max + 2)];
        let end = window.windows(2).position(|w| w == b"\r\n").ok_or(if self.buf.len() <= max + 1 {
            DecodeError::Truncated(what)
        } else {
            DecodeError::Invalid(what)
        })?;
        let (line, rest) = self.buf.split_at(end);
        self.buf = &rest[2..];
        Ok(line)
    }

    fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], DecodeError> {
        if self.buf.len() < n + 2 {
            return Err(DecodeError::Truncated(what));
        }
        let (data, rest) = self.buf.split_at(n);
        if !rest.starts_with(b"\r\n") {
            return Err(DecodeError::Invalid(what));
        }
        self.buf = &rest[2..];
        Ok(data)
    }
}

/// A decimal `u32` (no sign, no leading `+`, at most 10 digits).
fn number(b: &[u8], what: &'static str) -> Result<usize, DecodeError> {
    if b.is_empty() || b.len() > 10 || !b.iter().all(u8::is_ascii_digit) {
        return Err(DecodeError::Invalid(what));
    }
    let n = b.iter().fold(0u64, |n, &d| n * 10 + u64::from(d - b'0'));
    usize::try_from(u32::try_from(n).map_err(|_| DecodeError::Invalid(what))?).map_err(|_| DecodeError::Invalid(what))
}

/// Parses a whole reply; an array may hold at most `max_items` elements.
pub fn parse(buf: &[u8], max_items: usize) -> Result<Reply<'_>, DecodeError> {
    let mut c = Cursor { buf };
    let kind = *buf.first().ok_or(DecodeError::Truncated("reply"))?;
    c.buf = &buf[1..];
    let reply = match kind {
        b'-' => Reply::Error(c.line(MAX_ERROR, "error line")?),
        b'*' => {
            let n = number(c.line(MAX_LINE, "array length")?, "array length")?;
            // Each element needs at least 4 bytes (`:0\r\n`).
            if n > max_items || n > c.buf.len() / 4 {
                return Err(DecodeError::Invalid("array length"));
            }
            let mut items = Vec::with_capacity(n);
            for _ in 0..n {
                let k = *c.buf.first().ok_or(DecodeError::Truncated("array element"))?;
                c.buf = &c.buf[1..];
                let item = match k {
                    b'$' => {
                        let len = number(c.line(MAX_LINE, "bulk length")?, "bulk length")?;
                        c.take(len, "bulk string")?
                    }
                    b':' => {
                        let line = c.line(MAX_LINE, "integer")?;
                        let digits = line.strip_prefix(b"-").unwrap_or(line);
                        number(digits, "integer")?;
                        line
                    }
                    b'+' => c.line(MAX_ERROR, "status line")?,
                    _ => return Err(DecodeError::Invalid("array element type")),
                };
                items.push(item);
            }
            Reply::Array(items)
        }
        _ => return Err(DecodeError::Invalid("reply type")),
    };
    if !c.buf.is_empty() {
        return Err(DecodeError::Invalid("trailing bytes after the reply"));
    }
    Ok(reply)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_arrays_and_errors() {
        let r = parse(b"*3\r\n$4\r\na\r\nb\r\n:-12\r\n+OK\r\n", 10).unwrap();
        assert_eq!(r, Reply::Array(vec![&b"a\r\nb"[..], b"-12", b"OK"]));
        assert_eq!(parse(b"*0\r\n", 10).unwrap(), Reply::Array(vec![]));
        assert_eq!(parse(b"$0\r\n", 10), Err(DecodeError::Invalid("reply type")));
        assert_eq!(parse(b"-ERR Function not found\r\n", 10).unwrap(), Reply::Error(b"ERR Function not found"));
        let bin = [b"*1\r\n$4\r\n".as_slice(), &[0, 255, b'\r', 0], b"\r\n"].concat();
        assert_eq!(parse(&bin, 1).unwrap(), Reply::Array(vec![&[0u8, 255, b'\r', 0][..]]));
    }

    #[test]
    fn refuses_hostile_replies() {
        let good = b"*2\r\n$3\r\nabc\r\n$1\r\nx\r\n";
        for cut in 0..good.len() {
            assert!(parse(&good[..cut], 10).is_err(), "cut {cut}");
        }
        for bad in [
            &b"*2\r\n$3\r\nabc\r\n$1\r\nx\r\nZ"[..], // trailing
            b"*1\r\n*1\r\n:1\r\n",                     // nested
            b"*1\r\n$-1\r\n",                          // nil
            b"*1\r\n$4294967296\r\nx\r\n",             // length overflow
            b"*99999999\r\n:1\r\n",                    // count beyond the bytes
            b"*1\r\n$3\r\nabcd\r\n",                   // length lie
            b"*1\r\n$+3\r\nabc\r\n",
            b"*1\r\n:1x\r\n",
            b"-no end",
            b"",
        ] {
            assert!(parse(bad, 10).is_err(), "{:?}", String::from_utf8_lossy(bad));
        }
        assert_eq!(parse(good, 1), Err(DecodeError::Invalid("array length")));
        let long_line = [b"*".as_slice(), &[b'1'; 100]].concat();
        assert!(parse(&long_line, 10).is_err());
    }
}
