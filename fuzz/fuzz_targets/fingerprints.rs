//! Fuzz target: the fingerprints on arbitrary header lists.
//!
//! Decodes the bytes into method, path and headers (see `headers.rs`) and runs the header
//! shape fingerprint (`hfp` and its readable form), JA4H (hashed and raw) and the client
//! claim checks. Asserts the properties every host relies on: the readable form and JA4H are
//! deterministic, and JA4H's first section is always 12 characters.
#![no_main]

use distill_guard::fingerprint::{claims, hfp, ja4h};
use distill_guard::signal::Fired;
use libfuzzer_sys::fuzz_target;

#[path = "headers.rs"]
mod headers;

fuzz_target!(|data: &[u8]| {
    let req = headers::request(data);
    let h = hfp::hfp(&req);
    assert_eq!(h, hfp::hfp(&req), "hfp is deterministic");
    let _ = hfp::readable(&req);
    let j = ja4h::ja4h(&req);
    assert_eq!(j.split('_').next().map(str::len), Some(12), "ja4h section a: {j:?}");
    let _ = ja4h::ja4h_r(&req);
    let mut fired = Fired::default();
    let family = claims::check(&req, &mut fired);
    let _ = claims::order_violated(&req, family);
});
