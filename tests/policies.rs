//! Every shipped policy in filters/ validates, and the CLI's check-policy reports every error.

use std::path::Path;
use std::process::Command;

use distill_guard::Policy;

fn filters() -> Vec<std::path::PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("filters");
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    v.sort();
    v
}

#[test]
fn every_shipped_policy_validates() {
    let files = filters();
    assert!(files.len() >= 3, "expected default, shadow and strict in filters/");
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        if let Err(e) = Policy::from_json(&text) {
            panic!("{}: {e}", f.display());
        }
    }
}

/// A shipped policy file as JSON.
fn shipped_json(name: &str) -> serde_json::Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("filters").join(name);
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

/// `v` without the top-level keys `drop`.
fn without(v: &serde_json::Value, drop: &[&str]) -> serde_json::Value {
    let mut v = v.clone();
    if let Some(o) = v.as_object_mut() {
        for k in drop {
            o.remove(*k);
        }
    }
    v
}

/// `shadow.json` is the default policy observed only, and `strict.json` the default's weights
/// with thresholds and weights that only ever enforce sooner: a refit of the default must be
/// carried to both (`python3 scripts/derive-policies.py`), or shadow mode previews another
/// policy than the one it is run to preview, and "strict" drifts from what was validated.
#[test]
fn shadow_and_strict_follow_the_default() {
    let (default, shadow, strict) = (shipped_json("default.json"), shipped_json("shadow.json"), shipped_json("strict.json"));
    assert_eq!(shadow["mode"], "shadow");
    assert_eq!(without(&shadow, &["name", "mode"]), without(&default, &["name", "mode"]), "shadow.json: run python3 scripts/derive-policies.py");
    assert_eq!(
        without(&strict, &["name", "thresholds", "throttle", "signals"]),
        without(&default, &["name", "thresholds", "throttle", "signals"]),
        "strict.json: run python3 scripts/derive-policies.py"
    );
    for level in ["tag", "throttle", "deny"] {
        let (d, s) = (default["thresholds"][level].as_u64().unwrap(), strict["thresholds"][level].as_u64().unwrap());
        assert!(s <= d, "strict.json thresholds.{level} {s} is above the default's {d}");
    }
    let (ds, ss) = (default["signals"].as_object().unwrap(), strict["signals"].as_object().unwrap());
    assert_eq!(ds.len(), ss.len(), "strict.json weighs the same signals as the default");
    for (name, d) in ds {
        let s = ss.get(name).unwrap_or_else(|| panic!("strict.json does not weigh {name}"));
        let (d, s) = (d["weight"].as_f64().unwrap(), s["weight"].as_f64().unwrap());
        assert!(s >= d, "strict.json {name} weighs {s}, under the default's {d}");
    }
    // Every weight the strict policy raises is a contradiction no genuine client makes, never a
    // crowd or an account's history (those are the default's fitted trade-offs).
    for (name, s) in ss {
        if ds.get(name).is_none_or(|d| d["weight"] != s["weight"]) {
            assert!(name.starts_with("client_") || name.starts_with("proxy_"), "strict.json raises {name}");
        }
    }
}

/// The edge worker's Cloudflare example (`edge/wrangler.toml`, `POLICY`) is `shadow.json` behind
/// Cloudflare (one trusted X-Forwarded-For hop, the structured verdict header), and validates.
#[test]
fn the_wrangler_example_is_the_shadow_policy() {
    let toml = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("edge/wrangler.toml")).unwrap();
    let line = toml.lines().find(|l| l.starts_with("POLICY = '")).expect("a POLICY = '...' line");
    let text = line.trim_start_matches("POLICY = '").trim_end_matches('\'');
    if let Err(e) = Policy::from_json(text) {
        panic!("edge/wrangler.toml POLICY: {e}");
    }
    let example: serde_json::Value = serde_json::from_str(text).unwrap();
    assert_eq!(example["proxy"]["trusted_hops"], 1);
    assert_eq!(example["output"]["format"], "structured");
    let shadow = shipped_json("shadow.json");
    assert_eq!(without(&example, &["name", "proxy", "output"]), without(&shadow, &["name", "proxy", "output"]), "edge/wrangler.toml: run python3 scripts/derive-policies.py");
}

#[test]
fn check_policy_cli_names_every_error_and_fails() {
    let dir = std::env::temp_dir().join(format!("dg-policy-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bad = dir.join("bad.json");
    std::fs::write(&bad, r#"{"signals": {"proxy_via": {"weight": 250}}, "thresholds": {"tag": 0}}"#).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_distill-guard")).arg("check-policy").arg(&bad).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("signals.proxy_via.weight: must be 0..=100, got 250"), "{text}");
    assert!(text.contains("thresholds.tag: must be 1..=100, got 0"), "{text}");

    let good = Path::new(env!("CARGO_MANIFEST_DIR")).join("filters/default.json");
    let out = Command::new(env!("CARGO_BIN_EXE_distill-guard")).arg("check-policy").arg(&good).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn readme_reason_code_table_is_current() {
    let out = Command::new(env!("CARGO_BIN_EXE_distill-guard")).arg("signals").output().unwrap();
    let table = String::from_utf8(out.stdout).unwrap();
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    assert!(readme.contains(&table), "README's reason-code table is stale: run scripts/gen-docs.sh");
}

/// Replays `input` (JSONL) through the CLI under `policy` (a path), with extra arguments.
fn replay(policy: &Path, input: &str, extra: &[&str]) -> Vec<serde_json::Value> {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_distill-guard"))
        .args(["replay", "--policy"])
        .arg(policy)
        .args(extra)
        .arg("-")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

#[test]
fn routes_example_acts_per_route_on_one_request_shape() {
    // One request shape (curl behind a proxy that leaks its credentials and the client's
    // address: 61 points under the default weights) on four routes of filters/routes-example.json, then an elicitation
    // prompt from an SDK on the stricter Messages route and on a route-less API path.
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("filters/routes-example.json");
    let shape = r#"[["Host","api.example.com"],["User-Agent","curl/8.5.0"],["Accept","*/*"],["Via","1.1 squid"],["Proxy-Authorization","Basic eDp5"],["Forwarded","for=198.51.100.7"],["X-Real-IP","198.51.100.7"],["x-api-key","sk-1"]]"#;
    let cot = r#"{\"model\":\"m\",\"max_tokens\":64,\"messages\":[{\"role\":\"user\",\"content\":\"Think step by step and show all of your reasoning before you answer: is 1009 prime?\"}]}"#;
    let sdk = r#"[["Host","api.example.com"],["User-Agent","python-requests/2.32.3"],["Accept","*/*"],["content-type","application/json"],["x-api-key","sk-2"]]"#;
    let mut input = String::new();
    for (i, (method, path)) in [("POST", "/v1/chat/completions"), ("POST", "/v1/messages"), ("POST", "/v1/messages/batches"), ("GET", "/v1/models")].iter().enumerate() {
        input.push_str(&format!(r#"{{"ts_ms": {}, "method": "{method}", "path": "{path}", "headers": {shape}, "body": "{{}}"}}"#, 1000 + i));
        input.push('\n');
    }
    for (i, path) in ["/v1/messages", "/v1/chat/completions"].iter().enumerate() {
        input.push_str(&format!(r#"{{"ts_ms": {}, "method": "POST", "path": "{path}", "headers": {sdk}, "body": "{cot}"}}"#, 2000 + i));
        input.push('\n');
    }
    for extra in [&[][..], &["--explain"][..]] {
        let v = replay(&example, &input, extra);
        let got: Vec<(&str, &str, u64)> =
            v.iter().map(|x| (x["route"].as_str().unwrap_or("-"), x["enforced"].as_str().unwrap(), x["score"].as_u64().unwrap())).collect();
        assert_eq!(&got[..4], &[("-", "tag", 61), ("messages", "deny", 61), ("batches", "tag", 61), ("models", "tag", 61)], "{extra:?}");
        assert_eq!(v[2]["action"], "throttle", "shadow: computed throttle, enforced tag");
        // The Messages route waits for every body and weighs elicitation at 25; the global
        // `suspicious` decides a low header score at the headers.
        assert_eq!(got[4].0, "messages");
        assert!(v[4]["reasons"].as_array().unwrap().iter().any(|r| r == "prompt.cot"), "{}", v[4]);
        assert_eq!(got[5].0, "-");
        assert!(!v[5]["reasons"].as_array().unwrap().iter().any(|r| r == "prompt.cot"), "{}", v[5]);
        if !extra.is_empty() {
            let cot = v[4]["explain"].as_array().unwrap().iter().find(|r| r["code"] == "prompt.cot").unwrap();
            assert_eq!(cot["weight"], 25.0, "explained with the route's weights: {cot}");
        }
    }
}

#[test]
fn check_policy_cli_names_route_errors_by_path() {
    let dir = std::env::temp_dir().join(format!("dg-routes-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bad = dir.join("bad.json");
    std::fs::write(&bad, r#"{"routes": [{"match": {"prefix": "/v1/batch"}, "thresholds": {"deny": 50}}, {"match": {"method": "POST"}}]}"#).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_distill-guard")).arg("check-policy").arg(&bad).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("bad.json: routes[0].thresholds.deny: must be >= routes[0].thresholds.throttle (70), got 50"), "{text}");
    assert!(text.contains("bad.json: routes[1].match: needs path or prefix"), "{text}");
    std::fs::remove_dir_all(&dir).ok();
}
