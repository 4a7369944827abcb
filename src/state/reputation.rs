//! Account reputation: per account, the decayed share of its recent requests that the engine
//! flagged (score at or above `tag`) on the evidence of its own behaviour, two or more
//! independent ones of its prompt and account signals
//! ([`crate::score::Weights::behaviour_total`]), never this one.
//!
//! A campaign account mixes distillation prompts with innocuous ones ("hydra"); the
//! innocuous ones alone look clean, but the account's history does not. The feedback is
//! one-way: the share counts verdicts computed without `account.flag_history`, so a flag
//! never feeds itself. Counts decay exponentially (half-life [`HALF_LIFE_MS`]), the table has
//! the fixed capacity of `state.capacity.accounts` and the eviction rule of [`Table`].
//!
//! Workers exchange it with the rest of the state ([`super::wire`]): an export carries, per
//! account touched since the previous export, the local increments (flagged, requests) as
//! of the last local request, which are then cleared; a merge decays both sides to the later
//! of the two times and adds. Exponential decay is linear, so every worker ends with the
//! same history whatever the order of merges; merged increments are never re-exported.

use crate::sketch::codec::{put_u32, put_u64, set_u32_at, DecodeError, Reader};
use crate::sketch::table::Table;

/// Half-life of an account's flag history: 12 hours.
pub const HALF_LIFE_MS: f64 = 12.0 * 3600.0 * 1000.0;

/// Fewest (decayed) prior requests before the share is measured.
pub const MIN_HISTORY: f32 = 3.0;

/// Largest request count a merged record may carry (a corrupt delta is refused, not summed).
const MAX_MERGED_TOTAL: f32 = 1.0e9;

/// Bytes of one exported record: key, time, flagged, requests.
const RECORD_BYTES: usize = 8 + 8 + 4 + 4;

#[derive(Debug, Clone, Copy, Default)]
struct Rep {
    flagged: f32,
    total: f32,
    last_ms: u64,
    /// Local increments not exported yet, decayed like the totals.
    pend_flagged: f32,
    pend_total: f32,
}

/// Decay factor from `from_ms` to `to_ms` (1 when `to_ms` is not later).
fn decay(from_ms: u64, to_ms: u64) -> f32 {
    if to_ms <= from_ms {
        return 1.0;
    }
    (0.5f64).powf((to_ms - from_ms) as f64 / HALF_LIFE_MS) as f32
}

impl Rep {
    fn decayed(&self, now_ms: u64) -> (f32, f32) {
        let f = decay(self.last_ms, now_ms);
        (self.flagged * f, self.total * f)
    }

    /// Decays everything to `now_ms` (if later) and adds `(flagged, total)`, also to the
    /// pending increments when `local`.
    fn add(&mut self, now_ms: u64, flagged: f32, total: f32, local: bool) {
        let at = now_ms.max(self.last_ms).max(1);
        let f = if self.last_ms == 0 { 0.0 } else { decay(self.last_ms, at) };
        let g = decay(now_ms, at);
        self.flagged = self.flagged * f + flagged * g;
        self.total = self.total * f + total * g;
        self.pend_flagged *= f;
        self.pend_total *= f;
        if local {
            self.pend_flagged += flagged * g;
            self.pend_total += total * g;
        }
        self.last_ms = at;
    }
}

/// Fixed-capacity flag history per account.
#[derive(Clone)]
pub struct Reputation {
    table: Table<Rep>,
}

impl Reputation {
    /// Heap bytes of a table for `capacity` accounts.
    pub const fn bytes_for(capacity: usize) -> usize {
        Table::<Rep>::bytes_for(capacity, 0)
    }

    /// A table for `capacity` accounts (0 disables it).
    pub fn new(capacity: usize) -> Self {
        Reputation { table: Table::new(capacity, 0, 3600) }
    }

    /// Heap bytes allocated.
    pub fn allocated_bytes(&self) -> usize {
        self.table.allocated_bytes()
    }

    /// Share of the account's prior requests that were flagged, once it has enough history.
    pub fn level(&self, account: u64, now_ms: u64) -> Option<f64> {
        let i = self.table.find(account)?;
        let (rep, _) = self.table.get(i)?;
        let (flagged, total) = rep.decayed(now_ms);
        (total >= MIN_HISTORY).then(|| (flagged / total) as f64)
    }

    /// Records whether this request of the account was flagged.
    pub fn record(&mut self, account: u64, now_ms: u64, flagged: bool) {
        let Some(i) = self.table.upsert(account, (now_ms / 1000) as u32) else { return };
        self.table.mark_dirty(i);
        if let Some((rep, _)) = self.table.get_mut(i) {
            rep.add(now_ms, flagged as u8 as f32, 1.0, true);
        }
    }

    /// Appends the local increments since the previous export and clears them:
    /// `count u32 | count x (key u64 | time_ms u64 | flagged f32 | requests f32)`.
    pub fn export(&mut self, out: &mut Vec<u8>) {
        let count_at = out.len();
        put_u32(out, 0);
        let mut count = 0u32;
        self.table.drain_dirty(|key, _, rep, _| {
            if rep.pend_total > 0.0 {
                put_u64(out, key);
                put_u64(out, rep.last_ms);
                put_u32(out, rep.pend_flagged.to_bits());
                put_u32(out, rep.pend_total.to_bits());
                count += 1;
            }
            rep.pend_flagged = 0.0;
            rep.pend_total = 0.0;
        });
        set_u32_at(out, count_at, count);
    }

    /// Reads a peer's [`Reputation::export`]; adds it when `apply` (otherwise validates only).
    pub fn merge(&mut self, r: &mut Reader<'_>, apply: bool) -> Result<(), DecodeError> {
        let count = r.u32("reputation count")?;
        if count as usize > r.remaining() / RECORD_BYTES {
            return Err(DecodeError::Invalid("reputation count"));
        }
        for _ in 0..count {
            let key = r.u64("reputation key")?;
            let at = r.u64("reputation time")?;
            let flagged = f32::from_bits(r.u32("reputation flagged")?);
            let total = f32::from_bits(r.u32("reputation requests")?);
            // Also refuses NaN (every comparison with it is false).
            let valid = total > 0.0 && total <= MAX_MERGED_TOTAL && flagged >= 0.0 && flagged <= total;
            if !valid || at == 0 {
                return Err(DecodeError::Invalid("reputation record"));
            }
            if !apply {
                continue;
            }
            let Some(i) = self.table.upsert(key, (at / 1000) as u32) else { continue };
            if let Some((rep, _)) = self.table.get_mut(i) {
                rep.add(at, flagged, total, false);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn share_needs_history_and_decays() {
        let mut r = Reputation::new(64);
        let a = 0xdead_beef;
        r.record(a, 1_000, true);
        r.record(a, 2_000, false);
        assert_eq!(r.level(a, 2_000), None);
        r.record(a, 3_000, true);
        r.record(a, 4_000, true);
        let l = r.level(a, 4_000).unwrap();
        assert!((l - 0.75).abs() < 1e-3, "{l}");
        // A day later the history counts a quarter: below MIN_HISTORY.
        assert_eq!(r.level(a, 4_000 + 24 * 3600 * 1000), None);
        assert_eq!(r.level(0x1234, 4_000), None);
        assert_eq!(Reputation::new(64).allocated_bytes(), Reputation::bytes_for(64));
    }

    fn delta(r: &mut Reputation) -> Vec<u8> {
        let mut out = Vec::new();
        r.export(&mut out);
        out
    }

    fn merge(r: &mut Reputation, buf: &[u8]) -> Result<(), DecodeError> {
        r.merge(&mut Reader::new(buf), false)?;
        let mut rd = Reader::new(buf);
        r.merge(&mut rd, true)?;
        assert_eq!(rd.remaining(), 0);
        Ok(())
    }

    #[test]
    fn workers_end_with_the_history_of_all_requests() {
        let (mut x, mut y, mut one) = (Reputation::new(64), Reputation::new(64), Reputation::new(64));
        let a = 77;
        let hour = 3_600_000u64;
        // The same requests, split over two workers and seen by one.
        for k in 0..8u64 {
            let t = 1_000 + k * hour;
            let flagged = k % 3 != 0;
            one.record(a, t, flagged);
            if k % 2 == 0 { x.record(a, t, flagged) } else { y.record(a, t, flagged) }
            // Every other hour both exchange their deltas.
            if k % 2 == 1 {
                let (dx, dy) = (delta(&mut x), delta(&mut y));
                merge(&mut x, &dy).unwrap();
                merge(&mut y, &dx).unwrap();
            }
        }
        let t = 1_000 + 8 * hour;
        let want = one.level(a, t).unwrap();
        for r in [&x, &y] {
            let got = r.level(a, t).unwrap();
            assert!((got - want).abs() < 1e-4, "{got} vs {want}");
        }
        // Merged increments are not exported again; nothing new, nothing sent.
        assert_eq!(delta(&mut x), 0u32.to_le_bytes());
    }

    #[test]
    fn corrupt_records_are_refused_before_anything_is_applied() {
        let mut src = Reputation::new(64);
        let (a, b) = (crate::sketch::mix64(5), crate::sketch::mix64(6));
        src.record(a, 1_000, true);
        src.record(b, 1_000, false);
        let good = delta(&mut src);
        let mut dst = Reputation::new(64);
        let mut bad = good.clone();
        // The second record's request count becomes NaN.
        let n = bad.len();
        bad[n - 4..].copy_from_slice(&f32::NAN.to_bits().to_le_bytes());
        assert!(merge(&mut dst, &bad).is_err());
        assert!(merge(&mut dst, &good[..good.len() - 1]).is_err());
        assert!(merge(&mut dst, &[255, 255, 255, 255]).is_err());
        assert_eq!(dst.table.len(), 0, "nothing applied");
        merge(&mut dst, &good).unwrap();
        assert_eq!(dst.table.len(), 2);
    }
}
