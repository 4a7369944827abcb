//! What the tests of whole populations share: the captured `openai-python` POST, a
//! deterministic generator, and one request through an engine.
#![allow(dead_code)]

use std::net::{IpAddr, Ipv4Addr};

use distill_guard::engine::Engine;
use distill_guard::request::{Header, HttpVersion, Request};
use distill_guard::score::Verdict;

pub const T0: u64 = 1_772_409_600_000;
pub const JA4: &str = "t13d1812h1_c866b44c5a26_e30f4b1b1d2c";

/// The captured `openai-python-post` headers (name, value), with the key replaced per account.
pub fn sdk_headers() -> Vec<(String, String)> {
    let doc: serde_json::Value = serde_json::from_str(include_str!("../data/clients.json")).unwrap();
    let cap = doc["clients"].as_array().unwrap().iter().find(|c| c["name"] == "openai-python-post").expect("capture");
    cap["headers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| (h[0].as_str().unwrap().to_string(), h[1].as_str().unwrap().to_string()))
        .collect()
}

/// An engine with the shipped policy `filters/{name}.json`.
pub fn shipped(name: &str) -> Engine {
    let policy = std::fs::read_to_string(format!("{}/filters/{name}.json", env!("CARGO_MANIFEST_DIR"))).unwrap();
    Engine::from_json(&policy).unwrap()
}

/// A deterministic generator (xorshift), so the test is the same on every run.
pub struct Rng(pub u64);
impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// `n` pseudo-words of 3-8 lower-case letters, joined by spaces: text of a user's own.
pub fn words(rng: &mut Rng, n: usize) -> String {
    let w: Vec<String> = (0..n).map(|_| (0..3 + rng.below(6)).map(|_| (b'a' + rng.below(26) as u8) as char).collect()).collect();
    w.join(" ")
}

/// A chat-completions body with the user's own question (no shared task, no elicitation).
pub fn chat(text: &str) -> String {
    format!(r#"{{"model":"gpt-5","messages":[{{"role":"user","content":"{text}"}}]}}"#)
}

/// The SDK's POST for API key `key` carrying `body`, from `ip` on `asn` at `ts` (JA4 as captured).
/// `asn` `None`: a deployment without a geo database (no ASN, no country).
pub fn send(engine: &mut Engine, headers: &[(String, String)], key: &str, body: &str, ip: Ipv4Addr, asn: impl Into<Option<u32>>, ts: u64) -> Verdict {
    let (auth, len) = (format!("Bearer {key}"), body.len().to_string());
    let mut r = Request::new();
    r.method = b"POST";
    r.path = b"/v1/chat/completions";
    r.version = HttpVersion::Http11;
    r.headers = headers
        .iter()
        .map(|(k, v)| match k.to_ascii_lowercase().as_str() {
            "authorization" => Header::new(k, &auth),
            "content-length" => Header::new(k, &len),
            _ => Header::new(k, v),
        })
        .collect();
    r.body = body.as_bytes();
    r.body_complete = true;
    r.peer.ip = Some(IpAddr::V4(ip));
    r.peer.asn = asn.into();
    r.peer.country = r.peer.asn.map(|_| "DE");
    r.peer.ja4 = Some(JA4);
    r.now_ms = ts;
    engine.inspect(&r)
}
