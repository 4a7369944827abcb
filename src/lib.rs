//! distill-guard: a host-free engine that scores API requests for signs of an LLM
//! distillation campaign (shared client fingerprints, proxy artifacts, prompt templates,
//! elicitation markers, many light accounts behind one key) and returns a [`Verdict`].
//!
//! The engine never performs I/O, never reads a clock and never draws randomness: every
//! host (Envoy via proxy-wasm, edge workers and the browser via wasm-bindgen, the native
//! CLI) builds a [`Request`] view, calls [`Engine::inspect`], and maps the [`Verdict`] back.

#[cfg(feature = "campaigns")]
pub mod campaign;
pub mod engine;
pub mod explain;
pub mod fingerprint;
pub mod fleet;
pub mod identity;
pub mod policy;
pub mod prompt;
pub mod proxy;
pub mod report;
pub mod request;
pub mod respond;
pub mod score;
pub mod signal;
#[cfg(feature = "simulate")]
pub mod simulate;
pub mod sketch;
pub mod state;
pub mod traffic;
pub mod util;

pub mod host;

pub use engine::Engine;
pub use policy::{Policy, PolicyError, PolicyErrors};
pub use request::{Header, HttpVersion, Peer, Request};
pub use score::{Action, Verdict};
pub use signal::Signal;
