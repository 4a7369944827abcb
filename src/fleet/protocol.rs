//! One round trip to the store, as the HTTP bridge (webdis) carries it: the request path
//! of the `distill_guard_sync` store function (`fleet/distill_guard.lua`) and the meaning
//! of its reply.
//!
//! Request: `PUT /FCALL/distill_guard_sync/2/<log key>/<publisher key>/<node>/<publisher>/
//! <seq>/<cursor>/<retention ms>/<max entries>/<max bytes>/<store 0|1>.raw` with the batch
//! ([`super::batch`]) as the body, which webdis passes as the last argument. The function
//! stores the batch under the publisher's `seq` unless it stored that seq already (so a
//! retried round trip never stores twice), trims what is older than the retention, and
//! returns the other nodes' batches after `cursor`, packed into one bulk string
//! (little-endian):
//! ```text
//! "DGFR" | version u8 (1) | flags u8 (1 stored, 2 gap: entries after the cursor were
//!   trimmed unread or skipped as too large, 4 reset: the log restarted below the cursor)
//! | cursor_len u8 | next cursor | count u32 | count x (node_len u8 | node | len u32 | batch)
//! ```
//! Deliberately not here: HTTP itself (the host's), merging (the client's).

use super::config::FleetConfig;
use super::resp::{self, Reply};
use crate::sketch::codec::{put_u32, DecodeError, Reader};

/// Name of the store function.
pub const FUNCTION: &str = "distill_guard_sync";
/// Cursor of a node that has read nothing yet: the log's start.
pub const START: &str = "0-0";

/// What one round trip asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ask<'a> {
    /// This node's name (a [`super::config::is_name`], unique in the fleet): entries stored
    /// under it are never returned to it.
    pub node: &'a str,
    /// The publishing client's id (a [`super::config::is_name`], new with every client):
    /// its sequence numbers are its own.
    pub publisher: &'a str,
    /// Sequence number of the batch (ignored unless `store`).
    pub seq: u64,
    /// Last log entry read.
    pub cursor: &'a str,
    /// Store the body (else only read).
    pub store: bool,
}

/// Percent-encodes what webdis would read as a separator or an extension.
pub(super) fn segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b':') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The request path of a round trip.
pub fn path(cfg: &FleetConfig, ask: &Ask<'_>) -> String {
    let (log, publisher_key) = cfg.keys(ask.publisher);
    format!(
        "/FCALL/{FUNCTION}/2/{}/{}/{}/{}/{}/{}/{}/{}/{}/{}.raw",
        segment(&log),
        segment(&publisher_key),
        segment(ask.node),
        segment(ask.publisher),
        ask.seq,
        segment(ask.cursor),
        u64::from(cfg.retention_s) * 1000,
        cfg.max_entries,
        cfg.max_reply_bytes,
        u8::from(ask.store)
    )
}

/// Flag bits of a reply.
pub const STORED: u32 = 1;
/// See [`STORED`].
pub const GAP: u32 = 2;
/// See [`STORED`].
pub const RESET: u32 = 4;

/// A store reply the client can act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer<'a> {
    /// Cursor to send next time.
    pub cursor: &'a str,
    /// [`STORED`] | [`GAP`] | [`RESET`].
    pub flags: u32,
    /// Other publishers' entries: (node name as the store gave it, batch bytes).
    pub entries: Vec<(&'a [u8], &'a [u8])>,
}

/// Why a reply is no answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The store answered with an error (its text, sanitized, at most 200 characters).
    Store(String),
    /// The reply is not what the function returns.
    Malformed(DecodeError),
}

/// True for a stream id `ms-seq`.
fn is_cursor(b: &[u8]) -> bool {
    let Ok(s) = std::str::from_utf8(b) else { return false };
    let Some((ms, seq)) = s.split_once('-') else { return false };
    let digits = |x: &str| (1..=20).contains(&x.len()) && x.bytes().all(|c| c.is_ascii_digit());
    digits(ms) && digits(seq)
}

/// Reply format version.
pub const REPLY_VERSION: u8 = 1;

/// Reads a reply body; at most `max_entries` entries are accepted.
pub fn answer(body: &[u8], max_entries: u32) -> Result<Answer<'_>, Refusal> {
    let packed = match resp::parse(body).map_err(Refusal::Malformed)? {
        Reply::Error(text) => return Err(Refusal::Store(printable(text, 200))),
        Reply::Bulk(b) => b,
    };
    unpack(packed, max_entries).map_err(Refusal::Malformed)
}

fn unpack(b: &[u8], max_entries: u32) -> Result<Answer<'_>, DecodeError> {
    let mut r = Reader::new(b);
    if r.bytes(4, "reply")? != b"DGFR" || r.u8("reply")? != REPLY_VERSION {
        return Err(DecodeError::Invalid("reply"));
    }
    let flags = u32::from(r.u8("reply")?);
    if flags > STORED | GAP | RESET {
        return Err(DecodeError::Invalid("reply"));
    }
    let n = r.u8("cursor")?;
    let cursor = r.bytes(usize::from(n), "cursor")?;
    if !is_cursor(cursor) {
        return Err(DecodeError::Invalid("cursor"));
    }
    let count = r.u32("entries")?;
    // Each entry needs at least 5 bytes.
    if count > max_entries || count as usize > r.remaining() / 5 {
        return Err(DecodeError::Invalid("entries"));
    }
    let mut entries = Vec::with_capacity(count as usize);
    for _ in 0..count {
        let n = r.u8("entries")?;
        let node = r.bytes(usize::from(n), "entries")?;
        let len = r.u32("entries")?;
        entries.push((node, r.bytes(len as usize, "entries")?));
    }
    if r.remaining() != 0 {
        return Err(DecodeError::Invalid("entries"));
    }
    let cursor = std::str::from_utf8(cursor).unwrap_or(START);
    Ok(Answer { cursor, flags, entries })
}

/// Packs an answer as the store function does (tests and tools).
pub fn pack(cursor: &str, flags: u32, entries: &[(&[u8], &[u8])]) -> Vec<u8> {
    let mut out = b"DGFR".to_vec();
    out.extend_from_slice(&[REPLY_VERSION, flags as u8, cursor.len() as u8]);
    out.extend_from_slice(cursor.as_bytes());
    put_u32(&mut out, entries.len() as u32);
    for (node, batch) in entries {
        out.push(node.len() as u8);
        out.extend_from_slice(node);
        put_u32(&mut out, batch.len() as u32);
        out.extend_from_slice(batch);
    }
    out
}

/// `packed` as the bridge forwards it (a RESP bulk string).
pub fn bulk(packed: &[u8]) -> Vec<u8> {
    let mut out = format!("${}\r\n", packed.len()).into_bytes();
    out.extend_from_slice(packed);
    out.extend_from_slice(b"\r\n");
    out
}

/// `b` as printable ASCII (others as `?`), at most `max` characters: store text in logs.
pub fn printable(b: &[u8], max: usize) -> String {
    let out: Vec<u8> = b.iter().take(max).map(|&c| if c.is_ascii_graphic() || c == b' ' { c } else { b'?' }).collect();
    String::from_utf8(out).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_encodes_keys_and_arguments() {
        let cfg = FleetConfig { namespace: "eu".into(), ..FleetConfig::default() };
        let ask = Ask { node: "gw-1", publisher: "a1b2", seq: 7, cursor: "1700000000000-3", store: true };
        assert_eq!(
            path(&cfg, &ask),
            "/FCALL/distill_guard_sync/2/distill_guard:%7Beu%7D:log/distill_guard:%7Beu%7D:pub:a1b2/gw-1/a1b2/7/\
             1700000000000-3/60000/1000/8388608/1.raw"
        );
        assert_eq!(segment("a.b/c d"), "a%2Eb%2Fc%20d");
    }

    #[test]
    fn reads_answers_and_refuses_the_rest() {
        let body = bulk(&pack("5-1", STORED | GAP, &[(b"n1", b"X"), (b"n2", b"")]));
        let a = answer(&body, 10).unwrap();
        assert_eq!(a.cursor, "5-1");
        assert_eq!(a.flags, STORED | GAP);
        assert_eq!(a.entries, vec![(&b"n1"[..], &b"X"[..]), (&b"n2"[..], &b""[..])]);
        assert_eq!(answer(b"-ERR Function not found\r\n", 10), Err(Refusal::Store("ERR Function not found".into())));
        let good = pack("0-0", 0, &[(b"n", b"batch")]);
        for cut in 0..good.len() {
            assert!(answer(&bulk(&good[..cut]), 10).is_err(), "cut {cut}");
        }
        for bad in [pack("0-x", 0, &[]), pack("0-0", 9, &[]), pack("00", 0, &[]), [good.clone(), vec![0]].concat()] {
            assert!(matches!(answer(&bulk(&bad), 10), Err(Refusal::Malformed(_))), "{bad:?}");
        }
        let mut lying = good.clone();
        let at = 4 + 3 + 3;
        lying[at..at + 4].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(answer(&bulk(&lying), u32::MAX).is_err());
        // More entries than asked for: refused as a whole.
        assert!(answer(&bulk(&pack("5-1", 0, &[(b"a", b""), (b"b", b"")])), 1).is_err());
        assert_eq!(printable(b"ERR \x1b[31mred\n", 100), "ERR ?[31mred?");
    }
}
