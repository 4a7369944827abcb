//! Tests of route overrides in the engine: which route a request falls into, that its
//! thresholds, weights, mode and body reading are the ones used in both phases and in the
//! flag-history feedback, and that the verdict names the route.

use super::*;
use crate::request::Header;
use crate::signal::Signal;

const T0: u64 = 1_772_409_600_000;

fn req<'a>(method: &'a str, path: &'a str, key: &'a str, body: &'a str, now_ms: u64) -> Request<'a> {
    let mut r = Request::new();
    r.method = method.as_bytes();
    r.path = path.as_bytes();
    r.headers = vec![
        Header::new("host", "api.example.com"),
        Header::new("user-agent", "curl/8.5.0"),
        Header::new("x-api-key", key),
        Header::new("content-type", "application/json"),
        Header::new("via", "1.1 squid"),
        Header::new("proxy-authorization", "Basic eDp5"),
    ];
    r.body = body.as_bytes();
    r.body_complete = true;
    r.peer.ip = "203.0.113.7".parse().ok();
    r.now_ms = now_ms;
    r
}

/// Via (10) + Proxy-Authorization (30) + curl (3) = 43 under the default weights.
const POLICY: &str = r#"{"thresholds": {"tag": 10, "throttle": 20, "deny": 30}, "routes": [
    {"name": "batch", "match": {"prefix": "/v1/batch", "method": "POST"}, "mode": "shadow"},
    {"match": {"path": "/v1/messages", "method": ["POST"]}, "thresholds": {"deny": 101}},
    {"match": {"prefix": "/v1/"}, "signals": {"proxy_authorization": {"weight": 0}}},
    {"match": {"prefix": "/v1/messages"}, "thresholds": {"tag": 90, "throttle": 95, "deny": 101}}
]}"#;

#[test]
fn first_matching_route_decides_by_path_and_method() {
    let mut e = Engine::from_json(POLICY).unwrap();
    let c = e.compiled();
    assert_eq!(c.route_for(b"POST", b"/v1/batches?x=1"), Some(0));
    assert_eq!(c.route_for(b"GET", b"/v1/batches"), Some(2));
    assert_eq!(c.route_for(b"POST", b"/v1/messages?beta=true"), Some(1));
    assert_eq!(c.route_for(b"GET", b"/v1/messages"), Some(2), "routes[3] comes after routes[2]");
    assert_eq!(c.route_for(b"POST", b"/v2/x"), None);
    assert_eq!(c.route_for(b"post", b"/v1/batch"), Some(2), "methods compare exactly");

    let cases = [
        ("POST", "/healthz", None, Action::Deny, Action::Deny, 43),
        ("POST", "/v1/batch", Some("batch"), Action::Deny, Action::Tag, 43),
        ("POST", "/v1/messages", Some("1"), Action::Throttle, Action::Throttle, 43),
        ("GET", "/v1/messages", Some("2"), Action::Tag, Action::Tag, 13),
    ];
    for (i, (method, path, route, action, enforced, score)) in cases.into_iter().enumerate() {
        let r = req(method, path, "k", "", T0 + i as u64);
        let v = e.inspect(&r);
        assert_eq!((e.route_label(&v), v.action, v.enforced, v.score), (route, action, enforced, score), "{method} {path}: {:?}", v.reasons);
    }
}

#[test]
fn allowlisted_requests_still_name_their_route() {
    let mut e = Engine::from_json(r#"{"allow": {"cidrs": ["203.0.113.0/24"]}, "routes": [{"match": {"prefix": "/"}}]}"#).unwrap();
    let v = e.inspect(&req("GET", "/x", "k", "", T0));
    assert!(v.allowlisted);
    assert_eq!(v.route, Some(0));
}

#[test]
fn body_reading_follows_the_route() {
    let policy = r#"{"body": {"inspect": "never", "max_bytes": 1024}, "routes": [
        {"match": {"path": "/v1/messages", "method": "PUT"}, "body": {"max_bytes": 0}},
        {"match": {"path": "/v1/messages", "method": "POST"}, "body": {"inspect": "always", "max_bytes": 4096}},
        {"match": {"path": "/v1/responses"}, "body": {"max_bytes": 0}},
        {"match": {"path": "/v1/completions"}, "body": {"inspect": "always", "max_bytes": 40}}
    ]}"#;
    let mut e = Engine::from_json(policy).unwrap();
    assert!(e.wants_body_for(b"POST", b"/v1/messages"));
    assert!(!e.wants_body_for(b"PUT", b"/v1/messages"));
    assert!(e.wants_body(b"/v1/messages"), "some method reads it");
    assert!(!e.wants_body(b"/v1/responses") && !e.wants_body_for(b"POST", b"/v1/responses"));
    assert!(e.wants_body(b"/v1/chat/completions"), "no route: the global body settings");
    assert!(!e.wants_body(b"/v1/models"), "not on body.paths: no route makes it one");
    assert_eq!(e.body_limit(), 4096);
    assert_eq!(e.body_limit_for(b"POST", b"/v1/messages"), 4096);
    assert_eq!(e.body_limit_for(b"GET", b"/v1/messages"), 1024);

    // `always` on the route holds the request; the global `never` does not.
    let cot = r#"{"model":"m","messages":[{"role":"user","content":"Think step by step and show all of your reasoning before answering this question about prime numbers."}]}"#;
    assert!(matches!(e.inspect_headers(&req("POST", "/v1/messages", "k", cot, T0), true), Decision::NeedBody(_)));
    assert!(matches!(e.inspect_headers(&req("GET", "/v1/messages", "k", cot, T0), true), Decision::Final { .. }));
    let v = e.inspect(&req("POST", "/v1/messages", "k", cot, T0));
    assert!(v.reasons.iter().any(|r| r.signal == Signal::PromptCot), "{:?}", v.reasons);
    // The route's 40-byte limit cuts the body before the user turn, whatever the host passed.
    let v = e.inspect(&req("POST", "/v1/completions", "k", cot, T0));
    assert!(!v.reasons.iter().any(|r| r.signal == Signal::PromptCot), "{:?}", v.reasons);
    // max_bytes 0: the body is neither waited for nor learned from.
    assert!(matches!(e.inspect_headers(&req("POST", "/v1/responses", "k", cot, T0), true), Decision::Final { learn: None, .. }));
}

#[test]
fn gray_zone_is_the_routes() {
    // Header score 43: inside the global gray zone, outside the route's.
    let policy = r#"{"body": {"inspect": "suspicious", "gray_zone": {"from": 5, "to": 90}}, "routes": [
        {"match": {"path": "/v1/messages"}, "body": {"gray_zone": {"from": 50}}}]}"#;
    let mut e = Engine::from_json(policy).unwrap();
    assert_eq!(e.inspect(&req("POST", "/v1/models", "k", "", T0)).score, 43);
    assert!(matches!(e.inspect_headers(&req("POST", "/v1/chat/completions", "k", "{}", T0), true), Decision::NeedBody(_)));
    assert!(matches!(e.inspect_headers(&req("POST", "/v1/messages", "k", "{}", T0), true), Decision::Final { .. }));
}

#[test]
fn flag_history_feedback_uses_the_routes_thresholds() {
    // Elicitation weighted to tag alone globally; a route that never tags records no flag,
    // so the account's next request elsewhere carries no history.
    let policy = |routes: &str| {
        format!(r#"{{"body": {{"inspect": "always"}}, "signals": {{"proxy_via": {{"weight": 0}}, "proxy_authorization": {{"weight": 0}}, "prompt_cot": {{"weight": 40}}, "account_flag_history": {{"weight": 40}}}}, "routes": [{routes}]}}"#)
    };
    let cot = r#"{"model":"m","messages":[{"role":"user","content":"Think step by step and show all of your reasoning before answering this question about prime numbers."}]}"#;
    let plain = r#"{"model":"m","messages":[{"role":"user","content":"What is a good name for a cat that likes to sit on keyboards"}]}"#;
    let history = |routes: &str| {
        let mut e = Engine::from_json(&policy(routes)).unwrap();
        for i in 0..10 {
            e.inspect(&req("POST", "/v1/messages", "hydra", cot, T0 + i * 60_000));
        }
        let v = e.inspect(&req("POST", "/v1/chat/completions", "hydra", plain, T0 + 11 * 60_000));
        v.reasons.iter().any(|r| r.signal == Signal::AccountFlagHistory)
    };
    assert!(history(r#"{"match": {"path": "/v1/other"}}"#));
    assert!(!history(r#"{"match": {"path": "/v1/messages"}, "thresholds": {"tag": 100, "throttle": 101, "deny": 101}}"#));
}
