//! Tests of the two inspection phases: what each `body.inspect` setting holds, that a body
//! learned after a header-phase decision counts once, that held and whole inspections
//! agree, and what an account's flag history counts.

use super::*;
use crate::request::Header;
use crate::signal::Signal;

const T0: u64 = 1_772_409_600_000;

/// A Messages request from `key` at `ip`, with a user turn `text`.
fn body(text: &str) -> String {
    format!(r#"{{"model":"m","max_tokens":64,"messages":[{{"role":"user","content":"{text}"}}]}}"#)
}

fn req<'a>(key: &'a str, ua: &'a str, ip: &str, body: &'a str, now_ms: u64) -> Request<'a> {
    let mut r = Request::new();
    r.method = b"POST";
    r.path = b"/v1/messages";
    r.headers = vec![
        Header::new("host", "api.example.com"),
        Header::new("user-agent", ua),
        Header::new("x-api-key", key),
        Header::new("content-type", "application/json"),
    ];
    r.body = body.as_bytes();
    r.body_complete = true;
    r.peer.ip = ip.parse().ok();
    r.peer.asn = Some(64500);
    r.now_ms = now_ms;
    r
}

fn engine(inspect: &str, extra: &str) -> Engine {
    Engine::from_json(&format!(r#"{{"body": {{"inspect": "{inspect}"}}{extra}}}"#)).unwrap()
}

const TASK: &str = "Implement has_close_elements(numbers, threshold) in Python: return True when any two numbers are closer than threshold. Explain your reasoning step by step.";

#[test]
fn each_setting_holds_what_it_says() {
    let b = body(TASK);
    let r = req("k1", "python-requests/2.32.3", "203.0.113.7", &b, T0);
    for (setting, want_hold) in [("always", true), ("never", false)] {
        let mut e = engine(setting, "");
        let d = e.inspect_headers(&r, true);
        assert_eq!(matches!(d, Decision::NeedBody(_)), want_hold, "{setting}");
    }
    // Suspicious: an ordinary request is decided at its headers, and learned from.
    let mut e = engine("suspicious", "");
    match e.inspect_headers(&r, true) {
        Decision::Final { learn, .. } => assert!(learn.is_some()),
        Decision::NeedBody(_) => panic!("an ordinary request was held"),
    }
    // No body follows, or a path the policy does not read: never held, nothing to learn.
    let mut e = engine("always", "");
    assert!(matches!(e.inspect_headers(&r, false), Decision::Final { learn: None, .. }));
    let mut get = r.clone();
    get.path = b"/v1/models";
    assert!(matches!(e.inspect_headers(&get, true), Decision::Final { learn: None, .. }));
}

#[test]
fn gray_zone_scores_wait_for_the_body() {
    // A Via header (weight 10 here) puts the header score at 10: inside [5, 90).
    let policy = r#", "body": {"inspect": "suspicious", "gray_zone": {"from": 5, "to": 90}}, "signals": {"proxy_via": {"weight": 10}}"#;
    let mut e = Engine::from_json(&format!("{{{}}}", &policy[2..])).unwrap();
    let b = body(TASK);
    let mut r = req("k1", "Anthropic/Python 0.40.0", "203.0.113.7", &b, T0);
    r.headers.push(Header::new("via", "1.1 squid"));
    let Decision::NeedBody(held) = e.inspect_headers(&r, true) else { panic!("not held") };
    let v = e.inspect_body(held, r.body, true);
    assert!(v.reasons.iter().any(|x| x.signal == Signal::PromptCot), "{:?}", v.reasons);
    assert_eq!(e.counters().requests, 1);
    // At or above `to`, the headers decide again.
    let mut e = Engine::from_json(r#"{"body": {"gray_zone": {"from": 5, "to": 10}}, "signals": {"proxy_via": {"weight": 10}}}"#).unwrap();
    assert!(matches!(e.inspect_headers(&r, true), Decision::Final { .. }));
}

#[test]
fn a_learned_body_counts_once_and_feeds_the_next_requests() {
    // Twelve accounts send the same task; with `never`, every verdict is taken at the
    // headers, so the template cluster must come from learning alone.
    let b = body(TASK);
    let mut e = engine("never", "");
    let mut a = engine("always", "");
    for i in 0..24u64 {
        // Each account twice: clusters count returning accounts.
        let key = format!("key-{}", i / 2);
        let ip = format!("198.51.{}.{}", 100 + i / 2, 7);
        let r = req(&key, "Anthropic/Python 0.40.0", &ip, &b, T0 + i * 1000);
        e.inspect(&r);
        a.inspect(&r);
    }
    assert_eq!(e.counters().requests, 24);
    let last = req("key-x", "Anthropic/Python 0.40.0", "198.51.200.7", &b, T0 + 30_000);
    let (ve, va) = (e.inspect(&last), a.inspect(&last));
    // `never` did not see this request's template, `always` did: the cluster is the same.
    assert!(!ve.reasons.iter().any(|x| x.signal == Signal::ClusterAccountsPerTemplate), "{:?}", ve.reasons);
    let lv = |eng: &Engine| {
        let mut lv = crate::signal::Levels::default();
        let obs = crate::state::Observation { now_ms: T0 + 31_000, template: va.fp.template, account: va.fp.account, hfp: va.fp.hfp, ..Default::default() };
        eng.state().measure(&obs, &mut lv);
        lv.get(Signal::ClusterAccountsPerTemplate).unwrap_or(0.0)
    };
    let (ne, na) = (lv(&e), lv(&a));
    assert!(ne >= 11.0 && (ne - na).abs() < 0.5, "learned {ne} vs held {na}");
}

#[test]
fn held_and_whole_inspections_agree() {
    // With `always`, inspect() is inspect_headers + inspect_body: replaying one stream
    // both ways gives the same verdicts.
    let mut whole = engine("always", "");
    let mut split = engine("always", "");
    for i in 0..300u64 {
        let key = format!("key-{}", i % 17);
        let ip = format!("203.0.{}.9", i % 5);
        let text = if i % 3 == 0 { TASK.to_string() } else { format!("Summarize chapter {i} of the book in three sentences please") };
        let b = body(&text);
        let ua = if i % 4 == 0 { "curl/8.5.0" } else { "Anthropic/Python 0.40.0" };
        let r = req(&key, ua, &ip, &b, T0 + i * 7_000);
        let v1 = whole.inspect(&r);
        let Decision::NeedBody(h) = split.inspect_headers(&r, true) else { panic!("always holds") };
        let v2 = split.inspect_body(h, r.body, true);
        assert_eq!(v1, v2, "request {i}");
    }
}

#[test]
fn static_client_signals_never_escalate_an_account() {
    // One account, 1,000 requests, each carrying a client-shape signal strong enough to
    // tag alone: the account's history must not turn the tags into throttles.
    let mut e = Engine::from_json(r#"{"signals": {"client_ua_mismatch": {"weight": 35}, "account_flag_history": {"weight": 60}}}"#).unwrap();
    let b = body("Please translate this short paragraph into French for my homework today");
    let chrome = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Safari/537.36";
    for i in 0..1000u64 {
        let r = req("one-key", chrome, "203.0.113.7", &b, T0 + i * 60_000);
        let v = e.inspect(&r);
        assert!(v.reasons.iter().any(|x| x.signal == Signal::ClientUaMismatch));
        assert!(v.action <= Action::Tag, "request {i}: {:?} {:?}", v.action, v.reasons);
        assert!(!v.reasons.iter().any(|x| x.signal == Signal::AccountFlagHistory), "request {i}");
    }
}

#[test]
fn behaviour_flags_do_escalate_an_account() {
    // The same account, flagged on its prompts (two elicitation signals, weighted to tag
    // together), then sending innocuous prompts: its history carries over.
    let escalated = |policy: &str| {
        let mut e = Engine::from_json(policy).unwrap();
        let b = format!(r#"{{"model":"m","max_tokens":64,"logprobs":true,"messages":[{{"role":"user","content":"{TASK}"}}]}}"#);
        for i in 0..10u64 {
            let r = req("hydra", "Anthropic/Python 0.40.0", "203.0.113.7", &b, T0 + i * 60_000);
            assert!(e.inspect(&r).action >= Action::Tag);
        }
        let plain = body("What is a good name for a cat that likes to sit on keyboards");
        let r = req("hydra", "Anthropic/Python 0.40.0", "203.0.113.7", &plain, T0 + 11 * 60_000);
        let v = e.inspect(&r);
        (v.reasons.iter().any(|x| x.signal == Signal::AccountFlagHistory), v.action)
    };
    let (history, action) = escalated(r#"{"signals": {"prompt_cot": {"weight": 20}, "prompt_logprobs": {"weight": 20}, "account_flag_history": {"weight": 40}}}"#);
    assert!(history && action >= Action::Tag, "{history} {action:?}");
    // Flagged on one signal alone (weighted to tag by itself), the account is not escalated:
    // that signal gives its verdict on every request that carries it.
    let (history, action) = escalated(r#"{"signals": {"prompt_cot": {"weight": 40}, "prompt_logprobs": {"weight": 0}, "account_elicitation_share": {"weight": 0}, "account_flag_history": {"weight": 40}}}"#);
    assert!(!history, "{action:?}");
}

/// Five accounts send 120 requests each (each its own prompt, an account's requests ten
/// seconds apart, so no rate or cluster signal flags them): for each request decided at its headers and not flagged,
/// its number in its account and the weight of its learned body (None: not learned).
fn learned(e: &mut Engine) -> Vec<(u64, Option<u32>)> {
    let mut out = Vec::new();
    for i in 0..600u64 {
        let (n, a) = (i / 5, i % 5);
        let (key, ip, b) = (format!("key-{a}"), format!("198.51.100.{a}"), body(&format!("Question {i}: what is {i} squared?")));
        let r = req(&key, "python-requests/2.32.3", &ip, &b, T0 + i * 2000);
        if let Decision::Final { verdict, learn } = e.inspect_headers(&r, true) {
            if verdict.action < crate::score::Action::Tag {
                out.push((n, learn.map(|l| l.weight())));
            }
        }
    }
    out
}

#[test]
fn heavy_learn_one_in_samples_the_bodies_of_heavy_accounts_only() {
    let every = learned(&mut engine("suspicious", ""));
    assert!(every.len() > 550, "{} of 600 decided at their headers", every.len());
    assert!(every.iter().all(|&(_, w)| w == Some(1)));
    let policy = r#"{"body": {"inspect": "suspicious", "heavy_learn_one_in": 4}}"#;
    let some = learned(&mut Engine::from_json(policy).unwrap());
    // An account is light up to `state.light_max_requests` (20) requests: all learned.
    assert!(some.iter().filter(|&&(n, _)| n < 20).all(|&(_, w)| w == Some(1)), "{some:?}");
    let heavy: Vec<_> = some.iter().filter(|&&(n, _)| n >= 25).map(|&(_, w)| w).collect();
    let picked = heavy.iter().filter(|w| w.is_some()).count();
    assert!(heavy.len() > 400 && (heavy.len() / 4 - 40..=heavy.len() / 4 + 40).contains(&picked), "{picked} of {} learned", heavy.len());
    assert!(heavy.iter().flatten().all(|&w| w == 4));
    // The same requests replayed choose the same bodies.
    assert_eq!(learned(&mut Engine::from_json(policy).unwrap()), some);
    // A route can set its own.
    let routed = r#"{"routes": [{"match": {"path": "/v1/messages"}, "body": {"heavy_learn_one_in": 10}}]}"#;
    let few = learned(&mut Engine::from_json(routed).unwrap());
    let heavy: Vec<_> = few.iter().filter(|&&(n, _)| n >= 25).map(|&(_, w)| w).collect();
    let picked = heavy.iter().filter(|w| w.is_some()).count();
    assert!((heavy.len() / 10 - 25..=heavy.len() / 10 + 25).contains(&picked), "{picked} of {} learned at one in 10", heavy.len());
    assert!(heavy.iter().flatten().all(|&w| w == 10));
}

#[test]
fn flagged_requests_bodies_are_always_learned() {
    // A Via header at weight 40 tags every request at its headers (the gray zone ends at 30).
    let policy = r#"{"body": {"heavy_learn_one_in": 1000, "gray_zone": {"from": 5, "to": 30}}, "signals": {"proxy_via": {"weight": 40}}}"#;
    // One account, heavy from its 21st request.
    let mut e = Engine::from_json(policy).unwrap();
    let b = body(TASK);
    for i in 0..60u64 {
        let mut r = req("k1", "Anthropic/Python 0.40.0", "203.0.113.7", &b, T0 + i * 1000);
        r.headers.push(Header::new("via", "1.1 squid"));
        let Decision::Final { verdict, learn } = e.inspect_headers(&r, true) else { panic!("held") };
        assert!(verdict.action >= crate::score::Action::Tag);
        assert_eq!(learn.map(|l| l.weight()), Some(1), "request {i}");
    }
}

#[test]
fn a_sampled_body_stands_for_the_requests_skipped() {
    // One account asks for the reasoning in every request: once heavy, learning one body in
    // four, each counted four times, its elicitation share is still about all its requests.
    let b = body(TASK);
    let share = |policy: &str| {
        let mut e = Engine::from_json(policy).unwrap();
        for i in 0..200u64 {
            let r = req("k1", "python-requests/2.32.3", "203.0.113.7", &b, T0 + i * 60_000);
            e.inspect(&r);
        }
        let mut lv = crate::signal::Levels::default();
        let obs = crate::state::Observation { now_ms: T0 + 200 * 60_000, account: e.inspect(&req("k1", "python-requests/2.32.3", "203.0.113.7", &b, T0 + 200 * 60_000)).fp.account, ..Default::default() };
        e.state().measure(&obs, &mut lv);
        lv.get(Signal::AccountElicitationShare).unwrap_or(0.0)
    };
    // Nothing held (`never`), and nothing tags it: every body after its 20th is sampled.
    let (all, sampled) = (share(r#"{"body": {"inspect": "never"}}"#), share(r#"{"body": {"inspect": "never", "heavy_learn_one_in": 4}}"#));
    assert!(all > 0.9, "every body learned: {all}");
    assert!((sampled - all).abs() < 0.25, "one in four: {sampled} vs {all}");
}

#[test]
fn an_agent_accounts_bodies_are_all_learned() {
    // An account working through an agent harness (a tool set and system prompt): its tasks
    // are its evidence, each sent once in a conversation of several turns, so a heavy agent
    // account's bodies are not sampled.
    let tools = r#""system":"You are a coding agent.","tools":[{"name":"bash","description":"Run a command","input_schema":{"type":"object","properties":{"command":{"type":"string"}}}}]"#;
    let mut e = Engine::from_json(r#"{"body": {"inspect": "never", "heavy_learn_one_in": 4}}"#).unwrap();
    for i in 0..60u64 {
        let text = format!("Fix the bug in parse_config_file_{} so that it skips empty lines", i / 8);
        let b = format!(r#"{{"model":"m","max_tokens":64,{tools},"messages":[{{"role":"user","content":"{text}"}}]}}"#);
        let r = req("agent-1", "python-requests/2.32.3", "203.0.113.9", &b, T0 + i * 60_000);
        let Decision::Final { learn, .. } = e.inspect_headers(&r, true) else { panic!("held") };
        let learn = learn.unwrap_or_else(|| panic!("request {i}: an agent account's body skipped"));
        assert_eq!(learn.weight(), 1);
        e.learn_body(&learn, r.body, true);
    }
    assert_eq!(e.counters().skipped, 0);
    // The same account without the tool set is sampled once heavy.
    let mut e = Engine::from_json(r#"{"body": {"inspect": "never", "heavy_learn_one_in": 4}}"#).unwrap();
    for i in 0..60u64 {
        let b = body(&format!("Fix the bug in parse_config_file_{} so that it skips empty lines", i / 8));
        let r = req("agent-1", "python-requests/2.32.3", "203.0.113.9", &b, T0 + i * 60_000);
        if let Decision::Final { learn: Some(l), .. } = e.inspect_headers(&r, true) {
            e.learn_body(&l, r.body, true);
        }
    }
    assert!(e.counters().skipped >= 20, "{:?}", e.counters());
}

#[test]
fn a_body_read_outside_the_engine_is_learned_as_learn_body_learns_it() {
    // Two engines fed the same requests, bodies learned by `learn_body` in one and read with
    // a cloned `Reader` then recorded with `learn_facts` in the other: same verdicts,
    // counters and state. The bodies: a task asking for the reasoning, an agent turn naming
    // a tool set, and a long one over a route's `max_bytes` (cut there by both).
    let policy = r#"{"body": {"inspect": "never", "paths": ["/v1/messages", "/v1/long"]}, "routes": [{"match": {"prefix": "/v1/long"}, "body": {"max_bytes": 256}}]}"#;
    let (mut a, mut b) = (Engine::from_json(policy).unwrap(), Engine::from_json(policy).unwrap());
    let reader = b.reader();
    let agent = r#"{"model":"m","max_tokens":64,"system":"You are a coding agent. Think step by step before each tool call.","tools":[{"name":"read_file","input_schema":{"type":"object"}},{"name":"run","input_schema":{"type":"object"}}],"messages":[{"role":"user","content":"Fix parse_header_line in src/http.rs"}]}"#;
    let long = body(&format!("{} {TASK}", "lorem ipsum dolor ".repeat(40)));
    let bodies = [body(TASK), agent.to_string(), long];
    let mut facts_seen = Vec::new();
    for i in 0..90u64 {
        let text = &bodies[(i % 3) as usize];
        let key = format!("key-{}", i % 7);
        let ip = format!("198.51.100.{}", 1 + i % 5);
        let mut r = req(&key, "Anthropic/Python 0.40.0", &ip, text, T0 + i * 20_000);
        if i % 3 == 2 {
            r.path = b"/v1/long";
        }
        let (da, db) = (a.inspect_headers(&r, true), b.inspect_headers(&r, true));
        let (Decision::Final { verdict: va, learn: Some(la) }, Decision::Final { verdict: vb, learn: Some(lb) }) = (da, db) else {
            panic!("request {i}: decided at the headers and learned, with `never`");
        };
        assert_eq!((va.score, va.action, &va.reasons), (vb.score, vb.action, &vb.reasons), "request {i}");
        a.learn_body(&la, r.body, true);
        let facts = reader.facts(&lb, r.body, true);
        facts_seen.push(facts);
        b.learn_facts(&lb, facts);
    }
    assert_eq!((a.counters().requests, a.counters().learned), (b.counters().requests, b.counters().learned));
    assert_eq!(a.counters().learned, 90);
    assert_eq!(a.state_mut().export_delta(), b.state_mut().export_delta(), "the same state");
    // The three bodies read differently (the reader is not a no-op), and the cut one was cut.
    assert_ne!(facts_seen[0], facts_seen[1]);
    let whole = Engine::from_json(r#"{"body": {"inspect": "never"}}"#).unwrap().reader();
    let r = req("k", "Anthropic/Python 0.40.0", "198.51.100.1", &bodies[2], T0);
    let mut e = Engine::from_json(policy).unwrap();
    let mut long_req = r.clone();
    long_req.path = b"/v1/long";
    let Decision::Final { learn: Some(cut), .. } = e.inspect_headers(&long_req, true) else { panic!("not learned") };
    let Decision::Final { learn: Some(full), .. } = e.inspect_headers(&r, true) else { panic!("not learned") };
    assert_eq!(facts_seen[2], reader.facts(&cut, r.body, true));
    assert_ne!(reader.facts(&cut, r.body, true), whole.facts(&full, r.body, true), "cut at the route's 256 bytes");
}

#[test]
fn a_held_body_read_outside_the_engine_is_decided_as_inspect_body_decides_it() {
    // `always`: every request held. One engine finishes each with `inspect_body`, the other
    // reads the body with a cloned `Reader` and finishes it with `decide_body`: the same
    // verdicts (score, action, reasons, prints), counters and state.
    let policy = r#"{"body": {"inspect": "always"}, "thresholds": {"tag": 20, "throttle": 98, "deny": 99}}"#;
    let (mut a, mut b) = (Engine::from_json(policy).unwrap(), Engine::from_json(policy).unwrap());
    let reader = b.reader();
    let texts = [body(TASK), body("hello there"), body("Think step by step and show your chain of thought before answering.")];
    let mut flagged = 0;
    for i in 0..60u64 {
        let text = &texts[(i % 3) as usize];
        let key = format!("key-{}", i % 9);
        let r = req(&key, "Anthropic/Python 0.40.0", "198.51.100.9", text, T0 + i * 15_000);
        let (Decision::NeedBody(ha), Decision::NeedBody(hb)) = (a.inspect_headers(&r, true), b.inspect_headers(&r, true)) else {
            panic!("request {i}: held with `always`");
        };
        let va = a.inspect_body(ha, r.body, true);
        let vb = b.decide_body(reader.read_held(hb, r.body, true));
        assert_eq!((va.score, va.action, &va.reasons, va.held), (vb.score, vb.action, &vb.reasons, vb.held), "request {i}");
        assert_eq!((va.fp.template, va.fp.task, va.fp.tool_set), (vb.fp.template, vb.fp.task, vb.fp.tool_set), "request {i}");
        flagged += usize::from(va.action >= Action::Tag);
    }
    assert!(flagged > 0, "some bodies must move a verdict for this to test anything");
    assert_eq!(a.counters().requests, b.counters().requests);
    assert_eq!(a.state_mut().export_delta(), b.state_mut().export_delta(), "the same state");
}

#[test]
fn headers_read_outside_the_engine_are_decided_as_inspect_headers_decides_them() {
    // One engine runs `inspect_headers`; the other reads each request with a cloned
    // `Reader` and decides with `decide_headers`: the same decisions, verdicts, prints,
    // counters and state, across plain, proxied (Via), allowlisted and body-less requests.
    let policy = r#"{"allow": {"accounts": []}, "body": {"inspect": "suspicious", "gray_zone": {"from": 5, "to": 90}}, "signals": {"proxy_via": {"weight": 10}}}"#;
    let allowed_key = "key-allowed";
    let mut probe = Engine::from_json(policy).unwrap();
    let b0 = body(TASK);
    let acct = probe.inspect(&req(allowed_key, "Anthropic/Python 0.40.0", "198.51.100.9", &b0, T0)).fp.account.unwrap();
    let policy = policy.replace(r#""accounts": []"#, &format!(r#""accounts": ["{acct:016x}"]"#));
    let (mut a, mut b) = (Engine::from_json(&policy).unwrap(), Engine::from_json(&policy).unwrap());
    let reader = b.reader();
    let text = body(TASK);
    let (mut held, mut allowlisted) = (0, 0);
    for i in 0..80u64 {
        let key = if i % 10 == 3 { allowed_key.to_string() } else { format!("key-{}", i % 11) };
        let mut r = req(&key, "Anthropic/Python 0.40.0", "198.51.100.9", &text, T0 + i * 10_000);
        if i % 4 == 1 {
            r.headers.push(Header::new("via", "1.1 squid"));
        }
        let body_follows = i % 5 != 0;
        let (da, db) = (a.inspect_headers(&r, body_follows), b.decide_headers(reader.headers(&r, body_follows)));
        match (da, db) {
            (Decision::Final { verdict: va, learn: la }, Decision::Final { verdict: vb, learn: lb }) => {
                assert_eq!((va.score, va.action, &va.reasons, va.allowlisted, va.fp.hfp, va.fp.account), (vb.score, vb.action, &vb.reasons, vb.allowlisted, vb.fp.hfp, vb.fp.account), "request {i}");
                assert_eq!(la.is_some(), lb.is_some(), "request {i}");
                allowlisted += usize::from(va.allowlisted);
                if let (Some(la), Some(lb)) = (la, lb) {
                    a.learn_body(&la, r.body, true);
                    b.learn_body(&lb, r.body, true);
                }
            }
            (Decision::NeedBody(ha), Decision::NeedBody(hb)) => {
                held += 1;
                let (va, vb) = (a.inspect_body(ha, r.body, true), b.inspect_body(hb, r.body, true));
                assert_eq!((va.score, va.action, &va.reasons), (vb.score, vb.action, &vb.reasons), "request {i}");
            }
            _ => panic!("request {i}: one engine held it, the other did not"),
        }
    }
    assert!(held > 0 && allowlisted > 0, "held {held}, allowlisted {allowlisted}: the paths this tests");
    assert_eq!((a.counters().requests, a.counters().learned), (b.counters().requests, b.counters().learned));
    assert_eq!(a.state_mut().export_delta(), b.state_mut().export_delta(), "the same state");
}
