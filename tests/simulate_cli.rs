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
    let without_check = dg(&["quality", "--policy", &never, "--scenarios", &scen, "--seeds", "1"]);
    assert!(without_check.status.success());
}
