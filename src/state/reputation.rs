//! Account reputation: per account, the decayed share of its recent requests that the engine
//! flagged (score at or above `tag`) on the evidence of everything *but* this signal.
//!
//! A campaign account mixes distillation prompts with innocuous ones ("hydra"); the
//! innocuous ones alone look clean, but the account's history does not. The feedback is
//! one-way: the share counts verdicts computed without `account.flag_history`, so a flag
//! never feeds itself. Counts decay exponentially (half-life [`HALF_LIFE_MS`]), the table has
//! the fixed capacity of `state.capacity.accounts` and the eviction rule of [`Table`]. It is
//! kept per worker and not exchanged between workers (each worker's verdicts already use the
//! merged cluster state).

use crate::sketch::table::Table;

/// Half-life of an account's flag history: 12 hours.
pub const HALF_LIFE_MS: f64 = 12.0 * 3600.0 * 1000.0;

/// Fewest (decayed) prior requests before the share is measured.
pub const MIN_HISTORY: f32 = 3.0;

#[derive(Debug, Clone, Copy, Default)]
struct Rep {
    flagged: f32,
    total: f32,
    last_ms: u64,
}

impl Rep {
    fn decayed(&self, now_ms: u64) -> (f32, f32) {
        let dt = now_ms.saturating_sub(self.last_ms) as f64;
        let f = (0.5f64).powf(dt / HALF_LIFE_MS) as f32;
        (self.flagged * f, self.total * f)
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
        if let Some((rep, _)) = self.table.get_mut(i) {
            let (f, t) = if rep.last_ms == 0 { (0.0, 0.0) } else { rep.decayed(now_ms) };
            *rep = Rep { flagged: f + flagged as u8 as f32, total: t + 1.0, last_ms: now_ms.max(1) };
        }
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
}
