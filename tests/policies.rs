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
