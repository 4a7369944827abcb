//! Fault injection for the end-to-end tests (cargo feature `fault-injection`, never in the
//! shipped module): a request header [`HEADER`] makes the filter treat one of its host reads
//! as failed, so that the internal-error path (fail open, or deny with `fail_closed`) can be
//! shown against a real Envoy, which gives no honest way to make a host call fail.
//!
//! The read itself still happens (the header is only visible in what it returned); its
//! result is then replaced by the error status [`STATUS`] and goes through exactly the code a
//! real failure would. `scripts/build.sh envoy` builds this into
//! `build/distill_guard_envoy_fault.wasm`; a test checks the shipped module lacks [`HEADER`].

use super::apply::Status;
use super::wire;

/// The request header that injects a fault: `headers` or `body`.
pub const HEADER: &[u8] = b"x-distill-guard-fault";

/// The status an injected failure reports (proxy-wasm's "internal failure").
pub const STATUS: Status = Status(10);

/// Which host read fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Point {
    /// Reading the request header map.
    Headers,
    /// Reading the buffered request body.
    Body,
}

impl Point {
    fn name(self) -> &'static [u8] {
        match self {
            Point::Headers => b"headers",
            Point::Body => b"body",
        }
    }
}

/// `Err(STATUS)` when the serialized header map `headers` asks for a fault at `point`.
pub fn check(headers: &[u8], point: Point) -> Result<(), Status> {
    match wire::find_value(headers, HEADER) {
        Some(v) if v.eq_ignore_ascii_case(point.name()) => Err(STATUS),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> Vec<u8> {
        wire::serialize_pairs(&pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect::<Vec<_>>())
    }

    #[test]
    fn only_the_named_point_fails() {
        let h = map(&[(":path", "/"), ("x-distill-guard-fault", "headers")]);
        assert_eq!(check(&h, Point::Headers), Err(STATUS));
        assert_eq!(check(&h, Point::Body), Ok(()));
        let b = map(&[("x-distill-guard-fault", "body")]);
        assert_eq!(check(&b, Point::Body), Err(STATUS));
        assert_eq!(check(&b, Point::Headers), Ok(()));
        for h in [map(&[(":path", "/")]), map(&[("x-distill-guard-fault", "other")]), Vec::new()] {
            assert_eq!(check(&h, Point::Headers), Ok(()));
            assert_eq!(check(&h, Point::Body), Ok(()));
        }
    }
}
