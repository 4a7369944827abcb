//! `hfp`: xxh3-64 of the normalized, lowercased header-name sequence. (stub)

use crate::request::Request;

/// Seed of the hfp hash (fixed: the same client gives the same hfp everywhere).
pub const SEED: u64 = 0x6466_7031; // "dfp1"

/// The header-shape fingerprint of `req`.
pub fn hfp(_req: &Request) -> u64 {
    0
}

/// Readable form, e.g. `po11:user-agent,accept,content-type`.
pub fn readable(_req: &Request) -> String {
    String::new()
}
