//! Account identity: the API key from configured headers, keyed-hashed at once. (stub)

use crate::request::Request;

/// Derives the 64-bit hashing key from the policy's `identity.hash_key`.
pub fn derive_key(secret: &str) -> u64 {
    xxhash_rust::xxh3::xxh3_64(secret.as_bytes())
}

/// The keyed hash of the first API key found in `headers` (lowercase names), if any.
pub fn account(_req: &Request, _headers: &[String], _key: u64) -> Option<u64> {
    None
}
