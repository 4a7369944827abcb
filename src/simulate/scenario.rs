//! Scenario files: the parameters of one simulated traffic mix (a legitimate population and
//! zero or more distillation campaigns), parsed and validated with every error named by
//! its path (`campaigns[1].pool.asns: must be 1..=4000, got 0`).
//!
//! This module only describes and checks parameters; building the population and the
//! traffic is done by the sibling modules.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::policy::{Errors, PolicyError, PolicyErrors};

use super::check::{check_mix, check_shape, one_of, share};

/// A whole scenario.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Scenario {
    /// Short name (used in reports).
    pub name: String,
    /// What the scenario shows.
    pub description: String,
    /// Start of the simulated period, ms since the Unix epoch (default: Monday 2026-03-02 00:00 UTC).
    pub start_ms: u64,
    /// Length of the simulated period in hours.
    pub duration_hours: u32,
    /// `Host` header of the API.
    pub host: String,
    /// The legitimate population.
    pub legit: Legit,
    /// Distillation campaigns (none in a baseline).
    pub campaigns: Vec<Campaign>,
}

/// Legitimate users.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Legit {
    /// Ordinary accounts (home, mobile, corporate, cloud), not counting university accounts.
    pub users: u32,
    /// Median requests per active day of an ordinary account (log-normal spread across users).
    pub requests_per_day: f64,
    /// Probability that an ordinary account is active on a given day.
    pub active_day_share: f64,
    /// Client stacks by weight (keys: stack ids, see `clients::STACK_IDS`).
    pub clients: BTreeMap<String, f64>,
    /// Where ordinary accounts connect from.
    pub networks: Networks,
    /// Accounts behind the university NAT.
    pub university_accounts: u32,
    /// Public NAT addresses of the university.
    pub university_ips: u32,
    /// Companies whose egress proxy adds `Via` and `X-Forwarded-For`.
    pub proxy_companies: u32,
    /// Heavy legitimate accounts (batch jobs, evals, products built on the API).
    pub heavy_users: u32,
    /// Median requests per day of a heavy account.
    pub heavy_requests_per_day: f64,
    /// Share of legitimate prompts that ask for step-by-step reasoning.
    pub step_by_step_share: f64,
    /// Share of home users on IPv6.
    pub ipv6_share: f64,
    /// Share of home and corporate users who also send from other networks: corporate users
    /// from home outside working hours, both now and then from a phone (tethering).
    pub roaming_share: f64,
    /// Users of one popular open-source coding agent (its shared system prompt and tool set,
    /// multi-turn tool-use sessions on their own code), on home and office networks.
    pub agent_users: u32,
    /// Agent sessions per active day of an agent user (median; log-normal across users).
    pub agent_sessions_per_day: f64,
    /// Mean requests (turns) per agent session.
    pub agent_turns: f64,
    /// Users of one popular third-party app built on an official SDK: one pinned client
    /// environment (the SDK version the app bundles) and the app's prompt template.
    pub app_users: u32,
    /// Share of ordinary users' coding prompts that paste a task of the public coding
    /// benchmark the campaigns also use (people practise on the same problems).
    pub benchmark_share: f64,
}

/// Network mix of ordinary legitimate accounts (weights).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Networks {
    /// Home broadband (fixed address per account).
    pub home: f64,
    /// Mobile carriers behind CGNAT (address changes, many accounts per address).
    pub mobile: f64,
    /// Corporate egress (a few addresses per company; some via a `Via`-adding proxy).
    pub corporate: f64,
    /// Cloud servers (scripts and back-ends in datacenters).
    pub cloud: f64,
}

/// One distillation campaign.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Campaign {
    /// Label of its requests.
    pub name: String,
    /// Fraudulent accounts.
    pub accounts: u32,
    /// Mean requests per account per day (kept under per-account limits).
    pub requests_per_account_day: f64,
    /// Hour (from the scenario start) at which the campaign starts.
    pub start_hour: f64,
    /// The proxy pool it sends through.
    pub pool: Pool,
    /// Client stacks by weight; accounts are split across them.
    pub clients: BTreeMap<String, f64>,
    /// Client disguise: `none`, `browser_ua` (browser User-Agent on a script stack),
    /// `browser_replay` (a browser's header set replayed by a script stack) or
    /// `impersonate` (browser headers and browser TLS, as curl-impersonate does).
    pub spoof: String,
    /// Distinct prompt templates the campaign fills.
    pub templates: u32,
    /// Share of campaign prompts with chain-of-thought elicitation.
    pub elicitation_share: f64,
    /// Share of campaign prompts that use the model as a grader against a rubric.
    pub rubric_share: f64,
    /// Share of agentic (tool-use) task prompts among the campaign's task prompts.
    pub agentic_share: f64,
    /// Hydra mixing: share of requests from campaign accounts that are ordinary prompts.
    pub innocuous_share: f64,
    /// Synchronized timing.
    pub sync: Sync,
    /// Follow a working-day rhythm (as light users do) instead of running around the clock.
    pub diurnal: bool,
    /// Share of requests that leak a proxy artifact header (misconfigured pool exits).
    pub leak_proxy_headers: f64,
    /// Share of OpenAI-format requests that ask for `logprobs`.
    pub logprobs_share: f64,
    /// Distinct client environments per stack: 1 pins one installation (a container image)
    /// for every account of a stack; 0 gives every account its own, spread over versions,
    /// runtimes and operating systems as the legitimate population's.
    pub environments: u32,
    /// What the prompts are: `templates` (the operator's skeletons, filled) or `benchmark`
    /// (tasks of one public coding benchmark, in varied natural phrasings).
    pub tasks: String,
    /// With `tasks: benchmark`: how many of the benchmark's tasks the campaign works through.
    pub benchmark_tasks: u32,
    /// Agent harness: every request is a turn of a multi-turn tool-use conversation of one
    /// harness (one system prompt that asks for reasoning before every tool call, one tool
    /// set); each conversation works on one task.
    pub agent: bool,
    /// Mean requests (turns) per agent conversation.
    pub agent_turns: f64,
    /// API keys: `accounts` (each account its own key) or `random` (a fresh, never-valid
    /// key on every request: poisoning, not distillation).
    pub keys: String,
    /// Whom the requests imitate: `none`, `app` (the legitimate population's popular
    /// app: its client environment, its prompt template and its users' network prefixes) or
    /// `agent` (with `agent: true`: the popular open-source coding agent's harness, its system
    /// prompt and tool set, instead of the campaign's own: a campaign running that agent).
    pub mimic: String,
    /// Share of the campaign's requests after the warm-up that must be flagged (the quality
    /// target; 0 = none: a campaign that is not distillation, where only the legitimate side is
    /// judged).
    pub target_flagged: f64,
}

/// A commercial proxy pool.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Pool {
    /// `residential` (home ISPs, many /24s across many ASNs), `datacenter` (few ASNs) or
    /// `mobile` (carrier NAT addresses).
    pub kind: String,
    /// Exit addresses in the pool.
    pub size: u32,
    /// Distinct ASNs the exits are spread over.
    pub asns: u32,
    /// Minutes an account keeps one exit (0 = a new exit per request).
    pub sticky_minutes: u32,
}

/// Synchronized timing of a campaign's workers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Sync {
    /// Share of requests sent in scheduler waves (the rest at random times).
    pub share: f64,
    /// Seconds between waves.
    pub wave_seconds: u32,
    /// Spread of one wave, in seconds.
    pub jitter_seconds: u32,
}

impl Default for Scenario {
    fn default() -> Self {
        Scenario {
            name: "unnamed".into(),
            description: String::new(),
            start_ms: 1_772_409_600_000,
            duration_hours: 48,
            host: "api.example.com".into(),
            legit: Legit::default(),
            campaigns: Vec::new(),
        }
    }
}

impl Default for Legit {
    fn default() -> Self {
        // Browsers, official SDKs (current and older majors) and the wrappers on them, and
        // the HTTP libraries people call the API with (axios and requests lead).
        let clients = [
            ("chrome", 30.0), ("edge", 6.0), ("firefox", 6.0),
            ("anthropic-python", 10.0), ("anthropic-node", 5.0), ("openai-python", 10.0), ("openai-node", 5.0),
            ("openai-python-1", 3.0), ("openai-python-0", 0.5), ("anthropic-python-0.34", 1.0), ("anthropic-python-0.2", 0.1),
            ("openai-node-4", 2.0), ("openai-node-3", 0.3), ("anthropic-node-0", 0.5),
            ("litellm", 2.0), ("litellm-anthropic", 0.5), ("langchain-openai", 2.0), ("vercel-ai", 1.5),
            ("curl", 4.0), ("wget", 0.3), ("wget2", 0.1), ("httpie", 0.5),
            ("python-requests", 6.0), ("python-httpx", 2.5), ("python-httpx-async", 1.0), ("aiohttp", 1.0),
            ("python-urllib", 0.5), ("python-urllib3", 0.5), ("pycurl", 0.2), ("niquests", 0.2),
            ("node-fetch", 2.0), ("axios", 4.0), ("axios-0", 0.5), ("node-fetch-2", 1.0), ("got", 0.7), ("superagent", 0.4),
            ("needle", 0.2), ("node-undici-request", 0.3), ("node-http", 0.3),
            ("go", 1.0), ("java-httpclient", 0.5), ("java-urlconnection", 0.3), ("ruby", 0.3), ("php-curl", 0.5),
            ("guzzle", 0.4), ("reqwest", 0.4), ("ureq", 0.1), ("ureq-2", 0.1),
        ];
        Legit {
            users: 6000,
            requests_per_day: 6.0,
            active_day_share: 0.6,
            clients: clients.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
            networks: Networks { home: 55.0, mobile: 20.0, corporate: 17.0, cloud: 8.0 },
            university_accounts: 400,
            university_ips: 4,
            proxy_companies: 6,
            heavy_users: 12,
            heavy_requests_per_day: 900.0,
            step_by_step_share: 0.04,
            ipv6_share: 0.15,
            roaming_share: 0.3,
            agent_users: 300,
            agent_sessions_per_day: 2.0,
            agent_turns: 8.0,
            app_users: 400,
            benchmark_share: 0.03,
        }
    }
}

impl Default for Networks {
    fn default() -> Self {
        Legit::default().networks
    }
}

impl Default for Campaign {
    fn default() -> Self {
        Campaign {
            name: "campaign".into(),
            accounts: 1500,
            requests_per_account_day: 26.0,
            start_hour: 0.0,
            pool: Pool::default(),
            clients: [("openai-python".to_string(), 1.0)].into_iter().collect(),
            spoof: "none".into(),
            templates: 36,
            elicitation_share: 0.5,
            rubric_share: 0.1,
            agentic_share: 0.3,
            innocuous_share: 0.0,
            sync: Sync::default(),
            diurnal: false,
            leak_proxy_headers: 0.0,
            logprobs_share: 0.0,
            environments: 1,
            tasks: "templates".into(),
            benchmark_tasks: 164,
            agent: false,
            agent_turns: 8.0,
            keys: "accounts".into(),
            mimic: "none".into(),
            target_flagged: 0.95,
        }
    }
}

impl Default for Pool {
    fn default() -> Self {
        Pool { kind: "residential".into(), size: 5000, asns: 300, sticky_minutes: 10 }
    }
}

impl Default for Sync {
    fn default() -> Self {
        Sync { share: 0.5, wave_seconds: 300, jitter_seconds: 20 }
    }
}

/// Spoof modes a campaign may use.
pub const SPOOFS: &[&str] = &["none", "browser_ua", "browser_replay", "impersonate"];
/// Proxy pool kinds.
pub const POOL_KINDS: &[&str] = &["residential", "datacenter", "mobile"];
/// Campaign prompt sources.
pub const TASK_SOURCES: &[&str] = &["templates", "benchmark"];
/// Campaign key kinds.
pub const KEY_KINDS: &[&str] = &["accounts", "random"];
/// What a campaign may imitate.
pub const MIMICS: &[&str] = &["none", "app", "agent"];

impl Scenario {
    /// Parses and validates a scenario document, reporting every error with its path.
    pub fn from_json(text: &str) -> Result<Scenario, PolicyErrors> {
        let doc: Value = serde_json::from_str(text).map_err(|e| {
            PolicyErrors(vec![PolicyError { path: String::new(), message: format!("invalid JSON: {e}") }])
        })?;
        let mut schema = serde_json::to_value(Scenario::default()).unwrap_or(Value::Null);
        if let Some(c) = schema.get_mut("campaigns") {
            *c = Value::Array(vec![serde_json::to_value(Campaign::default()).unwrap_or(Value::Null)]);
        }
        let mut errs = Errors::default();
        check_shape(&doc, &schema, "", &mut errs);
        if !errs.0.is_empty() {
            return Err(PolicyErrors(errs.0));
        }
        let s: Scenario = serde_json::from_value(doc)
            .map_err(|e| PolicyErrors(vec![PolicyError { path: String::new(), message: e.to_string() }]))?;
        s.validate()?;
        Ok(s)
    }

    /// Checks ranges and names; returns every violation.
    pub fn validate(&self) -> Result<(), PolicyErrors> {
        let mut e = Errors::default();
        if self.name.is_empty() {
            e.push("name", "must not be empty");
        }
        e.range("duration_hours", self.duration_hours, 1, 24 * 7 * 6);
        if self.host.is_empty() || self.host.bytes().any(|b| b.is_ascii_whitespace()) {
            e.push("host", format!("not a host name: {:?}", self.host));
        }
        let l = &self.legit;
        e.range("legit.users", l.users, 0, 1_000_000);
        e.range("legit.requests_per_day", l.requests_per_day, 0.0, 10_000.0);
        share(&mut e, "legit.active_day_share", l.active_day_share);
        check_mix(&mut e, "legit.clients", &l.clients);
        let n = &l.networks;
        for (k, v) in [("home", n.home), ("mobile", n.mobile), ("corporate", n.corporate), ("cloud", n.cloud)] {
            e.range(&format!("legit.networks.{k}"), v, 0.0, 1e6);
        }
        if l.users > 0 && n.home + n.mobile + n.corporate + n.cloud <= 0.0 {
            e.push("legit.networks", "at least one weight must be > 0");
        }
        e.range("legit.university_accounts", l.university_accounts, 0, 100_000);
        e.range("legit.university_ips", l.university_ips, 1, 250);
        e.range("legit.proxy_companies", l.proxy_companies, 0, 200);
        e.range("legit.heavy_users", l.heavy_users, 0, 1000);
        e.range("legit.heavy_requests_per_day", l.heavy_requests_per_day, 0.0, 100_000.0);
        share(&mut e, "legit.step_by_step_share", l.step_by_step_share);
        share(&mut e, "legit.ipv6_share", l.ipv6_share);
        share(&mut e, "legit.roaming_share", l.roaming_share);
        e.range("legit.agent_users", l.agent_users, 0, 1_000_000);
        e.range("legit.agent_sessions_per_day", l.agent_sessions_per_day, 0.0, 1000.0);
        e.range("legit.agent_turns", l.agent_turns, 1.0, 500.0);
        e.range("legit.app_users", l.app_users, 0, 1_000_000);
        share(&mut e, "legit.benchmark_share", l.benchmark_share);
        let mut names = Vec::new();
        for (i, c) in self.campaigns.iter().enumerate() {
            let p = format!("campaigns[{i}]");
            if c.name.is_empty() || c.name == "legit" || names.contains(&c.name.as_str()) {
                e.push(format!("{p}.name"), format!("must be non-empty, unique and not \"legit\", got {:?}", c.name));
            }
            names.push(&c.name);
            e.range(&format!("{p}.accounts"), c.accounts, 1, 1_000_000);
            e.range(&format!("{p}.requests_per_account_day"), c.requests_per_account_day, 0.01, 10_000.0);
            e.range(&format!("{p}.start_hour"), c.start_hour, 0.0, self.duration_hours as f64);
            one_of(&mut e, &format!("{p}.pool.kind"), &c.pool.kind, POOL_KINDS);
            e.range(&format!("{p}.pool.size"), c.pool.size, 1, 1_000_000);
            e.range(&format!("{p}.pool.asns"), c.pool.asns, 1, 4000);
            e.range(&format!("{p}.pool.sticky_minutes"), c.pool.sticky_minutes, 0, 24 * 60);
            check_mix(&mut e, &format!("{p}.clients"), &c.clients);
            one_of(&mut e, &format!("{p}.spoof"), &c.spoof, SPOOFS);
            e.range(&format!("{p}.templates"), c.templates, 1, 10_000);
            for (k, v) in [
                ("elicitation_share", c.elicitation_share),
                ("rubric_share", c.rubric_share),
                ("agentic_share", c.agentic_share),
                ("innocuous_share", c.innocuous_share),
                ("sync.share", c.sync.share),
                ("leak_proxy_headers", c.leak_proxy_headers),
                ("logprobs_share", c.logprobs_share),
            ] {
                share(&mut e, &format!("{p}.{k}"), v);
            }
            if c.elicitation_share + c.rubric_share > 1.0 {
                e.push(format!("{p}.rubric_share"), "elicitation_share + rubric_share must be <= 1");
            }
            e.range(&format!("{p}.environments"), c.environments, 0, 1_000_000);
            one_of(&mut e, &format!("{p}.tasks"), &c.tasks, TASK_SOURCES);
            e.range(&format!("{p}.benchmark_tasks"), c.benchmark_tasks, 1, super::benchmark::TASKS as u32);
            e.range(&format!("{p}.agent_turns"), c.agent_turns, 1.0, 500.0);
            one_of(&mut e, &format!("{p}.keys"), &c.keys, KEY_KINDS);
            one_of(&mut e, &format!("{p}.mimic"), &c.mimic, MIMICS);
            share(&mut e, &format!("{p}.target_flagged"), c.target_flagged);
            if c.mimic == "app" && self.legit.app_users == 0 {
                e.push(format!("{p}.mimic"), "imitates the popular app, but legit.app_users is 0");
            }
            if c.mimic == "agent" && !c.agent {
                e.push(format!("{p}.mimic"), "imitates the popular agent's harness, but agent is false");
            }
            e.range(&format!("{p}.sync.wave_seconds"), c.sync.wave_seconds, 1, 86_400);
            e.range(&format!("{p}.sync.jitter_seconds"), c.sync.jitter_seconds, 0, 86_400);
        }
        if e.0.is_empty() {
            Ok(())
        } else {
            Err(PolicyErrors(e.0))
        }
    }

    /// Expected number of requests over the whole period: `(legit, per campaign)`.
    pub fn expected_requests(&self) -> (f64, Vec<f64>) {
        let hours = self.duration_hours as f64;
        let mut weighted_days = 0.0;
        let mut h = 0.0;
        while h < hours {
            let part = (hours - h).min(24.0) / 24.0;
            weighted_days += part * super::schedule::day_factor(self.start_ms + (h as u64) * 3_600_000);
            h += 24.0;
        }
        let l = &self.legit;
        let people = (l.users + l.university_accounts) as f64;
        let ordinary = people * l.requests_per_day * super::population::RATE_MEAN_FACTOR * l.active_day_share;
        let heavy = l.heavy_users as f64 * l.heavy_requests_per_day;
        // Agent sessions: log-normal(1, 0.6) sessions a day (mean factor e^0.18).
        let agents = l.agent_users as f64 * l.agent_sessions_per_day * 1.197_217 * l.agent_turns * l.active_day_share;
        let apps = l.app_users as f64 * l.requests_per_day * super::population::RATE_MEAN_FACTOR * l.active_day_share;
        let camp = self
            .campaigns
            .iter()
            .map(|c| c.accounts as f64 * c.requests_per_account_day * (hours - c.start_hour).max(0.0) / 24.0)
            .collect();
        ((ordinary + heavy + agents + apps) * weighted_days, camp)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_validate_and_errors_name_paths() {
        assert!(Scenario::default().validate().is_ok());
        let bad = r#"{"name":"x","legit":{"users":-1,"clients":{"lynx":1}},
            "campaigns":[{"name":"c","pool":{"kind":"satellite","asns":0}},{"name":"c","spoof":"yes","typo":1}]}"#;
        let errs = Scenario::from_json(bad).unwrap_err().to_string();
        assert!(errs.contains("legit.users: must be a whole number"), "{errs}");
        assert!(errs.contains("campaigns[1].typo: unknown field"), "{errs}");
        let bad2 = r#"{"name":"x","legit":{"clients":{"lynx":1}},"campaigns":[{"name":"c","pool":{"kind":"satellite","asns":0}},{"name":"c","spoof":"yes"}]}"#;
        let errs = Scenario::from_json(bad2).unwrap_err().to_string();
        for want in ["legit.clients.lynx", "campaigns[0].pool.kind", "campaigns[0].pool.asns", "campaigns[1].name", "campaigns[1].spoof"] {
            assert!(errs.contains(want), "missing {want} in {errs}");
        }
    }

    #[test]
    fn a_campaign_imitates_the_popular_agent_only_as_an_agent() {
        let errs = Scenario::from_json(r#"{"name":"x","campaigns":[{"name":"c","mimic":"agent"}]}"#).unwrap_err().to_string();
        assert!(errs.contains("campaigns[0].mimic: imitates the popular agent's harness, but agent is false"), "{errs}");
        assert!(Scenario::from_json(r#"{"name":"x","campaigns":[{"name":"c","mimic":"agent","agent":true}]}"#).is_ok());
    }

    #[test]
    fn floats_where_whole_numbers_belong_are_rejected() {
        let errs = Scenario::from_json(r#"{"name":"x","duration_hours":1.5}"#).unwrap_err().to_string();
        assert!(errs.contains("duration_hours"), "{errs}");
        assert!(Scenario::from_json(r#"{"name":"x","legit":{"requests_per_day":3}}"#).is_ok());
    }
}
