//! wasm-bindgen adapter (stub).
