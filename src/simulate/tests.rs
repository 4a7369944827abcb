//! Tests of the whole simulator: determinism, scenario files, format, label counts.

use std::collections::{HashMap, HashSet};

use super::*;
use crate::traffic;

/// A scenario shrunk by `f` (accounts and pool sizes), for quick tests.
fn shrink(mut s: Scenario, f: f64) -> Scenario {
    let k = |n: u32| ((n as f64 * f).round() as u32).max(1);
    s.legit.users = k(s.legit.users);
    s.legit.university_accounts = k(s.legit.university_accounts);
    s.legit.heavy_users = k(s.legit.heavy_users);
    s.legit.agent_users = k(s.legit.agent_users);
    s.legit.app_users = k(s.legit.app_users);
    for c in &mut s.campaigns {
        c.accounts = k(c.accounts);
        c.pool.size = k(c.pool.size);
    }
    s
}

fn small() -> Scenario {
    let text = r#"{"name":"small","duration_hours":24,"legit":{"users":150,"university_accounts":30,"heavy_users":4,"heavy_requests_per_day":60,"proxy_companies":1,"agent_users":10,"app_users":10},
        "campaigns":[{"name":"camp","accounts":50,"pool":{"kind":"residential","size":800,"asns":60}},
                     {"name":"dc","accounts":20,"clients":{"python-requests":1},"spoof":"browser_replay","pool":{"kind":"datacenter","size":50,"asns":3,"sticky_minutes":0}}]}"#;
    Scenario::from_json(text).unwrap()
}

fn scenario_files() -> Vec<(String, String)> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let mut out: Vec<(String, String)> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .map(|p| (p.display().to_string(), std::fs::read_to_string(&p).unwrap()))
        .collect();
    out.sort();
    out
}

#[test]
fn same_seed_gives_identical_output_and_other_seeds_differ() {
    let s = small();
    let a: Vec<String> = generate(&s, 7).unwrap().collect();
    let b: Vec<String> = generate(&s, 7).unwrap().collect();
    assert!(a.len() > 800, "{}", a.len());
    assert_eq!(a, b);
    let c: Vec<String> = generate(&s, 8).unwrap().take(50).collect();
    assert_ne!(&a[..50], &c[..]);
}

#[test]
fn output_parses_is_time_ordered_and_labeled() {
    let s = small();
    let mut last = 0;
    let mut labels: HashMap<String, u64> = HashMap::new();
    for line in generate(&s, 3).unwrap() {
        let d = traffic::parse_line(&line).unwrap_or_else(|e| panic!("{e}: {line}"));
        let rec = d.record();
        assert!(rec.ts_ms >= last);
        last = rec.ts_ms;
        let req = d.request(1 << 20);
        assert!(req.body_complete);
        assert_eq!(req.header("content-length").and_then(|v| std::str::from_utf8(v).ok()), Some(req.body.len().to_string().as_str()));
        assert!(req.header("x-api-key").is_some() || req.header("authorization").is_some());
        assert!(req.peer.ip.is_some() && req.peer.ja4.is_some() && req.peer.asn.is_some());
        let body: serde_json::Value = serde_json::from_slice(req.body).unwrap();
        assert!(body["messages"].as_array().is_some_and(|m| !m.is_empty()));
        *labels.entry(rec.label.as_ref().and_then(|l| l.as_str()).unwrap().to_string()).or_default() += 1;
    }
    let names: HashSet<&str> = labels.keys().map(String::as_str).collect();
    assert_eq!(names, HashSet::from(["legit", "camp", "dc"]));
}

#[test]
fn label_counts_match_the_scenario_parameters() {
    let s = small();
    let sim = generate(&s, 5).unwrap();
    let counts = sim.label_counts();
    let accounts = sim.accounts();
    let (legit, camps) = s.expected_requests();
    let near = |got: u64, want: f64| (got as f64 - want).abs() <= 0.25 * want;
    assert!(near(counts[0], legit), "legit {} vs {legit}", counts[0]);
    for (i, want) in camps.iter().enumerate() {
        assert!(near(counts[i + 1], *want), "{} {} vs {want}", sim.labels()[i + 1], counts[i + 1]);
        assert_eq!(accounts[i + 1], s.campaigns[i].accounts as u64);
    }
    assert!(accounts[0] > 100);
}

#[test]
fn every_scenario_file_validates_and_generates() {
    let files = scenario_files();
    assert!(files.len() >= 6, "{files:?}");
    let mut campaigns = 0;
    for (path, text) in &files {
        let s = Scenario::from_json(text).unwrap_or_else(|e| panic!("{path}: {e}"));
        campaigns += s.campaigns.len();
        let (legit, camps) = s.expected_requests();
        let total = legit + camps.iter().sum::<f64>();
        assert!((50_000.0..=300_000.0).contains(&total), "{path}: {total}");
        // A poisoning scenario (random keys: not distillation) floods on purpose.
        let flood = s.campaigns.iter().all(|c| c.keys == "random");
        assert!(flood || camps.iter().sum::<f64>() <= 0.32 * total, "{path}: campaign share too high");
        let sample: Vec<String> = generate(&shrink(s, 0.02), 1).unwrap().take(200).collect();
        assert!(sample.iter().all(|l| traffic::parse_line(l).is_ok()), "{path}");
    }
    assert!(campaigns >= 6);
}

#[test]
fn baseline_spells_out_the_default_population() {
    let (_, text) = scenario_files().into_iter().find(|(p, _)| p.ends_with("baseline.json")).unwrap();
    let s = Scenario::from_json(&text).unwrap();
    assert_eq!(s.legit, Scenario::default().legit);
    assert_eq!(s.start_ms, Scenario::default().start_ms);
    assert!(s.campaigns.is_empty());
}

#[test]
fn campaigns_cluster_where_legit_users_spread() {
    let s = small();
    let mut per_asn: HashMap<(String, u32), HashSet<String>> = HashMap::new();
    let mut ja4_per_label: HashMap<String, HashSet<String>> = HashMap::new();
    for line in generate(&s, 9).unwrap() {
        let d = traffic::parse_line(&line).unwrap();
        let req = d.request(0);
        let label = d.record().label.as_ref().and_then(|l| l.as_str()).unwrap().to_string();
        let key = String::from_utf8_lossy(req.header("x-api-key").or(req.header("authorization")).unwrap()).into_owned();
        per_asn.entry((label.clone(), req.peer.asn.unwrap())).or_default().insert(key);
        ja4_per_label.entry(label).or_default().insert(req.peer.ja4.unwrap().to_string());
    }
    let asns = |l: &str| per_asn.keys().filter(|(x, _)| x == l).count();
    assert!(asns("camp") > 30, "residential pool spans many ASNs: {}", asns("camp"));
    assert!(asns("dc") <= 3);
    assert_eq!(ja4_per_label["dc"].len(), 1, "one pinned TLS stack");
    assert!(ja4_per_label["legit"].len() >= 5);
}

#[test]
fn jsonl_entry_point_reports_errors_and_limits_output() {
    let text = std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/datacenter_pool.json")).unwrap();
    let out = jsonl(&text, 4, 25, Default::default()).unwrap();
    assert_eq!(out.lines().count(), 25);
    assert!(out.lines().all(|l| traffic::parse_line(l).is_ok()));
    let err = jsonl(r#"{"name":"x","campaigns":[{"name":"c","pool":{"kind":"moon"}}]}"#, 1, 5, Default::default()).unwrap_err();
    assert!(err.contains("campaigns[0].pool.kind"), "{err}");
}

/// Records without the peer facts a host does not give: the same requests, the same
/// addresses, no ASN and country (Envoy without a geo database) or no JA4.
#[test]
fn simulated_records_can_omit_peer_facts() {
    let text = std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/datacenter_pool.json")).unwrap();
    let peers = |without: &str| -> Vec<serde_json::Value> {
        let w = Without::parse(without).unwrap();
        jsonl(&text, 4, 200, w).unwrap().lines().map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["peer"].clone()).collect()
    };
    let (all, no_geo, no_ja4) = (peers(""), peers("asn,country"), peers("ja4"));
    assert!(all.iter().all(|p| p["asn"].is_u64() && p["country"].is_string() && p["ja4"].is_string()));
    assert!(no_geo.iter().all(|p| p["asn"].is_null() && p["country"].is_null() && p["ja4"].is_string()));
    assert!(no_ja4.iter().all(|p| p["ja4"].is_null() && p["asn"].is_u64()));
    assert_eq!(all.iter().map(|p| &p["ip"]).collect::<Vec<_>>(), no_geo.iter().map(|p| &p["ip"]).collect::<Vec<_>>());
    assert!(Without::parse("asn,moon").unwrap_err().contains("\"moon\""));
}

#[test]
fn every_segment_sends_and_lines_carry_it() {
    let mut sim = generate(&small(), 2).unwrap();
    let mut seen: HashSet<&'static str> = HashSet::new();
    while let Some(e) = sim.next_event() {
        assert!(population::SEGMENTS.contains(&e.segment));
        assert_eq!(e.segment == "campaign", e.label > 0);
        assert!(e.line.ends_with(&format!(r#""segment":"{}"}}"#, e.segment)), "{}", e.line);
        seen.insert(e.segment);
    }
    assert_eq!(seen.len(), population::SEGMENTS.len(), "{seen:?}");
}
