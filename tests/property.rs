//! Property tests: no request, however malformed, makes `Engine::inspect` panic, and every
//! verdict is well formed (score <= 100, reasons are catalogue signals, shadow/enforced
//! consistent). Runs through two engines: the default policy and one with JA4H enabled.
//!
//! Inputs: arbitrary header lists (non-UTF-8 bytes, empty names, up to 1,000 headers,
//! values up to 100 KB), arbitrary bodies, peer addresses, JA4/JA3 strings and clocks,
//! plus exhaustive deterministic cases: a Messages body cut at every length, invalid UTF-8
//! at every position, 10k-deep nesting, huge strings. The RNG seed is fixed (set
//! `PROPTEST_RNG_SEED` / `PROPTEST_CASES` to explore more); case counts keep the whole file
//! under ~30 s in release.

use std::cell::RefCell;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use distill_guard::score::Verdict;
use distill_guard::{Engine, Header, HttpVersion, Request, Signal};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed};

const POLICIES: [&str; 2] = ["{}", r#"{"fingerprints":{"ja4h":true}}"#];

thread_local! {
    /// Engines live across cases so their cross-request state fills up as in production.
    static ENGINES: RefCell<Vec<Engine>> =
        RefCell::new(POLICIES.iter().map(|p| Engine::from_json(p).expect("policy")).collect());
}

/// An owned request the strategies produce; [`Input::request`] borrows a view of it.
#[derive(Debug, Clone)]
struct Input {
    method: Vec<u8>,
    path: Vec<u8>,
    version: HttpVersion,
    headers: Vec<(Vec<u8>, Vec<u8>)>,
    order_known: bool,
    body: Vec<u8>,
    body_complete: bool,
    ip: Option<IpAddr>,
    ja4: Option<String>,
    ja3: Option<String>,
    asn: Option<u32>,
    country: Option<String>,
    now_ms: u64,
}

impl Input {
    fn request(&self) -> Request<'_> {
        let mut r = Request::new();
        r.method = &self.method;
        r.path = &self.path;
        r.version = self.version;
        r.headers = self.headers.iter().map(|(n, v)| Header::new(n, v)).collect();
        r.order_known = self.order_known;
        r.body = &self.body;
        r.body_complete = self.body_complete;
        r.peer.ip = self.ip;
        r.peer.ja4 = self.ja4.as_deref();
        r.peer.ja3 = self.ja3.as_deref();
        r.peer.asn = self.asn;
        r.peer.country = self.country.as_deref();
        r.now_ms = self.now_ms;
        r
    }

    /// A plausible Messages request carrying `body`.
    fn messages(body: Vec<u8>, complete: bool) -> Input {
        Input {
            method: b"POST".to_vec(),
            path: b"/v1/messages".to_vec(),
            version: HttpVersion::Http11,
            headers: vec![
                (b"host".to_vec(), b"api.example".to_vec()),
                (b"x-api-key".to_vec(), b"k-1".to_vec()),
                (b"content-type".to_vec(), b"application/json".to_vec()),
                (b"user-agent".to_vec(), b"Anthropic/Python 0.40.0".to_vec()),
            ],
            order_known: true,
            body,
            body_complete: complete,
            ip: Some(IpAddr::V4(Ipv4Addr::new(203, 0, 113, 9))),
            ja4: Some("t13d1516h2_8daaf6152771_02713d6af862".into()),
            ja3: None,
            asn: Some(64500),
            country: Some("NL".into()),
            now_ms: 1_700_000_000_000,
        }
    }
}

/// Asserts the invariants of one verdict.
fn check(v: &Verdict, what: &str) {
    assert!(v.score <= 100, "{what}: score {}", v.score);
    assert!(v.enforced <= v.action, "{what}: enforced {:?} > action {:?}", v.enforced, v.action);
    for r in &v.reasons {
        assert!(Signal::ALL.contains(&r.signal), "{what}: {:?}", r.signal);
        assert_eq!(Signal::from_code(r.signal.code()), Some(r.signal), "{what}");
        assert!((0.0..=1.0).contains(&r.strength), "{what}: strength {}", r.strength);
        assert!(r.points.is_finite() && r.points >= 0.0, "{what}: points {}", r.points);
    }
    let codes = v.reason_codes();
    for code in codes.split(',').filter(|c| !c.is_empty()) {
        assert!(Signal::from_code(code).is_some(), "{what}: unknown reason code {code:?}");
    }
    if v.allowlisted {
        assert!(v.reasons.is_empty(), "{what}: allowlisted with reasons");
    }
}

/// Inspects `input` with every engine and checks each verdict.
fn inspect_all(input: &Input, what: &str) {
    let req = input.request();
    ENGINES.with(|e| {
        for engine in e.borrow_mut().iter_mut() {
            let v = engine.inspect(&req);
            check(&v, what);
            let _ = engine.wants_body(&input.path);
        }
    });
}

const NAMES: &[&str] = &[
    ":authority", ":method", ":path", "host", "user-agent", "accept", "accept-language", "accept-encoding",
    "content-type", "content-length", "cookie", "authorization", "x-api-key", "anthropic-version",
    "x-stainless-lang", "x-stainless-os", "x-stainless-package-version", "sec-ch-ua", "sec-fetch-mode",
    "referer", "via", "forwarded", "x-forwarded-for", "X-Forwarded-For", "x-real-ip", "proxy-connection",
    "proxy-authorization", "x-squid-error", "x-tinyproxy", "cache-control", "connection", "",
];

const VALUES: &[&str] = &[
    "",
    " ",
    "unknown",
    "unknown, [2001:db8::1]:443, 1.2.3.4:80, _hidden, ,",
    "[",
    "[::1",
    "1.2.3.4:99999",
    "Bearer ",
    "Bearer sk-abc",
    "bEaReR\tsk-abc  ",
    "Basic dXNlcjpwYXNz",
    "max-age=259200",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
    "Anthropic/Python 0.40.0",
    "OpenAI/JS 4.77.0",
    "python-requests/2.32.3",
    "curl/8.5.0",
    "fr-CH, fr;q=0.9, en;q=0.8, de;q=0.7, *;q=0.5",
    "zh-TW,zh;q=0.9,日本語;q=0.8",
    "é,ü;q=0.5",
    "\"Chromium\";v=\"131\", \"Not_A Brand\";v=\"24\"",
    "a=1; b=2; c=3",
    "1.1 squid, 1.0 fred",
    "for=192.0.2.60;proto=http;by=203.0.113.43, for=\"[2001:db8:cafe::17]:4711\"",
];

fn name() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        3 => proptest::sample::select(NAMES).prop_map(|s| s.as_bytes().to_vec()),
        1 => proptest::collection::vec(any::<u8>(), 0..24),
    ]
}

fn small_value() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        3 => proptest::collection::vec(any::<u8>(), 0..48),
        3 => proptest::sample::select(VALUES).prop_map(|s| s.as_bytes().to_vec()),
        1 => any::<String>().prop_map(String::into_bytes),
    ]
}

fn value() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        8 => small_value(),
        1 => (0usize..=100_000, any::<u8>()).prop_map(|(n, b)| vec![b; n]),
        1 => (0usize..=12_000).prop_map(|n| "1.2.3.4, ".repeat(n).into_bytes()),
        1 => (0usize..=100_000).prop_map(|n| (0..n).map(|i| (i * 7919 % 251) as u8).collect()),
    ]
}

fn headers() -> impl Strategy<Value = Vec<(Vec<u8>, Vec<u8>)>> {
    prop_oneof![
        4 => proptest::collection::vec((name(), value()), 0..12),
        1 => proptest::collection::vec((name(), small_value()), 0..=1000),
    ]
}

/// A Messages-style JSON body the strategies cut, nest and corrupt.
fn messages_json() -> String {
    let turn = r#"{"role":"user","content":[{"type":"text","text":"Think step by step. Grade the answer below against the rubric: \"ok\" \u00e9\ud83d\ude00"}]}"#;
    format!(
        r#"{{"model":"claude-x","max_tokens":64000,"temperature":0,"stream":true,"n":4,"logprobs":true,"top_logprobs":5,"system":"You are a grader.","tools":[{{"name":"t","input_schema":{{"type":"object"}}}}],"messages":[{turn},{{"role":"assistant","content":"Sure."}},{turn}]}}"#
    )
}

fn body() -> impl Strategy<Value = (Vec<u8>, bool)> {
    let json = messages_json().into_bytes();
    let len = json.len();
    prop_oneof![
        2 => (proptest::collection::vec(any::<u8>(), 0..512), any::<bool>()),
        3 => (0..=len, any::<bool>()).prop_map(move |(cut, c)| (json[..cut].to_vec(), c)),
        1 => (1usize..20_000, prop_oneof![Just(b"["), Just(b"{")]).prop_map(|(n, open)| (open.repeat(n), false)),
        1 => (0usize..200_000).prop_map(|n| {
            let mut b = br#"{"messages":[{"role":"user","content":""#.to_vec();
            b.extend(std::iter::repeat(b'a').take(n));
            b.extend_from_slice(br#""}]}"#);
            (b, true)
        }),
        1 => (proptest::collection::vec(any::<u8>(), 1..64), 0usize..400).prop_map(|(junk, at)| {
            let mut b = messages_json().into_bytes();
            let at = at.min(b.len());
            b.splice(at..at, junk);
            (b, true)
        }),
    ]
}

fn ip() -> impl Strategy<Value = Option<IpAddr>> {
    prop_oneof![
        Just(None),
        any::<u32>().prop_map(|a| Some(IpAddr::V4(Ipv4Addr::from(a)))),
        any::<u128>().prop_map(|a| Some(IpAddr::V6(Ipv6Addr::from(a)))),
        any::<u32>().prop_map(|a| Some(IpAddr::V6(Ipv4Addr::from(a).to_ipv6_mapped()))),
    ]
}

fn print() -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        Just(None),
        Just(Some("t13d1516h2_8daaf6152771_02713d6af862".to_string())),
        any::<String>().prop_map(Some),
        (0usize..5000).prop_map(|n| Some("é".repeat(n))),
    ]
}

fn input() -> impl Strategy<Value = Input> {
    let line = (
        prop_oneof![Just(b"POST".to_vec()), Just(b"GET".to_vec()), proptest::collection::vec(any::<u8>(), 0..12)],
        prop_oneof![
            3 => proptest::sample::select(&["/v1/messages", "/v1/chat/completions", "/v1/responses", "/v1/messages?beta=true", "/api/x", "/", ""][..])
                .prop_map(|s| s.as_bytes().to_vec()),
            1 => proptest::collection::vec(any::<u8>(), 0..64),
        ],
        proptest::sample::select(&[HttpVersion::Http10, HttpVersion::Http11, HttpVersion::Http2, HttpVersion::Http3][..]),
    );
    let peer = (ip(), print(), print(), proptest::option::of(any::<u32>()), proptest::option::of(any::<String>()), any::<u64>());
    (line, headers(), any::<bool>(), body(), peer).prop_map(
        |((method, path, version), headers, order_known, (body, body_complete), (ip, ja4, ja3, asn, country, now_ms))| Input {
            method,
            path,
            version,
            headers,
            order_known,
            body,
            body_complete,
            ip,
            ja4,
            ja3,
            asn,
            country,
            now_ms,
        },
    )
}

/// Fixed seed and modest case counts (fewer in unoptimized builds) unless the environment
/// asks for others.
fn config(cases: u32) -> Config {
    let mut c = Config { failure_persistence: None, max_shrink_iters: 2_000, ..Config::default() };
    if std::env::var_os("PROPTEST_CASES").is_none() {
        c.cases = cases;
    }
    if std::env::var_os("PROPTEST_RNG_SEED").is_none() {
        c.rng_seed = RngSeed::Fixed(0x0d15_7111);
    }
    c
}

proptest! {
    #![proptest_config(config(if cfg!(debug_assertions) { 150 } else { 1000 }))]

    #[test]
    fn inspect_never_panics_and_verdicts_are_well_formed(input in input()) {
        inspect_all(&input, "arbitrary");
    }
}

#[test]
fn messages_body_cut_at_every_length() {
    let json = messages_json().into_bytes();
    for cut in 0..=json.len() {
        let input = Input::messages(json[..cut].to_vec(), cut == json.len());
        inspect_all(&input, &format!("cut at {cut}"));
    }
}

#[test]
fn invalid_utf8_at_every_position() {
    let json = messages_json().into_bytes();
    for at in 0..=json.len() {
        for junk in [&b"\xff"[..], b"\xc3", b"\xed\xa0\x80", b"\x00"] {
            let mut b = json.clone();
            b.splice(at..at, junk.iter().copied());
            inspect_all(&Input::messages(b, true), &format!("junk at {at}"));
        }
    }
}

#[test]
fn deep_nesting_and_huge_strings() {
    let mut bodies: Vec<(String, Vec<u8>)> = Vec::new();
    for open in ["[", "{\"a\":", "{\"messages\":[", "{\"messages\":[{\"content\":["] {
        bodies.push((format!("{open} x10k"), open.repeat(10_000).into_bytes()));
    }
    let closed = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    bodies.push(("[[..]] 10k".into(), closed.into_bytes()));
    let huge = format!(r#"{{"messages":[{{"role":"user","content":"{}"}}]}}"#, "step by step ".repeat(100_000));
    bodies.push(("1.3 MB string".into(), huge.into_bytes()));
    let escapes = format!(r#"{{"messages":[{{"role":"user","content":"{}"}}]}}"#, "\\u00e9\\ud83d".repeat(20_000));
    bodies.push(("escapes and lone surrogates".into(), escapes.into_bytes()));
    let limit = ENGINES.with(|e| e.borrow().iter().map(Engine::body_limit).min().unwrap_or(0));
    for (what, b) in bodies {
        // As a host sends it (cut at the body limit), and whole (a host bug, still no panic).
        let cut = b.len().min(limit);
        inspect_all(&Input::messages(b[..cut].to_vec(), cut == b.len()), &what);
        inspect_all(&Input::messages(b, true), &what);
    }
}

#[test]
fn clocks_and_peers_at_the_extremes() {
    for now in [0, 1, u64::MAX / 2, u64::MAX - 1, u64::MAX, 0] {
        for ip in [None, Some(IpAddr::V4(Ipv4Addr::UNSPECIFIED)), Some(IpAddr::V6(Ipv6Addr::from(u128::MAX)))] {
            let mut input = Input::messages(messages_json().into_bytes(), true);
            input.now_ms = now;
            input.ip = ip;
            input.asn = Some(u32::MAX);
            inspect_all(&input, &format!("now {now} ip {ip:?}"));
        }
    }
}
