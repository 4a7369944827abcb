//! `dg-capture-rust STACK URL KIND BODY`: one request (KIND `get` or `post`) with a real Rust
//! HTTP client (`reqwest`, `ureq`, `ureq2`) to the loopback capture server. Errors are ignored.

const KEY: &str = "sk-test-REDACTED";

fn main() {
    let a: Vec<String> = std::env::args().collect();
    let (stack, url, kind, body) = (a[1].as_str(), a[2].as_str(), a[3].as_str(), a[4].as_str());
    let json: serde_json::Value = serde_json::from_str(body).unwrap_or_default();
    let bearer = format!("Bearer {KEY}");
    let models = format!("{url}/v1/models");
    let messages = format!("{url}/v1/messages");
    match (stack, kind) {
        ("reqwest", "get") => drop(reqwest::blocking::Client::new().get(models).header("authorization", bearer).send()),
        ("reqwest", _) => drop(
            reqwest::blocking::Client::new()
                .post(messages)
                .header("x-api-key", KEY)
                .header("anthropic-version", "2023-06-01")
                .json(&json)
                .send(),
        ),
        ("ureq", "get") => drop(ureq::get(&models).header("authorization", &bearer).call()),
        ("ureq", _) => drop(
            ureq::post(&messages).header("x-api-key", KEY).header("anthropic-version", "2023-06-01").send_json(&json),
        ),
        ("ureq2", "get") => drop(ureq2::get(&models).set("authorization", &bearer).call()),
        (_, _) => drop(ureq2::post(&messages).set("x-api-key", KEY).set("anthropic-version", "2023-06-01").send_json(json)),
    }
}
