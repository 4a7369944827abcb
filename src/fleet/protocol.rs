//! One round trip to the store, as the HTTP bridge (webdis) carries it: the request path
//! of the `distill_guard_sync` store function (`fleet/distill_guard.lua`) and the meaning
//! of its reply.
//!
//! Request: `PUT /FCALL/distill_guard_sync/2/<log key>/<publisher key>/<node>/<publisher>/
//! <seq>/<cursor>/<retention ms>/<max entries>/<max bytes>/<store 0|1>.raw` with the batch
//! ([`super::batch`]) as the body, which webdis passes as the last argument. The function
//! stores the batch under the publisher's `seq` unless it stored that seq already (so a
//! retried round trip never stores twice), trims what is older than the retention, and
//! returns the other nodes' batches after `cursor`:
//! ```text
//! [next cursor, flags (1 stored, 2 gap: entries after the cursor were trimmed unread,
//!  4 reset: the log restarted below the cursor), node, batch, node, batch, ...]
//! ```
//! Deliberately not here: HTTP itself (the host's), merging (the client's).

use super::config::FleetConfig;
use super::resp::{self, Reply};
use crate::sketch::codec::DecodeError;

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
fn segment(s: &str) -> String {
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

/// Reads a reply body; at most `max_entries` entries are accepted.
pub fn answer(body: &[u8], max_entries: u32) -> Result<Answer<'_>, Refusal> {
    let max_items = 2 + 2 * max_entries as usize;
    let items = match resp::parse(body, max_items).map_err(Refusal::Malformed)? {
        Reply::Error(text) => return Err(Refusal::Store(printable(text, 200))),
        Reply::Array(items) => items,
    };
    let (Some(&cursor), Some(&flags)) = (items.first(), items.get(1)) else {
        return Err(Refusal::Malformed(DecodeError::Truncated("reply header")));
    };
    if !is_cursor(cursor) {
        return Err(Refusal::Malformed(DecodeError::Invalid("cursor")));
    }
    let flags = std::str::from_utf8(flags)
        .ok()
        .and_then(|s| s.parse::<u32>().ok())
        .filter(|f| *f <= STORED | GAP | RESET)
        .ok_or(Refusal::Malformed(DecodeError::Invalid("flags")))?;
    let rest = items.get(2..).unwrap_or(&[]);
    if rest.len() % 2 != 0 {
        return Err(Refusal::Malformed(DecodeError::Invalid("entry pairs")));
    }
    let entries = rest.chunks_exact(2).map(|p| (p[0], p[1])).collect();
    let cursor = std::str::from_utf8(cursor).unwrap_or(START);
    Ok(Answer { cursor, flags, entries })
}

/// `b` as printable ASCII (others as `?`), at most `max` characters: store text in logs.
pub fn printable(b: &[u8], max: usize) -> String {
    b.iter().take(max).map(|&c| if c.is_ascii_graphic() || c == b' ' { c as char } else { '?' }).collect()
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
        let a = answer(b"*6\r\n$3\r\n5-1\r\n$1\r\n3\r\n$2\r\nn1\r\n$1\r\nX\r\n$2\r\nn2\r\n$0\r\n\r\n", 10).unwrap();
        assert_eq!(a.cursor, "5-1");
        assert_eq!(a.flags, STORED | GAP);
        assert_eq!(a.entries, vec![(&b"n1"[..], &b"X"[..]), (&b"n2"[..], &b""[..])]);
        // Integers as the store sends them (webdis turns them into bulk strings).
        assert_eq!(answer(b"*2\r\n$3\r\n0-0\r\n:0\r\n", 10).unwrap().flags, 0);
        assert_eq!(answer(b"-ERR Function not found\r\n", 10), Err(Refusal::Store("ERR Function not found".into())));
        for bad in [
            &b"*1\r\n$3\r\n0-0\r\n"[..],
            b"*2\r\n$3\r\n0-x\r\n:0\r\n",
            b"*2\r\n$3\r\n0-0\r\n:9\r\n",
            b"*3\r\n$3\r\n0-0\r\n:0\r\n$1\r\nn\r\n",
            b"*2\r\n$2\r\n00\r\n:0\r\n",
        ] {
            assert!(matches!(answer(bad, 10), Err(Refusal::Malformed(_))), "{:?}", String::from_utf8_lossy(bad));
        }
        // More entries than asked for: refused as a whole.
        let many = b"*6\r\n$3\r\n5-1\r\n:0\r\n$1\r\na\r\n$0\r\n\r\n$1\r\nb\r\n$0\r\n\r\n";
        assert!(answer(many, 1).is_err());
        assert_eq!(printable(b"ERR \x1b[31mred\n", 100), "ERR ?[31mred?");
    }
}
