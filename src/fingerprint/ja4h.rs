//! JA4H (FoxIO License 1.1; opt-in). (stub)

use crate::request::Request;

/// JA4H of `req`.
pub fn ja4h(_req: &Request) -> String {
    String::new()
}

/// JA4H_r (raw, unhashed) of `req`.
pub fn ja4h_r(_req: &Request) -> String {
    String::new()
}
