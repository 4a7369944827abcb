//! Unit tests of the campaign tracker: grouping, thresholds, bounds, windows, settings.

use super::*;
use crate::score::{Action, Reason};
use crate::signal::Signal;

const T0: u64 = 1_772_409_600_000;

pub(super) fn verdict(flagged: bool, score: u8) -> Verdict {
    let reasons = if flagged { vec![Reason { signal: Signal::AccountAsnRotation, strength: 1.0, points: 25.0 }] } else { Vec::new() };
    Verdict { action: if flagged { Action::Tag } else { Action::Allow }, score, reasons, ..Default::default() }
}

/// A campaign account's request: one pinned environment (and header shape), a new prefix
/// and ASN each time.
pub(super) fn campaign_obs(account: u64, i: u64, env: u64) -> Observation {
    Observation {
        now_ms: T0 + i * 1000,
        account: Some(account),
        hfp: 0xC0FFEE ^ env,
        prefix: Some(crate::sketch::mix64(i)),
        asn: Some(4_200_000_000 + (i % 300) as u32),
        env: Some(env),
        ..Default::default()
    }
}

/// A legitimate user's request: own home prefix and ASN, a popular SDK environment.
pub(super) fn legit_obs(account: u64, i: u64) -> Observation {
    Observation {
        now_ms: T0 + i * 1000,
        account: Some(account),
        hfp: 0xB0B,
        prefix: Some(account),
        asn: Some(64_500 + (account % 7) as u32),
        env: Some(0x5D4),
        ..Default::default()
    }
}

pub(super) fn settings() -> Settings {
    Settings { accounts: 4096, clusters: 1024, ..Settings::default() }
}

/// 40 campaign accounts (all flagged) on env 0xE1 beside 400 legitimate users on one popular
/// environment, 1 % of whose requests are flagged.
fn mixed(t: &mut Tracker) {
    for i in 0..4000u64 {
        let a = 1_000 + i % 40;
        t.record(&campaign_obs(a, i, 0xE1), &verdict(true, 70));
        let u = 50_000 + i % 400;
        t.record(&legit_obs(u, i), &verdict(i % 100 == 7, 35));
    }
}

#[test]
fn a_campaign_is_listed_once_with_its_accounts_and_the_crowd_is_not() {
    let mut t = Tracker::new(settings());
    mixed(&mut t);
    let r = t.report(t.last_ms());
    assert_eq!(r.campaigns_total, 1, "{r:#?}");
    let c = &r.campaigns[0];
    assert_eq!(c.accounts.count, 40);
    assert!((38..=42).contains(&c.accounts.estimate), "{}", c.accounts.estimate);
    assert!(c.accounts.sample.iter().all(|a| (1_000..1_040).contains(&u64::from_str_radix(a, 16).unwrap())));
    assert_eq!(c.keys[0].name.kind, "client_env");
    assert_eq!(c.keys[0].name.id, format!("{:016x}", 0xE1));
    assert_eq!(c.requests, report::Requests { flagged: 4000, all: 4000 });
    assert_eq!((c.first_seen_ms, c.last_seen_ms), (T0, T0 + 3_999_000));
    assert_eq!(c.reasons[0].code, "account.asn_rotation");
    assert_eq!(c.reasons[0].count, 4000);
    assert_eq!(c.mean_score, 70.0);
    assert_eq!(c.flagged_share, 1.0);
    // 100 x 40/50 x 1.0 x (0.5 + 0.35)
    assert_eq!(c.confidence, 68);
}

#[test]
fn fewer_accounts_than_min_accounts_is_no_campaign() {
    let mut t = Tracker::new(Settings { min_accounts: 41, ..settings() });
    mixed(&mut t);
    assert_eq!(t.report(t.last_ms()).campaigns_total, 0);
    let mut t = Tracker::new(Settings { min_accounts: 40, ..settings() });
    mixed(&mut t);
    assert_eq!(t.report(t.last_ms()).campaigns_total, 1);
}

#[test]
fn accounts_flagged_now_and_then_stay_out() {
    // The campaign's accounts send one flagged request in three: below account_share 0.5.
    let mut t = Tracker::new(settings());
    for i in 0..3000u64 {
        t.record(&campaign_obs(1_000 + i % 30, i, 0xE1), &verdict(i % 90 < 30, 60));
    }
    assert_eq!(t.report(t.last_ms()).campaigns_total, 0);
    let mut t = Tracker::new(Settings { account_share: 0.3, link_share: 0.3, ..settings() });
    for i in 0..3000u64 {
        t.record(&campaign_obs(1_000 + i % 30, i, 0xE1), &verdict(i % 90 < 30, 60));
    }
    assert_eq!(t.report(t.last_ms()).campaigns[0].accounts.count, 30);
}

#[test]
fn two_campaigns_on_different_keys_are_two_and_keys_shared_merge_them() {
    let mut t = Tracker::new(settings());
    for i in 0..2000u64 {
        t.record(&campaign_obs(1_000 + i % 20, i, 0xE1), &verdict(true, 70));
        t.record(&campaign_obs(2_000 + i % 25, i, 0xE2), &verdict(true, 80));
    }
    let r = t.report(t.last_ms());
    let counts: Vec<u64> = r.campaigns.iter().map(|c| c.accounts.count).collect();
    assert_eq!(counts, [25, 20]);
    // The same two stacks working through one template are one operation.
    let mut t = Tracker::new(settings());
    for i in 0..2000u64 {
        let tpl = Some(0x1234_5678_9abc_def0);
        t.record(&Observation { template: tpl, ..campaign_obs(1_000 + i % 20, i, 0xE1) }, &verdict(true, 70));
        t.record(&Observation { template: tpl, ..campaign_obs(2_000 + i % 25, i, 0xE2) }, &verdict(true, 80));
    }
    let r = t.report(t.last_ms());
    assert_eq!(r.campaigns_total, 1);
    assert_eq!(r.campaigns[0].accounts.count, 45);
    let kinds: Vec<&str> = r.campaigns[0].keys.iter().map(|k| k.name.kind).collect();
    assert!(kinds.contains(&"template") && kinds.contains(&"client_env"), "{kinds:?}");
}

#[test]
fn bodies_learned_after_the_verdict_add_template_links_and_elicitation() {
    // Two campaign halves on different environments, joined only by the template that
    // `learn` adds (the body read after a header-phase verdict).
    let mut t = Tracker::new(settings());
    for i in 0..2000u64 {
        let (a, env) = if i % 2 == 0 { (1_000 + i / 2 % 30, 0xE1) } else { (2_000 + i / 2 % 30, 0xE2) };
        let obs = campaign_obs(a, i, env);
        t.record(&obs, &verdict(true, 50));
        t.learn(&Observation { template: Some(0xAAAA_BBBB_CCCC_DDDD), elicitation: i % 4 == 0, ..obs }, true);
    }
    let r = t.report(t.last_ms());
    assert_eq!(r.campaigns_total, 1, "{r:#?}");
    assert_eq!(r.campaigns[0].accounts.count, 60);
    assert_eq!(r.campaigns[0].elicitation_share, 0.25);
}

#[test]
fn the_window_drops_accounts_and_keys_not_flagged_lately() {
    let mut t = Tracker::new(Settings { window_s: 3600, ..settings() });
    mixed(&mut t);
    let end = t.last_ms();
    assert_eq!(t.report(end).campaigns_total, 1);
    // Within the window: every account's last flagged request (the last 40 s) still counts.
    assert_eq!(t.report(end + 3_500_000).campaigns_total, 1);
    let later = t.report(end + 3 * 3_600_000);
    assert_eq!((later.campaigns_total, later.accounts_tracked), (0, 0));
}

#[test]
fn memory_is_fixed_by_the_settings_and_reports_stay_bounded() {
    let s = Settings { accounts: 512, clusters: 256, sample: 5, max_campaigns: 3, min_accounts: 2, ..Settings::default() };
    let mut t = Tracker::new(s);
    let bytes = t.allocated_bytes();
    assert_eq!(bytes + std::mem::size_of::<Tracker>(), s.memory_bound());
    // A flood: 200,000 flagged one-off accounts in 2,000 small campaigns of 100 each.
    for i in 0..200_000u64 {
        t.record(&campaign_obs(i, i, i / 100), &verdict(true, 90));
    }
    assert_eq!(t.allocated_bytes(), bytes);
    let r = t.report(t.last_ms());
    assert!(r.accounts_tracked <= 512);
    assert!(r.campaigns.len() <= 3 && r.campaigns.iter().all(|c| c.accounts.sample.len() <= 5));
    // The estimate counts accounts the table evicted.
    assert!(r.campaigns.iter().all(|c| c.accounts.estimate >= c.accounts.count));
}

#[test]
fn reports_are_deterministic_and_name_no_raw_key() {
    let run = || {
        let mut t = Tracker::new(settings());
        mixed(&mut t);
        serde_json::to_string(&t.report(t.last_ms())).unwrap()
    };
    let a = run();
    assert_eq!(a, run());
    for field in ["\"campaigns\"", "\"accounts\"", "\"sample\"", "\"estimate\"", "\"confidence\"", "\"keys\"", "\"kind\"", "\"first_seen_ms\"", "\"elicitation_share\"", "\"reasons\""] {
        assert!(a.contains(field), "{field} in {a}");
    }
}

#[test]
fn requests_without_an_account_or_flag_add_no_campaign() {
    let mut t = Tracker::new(settings());
    for i in 0..3000u64 {
        t.record(&Observation { account: None, ..campaign_obs(0, i, 0xE1) }, &verdict(true, 90));
        t.record(&campaign_obs(1_000 + i % 30, i, 0xE2), &verdict(false, 10));
    }
    let r = t.report(t.last_ms());
    assert_eq!((r.campaigns_total, r.accounts_tracked, r.requests, r.flagged), (0, 0, 6000, 3000));
    let allowlisted = Verdict { allowlisted: true, ..verdict(true, 90) };
    assert!(!flagged(&allowlisted));
}

#[test]
fn settings_are_validated_with_paths() {
    let v = serde_json::json!({"min_accounts": 1, "accounts": 5, "link_share": 1.5, "colour": 2, "window_s": -1});
    let e = Settings::from_value(&v, "envoy.campaigns").unwrap_err();
    let paths: Vec<&str> = e.0.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(paths, ["envoy.campaigns.colour", "envoy.campaigns.link_share", "envoy.campaigns.min_accounts", "envoy.campaigns.window_s"]);
    let s = Settings::from_value(&serde_json::json!({"min_accounts": 3, "account_share": 0.8}), "x").unwrap();
    assert_eq!((s.min_accounts, s.account_share, s.accounts), (3, 0.8, Settings::default().accounts));
    assert!(Settings::from_value(&serde_json::json!([1]), "x").is_err());
}

#[test]
fn a_popular_harness_with_a_campaign_inside_links_nothing() {
    // 40 campaign accounts and 400 people share one agent harness (a popular agent's system
    // prompt and tool set); the campaign sends most of its requests and all of them are
    // flagged, so most of the harness's requests are flagged, but most of its accounts are
    // not. Eight of the people are flagged now and then: they must not join the campaign
    // through the harness. The campaign's own environment still groups it.
    let mut t = Tracker::new(settings());
    for i in 0..8000u64 {
        let a = 1_000 + i % 40;
        t.record(&Observation { harness: Some(0xA6E), ..campaign_obs(a, i, 0xE1) }, &verdict(true, 70));
        if i % 4 == 0 {
            let u = 50_000 + (i / 4) % 400;
            t.record(&Observation { harness: Some(0xA6E), ..legit_obs(u, i) }, &verdict(u % 50 == 0 && i % 3 == 0, 35));
        }
    }
    let r = t.report(t.last_ms());
    let counts: Vec<u64> = r.campaigns.iter().map(|c| c.accounts.count).collect();
    assert_eq!(counts, [40], "{counts:?}");
}
