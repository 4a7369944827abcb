//! A tracker as bytes, and the merge of such a snapshot into another tracker: how several
//! trackers that each saw part of the traffic (the worker VMs of one Envoy) report as one.
//!
//! A snapshot holds the tracker's occupied entries, not its empty slots: per cluster key its
//! key parts, counts, first and last flagged time and both distinct-account sketches
//! ([`SmallHll::encode_full`], sparse when short); per flagged account its counts, times,
//! links and nonzero reason counts. Merging adds counts, keeps the earlier first and the
//! later last time, max-merges the sketches (so a key's distinct accounts are those of the
//! union of the trackers) and, per link slot, keeps the key that groups more accounts in
//! the merged tables, as [`super::track`] does for one tracker's requests.
//!
//! Snapshots are cumulative: merge each one once into a fresh copy (merging a snapshot twice
//! counts its requests twice; sketches stay exact). What no merge can restore: an account's
//! requests on a tracker that never saw it flagged are not counted there (it was not in
//! that tracker's table), so a merged account's `requests` can be lower than one tracker
//! fed everything would count; its flagged requests are all there.
//!
//! Decoding never panics and is all or nothing: a snapshot is read and checked whole
//! ([`decode`]) before anything is merged, so a bad one changes nothing.

use crate::signal::Signal;
use crate::sketch::codec::{put_u32, put_u64, set_u32_at, DecodeError, Reader};
use crate::sketch::small_hll::SmallHll;

use super::keys::{Key, Kind};
use super::track::{AccountE, ClusterE, HLL_P, LINKS};
use super::Tracker;

/// First bytes of a snapshot (format version 1).
const MAGIC: &[u8; 4] = b"DGc1";
/// Fixed bytes of an encoded cluster before its sketches, and of an account before its
/// links and reasons: the least a table entry takes, to bound counts by the buffer.
const CLUSTER_MIN: usize = 8 + 1 + 8 + 8 + 4 + 4 + 8 + 8 + 2 * 5;
const ACCOUNT_MIN: usize = 8 + 8 + 4 * 4 + 8 + 8 + 2 + 1;

/// A decoded, checked cluster entry; its sketches stay encoded (checked) in `hll`/`all`.
struct ClusterIn<'a> {
    key: Key,
    requests: u32,
    flagged: u32,
    first_ms: u64,
    last_ms: u64,
    hll: &'a [u8],
    all: &'a [u8],
}

/// A decoded, checked account entry.
struct AccountIn {
    row: u64,
    e: AccountE,
}

/// A decoded, checked snapshot.
struct Decoded<'a> {
    requests: u64,
    flagged: u64,
    last_ms: u64,
    clusters: Vec<ClusterIn<'a>>,
    accounts: Vec<AccountIn>,
}

fn kind_of(b: u8) -> Option<Kind> {
    Kind::ALL.into_iter().find(|k| *k as u8 == b)
}

impl Tracker {
    /// The tracker's entries as bytes (see the module docs), for [`Tracker::merge_snapshot`]
    /// of a tracker with the same settings.
    pub fn snapshot(&self) -> Vec<u8> {
        let t = &self.tables;
        let mut out = Vec::with_capacity(64 + t.clusters.len() * 128 + t.accounts.len() * 96);
        out.extend_from_slice(MAGIC);
        put_u32(&mut out, Signal::COUNT as u32);
        put_u64(&mut out, t.epoch_ms);
        put_u64(&mut out, t.requests);
        put_u64(&mut out, t.flagged);
        put_u64(&mut out, self.last_ms);
        counted(&mut out, |out, n| {
            t.clusters.for_each(|_, key, c, regs| {
                if c.requests == 0 {
                    return;
                }
                *n += 1;
                put_u64(out, key);
                out.push(c.key.kind as u8);
                put_u64(out, c.key.a);
                put_u64(out, c.key.b);
                put_u32(out, c.requests);
                put_u32(out, c.flagged);
                put_u64(out, c.first_ms);
                put_u64(out, c.last_ms);
                let (flagged, all) = regs.split_at(regs.len() / 2);
                c.hll.encode_full(flagged, out);
                c.all.encode_full(all, out);
            });
        });
        counted(&mut out, |out, n| {
            t.accounts.for_each(|_, row, a, _| {
                if a.flagged == 0 {
                    return;
                }
                *n += 1;
                put_u64(out, row);
                put_u64(out, a.id);
                for v in [a.requests, a.flagged, a.elicited, a.score_sum] {
                    put_u32(out, v);
                }
                put_u64(out, a.first_ms);
                put_u64(out, a.last_ms);
                let mask = a.links.iter().enumerate().filter(|(_, &l)| l != 0).fold(0u16, |m, (i, _)| m | 1 << i);
                out.extend_from_slice(&mask.to_le_bytes());
                for &l in a.links.iter().filter(|&&l| l != 0) {
                    put_u64(out, l);
                }
                let reasons = a.reasons.iter().filter(|&&c| c != 0).count();
                out.push(reasons as u8);
                for (i, &c) in a.reasons.iter().enumerate().filter(|(_, &c)| c != 0) {
                    out.push(i as u8);
                    out.extend_from_slice(&c.to_le_bytes());
                }
            });
        });
        out
    }

    /// Merges another tracker's [`Tracker::snapshot`] into this one (see the module docs).
    /// A snapshot that does not decode, or comes from a tracker with another window or
    /// build, is refused whole and nothing changes.
    pub fn merge_snapshot(&mut self, bytes: &[u8]) -> Result<(), DecodeError> {
        let d = decode(bytes, self.tables.epoch_ms)?;
        let t = &mut self.tables;
        t.requests = t.requests.saturating_add(d.requests);
        t.flagged = t.flagged.saturating_add(d.flagged);
        self.last_ms = self.last_ms.max(d.last_ms);
        // Every entry is stamped at the merge's time (the later tracker's): a table ages its
        // entries from the stamp of each lookup, so an older stamp would make the newest
        // entries look ancient and evict them first.
        let now_s = (self.last_ms / 1000) as u32;
        for c in &d.clusters {
            let Some((e, regs)) = t.clusters.upsert(c.key.hash, now_s).and_then(|i| t.clusters.get_mut(i)) else { continue };
            if e.requests == 0 {
                *e = ClusterE { key: c.key, first_ms: c.first_ms, ..ClusterE::default() };
            }
            e.requests = e.requests.saturating_add(c.requests);
            e.flagged = e.flagged.saturating_add(c.flagged);
            e.first_ms = e.first_ms.min(c.first_ms);
            e.last_ms = e.last_ms.max(c.last_ms);
            let (flagged, all) = regs.split_at_mut(regs.len() / 2);
            // Checked in `decode`: these merges cannot fail.
            let _ = e.hll.merge_encoded(flagged, &mut Reader::new(c.hll));
            let _ = e.all.merge_encoded(all, &mut Reader::new(c.all));
        }
        for a in &d.accounts {
            let Some(i) = t.accounts.upsert(a.row, now_s) else { continue };
            let Some(old) = t.accounts.get(i).map(|(e, _)| *e) else { continue };
            let links = if old.flagged == 0 {
                a.e.links
            } else {
                let epoch = t.epoch(old.last_ms.max(a.e.last_ms));
                let mut links = old.links;
                for (l, &theirs) in links.iter_mut().zip(&a.e.links) {
                    if theirs != 0 && (*l == 0 || t.strength(theirs, epoch) > t.strength(*l, epoch)) {
                        *l = theirs;
                    }
                }
                links
            };
            let Some((e, _)) = t.accounts.get_mut(i) else { continue };
            if old.flagged == 0 {
                // New here (an account enters a table on a flagged request).
                *e = a.e;
                continue;
            }
            e.requests = e.requests.saturating_add(a.e.requests);
            e.flagged = e.flagged.saturating_add(a.e.flagged);
            e.elicited = e.elicited.saturating_add(a.e.elicited);
            e.score_sum = e.score_sum.saturating_add(a.e.score_sum);
            e.first_ms = e.first_ms.min(a.e.first_ms);
            e.last_ms = e.last_ms.max(a.e.last_ms);
            e.links = links;
            for (c, &theirs) in e.reasons.iter_mut().zip(&a.e.reasons) {
                *c = c.saturating_add(theirs);
            }
        }
        Ok(())
    }
}

/// Appends a `u32` count and the entries `write` appends, counting them in its second argument.
fn counted(out: &mut Vec<u8>, write: impl FnOnce(&mut Vec<u8>, &mut u32)) {
    let at = out.len();
    put_u32(out, 0);
    let mut n = 0;
    write(out, &mut n);
    set_u32_at(out, at, n);
}

/// Reads and checks a whole snapshot for a tracker whose epochs are `epoch_ms` long.
fn decode(bytes: &[u8], epoch_ms: u64) -> Result<Decoded<'_>, DecodeError> {
    let mut r = Reader::new(bytes);
    if r.bytes(4, "snapshot magic")? != MAGIC {
        return Err(DecodeError::Invalid("snapshot magic (not a campaign tracker snapshot)"));
    }
    if r.u32("signal count")? != Signal::COUNT as u32 {
        return Err(DecodeError::Invalid("signal count (a snapshot from another build)"));
    }
    if r.u64("window")? != epoch_ms {
        return Err(DecodeError::Invalid("window (a tracker with another window_s)"));
    }
    let (requests, flagged, last_ms) = (r.u64("requests")?, r.u64("flagged")?, r.u64("last time")?);
    let n = r.u32("cluster count")? as usize;
    if n > r.remaining() / CLUSTER_MIN {
        return Err(DecodeError::Invalid("cluster count"));
    }
    let mut clusters = Vec::with_capacity(n);
    let mut scratch = [0u8; 2 * SmallHll::bytes(HLL_P)];
    for _ in 0..n {
        let hash = r.u64("cluster key")?;
        let kind = kind_of(r.u8("cluster kind")?).ok_or(DecodeError::Invalid("cluster kind"))?;
        let (a, b) = (r.u64("cluster key part")?, r.u64("cluster key part")?);
        let (requests, flagged) = (r.u32("cluster requests")?, r.u32("cluster flagged")?);
        let (first_ms, last_ms) = (r.u64("cluster first time")?, r.u64("cluster last time")?);
        if requests == 0 || flagged > requests || first_ms > last_ms {
            return Err(DecodeError::Invalid("cluster counts"));
        }
        let mut sketch = || {
            let before = r.clone();
            let (flagged_half, _) = scratch.split_at_mut(SmallHll::bytes(HLL_P));
            flagged_half.fill(0);
            SmallHll::default().merge_encoded(flagged_half, &mut r)?;
            let used = before.remaining() - r.remaining();
            Ok::<_, DecodeError>(bytes.get(bytes.len() - before.remaining()..).and_then(|s| s.get(..used)).unwrap_or(&[]))
        };
        let hll = sketch()?;
        let all = sketch()?;
        clusters.push(ClusterIn { key: Key { hash, kind, a, b }, requests, flagged, first_ms, last_ms, hll, all });
    }
    let n = r.u32("account count")? as usize;
    if n > r.remaining() / ACCOUNT_MIN {
        return Err(DecodeError::Invalid("account count"));
    }
    let mut accounts = Vec::with_capacity(n);
    for _ in 0..n {
        let row = r.u64("account row")?;
        let mut e = AccountE { id: r.u64("account id")?, ..AccountE::default() };
        (e.requests, e.flagged, e.elicited, e.score_sum) = (r.u32("account requests")?, r.u32("account flagged")?, r.u32("account elicited")?, r.u32("account scores")?);
        (e.first_ms, e.last_ms) = (r.u64("account first time")?, r.u64("account last time")?);
        if e.flagged == 0 || e.flagged > e.requests || e.elicited > e.flagged || e.first_ms > e.last_ms {
            return Err(DecodeError::Invalid("account counts"));
        }
        let m = r.bytes(2, "account links")?;
        let mask = u16::from_le_bytes([m.first().copied().unwrap_or(0), m.get(1).copied().unwrap_or(0)]);
        if mask >> LINKS != 0 {
            return Err(DecodeError::Invalid("account links"));
        }
        for (i, l) in e.links.iter_mut().enumerate() {
            if mask & (1 << i) != 0 {
                *l = r.u64("account link")?;
                if *l == 0 {
                    return Err(DecodeError::Invalid("account link"));
                }
            }
        }
        for _ in 0..r.u8("reason count")? {
            let i = r.u8("reason")? as usize;
            let c = r.bytes(2, "reason count")?;
            let slot = e.reasons.get_mut(i).ok_or(DecodeError::Invalid("reason"))?;
            *slot = u16::from_le_bytes([c.first().copied().unwrap_or(0), c.get(1).copied().unwrap_or(0)]);
        }
        accounts.push(AccountIn { row, e });
    }
    if r.remaining() != 0 {
        return Err(DecodeError::Invalid("bytes after the snapshot"));
    }
    Ok(Decoded { requests, flagged, last_ms, clusters, accounts })
}

#[cfg(test)]
#[path = "snapshot_tests.rs"]
mod tests;
