//! Distillation campaigns: the proxy pool's exits (residential = home addresses over many
//! ISPs' /24s and ASNs, datacenter = a few hosting/cloud ASNs, mobile = carrier NAT), the
//! worker accounts (a few pinned client environments, optionally disguised as a browser),
//! and what each request asks (templated coding / agentic tasks, chain-of-thought
//! elicitation, rubric grading, and hydra-mixed ordinary prompts).
//!
//! Timing is in `schedule`; rendering the request is in the parent module.

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

/// Builds the proxy pool exits.
fn exits(c: &Campaign, r: &mut Rng) -> Vec<Site> {
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
    (0..c.pool.size)
        .map(|i| {
            let g = groups.get(i as usize % groups.len().max(1)).copied().unwrap_or(0);
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
pub fn build(c: &Campaign, index: usize, seed: u64) -> Result<(Operation, Vec<Actor>), String> {
    let mut r = Rng::derive(seed, 0xCA4A_0001, index as u64);
    let weights: Vec<f64> = STACK_IDS.iter().map(|id| c.clients.get(*id).copied().unwrap_or(0.0)).collect();
    let spoof = Spoof::parse(&c.spoof);
    let variety = if spoof == Spoof::None { 1 } else { 8 };
    let op = Operation {
        exits: exits(c, &mut r),
        templates: templates::build(&mut r, c.templates, c.agentic_share),
        sticky_ms: c.pool.sticky_minutes as u64 * 60_000,
        origin: net::hoster_site(r.below(net::HOSTERS as u64) as u32, &mut r),
        cfg: c.clone(),
    };
    let mut actors = Vec::with_capacity(c.accounts as usize);
    for a in 0..c.accounts {
        // Accounts are spread over the stacks in proportion to the weights.
        let stack = r.weighted(&weights);
        // One pinned environment per stack (and a few rotated browser identities when spoofing).
        let env = (stack as u64) << 8 | r.below(variety);
        let mut er = Rng::derive(seed, 0xE4_0000 + index as u64, env);
        let persona = clients::persona(stack, spoof, 0, CONSOLE, &mut er)?;
        let _ = a;
        actors.push(Actor {
            label: index as u16 + 1,
            key: population::api_key(persona.api, &mut r),
            model: population::model(persona.api, r.chance(0.8), &mut r),
            persona,
            attach: Attach::Pool(index),
            country: 0,
            rate: c.requests_per_account_day * r.lognormal(1.0, 0.25),
            timing: Timing::Worker,
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
    if r.chance(c.innocuous_share) {
        let topic = r.index(TOPICS.len());
        return prompts::legit(r, topic, false);
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    fn camp(kind: &str, size: u32, asns: u32) -> Campaign {
        let mut c = Campaign { accounts: 50, ..Campaign::default() };
        c.pool.kind = kind.into();
        c.pool.size = size;
        c.pool.asns = asns;
        c
    }

    #[test]
    fn residential_pools_spread_over_many_prefixes_and_asns_datacenter_few() {
        let (op, actors) = build(&camp("residential", 3000, 200), 0, 1).unwrap();
        let p24 = |s: &Site| match s.ip {
            std::net::IpAddr::V4(v) => format!("{:?}", &v.octets()[..3]),
            std::net::IpAddr::V6(v) => format!("{:?}", &v.segments()[..3]),
        };
        let asns: HashSet<u32> = op.exits.iter().map(|s| s.asn).collect();
        let prefixes: HashSet<String> = op.exits.iter().map(p24).collect();
        assert!(asns.len() >= 190, "{}", asns.len());
        assert!(prefixes.len() > 2500, "{}", prefixes.len());
        assert_eq!(actors.len(), 50);
        let (dc, _) = build(&camp("datacenter", 3000, 5), 1, 1).unwrap();
        let asns: HashSet<u32> = dc.exits.iter().map(|s| s.asn).collect();
        assert_eq!(asns.len(), 5);
        assert!(dc.exits.iter().map(p24).collect::<HashSet<_>>().len() <= 80);
    }

    #[test]
    fn exits_are_sticky_for_the_configured_time() {
        let (op, _) = build(&camp("residential", 3000, 200), 0, 1).unwrap();
        let t = 1_772_409_600_000;
        assert_eq!(exit(&op, 1, 3, t), exit(&op, 1, 3, t + 60_000));
        let distinct: HashSet<_> = (0..50).map(|k| exit(&op, 1, 3, t + k * op.sticky_ms).ip).collect();
        assert!(distinct.len() > 40);
    }

    #[test]
    fn workers_share_a_pinned_environment() {
        let (_, actors) = build(&camp("residential", 100, 10), 0, 1).unwrap();
        let uas: HashSet<String> = actors.iter().map(|a| format!("{:?}", a.persona.headers)).collect();
        assert_eq!(uas.len(), 1);
    }
}
