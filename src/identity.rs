//! Account identity: the API key from the policy's `identity.headers`, hashed at once.
//!
//! The key is looked up in the configured headers in priority order (lowercase names, first
//! occurrence of each): `authorization` yields the token of `Bearer <token>` (scheme matched
//! case-insensitively; `Basic`, `Digest` and other schemes are skipped), any other header its
//! trimmed value. The first non-empty key wins and is hashed with xxh3-64 seeded by a key
//! derived from `identity.hash_key`; the raw key is never stored, logged or returned.
//!
//! The id is a *pseudonymous identifier*, not a MAC: it keeps one deployment's account ids
//! apart from another's (different `hash_key`, different ids), but xxh3 is not a
//! cryptographic PRF, so a party that knows `hash_key` and can guess candidate keys can test
//! them. Treat `hash_key` as a secret and account ids as personal data. Not done here:
//! validating the key's format, or checking it against the API's key store.

use xxhash_rust::xxh3::{xxh3_64, xxh3_64_with_seed};

use crate::request::Request;

/// Derives the 64-bit hashing key (the xxh3 seed) from the policy's `identity.hash_key`.
pub fn derive_key(secret: &str) -> u64 {
    xxh3_64(secret.as_bytes())
}

/// The account id of `raw_key` under `key`: `xxh3_64_with_seed(raw_key, key)`.
#[inline]
pub fn hash_account(raw_key: &[u8], key: u64) -> u64 {
    xxh3_64_with_seed(raw_key, key)
}

/// The API key carried by one header value, or `None` when it is empty or, for
/// `authorization`, not a `Bearer` credential.
pub fn key_in<'v>(name: &str, value: &'v [u8]) -> Option<&'v [u8]> {
    let v = value.trim_ascii();
    let key = if crate::util::eq_ci(name.as_bytes(), b"authorization") {
        let split = v.iter().position(|b| b.is_ascii_whitespace())?;
        let (scheme, rest) = (v.get(..split)?, v.get(split..)?);
        if !crate::util::eq_ci(scheme, b"bearer") {
            return None;
        }
        rest.trim_ascii()
    } else {
        v
    };
    (!key.is_empty()).then_some(key)
}

/// The keyed hash of the first API key found in `headers` (lowercase names, priority order).
pub fn account(req: &Request, headers: &[String], key: u64) -> Option<u64> {
    headers
        .iter()
        .find_map(|name| req.header(name).and_then(|v| key_in(name, v)))
        .map(|raw| hash_account(raw, key))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::Header;

    fn req<'a>(h: &[(&'a str, &'a str)]) -> Request<'a> {
        let mut r = Request::new();
        r.headers = h.iter().map(|(n, v)| Header::new(*n, *v)).collect();
        r
    }

    fn default_headers() -> Vec<String> {
        vec!["x-api-key".into(), "authorization".into()]
    }

    #[test]
    fn same_key_same_id_and_hash_key_changes_it() {
        let k = derive_key("deployment-a");
        let a = account(&req(&[("X-Api-Key", "sk-ant-123")]), &default_headers(), k);
        let b = account(&req(&[("x-api-key", "  sk-ant-123 ")]), &default_headers(), k);
        assert!(a.is_some());
        assert_eq!(a, b);
        assert_ne!(a, account(&req(&[("x-api-key", "sk-ant-124")]), &default_headers(), k));
        let other = account(&req(&[("x-api-key", "sk-ant-123")]), &default_headers(), derive_key("deployment-b"));
        assert_ne!(a, other);
        assert_ne!(a, Some(xxh3_64(b"sk-ant-123")), "the id must depend on hash_key");
    }

    #[test]
    fn bearer_parsing() {
        let h = vec!["authorization".to_string()];
        let k = derive_key("k");
        let id = |v: &str| account(&req(&[("Authorization", v)]), &h, k);
        let want = Some(hash_account(b"tok-1", k));
        assert_eq!(id("Bearer tok-1"), want);
        assert_eq!(id("bearer   tok-1  "), want);
        assert_eq!(id("BEARER\ttok-1"), want);
        assert_eq!(id("Basic dXNlcjpwYXNz"), None);
        assert_eq!(id("Bearer"), None);
        assert_eq!(id("Bearer    "), None);
        assert_eq!(id("Bearertok-1"), None);
        assert_eq!(id("tok-1"), None);
        assert_eq!(id(""), None);
    }

    #[test]
    fn priority_order_and_empty_values() {
        let k = derive_key("k");
        let both = [("authorization", "Bearer from-auth"), ("x-api-key", "from-xkey")];
        assert_eq!(account(&req(&both), &default_headers(), k), Some(hash_account(b"from-xkey", k)));
        let rev = vec!["authorization".to_string(), "x-api-key".to_string()];
        assert_eq!(account(&req(&both), &rev, k), Some(hash_account(b"from-auth", k)));
        // An empty or non-Bearer higher-priority header falls through to the next one.
        let r = req(&[("x-api-key", "   "), ("authorization", "Bearer from-auth")]);
        assert_eq!(account(&r, &default_headers(), k), Some(hash_account(b"from-auth", k)));
        let r = req(&[("authorization", "Basic abc"), ("x-api-key", "from-xkey")]);
        assert_eq!(account(&r, &rev, k), Some(hash_account(b"from-xkey", k)));
        assert_eq!(account(&req(&[("x-api-key", "")]), &default_headers(), k), None);
        assert_eq!(account(&req(&[("x-other", "k")]), &default_headers(), k), None);
        assert_eq!(account(&req(&[("x-api-key", "k")]), &[], k), None);
    }

    #[test]
    fn non_utf8_keys_hash_as_bytes() {
        let k = derive_key("k");
        let mut r = Request::new();
        r.headers = vec![Header::new("x-api-key", b"\xff\x00key".as_slice())];
        assert_eq!(account(&r, &default_headers(), k), Some(hash_account(b"\xff\x00key", k)));
    }
}
