//! Campaign simulator: labeled traffic in the replay JSONL format ([`crate::traffic`]),
//! deterministic for a (scenario, seed) pair and ordered by time.
//!
//! A [`Scenario`] describes a legitimate population (browsers, official SDKs, scripts, with
//! the real header shapes of `tests/data/clients.json`; home, mobile CGNAT, corporate,
//! university and cloud networks; diurnal sessions; heavy users) and zero or more
//! distillation campaigns (proxy pools, pinned client stacks or browser disguises, prompt
//! templates, chain-of-thought elicitation, rubric grading, hydra mixing, synchronized
//! waves). [`generate`] builds every account and its send times up front (a few MB for a
//! few hundred thousand requests) and renders one JSON line per request lazily.
//!
//! All randomness comes from the explicit seeded [`rng::Rng`]; there is no I/O here, so
//! the wasm-bindgen build can run it in a browser. It does not score anything: see
//! [`quality`] for running an engine over the output.

pub mod agent;
pub mod benchmark;
pub mod campaign;
pub mod check;
pub mod clients;
pub mod corpus;
pub mod net;
pub mod population;
pub mod prompts;
pub mod proxies;
pub mod fit;
pub mod quality;
pub mod rng;
pub mod scenario;
pub mod schedule;
pub mod templates;
mod without;

use std::borrow::Cow;

pub use scenario::Scenario;
pub use without::Without;

use crate::traffic::{PeerRecord, Record};
use campaign::Operation;
use clients::Val;
use population::{Actor, Attach, Timing};
use rng::Rng;

const HOUR_MS: u64 = 3_600_000;

/// One generated request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// Index into [`Simulation::labels`] (0 = legit).
    pub label: usize,
    /// Population segment (see [`population::SEGMENTS`]).
    pub segment: &'static str,
    /// Client family the account's User-Agent claims (`x-distill-client`).
    pub family: &'static str,
    /// The JSONL record (without newline).
    pub line: String,
}

/// A record plus the simulator's own `segment` field (ignored by replay).
#[derive(serde::Serialize)]
struct Line<'a> {
    #[serde(flatten)]
    record: Record<'a>,
    segment: &'static str,
}

/// A running simulation: an iterator over JSONL lines (without the trailing newline).
#[derive(Debug, Clone)]
pub struct Simulation {
    seed: u64,
    host: String,
    actors: Vec<Actor>,
    ops: Vec<Operation>,
    labels: Vec<String>,
    /// (time, actor, session << 8 | turn for agent sessions).
    events: Vec<(u64, u32, u32)>,
    pos: usize,
    university_ips: u32,
    agent: agent::Harness,
    harness: agent::Harness,
    without: Without,
}

/// Builds the population and schedule of `scenario` for `seed`; iterate it for the lines.
/// Fails only when the embedded client captures lack a shape a stack needs.
pub fn generate(scenario: &Scenario, seed: u64) -> Result<Simulation, String> {
    let mut r = Rng::derive(seed, 0x1E617, 0);
    let mut actors = population::legit(scenario, &mut r)?;
    // Where the popular app's users are (what an imitating campaign's exits sit next to).
    let app_sites: Vec<net::Site> = actors
        .iter()
        .filter(|a| matches!(a.role, population::Role::App))
        .filter_map(|a| match &a.attach {
            Attach::Fixed(s) | Attach::Roaming { home: s, .. } => Some(*s),
            _ => None,
        })
        .collect();
    let mut ops = Vec::with_capacity(scenario.campaigns.len());
    let mut labels = vec!["legit".to_string()];
    for (i, c) in scenario.campaigns.iter().enumerate() {
        let (op, workers) = campaign::build(c, i, seed, &app_sites)?;
        ops.push(op);
        actors.extend(workers);
        labels.push(c.name.clone());
    }
    let start = scenario.start_ms;
    let end = start + scenario.duration_hours as u64 * HOUR_MS;
    let mut events = Vec::new();
    for (i, a) in actors.iter().enumerate() {
        let mut tr = Rng::derive(seed, 0x7133, i as u64);
        let tz = population::utc_offset(a);
        let times = match (a.timing, &a.attach) {
            (Timing::Sessions, Attach::Pool(c)) => {
                let cfg = &ops.get(*c).ok_or("campaign index")?.cfg;
                let from = start + (cfg.start_hour * HOUR_MS as f64) as u64;
                let s = schedule::sessions(&mut tr, from, end, None, a.rate, cfg.agent_turns, 1.0);
                events.extend(s.into_iter().map(|(t, aux)| (t, i as u32, aux)));
                continue;
            }
            (Timing::Sessions, _) => {
                let l = &scenario.legit;
                let s = schedule::sessions(&mut tr, start, end, Some(tz), a.rate, l.agent_turns, l.active_day_share);
                events.extend(s.into_iter().map(|(t, aux)| (t, i as u32, aux)));
                continue;
            }
            (Timing::Person, _) => schedule::person(&mut tr, start, end, tz, a.rate, scenario.legit.active_day_share),
            (Timing::Bursts, _) => schedule::heavy(&mut tr, start, end, tz, a.rate, true),
            (Timing::Steady, _) => schedule::heavy(&mut tr, start, end, tz, a.rate, false),
            (Timing::Worker, Attach::Pool(c)) => {
                let cfg = &ops.get(*c).ok_or("campaign index")?.cfg;
                let from = start + (cfg.start_hour * HOUR_MS as f64) as u64;
                let diurnal = cfg.diurnal.then(|| *tr.pick(&[-6, -5, 0, 1]).unwrap_or(&0));
                let s = &cfg.sync;
                schedule::worker(&mut tr, from, end, a.rate, s.share, s.wave_seconds as u64 * 1000, s.jitter_seconds as u64 * 1000, diurnal)
            }
            (Timing::Worker, _) => Vec::new(),
        };
        events.extend(times.into_iter().map(|t| (t, i as u32, 0)));
    }
    events.sort_unstable();
    Ok(Simulation {
        seed,
        host: scenario.host.clone(),
        actors,
        ops,
        labels,
        events,
        pos: 0,
        university_ips: scenario.legit.university_ips,
        agent: agent::open_source_agent(),
        harness: agent::campaign_harness(),
        without: Without::default(),
    })
}

/// Parses and validates a scenario document and returns its first `limit` records as
/// JSONL text (one record per line), without the peer facts `without` names: the entry
/// point for the wasm-bindgen build.
pub fn jsonl(scenario_json: &str, seed: u64, limit: usize, without: Without) -> Result<String, String> {
    let scenario = Scenario::from_json(scenario_json).map_err(|e| e.to_string())?;
    let mut out = String::new();
    for line in generate(&scenario, seed)?.omitting(without).take(limit) {
        out.push_str(&line);
        out.push('\n');
    }
    Ok(out)
}

impl Simulation {
    /// The same simulation, its records without the peer facts `without` names: the traffic
    /// of a host that does not give them (Envoy without a geo database has no ASN or country;
    /// a listener without TLS fingerprinting no JA4 or JA3).
    pub fn omitting(mut self, without: Without) -> Simulation {
        self.without = without;
        self
    }

    /// Total number of requests this simulation yields.
    pub fn len(&self) -> usize {
        self.events.len()
    }

    /// True when it yields nothing.
    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }

    /// Labels: `legit` first, then each campaign's name.
    pub fn labels(&self) -> &[String] {
        &self.labels
    }

    /// Requests per label (same order as [`Simulation::labels`]).
    pub fn label_counts(&self) -> Vec<u64> {
        let mut c = vec![0u64; self.labels.len()];
        for &(_, a, _) in &self.events {
            if let Some(slot) = self.actors.get(a as usize).and_then(|a| c.get_mut(a.label as usize)) {
                *slot += 1;
            }
        }
        c
    }

    /// Distinct accounts per label that send at least once.
    pub fn accounts(&self) -> Vec<u64> {
        let mut seen = vec![false; self.actors.len()];
        let mut c = vec![0u64; self.labels.len()];
        for &(_, a, _) in &self.events {
            if let (Some(s), Some(actor)) = (seen.get_mut(a as usize), self.actors.get(a as usize)) {
                if !*s {
                    *s = true;
                    if let Some(slot) = c.get_mut(actor.label as usize) {
                        *slot += 1;
                    }
                }
            }
        }
        c
    }

    /// The next request with its label index (into [`Simulation::labels`]) and segment.
    pub fn next_event(&mut self) -> Option<Event> {
        while let Some(&(ts, idx, aux)) = self.events.get(self.pos) {
            self.pos += 1;
            if let (Some(line), Some(a)) = (self.render(ts, idx, aux), self.actors.get(idx as usize)) {
                return Some(Event { label: a.label as usize, segment: a.segment, family: a.persona.family, line });
            }
        }
        None
    }

    /// The next line with the index of its label in [`Simulation::labels`].
    pub fn next_labeled(&mut self) -> Option<(usize, String)> {
        self.next_event().map(|e| (e.label, e.line))
    }

    fn render(&self, ts: u64, idx: u32, aux: u32) -> Option<String> {
        let a = self.actors.get(idx as usize)?;
        let mut r = Rng::derive(self.seed, ts, idx as u64);
        let op = match a.attach {
            Attach::Pool(c) => self.ops.get(c),
            _ => None,
        };
        let body = if a.timing == Timing::Sessions {
            // Every turn of a conversation replays the same task and history.
            let mut cr = Rng::derive(self.seed, 0xA6E7 ^ (idx as u64) << 24, (aux >> 8) as u64);
            let (harness, task) = match op {
                Some(op) => (if op.cfg.mimic == "agent" { &self.agent } else { &self.harness }, campaign::agent_task(op, &mut cr)),
                None => (&self.agent, agent::own_task(&mut cr)),
            };
            agent::body(harness, a.persona.api, a.model, &task, aux & 0xff, &mut cr)
        } else {
            let prompt = match op {
                Some(op) => campaign::prompt(op, a.persona.api, &mut r),
                None => population::legit_prompt(a, &mut r),
            };
            prompts::body(&prompt, a.persona.api, a.model)
        };
        let len = body.len().to_string();
        // A poisoning campaign sends a fresh, never-valid key with every request.
        let fresh_key = op.filter(|op| op.cfg.keys == "random").map(|_| population::api_key(a.persona.api, &mut r));
        let key: &str = fresh_key.as_deref().unwrap_or(&a.key);
        let mut headers: Vec<(Cow<str>, Cow<str>)> = Vec::with_capacity(a.persona.headers.len() + 2);
        for (n, v) in &a.persona.headers {
            let value: Cow<str> = match v {
                Val::Text(t) => Cow::Borrowed(t),
                Val::Host => Cow::Borrowed(&self.host),
                Val::Key => Cow::Borrowed(key),
                Val::Bearer => Cow::Owned(format!("Bearer {key}")),
                Val::Len => Cow::Borrowed(&len),
            };
            headers.push((Cow::Borrowed(n), value));
        }
        let site = match &a.attach {
            Attach::Fixed(s) => *s,
            Attach::Mobile(c) => net::carrier_site(*c, &mut Rng::derive(self.seed, 0x40B1 ^ (idx as u64) << 16, ts / (HOUR_MS / 2))),
            Attach::Company { corp, egress, via, internal } => {
                if *via {
                    proxies::corporate_squid(&mut headers, *corp, *internal);
                }
                net::company_site(*corp, *egress)
            }
            Attach::Roaming { home, office, carrier } => {
                // One network per half-hour session: the phone in 15 % of sessions, the
                // office on working hours (local time), home otherwise.
                let mut sr = Rng::derive(self.seed, 0x80A3 ^ (idx as u64) << 16, ts / (HOUR_MS / 2));
                let hour = ((ts / HOUR_MS) as i64 + population::utc_offset(a) as i64).rem_euclid(24);
                match office {
                    _ if sr.chance(0.15) => net::carrier_site(*carrier, &mut sr),
                    Some((corp, egress)) if (9..18).contains(&hour) => net::company_site(*corp, *egress),
                    _ => *home,
                }
            }
            Attach::University => net::university_site(Rng::derive(self.seed, 0x0A17 ^ idx as u64, ts / HOUR_MS).below(self.university_ips as u64) as u32),
            Attach::Pool(_) => match op {
                Some(op) => {
                    proxies::leak(&mut headers, op.cfg.leak_proxy_headers, &mut r);
                    campaign::exit(op, self.seed, idx, ts)
                }
                None => return None,
            },
        };
        let rec = Record {
            ts_ms: ts,
            method: "POST".into(),
            path: Cow::Borrowed(&a.persona.path),
            version: Some("HTTP/1.1".into()),
            headers,
            body: Some(Cow::Owned(body)),
            body_b64: None,
            peer: Some(PeerRecord {
                ip: Some(site.ip.to_string().into()),
                ja4: Some(a.persona.ja4.into()).filter(|_| !self.without.ja4),
                ja3: None,
                asn: Some(site.asn).filter(|_| !self.without.asn),
                country: Some(site.country_code().into()).filter(|_| !self.without.country),
            }),
            label: Some(serde_json::Value::String(self.labels.get(a.label as usize)?.clone())),
        };
        serde_json::to_string(&Line { record: rec, segment: a.segment }).ok()
    }
}

impl Iterator for Simulation {
    type Item = String;

    fn next(&mut self) -> Option<String> {
        self.next_labeled().map(|(_, line)| line)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = self.events.len().saturating_sub(self.pos);
        (0, Some(left))
    }
}

#[cfg(test)]
mod tests;
