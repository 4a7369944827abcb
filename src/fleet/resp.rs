//! A bounded reader of the one Redis reply shape the sync uses, in the RESP2 text protocol
//! the bridge forwards (webdis `.raw`): an error line, or one bulk string (the store
//! function packs its answer into one, see [`super::protocol`]).
//!
//! The input is hostile (whatever answers on the bridge's address): the length is checked
//! against what is there, and anything else (other reply types, trailing bytes) is an error.
//! Nothing is copied: the reply borrows the buffer.

use crate::sketch::codec::DecodeError;

/// A reply the sync can use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply<'a> {
    /// `-ERR ...`: the store refused the command (the text after `-`).
    Error(&'a [u8]),
    /// `$N` and N bytes.
    Bulk(&'a [u8]),
}

/// Longest error line kept.
const MAX_ERROR: usize = 512;

/// The line after the type byte, up to CRLF (at most `max` bytes), and what follows it.
fn line(buf: &[u8], max: usize) -> Result<(&[u8], &[u8]), DecodeError> {
    let window = buf.get(..buf.len().min(max + 2)).unwrap_or(buf);
    match window.windows(2).position(|w| w == b"\r\n") {
        Some(end) => Ok((&buf[..end], &buf[end + 2..])),
        None if buf.len() < max + 2 => Err(DecodeError::Truncated("reply")),
        None => Err(DecodeError::Invalid("reply")),
    }
}

/// Parses a whole reply.
pub fn parse(buf: &[u8]) -> Result<Reply<'_>, DecodeError> {
    let (&kind, rest) = buf.split_first().ok_or(DecodeError::Truncated("reply"))?;
    match kind {
        b'-' => {
            let (text, rest) = line(rest, MAX_ERROR)?;
            if !rest.is_empty() {
                return Err(DecodeError::Invalid("reply"));
            }
            Ok(Reply::Error(text))
        }
        b'$' => {
            let (digits, rest) = line(rest, 9)?; // < 1 GB: fits any usize
            if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
                return Err(DecodeError::Invalid("reply"));
            }
            let n = digits.iter().fold(0usize, |n, &d| n * 10 + usize::from(d - b'0'));
            if rest.len() < n.saturating_add(2) {
                return Err(DecodeError::Truncated("reply"));
            }
            if rest.len() != n + 2 || &rest[n..] != b"\r\n" {
                return Err(DecodeError::Invalid("reply"));
            }
            Ok(Reply::Bulk(&rest[..n]))
        }
        _ => Err(DecodeError::Invalid("reply")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_bulk_strings_and_errors() {
        assert_eq!(parse(b"$4\r\na\r\nb\r\n").unwrap(), Reply::Bulk(b"a\r\nb"));
        assert_eq!(parse(b"$0\r\n\r\n").unwrap(), Reply::Bulk(b""));
        assert_eq!(parse(b"-ERR Function not found\r\n").unwrap(), Reply::Error(b"ERR Function not found"));
        let bin = [b"$4\r\n".as_slice(), &[0, 255, b'\r', 0], b"\r\n"].concat();
        assert_eq!(parse(&bin).unwrap(), Reply::Bulk(&[0u8, 255, b'\r', 0]));
    }

    #[test]
    fn refuses_hostile_replies() {
        let good = b"$3\r\nabc\r\n";
        for cut in 0..good.len() {
            assert!(parse(&good[..cut]).is_err(), "cut {cut}");
        }
        for bad in [
            &b"$3\r\nabc\r\nZ"[..],
            b"$4\r\nabc\r\n",
            b"$2\r\nabc\r\n",
            b"$-1\r\n",
            b"$+3\r\nabc\r\n",
            b"$99999999999999999999\r\nx\r\n",
            b"*1\r\n$1\r\nx\r\n",
            b":1\r\n",
            b"-no end",
            b"-two\r\nlines\r\n",
            b"",
        ] {
            assert!(parse(bad).is_err(), "{:?}", String::from_utf8_lossy(bad));
        }
        let long_line = [b"$".as_slice(), &[b'1'; 100]].concat();
        assert_eq!(parse(&long_line), Err(DecodeError::Invalid("reply")));
    }
}
