//! Test-only access to `tests/data/clients.json`: real header lists captured from real
//! clients by the `tests/data/capture_*` scripts, turned into [`Request`] views.

use crate::request::{Header, HttpVersion, Request};

/// One client shape from `clients.json`.
pub struct Client {
    /// `STACK-get` or `STACK-post`.
    pub name: String,
    /// The client stack (several requests per stack).
    pub stack: String,
    pub family: String,
    /// `captured` (recorded on loopback) or `documented` (typical shape, not captured).
    pub source: String,
    pub method: String,
    pub path: String,
    pub version: HttpVersion,
    pub headers: Vec<(String, String)>,
}

impl Client {
    /// The request view of this client's capture (order known, no body).
    pub fn request(&self) -> Request<'_> {
        Request {
            method: self.method.as_bytes(),
            path: self.path.as_bytes(),
            version: self.version,
            headers: self.headers.iter().map(|(n, v)| Header::new(n, v)).collect(),
            ..Request::new()
        }
    }
}

/// Every client in `clients.json`, in file order.
pub fn clients() -> Vec<Client> {
    let text = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/clients.json"));
    let doc: serde_json::Value = serde_json::from_str(text).expect("clients.json parses");
    let s = |c: &serde_json::Value, k: &str| c[k].as_str().unwrap_or_default().to_string();
    doc["clients"]
        .as_array()
        .expect("clients array")
        .iter()
        .map(|c| Client {
            name: s(c, "name"),
            stack: s(c, "stack"),
            family: s(c, "family"),
            source: s(c, "source"),
            method: s(c, "method"),
            path: s(c, "path"),
            version: HttpVersion::parse(&s(c, "http_version")).expect("known version"),
            headers: c["headers"]
                .as_array()
                .expect("headers")
                .iter()
                .map(|h| (h[0].as_str().unwrap_or("").to_string(), h[1].as_str().unwrap_or("").to_string()))
                .collect(),
        })
        .collect()
}

/// The client named `name` (panics when absent: test data is fixed).
pub fn client(name: &str) -> Client {
    clients().into_iter().find(|c| c.name == name).unwrap_or_else(|| panic!("no client {name}"))
}
