//! proxy-wasm adapter for Envoy (`wasm32-wasip1`): the filter itself (`filter`: the entry
//! point and what the contexts share; `root`: the root context, configuration and the tick;
//! `fleet_root`: the store round trip; `http`: the per-request context running the engine's
//! two phases; all over the raw host calls in `abi`) and its host-independent parts (`wire`:
//! formats, rules and adapter options; `geo`: ASN and country from the geoip filter's
//! headers; `apply`: verdict application and its failure paths; `metrics`: batched counters;
//! `sync`: merging worker states on a tick; `campaigns`: one campaign report for all
//! workers; `fleet`: which worker talks to the fleet store and how its answer reaches the
//! others), which also build natively so they are unit-tested
//! with the rest of the crate. `fault` (test builds only, cargo feature `fault-injection`)
//! fails host reads on request.
//!
//! Deliberately not here: any scoring logic (see [`crate::engine`]), any response handling
//! (responses, SSE included, pass untouched). State is shared between worker VMs and nodes
//! only on a tick (`sync`, `fleet`), never on the request path.

pub mod apply;
#[cfg(feature = "campaigns")]
pub mod campaigns;
#[cfg(feature = "fault-injection")]
pub mod fault;
pub mod fleet;
pub mod geo;
pub mod metrics;
pub mod sync;
#[cfg(test)]
mod testing;
pub mod wire;

#[cfg(target_os = "wasi")]
mod abi;
#[cfg(target_os = "wasi")]
pub mod filter;
#[cfg(target_os = "wasi")]
mod fleet_root;
#[cfg(target_os = "wasi")]
mod http;
#[cfg(target_os = "wasi")]
mod root;
