//! Fleet state: many nodes (Envoys, edge isolates) acting on what the whole fleet saw,
//! through a shared store (Redis, reached over an HTTP bridge such as webdis).
//!
//! Each node publishes its *local* state changes ([`crate::state::State::export_delta`],
//! opaque bytes here) and merges every other node's ([`crate::state::State::merge_bytes`]):
//! the same mergeable deltas Envoy's workers exchange, so the fleet's distinct counts,
//! rates and flag history are the union of every node's traffic. The store keeps the
//! deltas for a bounded time in one log; a store function (`fleet/distill_guard.lua`)
//! appends a node's batch and returns the others' in one call, so a node makes one round
//! trip per tick.
//!
//! - [`config`]: the `fleet` settings, validated with paths.
//! - [`batch`]: the payload a node stores (framed deltas).
//! - [`resp`], [`protocol`]: the request path and the reply, read as hostile input.
//! - [`client`]: a node's side of a round trip (publish, read, merge, outages).
//! - [`view`]: what the store holds, merged into one state (the CLI's `fleet-view`).
//! - [`campaigns`]: each node's campaign tracker snapshot in the store, for the fleet's
//!   campaign report (the CLI's `campaigns --fleet`).
//!
//! Deliberately not here: I/O, clocks and timers (hosts call in with `now_ms` and the
//! bridge's answer), and anything that reads inside a delta.

pub mod batch;
pub mod campaigns;
pub mod client;
pub mod config;
pub mod protocol;
pub mod resp;
pub mod view;
#[cfg(test)]
pub(crate) mod testing;

use crate::sketch::codec::DecodeError;
use crate::state::State;

pub use client::{Call, Client, Outcome, Round};
pub use config::FleetConfig;

/// What a node's state does for the sync (implemented by [`State`]; faked in tests).
pub trait Deltas {
    /// Local changes since the previous export.
    fn export_delta(&mut self) -> Vec<u8>;
    /// Merges a peer's delta; on `Err` nothing was applied.
    fn merge_bytes(&mut self, delta: &[u8]) -> Result<(), DecodeError>;
    /// True when `delta` carries no change (then it is not published).
    fn is_empty_delta(delta: &[u8]) -> bool;
}

/// Length of an export that carries no change: header (14 bytes), 12 zero table counts and
/// a zero reputation count (a unit test holds it to what an empty state exports).
pub const EMPTY_DELTA_LEN: usize = 4 + 1 + 8 + 1 + 13 * 4;

impl Deltas for State {
    fn export_delta(&mut self) -> Vec<u8> {
        State::export_delta(self)
    }
    fn merge_bytes(&mut self, delta: &[u8]) -> Result<(), DecodeError> {
        State::merge_bytes(self, delta)
    }
    fn is_empty_delta(delta: &[u8]) -> bool {
        delta.len() <= EMPTY_DELTA_LEN
    }
}
