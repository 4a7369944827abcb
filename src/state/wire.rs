//! State deltas between workers (and nodes): [`State::export_delta`] and
//! [`State::merge_bytes`].
//!
//! Each worker exports, on its tick, what its *local* requests changed since its previous
//! export, and merges the deltas of the others; merged data is never re-exported. Counter
//! parts carry only the unexported local increments (each increment travels exactly once,
//! so applying every peer's delta every tick does not double-count); HLL registers and
//! bitmaps carry the whole current slot of touched keys (max / or are idempotent, so a
//! repeat is harmless). A fleet merges node deltas with the same call.
//!
//! Layout (little-endian; `varint` = LEB128):
//! ```text
//! "DGSD" | version u8 (6) | shape u64 | has_global u8
//! [global: epoch u32 | precision u8 | 2^p registers u8]
//! 12 x table, in the order accounts, fingerprints, ja4s, prefixes, asns, fp_prefixes,
//!     fp_asns, templates, envs, tasks, harnesses, harness_tasks: count u32 | count x (key u64 | stamp u32 | mask u8 | parts)
//! reputation: count u32 | count x (key u64 | time_ms u64 | flagged f32 | requests f32)
//!     (local increments of `account.flag_history`, see [`super::reputation`])
//! parts, in each entry's visiting order, those whose mask bit is set:
//!   hll:    epoch u32 | flags u8 (1: current slot follows, 2: previous slot follows,
//!           4 / 8: that block is sparse) | per block flagged, current first: either
//!           2^p / 2 packed 4-bit registers, or sparse: count u8 | count x (index u16, value u8)
//!   window: slot u32 | N x (varint current, varint previous)
//!   bits:   slot u32 | current u64 | previous u64
//! ```
//! `shape` hashes the seed, precisions, windows, bands and version: deltas from a state
//! of another shape are refused. Decoding validates the whole buffer before applying
//! anything, so a corrupt buffer is an `Err` and leaves the state untouched. Deltas not
//! exported before an entry is evicted (or two slots pass) are lost, by design.

use super::entries::{Decoder, Encoder, Entry};
use super::State;
use crate::sketch::codec::{put_u32, put_u64, set_u32_at, DecodeError, Reader};
use crate::sketch::table::Table;

/// Wire format version.
pub const VERSION: u8 = 6;
const MAGIC: &[u8; 4] = b"DGSD";
/// Largest arena stride of any entry (2 HLLs at the largest precision).
const MAX_STRIDE: usize = 2 * (1 << crate::sketch::small_hll::SMALL_MAX_P);

fn export_table<E: Entry>(t: &mut Table<E>, out: &mut Vec<u8>) {
    let count_at = out.len();
    put_u32(out, 0);
    let mut count = 0u32;
    t.drain_dirty(|key, stamp, e, regs| {
        let start = out.len();
        put_u64(out, key);
        put_u32(out, stamp);
        let mask_at = out.len();
        out.push(0);
        let mut enc = Encoder::new(out);
        e.visit(regs, &mut enc);
        let mask = enc.mask;
        if mask == 0 {
            out.truncate(start);
        } else {
            if let Some(m) = out.get_mut(mask_at) {
                *m = mask;
            }
            count += 1;
        }
    });
    set_u32_at(out, count_at, count);
}

fn merge_table<E: Entry>(
    t: &mut Table<E>,
    hll_bytes: usize,
    r: &mut Reader<'_>,
    apply: bool,
) -> Result<(), DecodeError> {
    let stride = E::HLLS * hll_bytes;
    let count = r.u32("record count")?;
    if count as usize > r.remaining() / 13 {
        return Err(DecodeError::Invalid("record count"));
    }
    let mut scratch_regs = [0u8; MAX_STRIDE];
    let scratch_regs = scratch_regs
        .get_mut(..stride)
        .ok_or(DecodeError::Invalid("stride"))?;
    for _ in 0..count {
        let key = r.u64("record key")?;
        let stamp = r.u32("record stamp")?;
        let mask = r.u8("record mask")?;
        let slot = if apply { t.upsert(key, stamp) } else { None };
        let mut scratch = E::default();
        let (entry, regs) = match slot.and_then(|i| t.get_mut(i)) {
            Some(x) => x,
            None => {
                scratch_regs.fill(0);
                (&mut scratch, &mut *scratch_regs)
            }
        };
        let mut dec = Decoder::new(r, mask);
        entry.visit(regs, &mut dec);
        dec.finish()?;
    }
    Ok(())
}

impl State {
    /// The local changes since the previous export, encoded for peers (see [`self`]).
    /// Allocates the returned buffer; call it on a tick, not per request.
    pub fn export_delta(&mut self) -> Vec<u8> {
        let mut out = Vec::with_capacity(4096);
        out.extend_from_slice(MAGIC);
        out.push(VERSION);
        put_u64(&mut out, self.d.shape);
        if self.active.changed() {
            out.push(1);
            self.active.encode(&mut out);
        } else {
            out.push(0);
        }
        export_table(&mut self.accounts, &mut out);
        export_table(&mut self.fps, &mut out);
        export_table(&mut self.ja4s, &mut out);
        export_table(&mut self.prefixes, &mut out);
        export_table(&mut self.asns, &mut out);
        export_table(&mut self.fp_prefixes, &mut out);
        export_table(&mut self.fp_asns, &mut out);
        export_table(&mut self.templates, &mut out);
        export_table(&mut self.envs, &mut out);
        export_table(&mut self.tasks, &mut out);
        export_table(&mut self.harnesses, &mut out);
        export_table(&mut self.harness_tasks, &mut out);
        self.reputation.export(&mut out);
        out
    }

    /// Merges a peer's [`State::export_delta`]. The buffer is validated completely first:
    /// on `Err` nothing was applied (a lazy state is allocated first, see
    /// [`State::new_lazy`]).
    pub fn merge_bytes(&mut self, buf: &[u8]) -> Result<(), DecodeError> {
        self.materialize();
        self.merge_pass(buf, false)?;
        self.merge_pass(buf, true)
    }

    fn merge_pass(&mut self, buf: &[u8], apply: bool) -> Result<(), DecodeError> {
        let mut r = Reader::new(buf);
        if r.bytes(4, "magic")? != MAGIC {
            return Err(DecodeError::Invalid("magic"));
        }
        if r.u8("version")? != VERSION {
            return Err(DecodeError::Invalid("version"));
        }
        if r.u64("shape")? != self.d.shape {
            return Err(DecodeError::Invalid(
                "shape (seed, precision, windows or bands differ)",
            ));
        }
        match r.u8("global flag")? {
            0 => {}
            1 => self.active.merge_encoded(&mut r, apply)?,
            _ => return Err(DecodeError::Invalid("global flag")),
        }
        let hb = crate::sketch::small_hll::SmallHll::bytes(self.d.p);
        merge_table(&mut self.accounts, hb, &mut r, apply)?;
        merge_table(&mut self.fps, hb, &mut r, apply)?;
        merge_table(&mut self.ja4s, hb, &mut r, apply)?;
        merge_table(&mut self.prefixes, hb, &mut r, apply)?;
        merge_table(&mut self.asns, hb, &mut r, apply)?;
        merge_table(&mut self.fp_prefixes, hb, &mut r, apply)?;
        merge_table(&mut self.fp_asns, hb, &mut r, apply)?;
        merge_table(&mut self.templates, hb, &mut r, apply)?;
        merge_table(&mut self.envs, hb, &mut r, apply)?;
        merge_table(&mut self.tasks, hb, &mut r, apply)?;
        merge_table(&mut self.harnesses, hb, &mut r, apply)?;
        merge_table(&mut self.harness_tasks, hb, &mut r, apply)?;
        self.reputation.merge(&mut r, apply)?;
        if r.remaining() != 0 {
            return Err(DecodeError::Invalid("trailing bytes"));
        }
        Ok(())
    }
}
