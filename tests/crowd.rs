//! Guilt by association: legitimate users on the most common SDK environment (the captured
//! `openai-python` POST, byte for byte the same headers and JA4) keep their home networks and
//! send their own prompts, while a campaign runs hundreds of light accounts on the very same
//! environment, each request from a new network. The crowd evidence (`cluster.*`) is real on
//! both sides, since they share the cluster; it may catch the campaign, but it must never
//! flag a legitimate account with an established, ordinary history.

use std::net::Ipv4Addr;

use distill_guard::engine::Engine;
use distill_guard::score::Action;

mod support;
use support::{chat, sdk_headers, send, shipped, words, Rng, T0};

struct Sent {
    legit: bool,
    nth: u32,
    action: Action,
    crowd: bool,
    codes: String,
}

const TOPICS: &[&str] = &["my garden", "a birthday card for my aunt", "the quarterly newsletter", "a bug in my router setup", "a cover letter", "tonight's dinner", "a trip to Porto", "my thesis outline"];

/// `geo`: the requests carry their ASN (a deployment with a geo database) or none.
fn run(engine: &mut Engine, geo: bool) -> Vec<Sent> {
    let headers = sdk_headers();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    // (time, legit?, account, sequence number)
    let mut plan: Vec<(u64, bool, u32, u32)> = Vec::new();
    // 150 legitimate users, ~25 requests each over two days, from their own home address.
    for a in 0..150u32 {
        for n in 0..25u32 {
            plan.push((T0 + rng.below(48 * 3_600_000), true, a, n));
        }
    }
    // 400 campaign accounts, ~8 requests each (light), every request from a new network.
    for a in 0..400u32 {
        for n in 0..8u32 {
            plan.push((T0 + rng.below(48 * 3_600_000), false, a, n));
        }
    }
    plan.sort();
    let mut seen = std::collections::HashMap::new();
    let mut out = Vec::with_capacity(plan.len());
    for (i, &(ts, legit, a, _)) in plan.iter().enumerate() {
        let nth = {
            let c = seen.entry((legit, a)).or_insert(0u32);
            *c += 1;
            *c
        };
        let (key, ip, asn) = if legit {
            // One address each, in one of ten busy /24s of one big ISP (a carrier NAT, a
            // campus): the prefixes the campaign's pool exits sit in too.
            (format!("sk-legit-{a:04}-aaaaaaaaaaaaaaaaaaaa"), Ipv4Addr::new(81, 20, (a % 10) as u8, (a / 10) as u8 + 1), 3320)
        } else {
            // Every request from a new exit: half in the users' ten prefixes, each exit on
            // an ASN of its own.
            let x = rng.next();
            let ip = if x % 2 == 0 {
                Ipv4Addr::new(81, 20, ((x >> 8) % 10) as u8, 100 + ((x >> 16) % 150) as u8)
            } else {
                Ipv4Addr::new(100 + ((x >> 8) % 50) as u8, (x >> 16) as u8, (x >> 24) as u8, (x >> 32) as u8)
            };
            (format!("sk-camp-{a:04}-bbbbbbbbbbbbbbbbbbbbb"), ip, 10_000 + (x >> 40) as u32 % 2_000)
        };
        let text = if legit {
            format!("Could you help me with {} please, request {i}", TOPICS[(a as usize + i) % TOPICS.len()])
        } else {
            format!("Write a short essay on topic number {} for a school assignment", rng.below(100_000))
        };
        let v = send(engine, &headers, &key, &chat(&text), ip, geo.then_some(asn), ts);
        let crowd = v.reasons.iter().any(|x| x.signal.crowd());
        out.push(Sent { legit, nth, action: v.action, crowd, codes: v.reason_codes() });
    }
    out
}

#[test]
fn ordinary_users_of_a_popular_sdk_environment_are_not_flagged_for_a_campaign_on_it() {
    // With a geo database, and without (a network is then the client's /24).
    for geo in [true, false] {
        check_crowd_and_campaign(&run(&mut shipped("default"), geo), geo);
    }
}

fn check_crowd_and_campaign(sent: &[Sent], geo: bool) {
    let legit: Vec<&Sent> = sent.iter().filter(|s| s.legit).collect();
    let established: Vec<&Sent> = legit.iter().copied().filter(|s| s.nth > 3).collect();
    let flagged: Vec<&Sent> = established.iter().copied().filter(|s| s.action >= Action::Tag).collect();
    assert!(flagged.is_empty(), "geo {geo}: {} of {} established legitimate requests flagged, e.g. {}", flagged.len(), established.len(), flagged[0].codes);
    let any_legit = legit.iter().filter(|s| s.action >= Action::Tag).count();
    assert!(any_legit * 200 <= legit.len(), "geo {geo}: {any_legit} of {} legitimate requests flagged", legit.len());

    // The test means something only if the crowd evidence was there: the shared cluster
    // shows up among the reasons of legitimate requests (scaled, never decisive) ...
    assert!(legit.iter().any(|s| s.crowd), "no crowd signal on a legitimate request: the test does not test");
    // ... and the campaign's network hopping on the shared environment is caught.
    let camp: Vec<&Sent> = sent.iter().filter(|s| !s.legit && s.nth > 1).collect();
    let caught = camp.iter().filter(|s| s.action >= Action::Tag).count();
    assert!(caught * 10 >= camp.len() * 8, "geo {geo}: campaign flagged on {caught} of {}", camp.len());
}


/// A large API's everyday crowd: 3,000 users of the official SDK (the same captured headers
/// and JA4) on the five network operators most of a country's homes are on, three requests
/// each within the hour, their own prompts from their own addresses. Each operator then
/// holds hundreds of light accounts on that one client: counts that grow with a deployment's
/// user base, not with coordination (they weighed 100 and 82 in an earlier default, which
/// flagged a quarter of these requests and denied a sixth; the built-in weights had
/// `strict.json` tag a fifth). No shipped policy may flag any (`shadow.json`: would flag), and
/// no count of the network- or client-wide crowds may be among the reasons.
#[test]
fn a_popular_sdk_on_big_networks_is_not_a_campaign() {
    let headers = sdk_headers();
    let (users, per_user) = (3_000u64, 3u64);
    // With a geo database, and without (a network is then the client's /24).
    for (name, geo) in ["default", "strict", "shadow"].into_iter().flat_map(|n| [(n, true), (n, false)]) {
        let mut engine = shipped(name);
        let mut rng = Rng(0x1234_5678_9abc_def1);
        let mut flagged = Vec::new();
        for i in 0..users * per_user {
            let u = i % users;
            let ip = Ipv4Addr::new(60 + (u % 5) as u8, (u >> 8) as u8, u as u8, 9);
            let v = send(&mut engine, &headers, &format!("sk-user-{u:06}-cccccccccccccccccccc"), &chat(&words(&mut rng, 40)), ip, geo.then_some(7922 + (u % 5) as u32), T0 + i * 3_600_000 / (users * per_user));
            let network_wide = v.reasons.iter().any(|r| r.signal.crowd() && !r.signal.code().contains("prefix") && !r.signal.code().contains("template"));
            if v.action >= Action::Tag || network_wide {
                flagged.push(format!("{:?} {}", v.action, v.reason_codes()));
            }
        }
        assert!(flagged.is_empty(), "{name}.json, geo {geo}: {} of {} requests flagged or held to a network-wide crowd, e.g. {}", flagged.len(), users * per_user, flagged[0]);
    }
}
