//! The `simulate` and `quality` subcommands: deterministic output, limits, validation errors
//! with paths, and `quality --check` failing on missed targets.

use std::process::Command;

fn dg(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_distill-guard")).args(args).current_dir(env!("CARGO_MANIFEST_DIR")).output().unwrap()
}

fn tmp(name: &str, text: &str) -> String {
    let dir = std::env::temp_dir().join(format!("dg-sim-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p.display().to_string()
}

#[test]
fn simulate_is_deterministic_and_limited() {
    let args = ["simulate", "--scenario", "scenarios/datacenter_pool.json", "--seed", "5", "--requests", "300"];
    let a = dg(&args);
    let b = dg(&args);
    assert!(a.status.success(), "{}", String::from_utf8_lossy(&a.stderr));
    assert_eq!(a.stdout, b.stdout);
    let text = String::from_utf8(a.stdout).unwrap();
    assert_eq!(text.lines().count(), 300);
    assert!(String::from_utf8_lossy(&a.stderr).contains("300 records"));
    let c = dg(&["simulate", "--scenario", "scenarios/datacenter_pool.json", "--seed", "6", "--requests", "300"]);
    assert_ne!(text.as_bytes(), &c.stdout[..]);
    // Without ASN and country: the same records but for those two facts.
    let d = dg(&[&args[..], &["--without", "asn,country"]].concat());
    assert!(d.status.success(), "{}", String::from_utf8_lossy(&d.stderr));
    let strip = |l: &str| {
        let mut v: serde_json::Value = serde_json::from_str(l).unwrap();
        let peer = v["peer"].as_object_mut().unwrap();
        peer.remove("asn");
        peer.remove("country");
        v
    };
    let plain: Vec<serde_json::Value> = text.lines().map(strip).collect();
    let without: Vec<serde_json::Value> = String::from_utf8(d.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(plain, without);
    let bad = dg(&["simulate", "--scenario", "scenarios/datacenter_pool.json", "--without", "asn,ip"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--without: unknown peer field \"ip\""), "{}", String::from_utf8_lossy(&bad.stderr));
}

#[test]
fn simulate_reports_scenario_errors_with_paths() {
    let bad = tmp("bad.json", r#"{"name":"x","campaigns":[{"name":"c","pool":{"kind":"moon"},"templates":0}]}"#);
    let out = dg(&["simulate", "--scenario", &bad]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("campaigns[0].pool.kind") && err.contains("campaigns[0].templates"), "{err}");
}

#[test]
fn quality_prints_a_table_and_check_fails_on_missed_targets() {
    let scen = tmp(
        "tiny.json",
        r#"{"name":"tiny","duration_hours":12,"legit":{"users":60,"university_accounts":10,"heavy_users":1,"heavy_requests_per_day":40},
            "campaigns":[{"name":"camp","accounts":30,"pool":{"kind":"datacenter","size":20,"asns":2}}]}"#,
    );
    // A policy that can never flag: the campaign target is missed.
    let never = tmp("never.json", r#"{"thresholds":{"tag":100,"throttle":100,"deny":100}}"#);
    let out = dg(&["quality", "--policy", &never, "--scenarios", &scen, "--seeds", "1,2", "--check"]);
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    let md = String::from_utf8(out.stdout).unwrap();
    assert!(md.starts_with("| scenario | campaign |"), "{md}");
    assert!(md.contains("| tiny | camp | 2 |") && md.contains("MISSED"), "{md}");
    let without_check = dg(&["quality", "--policy", &never, "--scenarios", &scen, "--seeds", "1", "--held"]);
    assert!(without_check.status.success());
    // `--held` ends with the most active accounts the state's window held: some of the 340
    // accounts this seed sends requests from over its 12 hours (one to two hours' worth);
    // before it, the share of legitimate bodies read and left unread.
    let md = String::from_utf8(without_check.stdout).unwrap();
    let row = md.lines().find(|l| l.starts_with("| tiny |") && l.matches('|').count() == 7);
    let cell = |i: usize| row.and_then(|l| l.split('|').nth(i)).map(str::trim);
    let peak = cell(6).and_then(|c| c.parse::<f64>().ok());
    assert!(peak.is_some_and(|p| (20.0..=340.0).contains(&p)), "{peak:?} in {md}");
    // Every legitimate body read (the policy samples none): the heavy user's included.
    assert_eq!((cell(4), cell(5)), (Some("100.00 %"), Some("0.00 %")), "{md}");
    let sampled = tmp("sampled.json", r#"{"thresholds":{"tag":100,"throttle":100,"deny":100},"body":{"heavy_learn_one_in":8}}"#);
    let out = dg(&["quality", "--policy", &sampled, "--scenarios", &scen, "--seeds", "1", "--held"]);
    let md = String::from_utf8(out.stdout).unwrap();
    let row = md.lines().find(|l| l.starts_with("| tiny |") && l.matches('|').count() == 7);
    let unread = row.and_then(|l| l.split('|').nth(5)).and_then(|c| c.trim().trim_end_matches(" %").parse::<f64>().ok());
    assert!(unread.is_some_and(|u| u > 1.0), "the heavy user's bodies sampled: {unread:?} in {md}");
}

/// The policy keys of every signal, from `distill-guard signals` (its Markdown table).
fn signal_keys() -> Vec<String> {
    let out = dg(&["signals"]);
    let table = String::from_utf8(out.stdout).unwrap();
    table.lines().skip(2).filter_map(|l| l.split('|').nth(2)).map(|k| k.trim().trim_matches('`').to_string()).filter(|k| !k.is_empty()).collect()
}

/// The "campaign flagged after warm-up" cell of a one-row quality table.
fn campaign_flagged(md: &str) -> String {
    md.lines().nth(2).and_then(|row| row.split('|').nth(6)).map(|c| c.trim().to_string()).unwrap_or_default()
}

#[test]
fn quality_without_asn_silences_the_asn_signals() {
    let scen = tmp(
        "hop.json",
        r#"{"name":"hop","duration_hours":12,"legit":{"users":40,"university_accounts":5,"heavy_users":1,"heavy_requests_per_day":40},
            "campaigns":[{"name":"hop","accounts":100,"requests_per_account_day":100,"pool":{"kind":"residential","size":5000,"asns":300,"sticky_minutes":0}}]}"#,
    );
    // Only `account.asn_rotation` weighs: a campaign hopping networks on every request is
    // flagged from each account's second request on, with an ASN; never without one.
    let keys = signal_keys();
    assert!(keys.iter().any(|k| k == "account_asn_rotation"), "{keys:?}");
    let signals: Vec<String> = keys
        .iter()
        .map(|k| if k == "account_asn_rotation" { format!(r#""{k}":{{"weight":100,"from":0,"full":1}}"#) } else { format!(r#""{k}":{{"weight":0}}"#) })
        .collect();
    let pol = tmp("asn-only.json", &format!(r#"{{"thresholds":{{"tag":50,"throttle":100,"deny":100}},"signals":{{{}}}}}"#, signals.join(",")));
    let run = |extra: &[&str]| {
        let mut args = vec!["quality", "--policy", &pol, "--scenarios", &scen, "--seeds", "3"];
        args.extend_from_slice(extra);
        let out = dg(&args);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        (String::from_utf8(out.stdout).unwrap(), String::from_utf8(out.stderr).unwrap())
    };
    let (with_asn, _) = run(&[]);
    let flagged: f64 = campaign_flagged(&with_asn).trim_end_matches(" %").parse().unwrap_or(0.0);
    assert!(flagged > 90.0, "{with_asn}");
    let (without, summary) = run(&["--without", "asn,country"]);
    assert_eq!(campaign_flagged(&without), "0.00 %", "{without}");
    assert!(summary.contains("without peer asn,country"), "{summary}");
    // Unknown field names are errors that list the known ones.
    let bad = dg(&["quality", "--policy", &pol, "--scenarios", &scen, "--without", "asn,ip"]);
    assert_eq!(bad.status.code(), Some(2));
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(err.contains("\"ip\"") && err.contains("asn, country, ja4, ja3"), "{err}");
}
