//! The replay CLI: one verdict per input line, in order; bad lines reported with their line
//! number; labels copied; a summary on stderr; state carries across lines.

use std::io::Write;
use std::process::{Command, Stdio};

fn replay(policy: &str, input: &str) -> (String, String) {
    let dir = std::env::temp_dir().join(format!("dg-replay-{}-{}", std::process::id(), input.len()));
    std::fs::create_dir_all(&dir).unwrap();
    let pol = dir.join("p.json");
    std::fs::write(&pol, policy).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_distill-guard"))
        .args(["replay", "--policy"])
        .arg(&pol)
        .arg("-")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    std::fs::remove_dir_all(&dir).ok();
    (String::from_utf8(out.stdout).unwrap(), String::from_utf8(out.stderr).unwrap())
}

#[test]
fn one_verdict_per_line_with_errors_and_labels() {
    let input = concat!(
        r#"{"ts_ms": 1, "method": "GET", "path": "/v1/models", "headers": [["Host","a"],["User-Agent","curl/8.5.0"],["Accept","*/*"]], "label": "legit"}"#, "\n",
        "this is not json\n",
        "\n",
        r#"{"ts_ms": 2, "method": "POST", "path": "/v1/messages", "headers": [["Via","1.1 squid"],["Proxy-Authorization","Basic eA=="]], "body": "{}", "label": "camp"}"#, "\n",
    );
    let (out, err) = replay(r#"{"thresholds": {"tag": 20, "throttle": 50, "deny": 90}}"#, input);
    let lines: Vec<serde_json::Value> = out.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 3, "{out}");
    assert_eq!(lines[0]["line"], 1);
    assert_eq!(lines[0]["label"], "legit");
    assert!(lines[0]["fp"]["hfp"].as_str().unwrap().len() == 16);
    assert_eq!(lines[1]["line"], 2);
    assert!(lines[1]["error"].as_str().unwrap().len() > 0);
    assert_eq!(lines[2]["line"], 4);
    assert_eq!(lines[2]["label"], "camp");
    assert!(err.contains("summary: 3 records, 1 errors"), "{err}");
    assert!(err.contains("label camp"), "{err}");
}

#[test]
fn the_summary_counts_bodies_held_learned_and_left_unread() {
    // One busy account's 60 POSTs, a minute apart: heavy after its 20th, then one body in
    // four learned.
    let body = r#"{\"model\":\"m\",\"max_tokens\":16,\"messages\":[{\"role\":\"user\",\"content\":\"what is the derivative of x squared\"}]}"#;
    let input: String = (0..60)
        .map(|i| {
            format!(
                r#"{{"ts_ms": {}, "method": "POST", "path": "/v1/messages", "headers": [["Host","a"],["User-Agent","python-requests/2.32.3"],["x-api-key","busy-1"],["Content-Type","application/json"]], "peer": {{"ip": "203.0.113.5"}}, "body": "{body}"}}"#,
                1_772_409_600_000u64 + i * 60_000
            ) + "\n"
        })
        .collect();
    let counts = |err: &str| -> Vec<u64> {
        let line = err.lines().find(|l| l.trim_start().starts_with("bodies:")).unwrap_or_else(|| panic!("{err}"));
        line.split(|c: char| !c.is_ascii_digit()).filter_map(|t| t.parse().ok()).collect()
    };
    let (_, err) = replay(r#"{"body": {"inspect": "never"}}"#, &input);
    assert_eq!(counts(&err), vec![0, 60, 0], "{err}");
    let (_, err) = replay(r#"{"body": {"inspect": "never", "heavy_learn_one_in": 4}}"#, &input);
    let c = counts(&err);
    assert!(c[0] == 0 && c[1] + c[2] == 60 && (20..=38).contains(&c[2]), "{err}");
}

#[test]
fn a_balancer_taken_for_every_client_is_named_on_stderr_with_its_line() {
    // Traffic recorded behind a load balancer (peer 10.0.0.2, the client in X-Forwarded-For)
    // replayed with proxy.trusted_hops 0, then with 1.
    let input: String = (0..600)
        .map(|i| {
            format!(
                r#"{{"ts_ms": {}, "method": "GET", "path": "/v1/models", "headers": [["Host","a"],["User-Agent","curl/8.5.0"],["Authorization","Bearer k{i}"],["X-Forwarded-For","198.51.{}.7"]], "peer": {{"ip": "10.0.0.2"}}}}"#,
                1_772_409_600_000u64 + i * 100,
                i % 200
            ) + "\n"
        })
        .collect();
    let (out, err) = replay("{}", &input);
    assert_eq!(out.lines().count(), 600);
    let warned: Vec<&str> = err.lines().filter(|l| l.contains("client address")).collect();
    assert_eq!(warned.len(), 1, "{err}");
    assert!(warned[0].starts_with("line 256: warning: client address: 100 % of the last 256 requests came from private addresses (among them 10.0.0.0/24)"), "{err}");
    assert!(err.contains("\n  deployment checks: 2 windows of 256 requests judged, 1 warning line (above, with their input lines)\n"), "{err}");
    let (_, err) = replay(r#"{"proxy": {"trusted_hops": 1}}"#, &input);
    assert!(!err.contains("client address"), "{err}");
    // The summary says the checks ran and found nothing, or that too few requests came to judge.
    assert!(err.contains("\n  deployment checks: 2 windows of 256 requests judged, no warning\n"), "{err}");
    let short: String = input.lines().take(255).map(|l| format!("{l}\n")).collect();
    let (_, err) = replay("{}", &short);
    assert!(err.contains("\n  deployment checks: nothing judged (fewer than 256 requests)\n"), "{err}");
}

#[test]
fn a_cdn_taken_for_every_client_is_named_on_stderr_with_its_line() {
    // Traffic recorded behind a CDN: peers on eight public /24s of the CDN's edge, each client
    // (one of 200, in X-Forwarded-For) always through the same edge.
    let input: String = (0..600)
        .map(|i| {
            let client = i * 7 % 200;
            format!(
                r#"{{"ts_ms": {}, "method": "GET", "path": "/v1/models", "headers": [["Host","a"],["User-Agent","curl/8.5.0"],["Authorization","Bearer k{client}"],["X-Forwarded-For","198.51.{client}.7"]], "peer": {{"ip": "104.16.{}.{}"}}}}"#,
                1_772_409_600_000u64 + i * 100,
                client % 8,
                client % 5 + 1
            ) + "\n"
        })
        .collect();
    let (_, err) = replay("{}", &input);
    let warned: Vec<&str> = err.lines().filter(|l| l.contains("client address")).collect();
    assert_eq!(warned.len(), 1, "{err}");
    assert!(warned[0].starts_with("line 256: warning: client address: 100 % of the last 256 requests came from 8 networks (among them 104.16."), "{err}");
    assert!(warned[0].contains("distinct clients named by X-Forwarded-For entries beyond proxy.trusted_hops; if those are your CDN or load balancers, raise proxy.trusted_hops"), "{err}");
    let (_, err) = replay(r#"{"proxy": {"trusted_hops": 1}}"#, &input);
    assert!(!err.contains("client address"), "{err}");
}
