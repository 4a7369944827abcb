//! A windowed global HyperLogLog (two slots: `cur` and `uni` = previous ∪ current), for
//! counts over the whole state such as active accounts. Precision comes from the config;
//! merge is register max. It holds no per-key data.

use crate::sketch::codec::{put_u32, DecodeError, Reader};
use crate::sketch::hll::Hll;

/// Two-slot windowed [`Hll`].
#[derive(Debug, Clone)]
pub struct WindowedHll {
    epoch: u32,
    cur: Hll,
    uni: Hll,
    changed: bool,
    enabled: bool,
}

impl WindowedHll {
    /// An empty sketch of precision `p` (unallocated when not `enabled`).
    pub fn new(p: u8, enabled: bool) -> Self {
        let (cur, uni) = if enabled {
            (Hll::new(p), Hll::new(p))
        } else {
            (Hll::new(0), Hll::new(0))
        };
        WindowedHll {
            epoch: 0,
            cur,
            uni,
            changed: false,
            enabled,
        }
    }

    /// Heap bytes allocated.
    pub fn allocated_bytes(&self) -> usize {
        if self.enabled {
            self.cur.registers().len() + self.uni.registers().len()
        } else {
            0
        }
    }

    fn rotate(&mut self, epoch: u32) {
        if epoch <= self.epoch {
            return;
        }
        if epoch == self.epoch.wrapping_add(1) {
            self.uni.copy_from(&self.cur);
        } else {
            self.uni.clear();
        }
        self.cur.clear();
        self.epoch = epoch;
        self.changed = false;
    }

    /// Adds a seeded hash at window slot `epoch`.
    #[inline]
    pub fn insert(&mut self, epoch: u32, h: u64) {
        if !self.enabled {
            return;
        }
        self.rotate(epoch);
        if epoch == self.epoch && self.cur.insert(h) {
            self.uni.insert(h);
            self.changed = true;
        }
    }

    /// Estimate as of window slot `epoch`.
    pub fn estimate_at(&self, epoch: u32) -> f64 {
        if !self.enabled {
            0.0
        } else if epoch <= self.epoch {
            self.uni.estimate()
        } else if epoch == self.epoch.wrapping_add(1) {
            self.cur.estimate()
        } else {
            0.0
        }
    }

    /// True when local inserts changed `cur` since the last encode.
    pub fn changed(&self) -> bool {
        self.changed
    }

    /// Appends epoch, precision and `cur` registers; clears [`WindowedHll::changed`].
    pub fn encode(&mut self, out: &mut Vec<u8>) {
        put_u32(out, self.epoch);
        out.push(self.cur.precision());
        out.extend_from_slice(self.cur.registers());
        self.changed = false;
    }

    /// Reads an encoded sketch; merges it when `apply` (else only validates).
    pub fn merge_encoded(&mut self, r: &mut Reader<'_>, apply: bool) -> Result<(), DecodeError> {
        let epoch = r.u32("global epoch")?;
        let p = r.u8("global precision")?;
        if !self.enabled || p != self.cur.precision() {
            return Err(DecodeError::Invalid("global precision"));
        }
        let regs = r.bytes(1 << p, "global registers")?;
        if regs.iter().any(|&v| v > 65 - p) {
            return Err(DecodeError::Invalid("global register"));
        }
        if !apply {
            return Ok(());
        }
        self.rotate(epoch);
        if epoch == self.epoch {
            self.cur.merge_registers(regs)?;
        }
        if epoch == self.epoch || epoch.wrapping_add(1) == self.epoch {
            self.uni.merge_registers(regs)?;
        }
        Ok(())
    }
}
