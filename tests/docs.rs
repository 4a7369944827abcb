//! The documentation against the tree: every `distill-guard SUBCOMMAND --flag` the READMEs and
//! BENCHMARKS.md show is one the CLI's usage lists for that subcommand, and every path they
//! name under the project's top-level folders exists. (The reason-code table is checked by
//! `tests/policies.rs`.)

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;

const DOCS: &[&str] = &[
    "README.md",
    "BENCHMARKS.md",
    "scenarios/README.md",
    "edge/README.md",
    "envoy/README.md",
    "www/README.md",
    "tests/data/README.md",
];
/// Folders builds, tests and fuzz runs create: paths through them exist only after those ran.
const GENERATED: &[&str] = &["target", "artifacts", "pkg", "pkg-edge", "node_modules", "test-output", "build"];
const TOP: &[&str] = &["src/", "scripts/", "benches/", "filters/", "scenarios/", "tests/", "fuzz/", "envoy/", "edge/", "www/", "fleet/"];

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn read(doc: &str) -> String {
    std::fs::read_to_string(root().join(doc)).unwrap_or_else(|e| panic!("{doc}: {e}"))
}

fn is_flag_char(c: char) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'
}

/// The `--flags` in `text`, each a whole word.
fn flags(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find("--") {
        let before = text.len() - rest.len() + i;
        let prev = text[..before].chars().next_back();
        let word: &str = &rest[i..];
        let end = 2 + word[2..].find(|c: char| !is_flag_char(c)).unwrap_or(word.len() - 2);
        if !prev.is_some_and(|c| c.is_alphanumeric() || c == '-') && end > 2 && word[2..].starts_with(|c: char| c.is_ascii_lowercase()) {
            out.push(&word[..end]);
        }
        rest = &rest[i + end..];
    }
    out
}

/// Subcommand -> the flags its usage lines list (`distill-guard --help`).
fn usage() -> BTreeMap<String, BTreeSet<String>> {
    let out = Command::new(env!("CARGO_BIN_EXE_distill-guard")).arg("--help").output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    let mut subs: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        let trimmed = line.trim_start();
        if let Some(rest) = line.strip_prefix("  distill-guard ") {
            let sub = rest.split_whitespace().next().unwrap_or_default().to_string();
            subs.entry(sub.clone()).or_default();
            current = Some(sub);
        }
        // Usage lines (the command and its wrapped options), not the description under them.
        if let Some(sub) = &current {
            if line.starts_with("  distill-guard ") || trimmed.starts_with('[') || trimmed.starts_with("--") {
                subs.get_mut(sub).unwrap().extend(flags(line).into_iter().map(String::from));
            }
        }
    }
    assert!(subs.len() >= 5 && subs.get("quality").is_some_and(|f| f.contains("--seeds")), "usage not understood: {text}");
    subs
}

/// The doc's lines with shell line continuations joined, each with the number of its first line.
fn commands(text: &str) -> Vec<(usize, String)> {
    let mut out: Vec<(usize, String)> = Vec::new();
    let mut continued = false;
    for (n, line) in text.lines().enumerate() {
        let (part, next) = line.strip_suffix('\\').map_or((line, false), |p| (p, true));
        match out.last_mut() {
            Some((_, joined)) if continued => joined.push_str(part),
            _ => out.push((n + 1, part.to_string())),
        }
        continued = next;
    }
    out
}

#[test]
fn documented_commands_use_flags_the_cli_has() {
    let subs = usage();
    let mut wrong = Vec::new();
    for doc in DOCS {
        let text = read(doc);
        for (n, line) in commands(&text) {
            let mut rest = line.as_str();
            while let Some(i) = rest.find("distill-guard ") {
                let after = &rest[i + "distill-guard ".len()..];
                let sub = after.split_whitespace().next().unwrap_or_default().trim_matches('`');
                // One command: up to the end of its inline code or the next shell operator.
                let end = after.find(['`', '|', ';', ')']).unwrap_or(after.len());
                if let Some(known) = subs.get(sub) {
                    for f in flags(&after[..end]) {
                        if !known.contains(f) {
                            wrong.push(format!("{doc}:{n}: distill-guard {sub} {f}"));
                        }
                    }
                }
                rest = after;
            }
        }
    }
    assert!(wrong.is_empty(), "documented flags the CLI's usage does not list:\n{}", wrong.join("\n"));
}

#[test]
fn documented_paths_exist() {
    let mut missing = BTreeSet::new();
    for doc in DOCS {
        let text = read(doc);
        let dir = Path::new(doc).parent().unwrap_or(Path::new(""));
        for (i, _) in text.match_indices('/') {
            // A path starts at a top-level folder's name after a character that cannot be in a path.
            let Some(start) = TOP.iter().filter_map(|t| i.checked_sub(t.len() - 1).filter(|&s| text.get(s..).is_some_and(|r| r.starts_with(t)))).next() else { continue };
            if text[..start].chars().next_back().is_some_and(|c| c.is_alphanumeric() || "./_-~$".contains(c)) {
                continue;
            }
            let len = text[start..].find(|c: char| !(c.is_alphanumeric() || "./_-*".contains(c))).unwrap_or(text.len() - start);
            let raw = text[start..start + len].trim_end_matches(['.', '-']);
            // A glob: the folder before its first wildcard must exist.
            let check = match raw.find('*') {
                Some(k) => &raw[..raw[..k].rfind('/').map_or(0, |j| j + 1)],
                None => raw,
            };
            // Too short to be a path, or what builds and fuzz runs write (not in a fresh clone).
            if check.len() <= 4 || !check.contains('/') || check.split('/').any(|c| GENERATED.contains(&c)) {
                continue;
            }
            if !root().join(check).exists() && !root().join(dir).join(check).exists() {
                missing.insert(format!("{doc}: {check}"));
            }
        }
    }
    assert!(missing.is_empty(), "paths the documentation names that are not in the tree:\n{}", missing.into_iter().collect::<Vec<_>>().join("\n"));
}
