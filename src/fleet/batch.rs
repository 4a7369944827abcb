//! The payload a node stores per round trip: a batch of opaque state deltas
//! ([`crate::state::State::export_delta`] output of its workers), framed so that a reader can
//! tell them apart and refuse a malformed one without reading its contents.
//!
//! Layout (little-endian):
//! ```text
//! "DGFB" | version u8 (1) | count u16 | count x (len u32 | len bytes)
//! ```
//! Decoding checks the whole frame (magic, version, counts, lengths, no trailing bytes)
//! before returning anything; the deltas themselves are checked by `merge_bytes` when they
//! are applied. Deliberately not here: what a delta contains (the state's business).

use crate::sketch::codec::{put_u32, DecodeError, Reader};

/// Batch format version.
pub const VERSION: u8 = 1;
const MAGIC: &[u8; 4] = b"DGFB";
/// Bytes of an empty batch (magic, version, count).
pub const HEADER_LEN: usize = 4 + 1 + 2;
/// Most deltas in one batch.
pub const MAX_DELTAS: usize = 1024;

/// Encodes `deltas` as one batch.
pub fn encode<'a>(deltas: impl IntoIterator<Item = &'a [u8]>) -> Vec<u8> {
    let mut out = Vec::with_capacity(4096);
    out.extend_from_slice(MAGIC);
    out.push(VERSION);
    out.extend_from_slice(&[0, 0]);
    let mut count: u16 = 0;
    for d in deltas.into_iter().take(MAX_DELTAS) {
        put_u32(&mut out, d.len() as u32);
        out.extend_from_slice(d);
        count += 1;
    }
    if let Some(c) = out.get_mut(5..7) {
        c.copy_from_slice(&count.to_le_bytes());
    }
    out
}

/// Bytes `delta` adds to a batch.
pub fn framed_len(delta: &[u8]) -> usize {
    4 + delta.len()
}

/// The deltas of a batch, borrowed from `buf`; `Err` (and nothing) when the frame is
/// malformed anywhere.
pub fn decode(buf: &[u8]) -> Result<Vec<&[u8]>, DecodeError> {
    let mut r = Reader::new(buf);
    if r.bytes(4, "batch")? != MAGIC {
        return Err(DecodeError::Invalid("batch"));
    }
    if r.u8("batch")? != VERSION {
        return Err(DecodeError::Invalid("batch"));
    }
    let c = r.bytes(2, "batch")?;
    let count = usize::from(u16::from_le_bytes([c[0], c[1]]));
    if count > MAX_DELTAS || count > r.remaining() / 4 {
        return Err(DecodeError::Invalid("batch"));
    }
    let mut out = Vec::with_capacity(count);
    for _ in 0..count {
        let len = r.u32("batch")? as usize;
        out.push(r.bytes(len, "batch")?);
    }
    if r.remaining() != 0 {
        return Err(DecodeError::Invalid("batch"));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_refuses_every_cut_and_lie() {
        let deltas: [&[u8]; 3] = [b"abc", b"", b"\x00\xff"];
        let b = encode(deltas);
        assert_eq!(b.len(), HEADER_LEN + deltas.iter().map(|d| framed_len(d)).sum::<usize>());
        assert_eq!(decode(&b).unwrap(), deltas);
        assert_eq!(decode(&encode([])).unwrap(), Vec::<&[u8]>::new());
        for cut in 0..b.len() {
            assert!(decode(&b[..cut]).is_err(), "cut {cut}");
        }
        let mut trailing = b.clone();
        trailing.push(0);
        assert!(decode(&trailing).is_err());
        let mut huge_count = b.clone();
        huge_count[5..7].copy_from_slice(&u16::MAX.to_le_bytes());
        assert_eq!(decode(&huge_count), Err(DecodeError::Invalid("batch")));
        let mut huge_len = b.clone();
        huge_len[7..11].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(decode(&huge_len).is_err());
        let mut version = b;
        version[4] = 9;
        assert_eq!(decode(&version), Err(DecodeError::Invalid("batch")));
        assert!(decode(b"XXXX\x01\x00\x00").is_err());
    }
}
