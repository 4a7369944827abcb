//! Client claims: which client family the User-Agent claims, and what contradicts it. (stub)

use crate::request::Request;
use crate::signal::Fired;

/// Classifies the claimed client and fires `client.*` signals. Returns the family name.
pub fn check(_req: &Request, _fired: &mut Fired) -> &'static str {
    "unknown"
}
