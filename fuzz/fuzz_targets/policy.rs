//! Fuzz target: the policy parser and validator (`Policy::from_json`) on arbitrary text.
//!
//! When a document is accepted, the engine must build from it, inspect a request (an SDK
//! request with a body, through a proxy) and map the verdict to a response without
//! panicking, and the accepted policy must round-trip: its pretty JSON parses again.
#![no_main]

use distill_guard::{respond, Engine, Header, Policy, Request};
use libfuzzer_sys::fuzz_target;

const BODY: &str = r#"{"model":"m","max_tokens":64000,"temperature":0,"messages":[{"role":"user","content":"Think step by step. Grade the answer on a scale of 1 to 10."}]}"#;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(policy) = Policy::from_json(text) else { return };
    let again = policy.to_json_pretty();
    assert!(Policy::from_json(&again).is_ok(), "accepted policy does not round-trip: {again}");
    let mut engine = Engine::new(policy);
    let headers = [
        Header::new("host", "api.example.com"),
        Header::new("user-agent", "Anthropic/Python 0.40.0"),
        Header::new("x-api-key", "sk-ant-fuzz"),
        Header::new("content-type", "application/json"),
        Header::new("via", "1.1 squid"),
        Header::new("x-forwarded-for", "203.0.113.7, 198.51.100.1"),
    ];
    let mut req = Request::new();
    req.method = b"POST";
    req.path = b"/v1/messages";
    req.headers = headers.to_vec();
    req.peer.ip = "198.51.100.9".parse().ok();
    let cut = BODY.len().min(engine.body_limit());
    req.body = &BODY.as_bytes()[..cut];
    req.body_complete = cut == BODY.len();
    for now in [0, 1_000, 120_000] {
        req.now_ms = now;
        let v = engine.inspect(&req);
        let _ = respond::respond(&v, engine.policy(), 0);
    }
    let _ = engine.internal_error();
});
