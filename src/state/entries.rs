//! The entry of each keyed table, and how an entry is written to and read from a delta.
//!
//! An entry is a handful of sketch parts ([`SmallHll`] over the slot's arena bytes,
//! [`Window`] counters, [`Bits`] bitmaps). Each entry lists its parts once, in
//! [`Entry::visit`]; the encoder and the decoder are visitors, so the wire layout of a
//! record is `mask: u8` (bit `i` set when part `i` follows) and then the parts present,
//! in visiting order. Nothing here knows about keys, time or signals.

use crate::sketch::codec::{DecodeError, Reader};
use crate::sketch::small_hll::SmallHll;
use crate::sketch::window::{Bits, Window};

/// Something that walks the parts of an entry.
pub trait Visit {
    /// A windowed per-key HLL and its registers.
    fn hll(&mut self, h: &mut SmallHll, regs: &mut [u8]);
    /// Two-slot counters.
    fn win<const N: usize>(&mut self, w: &mut Window<N>);
    /// A two-slot bitmap.
    fn bits(&mut self, b: &mut Bits);
}

/// An entry of a keyed table.
pub trait Entry: Default + Clone {
    /// Number of [`SmallHll`]s, i.e. the arena stride in units of `SmallHll::bytes(p)`.
    const HLLS: usize;
    /// Visits every part, in a fixed order.
    fn visit<V: Visit>(&mut self, regs: &mut [u8], v: &mut V);
}

/// Per account: request rate; requests, elicitations, prefix and ASN changes in the window;
/// its tasks in agent harnesses and their repeats over the long window; distinct prefixes,
/// ASNs and shared tasks; the last shared tasks and its agent harness.
#[derive(Debug, Clone, Copy, Default)]
pub struct AccountE {
    /// Requests per rate slot.
    pub rate: Window<1>,
    /// (requests, elicitations, requests from a prefix new to the account, requests from
    /// an ASN new to the account) per window slot.
    pub win: Window<4>,
    /// (tasks new to the account in an agent harness, those of them another account of the
    /// harness had sent) per account-window slot: the recent work of a busy account.
    pub harness_work: Window<2>,
    /// The same per long-window slot: the slow work of a light one.
    pub harness_work_long: Window<2>,
    /// Distinct client prefixes per window slot.
    pub ips: Bits,
    /// Distinct ASNs per window slot.
    pub asns: Bits,
    /// Distinct shared tasks (tasks of at least `shared_task_accounts` accounts) per
    /// window slot.
    pub tasks: Bits,
    /// Table keys of the account's last [`RECENT_TASKS`] distinct shared tasks, most
    /// recent first (0 = none). Local to this state: not part of a delta.
    pub recent: [u64; RECENT_TASKS],
    /// Table key of the agent harness (tool set) of the account's latest body that named
    /// one (0 = none). Local to this state: not part of a delta.
    pub harness: u64,
    /// Bit `i` set when `recent[i]` was sent in an agent harness. Local, as `recent`.
    pub in_harness: u8,
}

/// Shared tasks an account remembers for `account.swarm_share`.
pub const RECENT_TASKS: usize = 4;

impl AccountE {
    /// Puts `task` first among the recent tasks (once), sent in an agent harness or not.
    pub fn remember(&mut self, task: u64, in_harness: bool) {
        if task == 0 {
            return;
        }
        if self.recent[0] == task {
            self.in_harness |= in_harness as u8;
            return;
        }
        let at = self.recent.iter().position(|&t| t == task).unwrap_or(RECENT_TASKS - 1);
        self.recent.copy_within(0..at, 1);
        self.recent[0] = task;
        // Bits 0..at move up one; bit `at` (the task found again, or the one dropped) goes.
        let (below, through) = ((1u8 << at) - 1, (2u8 << at) - 1);
        self.in_harness = (self.in_harness & !through) | ((self.in_harness & below) << 1) | in_harness as u8;
    }
}

/// Distinct accounts only (JA4, ASN).
#[derive(Debug, Clone, Copy, Default)]
pub struct AccountsE {
    /// Distinct accounts.
    pub accounts: SmallHll,
}

/// Per (agent harness, task): the distinct accounts that sent the task, over the account
/// window and over the long window.
#[derive(Debug, Clone, Copy, Default)]
pub struct HarnessTaskE {
    /// Distinct accounts per account-window slot.
    pub day: SmallHll,
    /// Distinct accounts per long-window slot.
    pub long: SmallHll,
}

/// Per header-shape fingerprint or per prefix: accounts and rate.
#[derive(Debug, Clone, Copy, Default)]
pub struct AccountsRateE {
    /// Distinct accounts.
    pub accounts: SmallHll,
    /// Requests per rate slot.
    pub rate: Window<1>,
}

/// Per (fingerprint, prefix): accounts and the elicitation share. Also per client
/// environment: accounts and (requests of accounts seen before in the account window, those
/// of them from an ASN new to their account), sharing this entry's code in the module.
#[derive(Debug, Clone, Copy, Default)]
pub struct FpPrefixE {
    /// Distinct accounts.
    pub accounts: SmallHll,
    /// (requests, elicitations) per window slot; for a client environment (requests of
    /// known accounts, ASN hops) per account-window slot.
    pub share: Window<2>,
}

/// Per (fingerprint, ASN): accounts and heavy accounts.
#[derive(Debug, Clone, Copy, Default)]
pub struct FpAsnE {
    /// Distinct accounts.
    pub accounts: SmallHll,
    /// Distinct heavy accounts.
    pub heavy: SmallHll,
}

/// Per template band: accounts, elicitation share, accounts per synchrony bucket.
#[derive(Debug, Clone, Copy, Default)]
pub struct TemplateE {
    /// Distinct accounts.
    pub accounts: SmallHll,
    /// (requests, elicitations) per window slot.
    pub share: Window<2>,
    /// Distinct accounts per synchrony bucket.
    pub sync: Bits,
}

/// Per task anchor, over the account window: distinct accounts and distinct broad accounts.
#[derive(Debug, Clone, Copy, Default)]
pub struct TaskE {
    /// Distinct accounts.
    pub accounts: SmallHll,
    /// Distinct broad accounts (at least `broad_tasks` shared tasks each).
    pub broad: SmallHll,
}

/// Per agent harness (tool set and system prompt), over the long window: distinct accounts, and the
/// (account, task) pairs begun (a task new to its account) and how many of them repeated a
/// task another account of the harness had sent.
#[derive(Debug, Clone, Copy, Default)]
pub struct HarnessE {
    /// Distinct accounts.
    pub accounts: SmallHll,
    /// (pairs begun, pairs repeating another account's task) per account-window slot.
    pub pairs: Window<2>,
    /// The same per long-window slot.
    pub pairs_long: Window<2>,
}

/// Splits an arena into two equal halves (one per HLL).
#[inline]
fn halves(regs: &mut [u8]) -> (&mut [u8], &mut [u8]) {
    let mid = regs.len() / 2;
    regs.split_at_mut(mid)
}

impl Entry for AccountE {
    const HLLS: usize = 0;
    fn visit<V: Visit>(&mut self, _regs: &mut [u8], v: &mut V) {
        v.win(&mut self.rate);
        v.win(&mut self.win);
        v.win(&mut self.harness_work);
        v.win(&mut self.harness_work_long);
        v.bits(&mut self.ips);
        v.bits(&mut self.asns);
        v.bits(&mut self.tasks);
    }
}

impl Entry for AccountsE {
    const HLLS: usize = 1;
    fn visit<V: Visit>(&mut self, regs: &mut [u8], v: &mut V) {
        v.hll(&mut self.accounts, regs);
    }
}

impl Entry for HarnessTaskE {
    const HLLS: usize = 2;
    fn visit<V: Visit>(&mut self, regs: &mut [u8], v: &mut V) {
        let (a, b) = halves(regs);
        v.hll(&mut self.day, a);
        v.hll(&mut self.long, b);
    }
}

impl Entry for AccountsRateE {
    const HLLS: usize = 1;
    fn visit<V: Visit>(&mut self, regs: &mut [u8], v: &mut V) {
        v.hll(&mut self.accounts, regs);
        v.win(&mut self.rate);
    }
}

impl Entry for FpPrefixE {
    const HLLS: usize = 1;
    fn visit<V: Visit>(&mut self, regs: &mut [u8], v: &mut V) {
        v.hll(&mut self.accounts, regs);
        v.win(&mut self.share);
    }
}

impl Entry for FpAsnE {
    const HLLS: usize = 2;
    fn visit<V: Visit>(&mut self, regs: &mut [u8], v: &mut V) {
        let (a, b) = halves(regs);
        v.hll(&mut self.accounts, a);
        v.hll(&mut self.heavy, b);
    }
}

impl Entry for TaskE {
    const HLLS: usize = 2;
    fn visit<V: Visit>(&mut self, regs: &mut [u8], v: &mut V) {
        let (a, b) = halves(regs);
        v.hll(&mut self.accounts, a);
        v.hll(&mut self.broad, b);
    }
}

impl Entry for HarnessE {
    const HLLS: usize = 1;
    fn visit<V: Visit>(&mut self, regs: &mut [u8], v: &mut V) {
        v.hll(&mut self.accounts, regs);
        v.win(&mut self.pairs);
        v.win(&mut self.pairs_long);
    }
}

impl Entry for TemplateE {
    const HLLS: usize = 1;
    fn visit<V: Visit>(&mut self, regs: &mut [u8], v: &mut V) {
        v.hll(&mut self.accounts, regs);
        v.win(&mut self.share);
        v.bits(&mut self.sync);
    }
}

/// Writes the parts with unexported local changes (and marks them exported).
pub struct Encoder<'a> {
    out: &'a mut Vec<u8>,
    /// Bit `i` set when part `i` was written.
    pub mask: u8,
    bit: u8,
}

impl<'a> Encoder<'a> {
    /// Appends a record body to `out`; the caller writes `mask` before it.
    pub fn new(out: &'a mut Vec<u8>) -> Self {
        Encoder {
            out,
            mask: 0,
            bit: 1,
        }
    }

    fn next(&mut self, pending: bool) -> bool {
        let b = self.bit;
        self.bit <<= 1;
        if pending {
            self.mask |= b;
        }
        pending
    }
}

impl Visit for Encoder<'_> {
    fn hll(&mut self, h: &mut SmallHll, regs: &mut [u8]) {
        if self.next(h.changed()) {
            h.encode(regs, self.out);
        }
    }
    fn win<const N: usize>(&mut self, w: &mut Window<N>) {
        if self.next(w.pending()) {
            w.encode(self.out);
        }
    }
    fn bits(&mut self, b: &mut Bits) {
        if self.next(b.changed()) {
            b.encode(self.out);
        }
    }
}

/// Merges the parts a record's mask names; the first error stops it.
pub struct Decoder<'r, 'a> {
    r: &'r mut Reader<'a>,
    mask: u8,
    bit: u8,
    /// The first error met.
    pub err: Option<DecodeError>,
}

impl<'r, 'a> Decoder<'r, 'a> {
    /// A decoder for a record whose parts are named by `mask`.
    pub fn new(r: &'r mut Reader<'a>, mask: u8) -> Self {
        Decoder {
            r,
            mask,
            bit: 1,
            err: None,
        }
    }

    fn next(&mut self) -> bool {
        let b = self.bit;
        self.bit <<= 1;
        self.err.is_none() && self.mask & b != 0
    }

    /// Checks that the mask named no part beyond the entry's.
    pub fn finish(self) -> Result<(), DecodeError> {
        if let Some(e) = self.err {
            return Err(e);
        }
        if self.mask as u32 >= self.bit as u32 {
            return Err(DecodeError::Invalid("record mask"));
        }
        Ok(())
    }

    fn keep(&mut self, r: Result<(), DecodeError>) {
        if let Err(e) = r {
            self.err.get_or_insert(e);
        }
    }
}

impl Visit for Decoder<'_, '_> {
    fn hll(&mut self, h: &mut SmallHll, regs: &mut [u8]) {
        if self.next() {
            let r = h.merge_encoded(regs, self.r);
            self.keep(r);
        }
    }
    fn win<const N: usize>(&mut self, w: &mut Window<N>) {
        if self.next() {
            let r = w.merge_encoded(self.r);
            self.keep(r);
        }
    }
    fn bits(&mut self, b: &mut Bits) {
        if self.next() {
            let r = b.merge_encoded(self.r);
            self.keep(r);
        }
    }
}
