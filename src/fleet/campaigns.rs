//! The fleet's campaign report: every node stores the snapshot of its campaign tracker
//! ([`crate::campaign::Tracker::snapshot`]: the node's, all its workers merged) in the store
//! on each report interval, and `distill-guard campaigns --fleet` reads every node's latest
//! and merges them, so a campaign spread over the fleet's nodes, none of which saw
//! `min_accounts` of its accounts, is reported once. The store function is
//! `distill_guard_campaigns` (`fleet/distill_guard.lua`): a node's snapshot is kept until it
//! stores none for `ttl` (three report intervals), in two hashes of the fleet's namespace.
//!
//! Nodes only store (the reply is a header); the reader reads. Everything read is hostile
//! input: [`answer`] checks the framing, [`crate::campaign::Tracker::merge_snapshot`] each
//! snapshot. Deliberately not here: HTTP, clocks, what a snapshot holds.

use super::config::FleetConfig;
use super::protocol::{printable, segment, Refusal};
use super::resp::{self, Reply};
use crate::sketch::codec::{put_u32, DecodeError, Reader};

/// The store function.
pub const FUNCTION: &str = "distill_guard_campaigns";

/// One node's latest snapshot as the store holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored<'a> {
    /// The node's name.
    pub node: &'a [u8],
    /// When it was stored, s since the epoch (the store's clock).
    pub stored_s: u32,
    /// The tracker snapshot (unchecked).
    pub snapshot: &'a [u8],
}

/// The store keys of the fleet's campaign snapshots: store times, snapshots.
pub fn keys(cfg: &FleetConfig) -> (String, String) {
    let ns = &cfg.namespace;
    (format!("distill_guard:{{{ns}}}:campaigns:at"), format!("distill_guard:{{{ns}}}:campaigns:snap"))
}

/// The bridge path of a call by `node` that stores its snapshot (the body) when `store`,
/// forgets snapshots older than `ttl_ms`, and returns every node's when `read`.
pub fn path(cfg: &FleetConfig, node: &str, ttl_ms: u64, store: bool, read: bool) -> String {
    let (at, snap) = keys(cfg);
    format!("/FCALL/{FUNCTION}/2/{}/{}/{}/{}/{}/{}.raw", segment(&at), segment(&snap), segment(node), ttl_ms.max(1000), u8::from(store), u8::from(read))
}

/// How long the store keeps a node's snapshot that it stores every `interval_ms`: three
/// intervals (a node that missed two is still in the report).
pub fn ttl_ms(interval_ms: u64) -> u64 {
    3 * interval_ms
}

/// Checks the bridge's answer to a node's store call (a 200 body): `Err` says why it failed,
/// for the node's log.
pub fn stored(body: &[u8]) -> Result<(), String> {
    answer(body).map(|_| ()).map_err(|r| match r {
        Refusal::Store(text) => format!("the store refused it: {text}"),
        Refusal::Malformed(_) => "the answer is not the store function's".into(),
    })
}

/// Reads the bridge's answer: every node's latest snapshot (none for a node's store call).
pub fn answer(body: &[u8]) -> Result<Vec<Stored<'_>>, Refusal> {
    let packed = match resp::parse(body).map_err(Refusal::Malformed)? {
        Reply::Error(text) => return Err(Refusal::Store(printable(text, 200))),
        Reply::Bulk(b) => b,
    };
    unpack(packed).map_err(Refusal::Malformed)
}

fn unpack(b: &[u8]) -> Result<Vec<Stored<'_>>, DecodeError> {
    let mut r = Reader::new(b);
    if r.bytes(4, "campaigns reply")? != b"DGCS" || r.u8("campaigns reply")? != 1 {
        return Err(DecodeError::Invalid("campaigns reply"));
    }
    let count = r.u32("snapshots")? as usize;
    // Each entry needs at least 9 bytes (an empty name is refused below).
    if count > r.remaining() / 9 {
        return Err(DecodeError::Invalid("snapshots"));
    }
    let mut out = Vec::with_capacity(count);
    for _ in 0..count {
        let n = r.u8("snapshots")?;
        let node = r.bytes(usize::from(n), "snapshots")?;
        if node.is_empty() {
            return Err(DecodeError::Invalid("snapshot node"));
        }
        let stored_s = r.u32("snapshots")?;
        let len = r.u32("snapshots")? as usize;
        out.push(Stored { node, stored_s, snapshot: r.bytes(len, "snapshots")? });
    }
    if r.remaining() != 0 {
        return Err(DecodeError::Invalid("snapshots"));
    }
    Ok(out)
}

/// Packs an answer as the store function does (tests and tools).
pub fn pack(entries: &[Stored<'_>]) -> Vec<u8> {
    let mut out = b"DGCS\x01".to_vec();
    put_u32(&mut out, entries.len() as u32);
    for e in entries {
        out.push(e.node.len() as u8);
        out.extend_from_slice(e.node);
        put_u32(&mut out, e.stored_s);
        put_u32(&mut out, e.snapshot.len() as u32);
        out.extend_from_slice(e.snapshot);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::protocol::bulk;
    use super::*;

    #[test]
    fn the_path_names_the_namespace_keys_and_flags() {
        let cfg = FleetConfig::from_json(r#"{"namespace": "prod"}"#).unwrap();
        assert_eq!(
            path(&cfg, "edge-1-0a0b0c0d", 180_000, true, false),
            "/FCALL/distill_guard_campaigns/2/distill_guard:%7Bprod%7D:campaigns:at/distill_guard:%7Bprod%7D:campaigns:snap/edge-1-0a0b0c0d/180000/1/0.raw"
        );
        assert!(path(&cfg, "n", 5, false, true).ends_with("/n/1000/0/1.raw"), "ttl at least 1 s");
    }

    #[test]
    fn answers_round_trip_and_hostile_ones_are_refused() {
        let e = [Stored { node: b"a", stored_s: 7, snapshot: b"xyz" }, Stored { node: b"node-b", stored_s: 9, snapshot: b"" }];
        let body = bulk(&pack(&e));
        assert_eq!(answer(&body).unwrap(), e);
        assert_eq!(answer(&bulk(&pack(&[]))).unwrap(), []);
        let packed = pack(&e);
        for cut in 0..packed.len() {
            assert!(answer(&bulk(&packed[..cut])).is_err(), "cut at {cut}");
        }
        let mut huge = b"DGCS\x01".to_vec();
        put_u32(&mut huge, u32::MAX);
        assert!(answer(&bulk(&huge)).is_err());
        assert!(matches!(answer(b"-ERR no such function\r\n"), Err(Refusal::Store(t)) if t.contains("no such function")));
        assert!(answer(&bulk(&pack(&[Stored { node: b"", stored_s: 1, snapshot: b"" }]))).is_err());
        assert_eq!(stored(&bulk(&pack(&[]))), Ok(()));
        assert!(stored(b"-ERR no such function\r\n").is_err_and(|w| w.starts_with("the store refused it")));
        assert_eq!(stored(b"<html>"), Err("the answer is not the store function's".into()));
    }
}
