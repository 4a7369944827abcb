//! Every real client capture in `tests/data/clients.json` replayed as itself (its GET and
//! its JSON POST, headers and body as captured: auth, content type and length included)
//! through an engine built from `filters/default.json`: no `client.*` signal but
//! `client.scripted` fires, and nothing is flagged, whether each capture meets a fresh
//! engine, or one engine sees all of them in sequence (as many users of one deployment),
//! directly or through Envoy's view of the headers.

use std::net::{IpAddr, Ipv4Addr};

use distill_guard::engine::Engine;
use distill_guard::fingerprint::claims;
use distill_guard::request::{Header, HttpVersion, Peer, Request};
use distill_guard::score::Action;
use distill_guard::signal::{Fired, Signal};

struct Capture {
    name: String,
    stack: String,
    family: String,
    method: String,
    path: String,
    version: HttpVersion,
    headers: Vec<(String, String)>,
    body: String,
}

fn captures() -> Vec<Capture> {
    let text = include_str!("data/clients.json");
    let doc: serde_json::Value = serde_json::from_str(text).unwrap();
    let s = |c: &serde_json::Value, k: &str| c[k].as_str().unwrap_or_default().to_string();
    let all: Vec<Capture> = doc["clients"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["source"] == "captured")
        .map(|c| Capture {
            name: s(c, "name"),
            stack: s(c, "stack"),
            family: s(c, "family"),
            method: s(c, "method"),
            path: s(c, "path"),
            version: HttpVersion::parse(&s(c, "http_version")).unwrap(),
            headers: c["headers"].as_array().unwrap().iter().map(|h| (h[0].as_str().unwrap().to_string(), h[1].as_str().unwrap().to_string()))
                .collect(),
            body: s(c, "body"),
        })
        .collect();
    assert!(all.len() >= 80, "{} captured requests", all.len());
    all
}

/// Capture `i` as a distinct user would send it: its own API key and /24, one second apart.
fn headers_of(c: &Capture, i: usize, envoy: bool) -> Vec<(String, String)> {
    let key = format!("sk-test-user-{i}");
    let mut hs: Vec<(String, String)> = Vec::new();
    if envoy {
        hs.push((":authority".into(), "api.example.com".into()));
        hs.push((":path".into(), c.path.clone()));
        hs.push((":method".into(), c.method.clone()));
        hs.push((":scheme".into(), "https".into()));
    }
    for (n, v) in &c.headers {
        let lower = n.to_ascii_lowercase();
        if envoy && ["host", "connection", "keep-alive", "transfer-encoding"].contains(&lower.as_str()) {
            continue;
        }
        let v = v.replace("sk-test-REDACTED", &key);
        hs.push((if envoy { lower } else { n.clone() }, v));
    }
    if envoy {
        hs.push(("x-forwarded-proto".into(), "https".into()));
        hs.push(("x-request-id".into(), format!("req-{i}")));
    }
    hs
}

fn inspect(engine: &mut Engine, c: &Capture, i: usize, envoy: bool) -> (Action, Vec<&'static str>) {
    let hs = headers_of(c, i, envoy);
    let req = Request {
        method: c.method.as_bytes(),
        path: c.path.as_bytes(),
        version: c.version,
        headers: hs.iter().map(|(n, v)| Header::new(n, v)).collect(),
        body: c.body.as_bytes(),
        peer: Peer { ip: Some(IpAddr::V4(Ipv4Addr::new(198, 18, (i / 200) as u8, (i % 200) as u8 + 1))), ..Peer::default() },
        now_ms: 1_772_409_600_000 + i as u64 * 1000,
        ..Request::new()
    };
    let mut fired = Fired::default();
    claims::check(&req, &mut fired);
    let contradictions: Vec<&'static str> =
        fired.iter().filter(|(s, v)| *v > 0.0 && *s != Signal::ClientScripted).map(|(s, _)| s.code()).collect();
    let v = engine.inspect(&req);
    let reasons: Vec<&'static str> = v.reasons.iter().map(|r| r.signal.code()).collect();
    assert!(contradictions.is_empty(), "{}: {contradictions:?}", c.name);
    (v.action, reasons)
}

fn engine() -> Engine {
    Engine::from_json(include_str!("../filters/default.json")).unwrap()
}

fn check(c: &Capture, action: Action, reasons: &[&str], how: &str) {
    let client: Vec<&&str> = reasons.iter().filter(|r| r.starts_with("client.") && **r != "client.scripted").collect();
    assert!(client.is_empty(), "{} ({how}): {client:?}", c.name);
    assert!(action < Action::Tag, "{} ({how}) flagged {action:?}: {reasons:?}", c.name);
}

#[test]
fn every_capture_alone_is_neither_contradicted_nor_flagged() {
    for (i, c) in captures().iter().enumerate() {
        for envoy in [false, true] {
            let (action, reasons) = inspect(&mut engine(), c, i, envoy);
            check(c, action, &reasons, if envoy { "fresh engine, via Envoy" } else { "fresh engine" });
        }
    }
}

#[test]
fn all_captures_through_one_engine_are_never_flagged() {
    let all = captures();
    let mut e = engine();
    // Twice over: the second round meets the state the first one left.
    for round in 0..2 {
        for (i, c) in all.iter().enumerate() {
            let (action, reasons) = inspect(&mut e, c, i, round == 1);
            check(c, action, &reasons, "one engine");
        }
    }
}

#[test]
fn families_with_several_wire_orders_accept_each() {
    let all = captures();
    // The wire order without the headers an API caller sets.
    const CALLER: &[&str] = &["x-api-key", "authorization", "anthropic-version", "content-type", "accept"];
    let order = |c: &Capture| -> Vec<String> {
        c.headers.iter().map(|(n, _)| n.to_ascii_lowercase()).filter(|n| !CALLER.contains(&n.as_str())).collect()
    };
    for fam in ["node", "none", "java", "axios", "openai-sdk-python", "openai-sdk-js", "anthropic-sdk-js"] {
        let mine: Vec<&Capture> = all.iter().filter(|c| c.family == fam && c.method == "POST").collect();
        let mut orders: Vec<Vec<String>> = mine.iter().map(|c| order(c)).collect();
        orders.sort();
        orders.dedup();
        assert!(orders.len() >= 2 || fam == "node", "{fam}: one wire order only");
        for c in &mine {
            let hs = headers_of(c, 0, false);
            let req = Request { headers: hs.iter().map(|(n, v)| Header::new(n, v)).collect(), ..Request::new() };
            assert!(!claims::order_violated(&req, fam), "{} ({fam})", c.name);
        }
    }
    // Node's User-Agents: global fetch (undici) says `node`; the http-module libraries
    // name themselves and each has its own captured order; the AI SDK rides on fetch.
    let stacks: Vec<&str> = all.iter().filter(|c| c.family == "node").map(|c| c.stack.as_str()).collect();
    assert!(stacks.contains(&"node-fetch-builtin"), "{stacks:?}");
    for (stack, fam) in [("axios", "axios"), ("got", "got"), ("node-fetch-2", "node-fetch"), ("needle", "needle")] {
        assert!(all.iter().any(|c| c.stack == stack && c.family == fam), "{stack}");
    }
}

#[test]
fn a_user_agent_without_captures_gets_no_order_verdict() {
    let families: Vec<String> = captures().iter().map(|c| c.family.clone()).collect();
    let shuffled = [("Accept-Encoding", "gzip"), ("Content-Length", "2"), ("Connection", "close"), ("Host", "a"),
        ("Accept", "*/*"), ("Content-Type", "application/json"), ("x-api-key", "k")];
    for ua in ["okhttp/4.12.0", "Apache-HttpClient/4.5.14 (Java/17.0.9)", "Dart/3.2 (dart:io)", "PostmanRuntime/7.39.0",
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Safari/605.1.15"] {
        let fam = claims::family(Some(ua.as_bytes()));
        let mut hs = vec![("User-Agent", ua)];
        hs.extend(shuffled);
        hs.reverse();
        let req = Request { headers: hs.iter().map(|(n, v)| Header::new(*n, *v)).collect(), ..Request::new() };
        let mut fired = Fired::default();
        claims::check(&req, &mut fired);
        assert_eq!(fired.get(Signal::ClientOrderMismatch), 0.0, "{ua} ({fam})");
        if fam != "java" {
            assert!(!families.contains(&fam.to_string()), "{fam} has captures");
            assert!(claims::ORDER.iter().all(|(f, _)| *f != fam), "{fam} has an order rule");
        }
    }
}
