//! Minimal binary codec for sketch deltas: little-endian fixed-width integers, LEB128
//! varints, and a bounds-checked reader that returns [`DecodeError`] instead of panicking
//! on truncated or malformed input. It knows no record layouts: those belong to the
//! structures that encode themselves ([`super::window`], [`super::hll`], `crate::state`).

use std::fmt;

/// Why a buffer could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodeError {
    /// The buffer ended inside a value (`what` names it).
    Truncated(&'static str),
    /// A value is out of its allowed range or malformed (`what` names it).
    Invalid(&'static str),
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::Truncated(w) => write!(f, "truncated buffer at {w}"),
            DecodeError::Invalid(w) => write!(f, "invalid {w}"),
        }
    }
}

impl std::error::Error for DecodeError {}

/// Appends `v` as 1..=5 LEB128 bytes.
#[inline]
pub fn put_varint(out: &mut Vec<u8>, mut v: u32) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Appends `v` as 4 little-endian bytes.
#[inline]
pub fn put_u32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_le_bytes());
}

/// Overwrites the 4 bytes at `at` (a count written as a placeholder) with `v`.
#[inline]
pub fn set_u32_at(out: &mut [u8], at: usize, v: u32) {
    if let Some(c) = out.get_mut(at..at + 4) {
        c.copy_from_slice(&v.to_le_bytes());
    }
}

/// Appends `v` as 8 little-endian bytes.
#[inline]
pub fn put_u64(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(&v.to_le_bytes());
}

/// A cursor over an untrusted buffer; every read is bounds-checked.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    /// A reader over `buf`.
    pub fn new(buf: &'a [u8]) -> Self {
        Reader { buf }
    }

    /// Bytes not read yet.
    pub fn remaining(&self) -> usize {
        self.buf.len()
    }

    /// The next `n` bytes.
    #[inline]
    pub fn bytes(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], DecodeError> {
        if n > self.buf.len() {
            return Err(DecodeError::Truncated(what));
        }
        let (head, tail) = self.buf.split_at(n);
        self.buf = tail;
        Ok(head)
    }

    /// One byte.
    #[inline]
    pub fn u8(&mut self, what: &'static str) -> Result<u8, DecodeError> {
        let (&b, tail) = self.buf.split_first().ok_or(DecodeError::Truncated(what))?;
        self.buf = tail;
        Ok(b)
    }

    /// A little-endian `u32`.
    #[inline]
    pub fn u32(&mut self, what: &'static str) -> Result<u32, DecodeError> {
        let b = self.bytes(4, what)?;
        let mut a = [0u8; 4];
        a.copy_from_slice(b);
        Ok(u32::from_le_bytes(a))
    }

    /// A little-endian `u64`.
    #[inline]
    pub fn u64(&mut self, what: &'static str) -> Result<u64, DecodeError> {
        let b = self.bytes(8, what)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_le_bytes(a))
    }

    /// A LEB128 varint of at most 5 bytes that fits a `u32`.
    #[inline]
    pub fn varint(&mut self, what: &'static str) -> Result<u32, DecodeError> {
        let mut v: u64 = 0;
        for i in 0..5 {
            let b = self.u8(what)?;
            v |= ((b & 0x7f) as u64) << (7 * i);
            if b & 0x80 == 0 {
                return u32::try_from(v).map_err(|_| DecodeError::Invalid(what));
            }
        }
        Err(DecodeError::Invalid(what))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_rejects_truncation() {
        let mut out = Vec::new();
        for v in [0u32, 1, 127, 128, 300, u32::MAX] {
            put_varint(&mut out, v);
        }
        put_u32(&mut out, 0xdead_beef);
        put_u64(&mut out, 42);
        let mut r = Reader::new(&out);
        for v in [0u32, 1, 127, 128, 300, u32::MAX] {
            assert_eq!(r.varint("v").unwrap(), v);
        }
        assert_eq!(r.u32("a").unwrap(), 0xdead_beef);
        assert_eq!(r.u64("b").unwrap(), 42);
        assert_eq!(r.remaining(), 0);
        assert_eq!(r.u8("c"), Err(DecodeError::Truncated("c")));
        assert_eq!(
            Reader::new(&[0xff; 5]).varint("v"),
            Err(DecodeError::Invalid("v"))
        );
        assert_eq!(
            Reader::new(&[0xff, 0xff, 0xff, 0xff, 0x7f]).varint("v"),
            Err(DecodeError::Invalid("v"))
        );
        assert_eq!(
            Reader::new(&[1, 2]).u32("w"),
            Err(DecodeError::Truncated("w"))
        );
    }
}
