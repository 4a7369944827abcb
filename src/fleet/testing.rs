//! Test doubles for the fleet sync (tests only): a model of the store function
//! (`fleet/distill_guard.lua`: same arguments, same reply; the real one runs in the
//! end-to-end tests) and deltas as plain byte strings.

use std::collections::HashMap;

use super::protocol::{self, GAP, RESET, STORED};
use super::{Call, Deltas};
use crate::sketch::codec::DecodeError;

/// The store function's behaviour over an in-memory log.
#[derive(Default)]
pub struct Store {
    /// (id, node, publisher, batch)
    pub log: Vec<(u64, String, String, Vec<u8>)>,
    next_id: u64,
    /// Latest stored seq per publisher.
    seqs: HashMap<String, u64>,
    /// Ids below this were trimmed.
    trimmed_below: u64,
    pub calls: u32,
}

fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).unwrap());
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

impl Store {
    /// Runs the store function for `c`; returns the reply body.
    pub fn call(&mut self, c: &Call) -> Vec<u8> {
        self.calls += 1;
        let path = c.path.strip_suffix(".raw").unwrap();
        let args: Vec<String> = path.split('/').skip(1).map(unescape).collect();
        assert_eq!(&args[..3], ["FCALL", "distill_guard_sync", "2"]);
        let (node, publisher, seq, cursor) = (&args[5], &args[6], args[7].parse::<u64>().unwrap(), &args[8]);
        let (max_entries, max_bytes, store) = (args[10].parse::<usize>().unwrap(), args[11].parse::<usize>().unwrap(), &args[12] == "1");
        let mut flags = 0;
        if store && seq > *self.seqs.get(publisher).unwrap_or(&0) {
            self.next_id += 1;
            self.log.push((self.next_id, node.clone(), publisher.clone(), c.body.clone()));
            self.seqs.insert(publisher.clone(), seq);
            flags |= STORED;
        }
        let after: u64 = cursor.split('-').next().unwrap().parse().unwrap();
        if after > self.next_id {
            flags |= RESET;
        }
        let after = if after > self.next_id { 0 } else { after };
        if after + 1 < self.trimmed_below && after != 0 {
            flags |= GAP;
        }
        let (mut last, mut items, mut bytes) = (after, Vec::new(), 0);
        for (id, n, _, b) in self.log.iter().filter(|e| e.0 > after).take(max_entries) {
            if n != node {
                if bytes + b.len() > max_bytes && !items.is_empty() {
                    break;
                }
                bytes += b.len();
                items.push((n.clone(), b.clone()));
            }
            last = *id;
        }
        let entries: Vec<(&[u8], &[u8])> = items.iter().map(|(n, b)| (n.as_bytes(), b.as_slice())).collect();
        protocol::bulk(&protocol::pack(&format!("{last}-0"), flags, &entries))
    }

    /// Trims every entry (as the retention would).
    pub fn trim_all(&mut self) {
        self.trimmed_below = self.next_id + 1;
        self.log.clear();
    }
}

/// Deltas as byte strings: exports pop from `out`, merges are recorded.
#[derive(Default)]
pub struct Fake {
    pub out: Vec<Vec<u8>>,
    pub merged: Vec<Vec<u8>>,
}

impl Deltas for Fake {
    fn export_delta(&mut self) -> Vec<u8> {
        if self.out.is_empty() {
            Vec::new()
        } else {
            self.out.remove(0)
        }
    }
    fn merge_bytes(&mut self, d: &[u8]) -> Result<(), DecodeError> {
        if d == b"bad" {
            return Err(DecodeError::Invalid("test"));
        }
        self.merged.push(d.to_vec());
        Ok(())
    }
    fn is_empty_delta(d: &[u8]) -> bool {
        d.is_empty()
    }
}

/// What `f` merged, as text.
pub fn merged(f: &Fake) -> Vec<&str> {
    f.merged.iter().map(|m| std::str::from_utf8(m).unwrap()).collect()
}

/// A fake exporting `deltas` one per export.
pub fn fake(deltas: &[&str]) -> Fake {
    Fake { out: deltas.iter().map(|d| d.as_bytes().to_vec()).collect(), merged: Vec::new() }
}
