//! A production backend: one API key used by a service running on a fleet of cloud servers
//! (Kubernetes nodes, an autoscaling group, serverless workers), each request leaving from
//! whichever server handled it. In its first seconds a new key (a deployment, a rotated key)
//! reaches the API from every server at once, each request from an address the key has not
//! used: per-request rotation by the numbers, until the fleet reuses its addresses. A proxy
//! pool never does. The shipped policies must not flag such a key, and a pool that rotates
//! on every request must still be caught, fast or slow.

use std::net::Ipv4Addr;

use distill_guard::engine::Engine;
use distill_guard::score::Action;

mod support;
use support::{sdk_headers, send, shipped, words, Rng, T0};

/// A support-triage product's request: its fixed instructions (chain-of-thought included, as
/// many production prompts have) around one ticket.
fn ticket(n: u64, rng: &mut Rng) -> String {
    let issue = ["login failures", "slow sync", "a crash on start", "a billing mismatch"][rng.below(4) as usize];
    format!(
        r#"{{"model":"gpt-5","messages":[{{"role":"system","content":"You are a support triage assistant. Think step by step before you answer, then give the category."}},{{"role":"user","content":"Classify ticket #{n}: the customer reports {issue} after the update on device {}."}}]}}"#,
        rng.below(10_000)
    )
}

struct Fleet {
    keys: u64,
    per_minute: u64,
    minutes: u64,
    /// Cloud ASNs the servers are on (regions of one provider, or several providers).
    asns: &'static [u32],
    /// Servers per ASN, each on a /24 of its own, eight per /16.
    servers: u64,
}

/// Sends the fleet's traffic through `engine`: each request from a random server; returns
/// the requests and the flagged ones (action, and the request with its score and reasons).
fn run(engine: &mut Engine, f: &Fleet, geo: bool) -> (u64, Vec<(Action, String)>) {
    let headers = sdk_headers();
    let mut rng = Rng(0x5eed_f1ee_7000_0001);
    let total = f.per_minute * f.minutes;
    let mut flagged = Vec::new();
    for i in 0..total {
        let a = rng.below(f.asns.len() as u64) as usize;
        let s = rng.below(f.servers);
        let ip = Ipv4Addr::new(3 + 10 * a as u8, 80 + (s / 8) as u8, 17 * (s % 8) as u8, 5);
        let key = format!("sk-proj-backend{:02}-dddddddddddddddddddd", rng.below(f.keys));
        let v = send(engine, &headers, &key, &ticket(100_000 + i, &mut rng), ip, geo.then_some(f.asns[a]), T0 + i * 60_000 / f.per_minute);
        if v.action >= Action::Tag {
            flagged.push((v.action, format!("#{i} {:?} {} {}", v.action, v.score, v.reason_codes())));
        }
    }
    (total, flagged)
}

/// Five keys of one product on 80 servers in two regions (two ASNs of one provider, 80 /24s in ten /16s),
/// 600 requests a minute for an hour; one key on 64 serverless workers (64 /24s in eight /16s), 20 a minute
/// for ten hours; one key on 24 servers at three cloud providers, 60 a minute for four hours.
/// Neither `default.json` nor `strict.json` (the default's weights, earlier throttles) flags any.
/// (Before rotation and address counts waited for an account's second minute and address counts
/// for it to stop reusing its addresses, `default.json` flagged 322 of the five keys' first
/// requests, 36 of them throttled, and 34 of the serverless key's, 2 throttled; `strict.json`,
/// then on the built-in weights, tagged 14,353 of the multi-cloud key's 14,400.)
#[test]
fn a_backend_on_a_fleet_of_servers_is_not_rotating_through_a_pool() {
    for (name, k, _, total, flagged) in runs(true) {
        assert!(flagged.is_empty(), "{name}.json, fleet {k}: {} of {total} requests flagged, e.g. {}", flagged.len(), flagged[0].1);
    }
}

/// The same fleets without a geo database: nothing tells a cloud's servers from a pool's exits
/// but their reuse, which the account's window shows only once under one request in five in
/// it came from a new /24. A new key on a big fleet is tagged in its first minutes
/// (`default.json`: 698 of the five keys' first 1,395 requests, 52 of the serverless key's
/// first 72; none throttled, none after the fifth minute). `strict.json` flags the same
/// requests and throttles 16 of them (its throttle threshold is 55, the default's 70); none
/// denied. (On the built-in weights it had tagged the serverless key for its first 18 minutes.)
#[test]
fn without_a_geo_database_a_new_fleet_is_tagged_for_its_first_minutes_only() {
    for (name, k, f, total, flagged) in runs(false) {
        let worst = if name == "default" { Action::Tag } else { Action::Throttle };
        let beyond: Vec<&String> = flagged.iter().filter(|(a, _)| *a > worst).map(|(_, s)| s).collect();
        assert!(beyond.is_empty(), "{name}.json, fleet {k}: {} of {total} requests beyond {worst:?}, e.g. {}", beyond.len(), beyond[0]);
        let minutes = 5;
        let late: Vec<&String> = flagged.iter().map(|(_, s)| s).filter(|s| seq(s) >= minutes * f.per_minute).collect();
        assert!(late.is_empty(), "{name}.json, fleet {k}: {} of {total} requests flagged after {minutes} minutes, e.g. {}", late.len(), late[0]);
    }
}

/// Five keys of one product on 80 servers in two regions (two ASNs of one provider), one key
/// on 64 serverless workers, one key on 24 servers at three cloud providers.
const FLEETS: [Fleet; 3] = [
    Fleet { keys: 5, per_minute: 600, minutes: 60, asns: &[16509, 14618], servers: 40 },
    Fleet { keys: 1, per_minute: 20, minutes: 600, asns: &[16509], servers: 64 },
    Fleet { keys: 1, per_minute: 60, minutes: 240, asns: &[16509, 15169, 8075], servers: 8 },
];

/// Each of [`FLEETS`] through a fresh engine of each of `default.json` and `strict.json`, with
/// its ASNs (`geo`) or without: (policy, fleet, the fleet, requests, flagged ones).
fn runs(geo: bool) -> impl Iterator<Item = (&'static str, usize, &'static Fleet, u64, Vec<(Action, String)>)> {
    ["default", "strict"].into_iter().flat_map(move |name| {
        FLEETS.iter().enumerate().map(move |(k, f)| {
            let (total, flagged) = run(&mut shipped(name), f, geo);
            (name, k, f, total, flagged)
        })
    })
}

/// The request number of a [`run`] report (`#i ...`).
fn seq(report: &str) -> u64 {
    report.trim_start_matches('#').split(' ').next().and_then(|n| n.parse().ok()).unwrap_or(u64::MAX)
}

/// The other side: accounts that rotate on every request through a pool on one hosting
/// provider are caught once they are a minute old, whether light (200 accounts, six requests
/// each over a day) or one busy account (six a minute for five minutes).
#[test]
fn per_request_rotation_on_one_provider_is_still_caught() {
    let headers = sdk_headers();
    let mut rng = Rng(0x0dd_ba11);
    let exit = |rng: &mut Rng| Ipv4Addr::new(45, rng.below(250) as u8, rng.below(250) as u8, 1 + rng.below(250) as u8);
    let mut e = shipped("default");
    let mut plan: Vec<(u64, u64)> = Vec::new();
    for a in 0..200 {
        for _ in 0..6 {
            plan.push((T0 + rng.below(24 * 3_600_000), a));
        }
    }
    plan.sort();
    let mut seen = std::collections::HashMap::new();
    let (mut late, mut caught) = (0, 0);
    for (k, &(ts, a)) in plan.iter().enumerate() {
        let v = send(&mut e, &headers, &format!("sk-proj-pool{a:04}-eeeeeeeeeeeeeeeeeeee"), &ticket(k as u64, &mut rng), exit(&mut rng), 20473, ts);
        let nth = seen.entry(a).and_modify(|n| *n += 1).or_insert(1);
        if *nth >= 3 {
            late += 1;
            caught += u32::from(v.action >= Action::Tag && v.reason_codes().contains("account.ip_rotation"));
        }
    }
    assert!(caught * 10 >= late * 9, "light accounts: {caught} of {late} caught from their third request");

    let mut e = shipped("default");
    let (mut after_a_minute, mut caught) = (0, 0);
    for i in 0..30u64 {
        let v = send(&mut e, &headers, "sk-proj-busy0001-ffffffffffffffffffff", &ticket(i, &mut rng), exit(&mut rng), 20473, T0 + i * 10_000);
        if i >= 6 {
            after_a_minute += 1;
            caught += u32::from(v.action >= Action::Tag && v.reason_codes().contains("account.ip_rotation"));
        }
    }
    assert!(caught * 10 >= after_a_minute * 9, "busy account: {caught} of {after_a_minute} caught from its second minute on");
}

/// An AI code-review bot: one key, one request per pull request, each from the fresh CI runner
/// that ran the job (a new address in a cloud's pool every time, one ASN), 40 jobs a day for
/// three days. Its addresses rotate on every request and nothing else about it stands out: the
/// rotation tags it, and that one signal must not escalate the account through its flag history.
/// (When the history recorded flags resting on one signal, `default.json` throttled 6 of its 120
/// requests: `account.ip_rotation` 45 + `account.flag_history` 25.)
#[test]
fn a_review_bot_on_fresh_ci_runners_is_not_escalated() {
    let headers = sdk_headers();
    // With a geo database, and without (a network is then the client's /24).
    for geo in [true, false] {
        review_bot(&headers, geo);
    }
}

fn review_bot(headers: &[(String, String)], geo: bool) {
    let mut rng = Rng(4242);
    let mut e = shipped("default");
    for job in 0..120u64 {
        let ts = T0 + job * 36 * 60_000 + rng.below(600_000);
        let ip = Ipv4Addr::new(20 + rng.below(30) as u8, rng.below(250) as u8, rng.below(250) as u8, 1 + rng.below(250) as u8);
        let diff = words(&mut rng, 60);
        let body = format!(
            r#"{{"model":"gpt-5","messages":[{{"role":"system","content":"You are a code reviewer. Review the diff and list problems."}},{{"role":"user","content":"diff --git a/src/lib.rs b/src/lib.rs {}"}}]}}"#,
            diff
        );
        let v = send(&mut e, headers, "sk-proj-review-bot-0001-qqqqqqqqqqqqqqqq", &body, ip, geo.then_some(8075), ts);
        assert!(v.action <= Action::Tag, "geo {geo}, job {job}: {:?} {}", v.action, v.reason_codes());
        assert!(!v.reason_codes().contains("account.flag_history"), "geo {geo}, job {job}: {}", v.reason_codes());
    }
}
