//! The accounts: who they are (API key, client persona, network attachment, country,
//! model, rate, timing) and, for legitimate accounts, what they ask: ordinary people on
//! home, mobile (CGNAT), corporate (some behind a `Via`-adding proxy) and cloud networks,
//! a university NAT with hundreds of accounts (some on a shared course assignment), and a
//! few heavy users (evals with rubrics, products, batch jobs, agent power users).
//!
//! Campaign accounts are built by `campaign`; both share [`Actor`].

use std::net::Ipv4Addr;

use super::clients::{self, Api, Kind, Persona, Spoof, STACK_IDS};
use super::corpus;
use super::net::{self, Site, COUNTRIES};
use super::prompts::{self, Prompt, TOPICS};
use super::rng::Rng;
use super::scenario::Scenario;
use super::benchmark;
use super::templates::{self, Purpose, Template};

/// Mean of the log-normal per-user rate factor (median 1, sigma 0.9): exp(0.9^2 / 2).
pub const RATE_MEAN_FACTOR: f64 = 1.499_302_5;

/// How an account reaches the API.
#[derive(Debug, Clone)]
pub enum Attach {
    /// One fixed address (home broadband, a cloud server).
    Fixed(Site),
    /// A mobile carrier's NAT pool: the address changes between sessions.
    Mobile(u32),
    /// A company's egress; `via` when its proxy announces itself.
    Company { corp: u32, egress: u32, via: bool, internal: Ipv4Addr },
    /// The university NAT.
    University,
    /// A person on two or three networks: home broadband, the office (when `office` is set:
    /// working hours there) and now and then a phone's carrier (tethering, on the go).
    Roaming { home: Site, office: Option<(u32, u32)>, carrier: u32 },
    /// A campaign's proxy pool.
    Pool(usize),
}

/// When an account sends.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Timing {
    /// Sessions of a person.
    Person,
    /// Batch bursts.
    Bursts,
    /// A steady stream.
    Steady,
    /// A campaign worker.
    Worker,
    /// Agent sessions: a few a day, each a burst of turns seconds apart.
    Sessions,
}

/// What an account asks.
#[derive(Debug, Clone)]
pub enum Role {
    /// A person with topic preferences, a step-by-step habit and maybe a shared template
    /// (a company tool or a course assignment).
    Person { topics: Vec<f64>, step: f64, shared: Option<u32>, bench: f64 },
    /// A user of the popular open-source coding agent, on their own code.
    Agent,
    /// A user of the popular third-party app (its prompt template).
    App,
    /// An eval job grading answers against its own rubric.
    Eval(Template),
    /// A product built on the API (support bot).
    Product,
    /// A batch job (summaries, translations).
    Batch,
    /// A campaign worker of campaign `c`.
    Worker(usize),
}

/// One account.
#[derive(Debug, Clone)]
pub struct Actor {
    /// 0 = legitimate, `i + 1` = campaign `i`.
    pub label: u16,
    /// API key.
    pub key: String,
    /// Client.
    pub persona: Persona,
    /// Network.
    pub attach: Attach,
    /// Index into `net::COUNTRIES`.
    pub country: u16,
    /// Model it uses.
    pub model: &'static str,
    /// Requests per day.
    pub rate: f64,
    /// When it sends.
    pub timing: Timing,
    /// What it asks.
    pub role: Role,
    /// Population segment for reports: `home`, `home_v6`, `mobile`, `corporate`,
    /// `corporate_proxy`, `cloud`, `university`, `heavy`, or `campaign`.
    pub segment: &'static str,
}

/// Segment names in report order.
pub const SEGMENTS: &[&str] = &["home", "home_v6", "mobile", "corporate", "corporate_proxy", "cloud", "university", "roaming", "heavy", "agent", "app", "campaign"];

/// The segment of an ordinary account attached by `a`.
fn segment_of(a: &Attach) -> &'static str {
    match a {
        Attach::Fixed(site) if site.ip.is_ipv6() => "home_v6",
        Attach::Fixed(site) if site.asn >= 4_200_200_000 => "cloud",
        Attach::Fixed(_) => "home",
        Attach::Mobile(_) => "mobile",
        Attach::Company { via: true, .. } => "corporate_proxy",
        Attach::Company { .. } => "corporate",
        Attach::University => "university",
        Attach::Roaming { .. } => "roaming",
        Attach::Pool(_) => "campaign",
    }
}

/// A fresh API key of the format `api` uses.
pub fn api_key(api: Api, r: &mut Rng) -> String {
    match api {
        Api::Anthropic => format!("sk-ant-api03-{}-{}AA", r.base62(86), r.base62(6)),
        Api::OpenAi => format!("sk-proj-{}", r.base62(48)),
    }
}

/// A model name for `api`; `top` picks the strongest.
pub fn model(api: Api, top: bool, r: &mut Rng) -> &'static str {
    match (api, top) {
        (Api::Anthropic, true) => "claude-opus-4-1",
        (Api::OpenAi, true) => "gpt-5",
        (Api::Anthropic, false) => r.pick(&["claude-sonnet-4-5", "claude-sonnet-4-5", "claude-haiku-4-5", "claude-opus-4-1"]).copied().unwrap_or("claude-sonnet-4-5"),
        (Api::OpenAi, false) => r.pick(&["gpt-4o", "gpt-4o-mini", "gpt-4.1", "gpt-5", "gpt-5-mini"]).copied().unwrap_or("gpt-4o"),
    }
}

/// Web console origin used by browser personas.
pub const CONSOLE: &str = "https://console.example.com";

fn mix_weights(mix: &std::collections::BTreeMap<String, f64>) -> Vec<f64> {
    STACK_IDS.iter().map(|id| mix.get(*id).copied().unwrap_or(0.0)).collect()
}

const BASE_TOPICS: [f64; 11] = [3.0, 2.0, 2.0, 1.2, 0.3, 0.8, 3.0, 1.2, 0.6, 0.8, 0.4];

fn topics(r: &mut Rng, kind: Kind, student: bool) -> Vec<f64> {
    (0..TOPICS.len())
        .map(|t| {
            let mut w = BASE_TOPICS.get(t).copied().unwrap_or(1.0) * super::rng::exp(0.8 * r.normal());
            if TOPICS[t] == "agent" {
                w *= if kind == Kind::Browser { 0.0 } else { 4.0 };
            }
            if student && (TOPICS[t] == "homework" || TOPICS[t] == "coding") {
                w *= 3.0;
            }
            w
        })
        .collect()
}

/// With probability `share`, a home user or a corporate user (not behind an announcing
/// proxy) also uses a second home or a phone: see [`Attach::Roaming`].
fn roaming(a: Attach, share: f64, country: u16, r: &mut Rng) -> Attach {
    let roams = matches!(a, Attach::Fixed(s) if s.asn < 4_200_100_000) || matches!(a, Attach::Company { via: false, .. });
    if !roams || !r.chance(share) {
        return a;
    }
    let carrier = net::carrier_in(country, r);
    match a {
        Attach::Company { corp, egress, .. } => {
            let home = net::home_site(net::isp_in(country, r), false, r);
            Attach::Roaming { home, office: Some((corp, egress)), carrier }
        }
        Attach::Fixed(home) => Attach::Roaming { home, office: None, carrier },
        other => other,
    }
}

fn person(r: &mut Rng, s: &Scenario, stack: usize, attach: Attach, country: u16, shared: Option<u32>, student: bool) -> Result<Actor, String> {
    let persona = clients::persona(stack, Spoof::None, country, CONSOLE, r)?;
    let kind = persona.kind;
    let step = if r.chance(0.3) { (s.legit.step_by_step_share * 3.0).min(1.0) } else { s.legit.step_by_step_share * 0.15 };
    Ok(Actor {
        label: 0,
        key: api_key(persona.api, r),
        model: model(persona.api, false, r),
        rate: s.legit.requests_per_day * r.lognormal(1.0, 0.9),
        timing: Timing::Person,
        role: Role::Person { topics: topics(r, kind, student), step, shared, bench: s.legit.benchmark_share },
        segment: segment_of(&attach),
        persona,
        attach,
        country,
    })
}

/// Builds every legitimate account of the scenario.
pub fn legit(s: &Scenario, r: &mut Rng) -> Result<Vec<Actor>, String> {
    let l = &s.legit;
    let weights = mix_weights(&l.clients);
    let no_browser: Vec<f64> = weights.iter().enumerate().map(|(i, w)| if clients::kind(i) == Kind::Browser { 0.0 } else { *w }).collect();
    let browser_share = weights.iter().enumerate().filter(|(i, _)| clients::kind(*i) == Kind::Browser).map(|(_, w)| w).sum::<f64>();
    let n = &l.networks;
    let corp_users = (l.users as f64 * n.corporate / (n.home + n.mobile + n.corporate + n.cloud).max(1e-9)) as u32;
    let companies = (corp_users / 25).max(l.proxy_companies * 3).clamp(1, 500);
    let mut out = Vec::with_capacity((l.users + l.university_accounts + l.heavy_users) as usize);
    for _ in 0..l.users {
        let country = net::pick_country(r);
        let net_kind = r.weighted(&[n.home, n.mobile, n.corporate, n.cloud]);
        let mut stack = r.weighted(&weights);
        let (attach, country) = match net_kind {
            0 => (Attach::Fixed(net::home_site(net::isp_in(country, r), r.chance(l.ipv6_share), r)), country),
            1 => {
                if browser_share > 0.0 && r.chance(0.7) {
                    stack = 1;
                }
                let c = net::carrier_in(country, r);
                (Attach::Mobile(c), net::carrier_country(c))
            }
            2 => {
                let corp = r.below(companies as u64) as u32;
                let site = net::company_site(corp, 0);
                (Attach::Company { corp, egress: r.below(2) as u32, via: corp < l.proxy_companies, internal: net::internal_ip(r) }, site.country)
            }
            _ => {
                stack = r.weighted(&no_browser);
                let site = net::cloud_site(r.below(net::CLOUDS as u64) as u32, r);
                (Attach::Fixed(site), site.country)
            }
        };
        let shared = match &attach {
            Attach::Company { corp, .. } if corp % 3 == 0 && r.chance(0.5) => Some(*corp),
            _ => None,
        };
        let attach = roaming(attach, l.roaming_share, country, r);
        out.push(person(r, s, stack, attach, country, shared, false)?);
    }
    let uni_country = net::university_site(0).country;
    for _ in 0..l.university_accounts {
        let stack = r.weighted(&weights);
        let shared = r.chance(0.4).then_some(u32::MAX);
        out.push(person(r, s, stack, Attach::University, uni_country, shared, true)?);
    }
    for h in 0..l.heavy_users {
        let cloud = net::cloud_site(r.below(net::CLOUDS as u64) as u32, r);
        let (stack, attach, timing, role) = match h % 4 {
            0 => (pick_stack(r, &["openai-python", "anthropic-python"]), Attach::Fixed(cloud), Timing::Bursts, Role::Eval(templates::build(r, 1, 0.0).remove(0))),
            1 => (pick_stack(r, &["openai-node", "anthropic-node", "anthropic-python"]), Attach::Fixed(cloud), Timing::Steady, Role::Product),
            2 => (pick_stack(r, &["python-requests", "python-httpx", "curl", "go"]), Attach::Fixed(cloud), Timing::Bursts, Role::Batch),
            _ => {
                let country = net::pick_country(r);
                let home = net::home_site(net::isp_in(country, r), false, r);
                let mut t = vec![0.0; TOPICS.len()];
                t[0] = 1.0;
                t[1] = 1.0;
                t[10] = 4.0;
                (pick_stack(r, &["anthropic-python", "anthropic-node", "openai-python"]), Attach::Fixed(home), Timing::Person, Role::Person { topics: t, step: l.step_by_step_share, shared: None, bench: l.benchmark_share })
            }
        };
        let country = match &attach {
            Attach::Fixed(site) => site.country,
            _ => 0,
        };
        let persona = clients::persona(stack, Spoof::None, country, CONSOLE, r)?;
        out.push(Actor {
            label: 0,
            key: api_key(persona.api, r),
            model: model(persona.api, h % 4 == 0, r),
            rate: l.heavy_requests_per_day * r.lognormal(1.0, 0.3),
            persona,
            attach,
            country,
            timing,
            role,
            segment: "heavy",
        });
    }
    for _ in 0..l.agent_users {
        let country = net::pick_country(r);
        let stack = pick_stack(r, &["anthropic-node", "anthropic-node", "openai-node", "anthropic-python"]);
        let attach = roaming(Attach::Fixed(net::home_site(net::isp_in(country, r), r.chance(l.ipv6_share), r)), l.roaming_share, country, r);
        let mut a = person(r, s, stack, attach, country, None, false)?;
        a.role = Role::Agent;
        a.timing = Timing::Sessions;
        a.rate = l.agent_sessions_per_day * r.lognormal(1.0, 0.6);
        a.segment = "agent";
        out.push(a);
    }
    for _ in 0..l.app_users {
        let country = net::pick_country(r);
        let attach = roaming(Attach::Fixed(net::home_site(net::isp_in(country, r), r.chance(l.ipv6_share), r)), l.roaming_share, country, r);
        let mut a = person(r, s, 0, attach, country, None, false)?;
        a.persona = app_persona(r.below(3))?;
        a.key = api_key(a.persona.api, r);
        a.model = model(a.persona.api, false, r);
        a.role = Role::App;
        a.segment = "app";
        out.push(a);
    }
    Ok(out)
}

/// A stack by id from `ids` (uniform), or the first SDK stack.
fn pick_stack(r: &mut Rng, ids: &[&str]) -> usize {
    ids.get(r.index(ids.len())).and_then(|id| clients::stack_index(id)).unwrap_or(6)
}

/// UTC offset of an account's country.
pub fn utc_offset(a: &Actor) -> i32 {
    COUNTRIES.get(a.country as usize).map_or(0, |c| c.utc_offset)
}

/// The prompt of a legitimate account's next request (campaign workers: see `campaign`).
pub fn legit_prompt(a: &Actor, r: &mut Rng) -> Prompt {
    match &a.role {
        Role::Person { topics, step, shared, bench } => {
            if let Some(group) = shared {
                if r.chance(0.5) {
                    return shared_prompt(*group, r);
                }
            }
            let (t, st) = (r.weighted(topics), r.chance(*step));
            if TOPICS.get(t) == Some(&"coding") && r.chance(*bench) {
                return benchmark_prompt(r, st);
            }
            prompts::legit(r, t, st)
        }
        Role::App => app_prompt(r),
        Role::Agent => prompts::legit(r, 0, false),
        Role::Eval(t) => templates::fill(r, t, Purpose::Grade),
        Role::Product => prompts::legit(r, 4, false),
        Role::Batch => {
            let t = if r.chance(0.5) { 7 } else { 5 };
            prompts::legit(r, t, false)
        }
        Role::Worker(_) => prompts::legit(r, 6, false),
    }
}

/// A task of the public benchmark, pasted by a person practising (the popular tasks more
/// often: rank `k` with weight `1 / (k + 1)`).
fn benchmark_prompt(r: &mut Rng, reason: bool) -> Prompt {
    let n = benchmark::TASKS as f64;
    let k = (super::rng::exp(r.f64() * super::rng::ln(n + 1.0)) - 1.0).floor() as usize;
    let t = benchmark::task(k.min(benchmark::TASKS - 1));
    Prompt { user: benchmark::phrase(&t, r, reason), max_tokens: 2048, ..Prompt::default() }
}

/// The popular app's request: its fixed instruction around the user's own text.
pub fn app_prompt(r: &mut Rng) -> Prompt {
    let text = { let n = r.range(1, 4) as usize; corpus::prose(r, n) };
    let task = r.pick(&["Improve the writing of this paragraph", "Make this paragraph more concise", "Fix the grammar of this paragraph"]).copied().unwrap_or("Improve the writing of this paragraph");
    Prompt {
        system: Some(APP_SYSTEM.to_string()),
        user: format!("[WriteMate] {task}. Keep the meaning and the tone; return only the rewritten paragraph.\n\nParagraph:\n{text}"),
        max_tokens: 1024,
        temperature: Some(0.3),
        ..Prompt::default()
    }
}

/// The popular app's system prompt.
pub const APP_SYSTEM: &str = "You are WriteMate, a writing assistant inside a desktop editor. You rewrite the user's text as asked. Never add facts, never change names or numbers, answer with the rewritten text only.";

/// The popular app's persona: one official SDK version and runtime bundled in the app
/// (the same for every user), on the user's operating system (one of three builds).
pub fn app_persona(build: u64) -> Result<Persona, String> {
    let stack = clients::stack_index("openai-node").ok_or("no openai-node stack")?;
    clients::persona(stack, Spoof::None, 0, CONSOLE, &mut Rng::derive(0xA77, build % 3, 0))
}

/// A prompt from a template many legitimate accounts share: a company's internal tool, or
/// the university course assignment (`u32::MAX`).
fn shared_prompt(group: u32, r: &mut Rng) -> Prompt {
    let user = if group == u32::MAX {
        let k = r.range(1, 6);
        format!("CS 201 problem set {k}: implement `{}` in Python so that it passes the provided tests. I'm stuck on this part:\n```python\n{}\n```\nWhat am I missing?", corpus::fn_name(r), { let n = r.range(3, 9) as usize; corpus::code(r, "python", n) })
    } else {
        format!("[ticket-assistant/{group}] Classify this customer ticket as billing, bug, feature request or other, then draft a short reply.\n\nTicket:\n{}", { let n = r.range(2, 6) as usize; corpus::prose(r, n) })
    };
    Prompt { user, max_tokens: 1024, temperature: Some(0.2), ..Prompt::default() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn population_has_every_kind_of_account() {
        let s = Scenario::default();
        let mut r = Rng::new(21);
        let actors = legit(&s, &mut r).unwrap();
        assert_eq!(actors.len() as u32, s.legit.users + s.legit.university_accounts + s.legit.heavy_users + s.legit.agent_users + s.legit.app_users);
        let count = |f: &dyn Fn(&Actor) -> bool| actors.iter().filter(|a| f(a)).count();
        assert!(count(&|a| matches!(a.attach, Attach::Mobile(_))) > 500);
        assert!(count(&|a| matches!(a.attach, Attach::Company { via: true, .. })) > 20);
        assert!(count(&|a| a.persona.kind == Kind::Browser) > 1000);
        assert!(count(&|a| a.persona.kind == Kind::Sdk) > 1000);
        assert!(count(&|a| matches!(a.role, Role::Eval(_))) >= 3);
        assert!(count(&|a| matches!(a.role, Role::Person { step, .. } if step > 0.1)) > 100);
        assert_eq!(count(&|a| matches!(a.role, Role::Agent)), s.legit.agent_users as usize);
        assert_eq!(count(&|a| matches!(a.role, Role::App)), s.legit.app_users as usize);
        assert!(actors.iter().all(|a| a.label == 0));
    }
}
