//! Request fingerprints: our open header-shape fingerprint (`hfp`), opt-in JA4H, and the
//! client-claim checks (does the rest of the request fit what the User-Agent says?).
//!
//! Extraction here is separate from formatting, and nothing here keeps state.

pub mod claims;
mod claims_order;
pub mod env;
pub mod hfp;
pub mod ja4h;
pub mod sha256;

#[cfg(test)]
pub(crate) mod testdata;
