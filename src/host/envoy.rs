//! proxy-wasm adapter (stub).
