//! Distillation campaigns: the proxy pool's exits (residential = home addresses over many
//! ISPs' /24s and ASNs, datacenter = a few hosting/cloud ASNs, mobile = carrier NAT), the
//! worker accounts (a few pinned client environments, optionally disguised as a browser),
//! and what each request asks (templated coding / agentic tasks, chain-of-thought
//! elicitation, rubric grading, and hydra-mixed ordinary prompts).
//!
//! Timing is in `schedule`; rendering the request is in the parent module.

use super::benchmark;
use super::clients::{self, Api, Spoof, STACK_IDS};
use super::net::{self, Site};
use super::population::{self, Actor, Attach, Role, Timing, CONSOLE};
use super::prompts::{self, Prompt, TOPICS};
use super::rng::Rng;
use super::scenario::Campaign;
use super::templates::{self, Purpose, Template};

/// A campaign's shared machinery.
#[derive(Debug, Clone)]
pub struct Operation {
    /// Scenario parameters.
    pub cfg: Campaign,
    /// Proxy pool exits.
    pub exits: Vec<Site>,
    /// Prompt templates.
    pub templates: Vec<Template>,
    /// How long an account keeps one exit (0 = new exit per request).
    pub sticky_ms: u64,
    /// The operator's own server (the exit when the pool is empty).
    pub origin: Site,
}

/// An address in the /24 (IPv4) or /48 (IPv6) of `s`: a neighbour of a known user.
fn neighbour(s: &Site, r: &mut Rng) -> Site {
    let ip = match s.ip {
        std::net::IpAddr::V4(v) => {
            let o = v.octets();
            std::net::IpAddr::V4(std::net::Ipv4Addr::new(o[0], o[1], o[2], r.range(1, 254) as u8))
        }
        std::net::IpAddr::V6(v) => {
            let mut g = v.segments();
            for x in g.iter_mut().skip(3) {
                *x = r.below(65536) as u16;
            }
            std::net::IpAddr::V6(std::net::Ipv6Addr::from(g))
        }
    };
    Site { ip, ..*s }
}

/// Builds the proxy pool exits (for an imitating campaign: addresses next to the imitated
/// users' own).
fn exits(c: &Campaign, r: &mut Rng, mimic: &[Site]) -> Vec<Site> {
    if !mimic.is_empty() {
        return (0..c.pool.size).map(|_| neighbour(&mimic[r.index(mimic.len())], r)).collect();
    }
    let asns = c.pool.asns.max(1);
    let groups: Vec<u32> = match c.pool.kind.as_str() {
        "datacenter" => (0..asns).map(|k| k % (net::HOSTERS + net::CLOUDS)).collect(),
        "mobile" => (0..asns).map(|k| k % net::CARRIERS).collect(),
        _ => {
            let mut isps: Vec<u32> = Vec::with_capacity(asns as usize);
            let mut tries = 0;
            while isps.len() < asns.min(net::HOME_ISPS) as usize && tries < 100_000 {
                let isp = net::isp_in(net::pick_country(r), r);
                if !isps.contains(&isp) {
                    isps.push(isp);
                }
                tries += 1;
            }
            isps
        }
    };
    // Residential exits are real homes: an ISP carries exits in proportion to its share of
    // homes (draw by market share until one of the pool's ISPs comes up).
    let residential = !matches!(c.pool.kind.as_str(), "datacenter" | "mobile");
    let allowed: std::collections::HashSet<u32> = groups.iter().copied().collect();
    (0..c.pool.size)
        .map(|i| {
            let mut g = groups.get(i as usize % groups.len().max(1)).copied().unwrap_or(0);
            if residential {
                for _ in 0..50 {
                    let isp = net::isp_in(net::pick_country(r), r);
                    if allowed.contains(&isp) {
                        g = isp;
                        break;
                    }
                }
            }
            match c.pool.kind.as_str() {
                "datacenter" if g >= net::HOSTERS => net::cloud_site(g - net::HOSTERS, r),
                "datacenter" => net::hoster_site(g, r),
                "mobile" => net::carrier_site(g, r),
                _ => net::home_site(g, r.chance(0.05), r),
            }
        })
        .collect()
}

/// Builds campaign `index` (label `index + 1`): its operation and worker accounts.
/// `mimic` holds the home sites of the users a `mimic: app` campaign imitates.
pub fn build(c: &Campaign, index: usize, seed: u64, mimic: &[Site]) -> Result<(Operation, Vec<Actor>), String> {
    let mut r = Rng::derive(seed, 0xCA4A_0001, index as u64);
    let weights: Vec<f64> = STACK_IDS.iter().map(|id| c.clients.get(*id).copied().unwrap_or(0.0)).collect();
    let spoof = Spoof::parse(&c.spoof);
    let variety = if spoof == Spoof::None { 1 } else { 8 };
    let variety = variety.max(c.environments as u64);
    let mimic = if c.mimic == "app" { mimic } else { &[] };
    let op = Operation {
        exits: exits(c, &mut r, mimic),
        templates: templates::build(&mut r, c.templates, c.agentic_share),
        sticky_ms: c.pool.sticky_minutes as u64 * 60_000,
        origin: net::hoster_site(r.below(net::HOSTERS as u64) as u32, &mut r),
        cfg: c.clone(),
    };
    let mut actors = Vec::with_capacity(c.accounts as usize);
    for a in 0..c.accounts {
        // Accounts are spread over the stacks in proportion to the weights.
        let stack = r.weighted(&weights);
        // One pinned environment per stack (and a few rotated browser identities when
        // spoofing), a few, or (`environments: 0`) one per account.
        let env = if c.environments == 0 { (stack as u64) << 32 | a as u64 } else { (stack as u64) << 8 | r.below(variety) };
        let mut er = Rng::derive(seed, 0xE4_0000 + index as u64, env);
        let persona = if mimic.is_empty() { clients::persona(stack, spoof, 0, CONSOLE, &mut er)? } else { population::app_persona(r.below(3))? };
        let rate = c.requests_per_account_day * r.lognormal(1.0, 0.25);
        actors.push(Actor {
            label: index as u16 + 1,
            key: population::api_key(persona.api, &mut r),
            model: population::model(persona.api, r.chance(0.8), &mut r),
            persona,
            attach: Attach::Pool(index),
            country: 0,
            // An agent harness sends conversations: the rate counts them.
            rate: if c.agent { rate / c.agent_turns.max(1.0) } else { rate },
            timing: if c.agent { Timing::Sessions } else { Timing::Worker },
            role: Role::Worker(index),
            segment: "campaign",
        });
    }
    Ok((op, actors))
}

/// The exit an account of this operation uses at `ts`.
pub fn exit(op: &Operation, seed: u64, actor: u32, ts: u64) -> Site {
    let bucket = ts.checked_div(op.sticky_ms).unwrap_or(ts);
    let mut r = Rng::derive(seed, 0xE417 ^ (actor as u64) << 20, bucket);
    op.exits.get(r.index(op.exits.len())).copied().unwrap_or(op.origin)
}

/// The prompt of a worker's next request.
pub fn prompt(op: &Operation, api: Api, r: &mut Rng) -> Prompt {
    let c = &op.cfg;
    if c.mimic == "app" {
        return population::app_prompt(r);
    }
    if r.chance(c.innocuous_share) {
        let topic = r.index(TOPICS.len());
        return prompts::legit(r, topic, false);
    }
    if c.tasks == "benchmark" {
        let reason = r.f64() < c.elicitation_share;
        return Prompt {
            user: task_text(op, r, reason),
            max_tokens: *r.pick(&[4096, 8192, 8192, 16_000]).unwrap_or(&8192),
            stream: r.chance(0.5),
            ..Prompt::default()
        };
    }
    let Some(t) = r.pick(&op.templates) else { return prompts::legit(r, 0, false) };
    let x = r.f64();
    let purpose = if x < c.elicitation_share {
        Purpose::Elicit
    } else if x < c.elicitation_share + c.rubric_share {
        Purpose::Grade
    } else {
        Purpose::Task
    };
    let mut p = templates::fill(r, t, purpose);
    p.logprobs = api == Api::OpenAi && r.chance(c.logprobs_share);
    p
}

/// One phrasing of a task of the campaign's slice of the benchmark.
pub fn task_text(op: &Operation, r: &mut Rng, reason: bool) -> String {
    let t = benchmark::task(r.index(op.cfg.benchmark_tasks.max(1) as usize));
    benchmark::phrase(&t, r, reason)
}

/// The task of one agent conversation of this campaign.
pub fn agent_task(op: &Operation, r: &mut Rng) -> String {
    let text = if op.cfg.tasks == "benchmark" { task_text(op, r, false) } else { match r.pick(&op.templates) {
        Some(t) => templates::fill(r, t, Purpose::Task).user,
        None => prompts::legit(r, 0, false).user,
    } };
    format!("{text}\n\nWrite the solution to solution.py and make the tests in test_solution.py pass.")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    fn build_t(c: &Campaign, index: usize, seed: u64) -> Result<(Operation, Vec<Actor>), String> {
        build(c, index, seed, &[])
    }

    fn camp(kind: &str, size: u32, asns: u32) -> Campaign {
        let mut c = Campaign { accounts: 50, ..Campaign::default() };
        c.pool.kind = kind.into();
        c.pool.size = size;
        c.pool.asns = asns;
        c
    }

    #[test]
    fn residential_pools_spread_over_many_prefixes_and_asns_datacenter_few() {
        let (op, actors) = build_t(&camp("residential", 3000, 200), 0, 1).unwrap();
        let p24 = |s: &Site| match s.ip {
            std::net::IpAddr::V4(v) => format!("{:?}", &v.octets()[..3]),
            std::net::IpAddr::V6(v) => format!("{:?}", &v.segments()[..3]),
        };
        let asns: HashSet<u32> = op.exits.iter().map(|s| s.asn).collect();
        let prefixes: HashSet<String> = op.exits.iter().map(p24).collect();
        // Exits sit in the pool's ISPs by market share: the small ones carry few.
        assert!(asns.len() >= 150, "{}", asns.len());
        assert!(prefixes.len() > 2500, "{}", prefixes.len());
        assert_eq!(actors.len(), 50);
        let (dc, _) = build_t(&camp("datacenter", 3000, 5), 1, 1).unwrap();
        let asns: HashSet<u32> = dc.exits.iter().map(|s| s.asn).collect();
        assert_eq!(asns.len(), 5);
        assert!(dc.exits.iter().map(p24).collect::<HashSet<_>>().len() <= 80);
    }

    #[test]
    fn exits_are_sticky_for_the_configured_time() {
        let (op, _) = build_t(&camp("residential", 3000, 200), 0, 1).unwrap();
        let t = 1_772_409_600_000;
        assert_eq!(exit(&op, 1, 3, t), exit(&op, 1, 3, t + 60_000));
        let distinct: HashSet<_> = (0..50).map(|k| exit(&op, 1, 3, t + k * op.sticky_ms).ip).collect();
        assert!(distinct.len() > 40);
    }

    #[test]
    fn workers_share_a_pinned_environment() {
        let (_, actors) = build_t(&camp("residential", 100, 10), 0, 1).unwrap();
        let uas: HashSet<String> = actors.iter().map(|a| format!("{:?}", a.persona.headers)).collect();
        assert_eq!(uas.len(), 1);
    }
}
