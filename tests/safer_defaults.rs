//! `check-policy` warns (and still succeeds) when a policy keeps a shipped `identity.hash_key`.

use std::process::Command;

fn check(policy: &str) -> (Option<i32>, String) {
    let dir = std::env::temp_dir().join(format!("dg-warn-{}-{}", std::process::id(), policy.len()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("p.json");
    std::fs::write(&file, policy).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_distill-guard")).arg("check-policy").arg(&file).output().unwrap();
    std::fs::remove_dir_all(&dir).ok();
    (out.status.code(), String::from_utf8_lossy(&out.stdout).into_owned())
}

#[test]
fn shipped_hash_keys_warn_and_exit_zero() {
    for policy in ["{}", r#"{"identity": {"hash_key": "distill-guard"}}"#, r#"{"identity": {"hash_key": "change-me-per-deployment"}}"#] {
        let (code, text) = check(policy);
        assert_eq!(code, Some(0), "{policy}: {text}");
        let warnings: Vec<&str> = text.lines().filter(|l| l.contains(": warning: ")).collect();
        assert_eq!(warnings.len(), 1, "{policy}: {text}");
        assert!(warnings[0].contains("identity.hash_key is the shipped placeholder"), "{text}");
    }
}

#[test]
fn an_own_hash_key_gives_no_warning() {
    let (code, text) = check(r#"{"identity": {"hash_key": "k3-our-own-secret"}}"#);
    assert_eq!(code, Some(0), "{text}");
    assert!(!text.contains("warning"), "{text}");
    // A policy error still fails, warning or not.
    let (code, text) = check(r#"{"output": {"format": "json"}}"#);
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("output.format: must be one of headers, structured, both, got \"json\""), "{text}");
}
