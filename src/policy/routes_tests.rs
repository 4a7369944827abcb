//! Tests of route overrides in a policy: parsing, export, every error by path, merged
//! values, and the warnings for routes that never take effect.

use super::*;

fn errors(text: &str) -> String {
    Policy::from_json(text).unwrap_err().to_string()
}

#[test]
fn routes_parse_merge_and_round_trip() {
    let text = r#"{"thresholds": {"tag": 30, "throttle": 70, "deny": 90}, "routes": [
        {"name": "batch", "match": {"prefix": "/v1/batch", "method": "POST"}, "mode": "shadow",
         "thresholds": {"deny": 101}, "signals": {"proxy_via": {"weight": 0}, "rate_account": {"full": 500}},
         "body": {"inspect": "never", "max_bytes": 4096, "gray_zone": {"to": 60}}},
        {"match": {"path": "/v1/models", "method": ["GET", "HEAD"]}}
    ]}"#;
    let p = Policy::from_json(text).unwrap();
    let r = &p.routes[0];
    assert_eq!(r.matches.method, ["POST"]);
    assert_eq!(p.routes[1].matches.method, ["GET", "HEAD"]);
    assert_eq!(r.mode(&p), Mode::Shadow);
    assert_eq!(p.routes[1].mode(&p), Mode::Enforce);
    assert_eq!(r.thresholds(&p), Thresholds { tag: 30, throttle: 70, deny: 101 });
    assert_eq!(r.signal(&p, Signal::ProxyVia).weight, 0);
    let ramp = r.signal(&p, Signal::RateAccount);
    assert_eq!((ramp.weight, ramp.from, ramp.full), (p.signal(Signal::RateAccount).weight, Some(30.0), Some(500.0)));
    assert_eq!(r.signal(&p, Signal::ProxyAuthorization), p.signal(Signal::ProxyAuthorization));
    let b = r.body(&p);
    assert_eq!((b.max_bytes, b.inspect, b.gray_zone.from, b.gray_zone.to), (4096, Inspect::Never, 15, 60));
    assert_eq!(p.routes[1].body(&p), p.body_read());
    // The export keeps the routes as written (overrides only) and reads back the same.
    let out = p.to_json_pretty();
    assert!(out.contains(r#""method": "POST""#) && out.contains(r#""method": ["#), "{out}");
    let routes = &out[out.find("\"routes\"").unwrap()..];
    assert!(!routes.contains("null") && !routes.contains("{}"), "{routes}");
    assert_eq!(Policy::from_json(&out).unwrap(), p);
    // No routes: the export has no `routes` key (exports of older policies are unchanged).
    assert!(!Policy::default().to_json_pretty().contains("routes"));
}

#[test]
fn shape_errors_name_their_route_path() {
    let e = errors(
        r#"{"routes": [
        {"match": {"prefix": "/a", "methd": "POST"}, "bogus": 1},
        {"match": {"path": "/b"}, "thresholds": {"tag": "high"}, "body": {"paths": ["/x"], "max_bytes": -1}},
        {"match": {"path": "/c"}, "signals": {"proxy_vai": {"weight": 1}}, "mode": "loud"},
        {"match": {"path": "/d", "method": 7}, "body": {"inspect": "sometimes"}},
        {"match": {"path": "/e", "method": ["GET", 1]}},
        "not a route"
    ]}"#,
    );
    for want in [
        "routes[0].match.methd: unknown field \"methd\" (did you mean \"method\"?)",
        "routes[0].bogus: unknown field",
        "routes[1].thresholds.tag: must be a number, got a string \"high\"",
        "routes[1].body.paths: not allowed in a route",
        "routes[1].body.max_bytes: must be a whole number >= 0, got -1",
        "routes[2].signals.proxy_vai: unknown signal \"proxy_vai\" (did you mean \"proxy_via\"?)",
        "routes[2].mode: must be one of enforce, shadow, got \"loud\"",
        "routes[3].match.method: must be a string or an array of strings, got a number",
        "routes[3].body.inspect: must be one of always, suspicious, never, got \"sometimes\"",
        "routes[4].match.method[1]: must be a string, got a number",
        "routes[5]: must be an object, got a string",
    ] {
        assert!(e.contains(want), "missing {want:?} in\n{e}");
    }
    assert!(errors(r#"{"routes": {"match": {}}}"#).contains("routes: must be an array, got an object"));
    assert!(errors(r#"{"mode": "loud"}"#).contains("mode: must be one of enforce, shadow, got \"loud\""));
}

#[test]
fn range_and_merge_errors_name_their_route_path() {
    let e = errors(
        r#"{"routes": [
        {"match": {}},
        {"match": {"prefix": "/v1/batch"}, "thresholds": {"deny": 50}},
        {"match": {"path": "v1/x", "method": "post"}, "signals": {"proxy_via": {"weight": 250, "from": 1}}},
        {"match": {"path": "/a", "prefix": "/b"}, "signals": {"rate_account": {"from": 200}}},
        {"match": {"path": "/q?x=1"}, "body": {"max_bytes": 2000000, "gray_zone": {"from": 95}}},
        {"name": "a b", "match": {"path": "/n"}},
        {"name": "n", "match": {"path": "/n1"}},
        {"name": "n", "match": {"path": "/n2", "method": ["GET", ""]}}
    ]}"#,
    );
    for want in [
        "routes[0].match: needs path or prefix",
        "routes[1].thresholds.deny: must be >= routes[1].thresholds.throttle (70), got 50",
        "routes[2].match.path: must start with '/', got \"v1/x\"",
        "routes[2].match.method: must be an HTTP method in upper case (POST, GET, ...), got \"post\"",
        "routes[2].signals.proxy_via: is not a graded signal",
        "routes[3].match: needs path or prefix, not both",
        "routes[3].signals.rate_account.full: must be a finite number > from (200), got 120",
        "routes[4].match.path: must not contain '?'",
        "routes[4].body.max_bytes: must be 0..=1048576, got 2000000",
        "routes[4].body.gray_zone.to: must be >= routes[4].body.gray_zone.from (95), got 90",
        "routes[5].name: must be 1..=64 characters",
        "routes[7].name: \"n\" is already the name of routes[6]",
        "routes[7].match.method[1]: must be an HTTP method",
    ] {
        assert!(e.contains(want), "missing {want:?} in\n{e}");
    }
    let e = errors(r#"{"routes": [{"match": {"path": "/w"}, "signals": {"proxy_via": {"weight": 250}}}]}"#);
    assert!(e.contains("routes[0].signals.proxy_via.weight: must be 0..=100, got 250"), "{e}");
}

#[test]
fn a_wrong_global_section_is_not_reported_again_per_route() {
    let e = errors(r#"{"thresholds": {"tag": 80, "throttle": 70}, "routes": [{"match": {"path": "/a"}, "thresholds": {"deny": 95}}]}"#);
    assert!(e.contains("thresholds.throttle: must be >= thresholds.tag (80), got 70"), "{e}");
    assert!(!e.contains("routes[0]"), "{e}");
}

#[test]
fn route_count_is_bounded() {
    let routes: Vec<String> = (0..=MAX_ROUTES).map(|i| format!(r#"{{"match": {{"path": "/r{i}"}}}}"#)).collect();
    let e = errors(&format!(r#"{{"routes": [{}]}}"#, routes.join(",")));
    assert!(e.contains(&format!("routes: at most {MAX_ROUTES} routes, got {}", MAX_ROUTES + 1)), "{e}");
}

#[test]
fn routes_that_never_take_effect_are_warned_about() {
    let p = Policy::from_json(
        r#"{"identity": {"hash_key": "a-secret-of-our-own"}, "routes": [
        {"match": {"prefix": "/v1/", "method": ["POST", "PUT"]}},
        {"match": {"path": "/v1/messages", "method": "POST"}},
        {"match": {"prefix": "/v1/messages"}},
        {"match": {"prefix": "/admin"}, "body": {"inspect": "always"}},
        {"match": {"prefix": "/v1/chat"}, "body": {"inspect": "always"}},
        {"match": {"path": "/v1/responses"}, "body": {"max_bytes": 0}}
    ]}"#,
    )
    .unwrap();
    let w = p.warnings();
    assert!(w.contains(&"routes[1] never applies: routes[0] comes first and matches every request it matches".to_string()), "{w:?}");
    assert!(w.contains(&"routes[3].body never applies: no path the route matches is on body.paths".to_string()), "{w:?}");
    // routes[2] also matches GET; routes[4] reaches /v1/chat/completions; routes[5] is a body path.
    assert_eq!(w.len(), 2, "{w:?}");
}

#[test]
fn route_labels_are_names_or_indices() {
    let p = Policy::from_json(r#"{"routes": [{"match": {"path": "/a"}}, {"name": "b", "match": {"path": "/b"}}]}"#).unwrap();
    let mut buf = [0u8; 5];
    assert_eq!(label(&p.routes, 0, &mut buf), "0");
    assert_eq!(label(&p.routes, 1, &mut buf), "b");
    assert_eq!(label(&p.routes, 65535, &mut buf), "65535");
}
