//! Host adapters: thin layers that build a [`crate::Request`] from a host's request, call the
//! engine, and apply the [`crate::respond::Response`]. Each compiles only for its target
//! (the Envoy adapter's pure `wire` helpers, the edge worker's `packed` format and its
//! `tickets` table compile everywhere, for tests).

// The Envoy adapter reports campaigns (`envoy.campaigns`): it needs the tracker.
#[cfg(feature = "campaigns")]
pub mod envoy;
// The native Envoy filter (a dynamic module) runs on the host, never in Wasm.
#[cfg(all(feature = "envoy-native", not(target_arch = "wasm32")))]
pub mod native;
// The fleet bridge's HTTP client, for hosts with sockets of their own (the native filter).
#[cfg(not(target_arch = "wasm32"))]
pub mod bridge;
pub mod packed;
pub mod tickets;

#[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
pub mod web;
