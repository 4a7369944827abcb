//! Prompts of the legitimate population (coding, debugging, writing, data analysis,
//! support bots, translation, chat, summaries, homework, brainstorming, coding agents),
//! and the JSON bodies (Anthropic Messages or OpenAI Chat Completions) that carry any prompt.
//!
//! Campaign prompts live in `templates`; this module does not know who is a campaign.

use serde_json::{json, Value};

use super::clients::Api;
use super::corpus::{self, LANGS};
use super::rng::Rng;

/// One request's conversation and sampling options, before serialization.
#[derive(Debug, Clone, Default)]
pub struct Prompt {
    /// System prompt.
    pub system: Option<String>,
    /// Earlier turns, alternating user / assistant.
    pub history: Vec<String>,
    /// The latest user message.
    pub user: String,
    /// Whether to offer tools (agentic requests).
    pub tools: bool,
    /// `max_tokens`.
    pub max_tokens: u32,
    /// `temperature`, when set.
    pub temperature: Option<f64>,
    /// Streaming.
    pub stream: bool,
    /// OpenAI `logprobs` / `top_logprobs`.
    pub logprobs: bool,
    /// OpenAI `n`.
    pub n: u32,
}

/// Legitimate topics (weights are per-user preferences).
pub const TOPICS: &[&str] = &[
    "coding", "debug", "writing", "data", "support", "translation", "chat", "summary", "homework", "brainstorm", "agent",
];

const STEP_PHRASES: &[&str] = &[
    "Can you explain it step by step?", "Please walk me through it step by step.", "Think step by step.",
    "Explain your reasoning.", "Show the steps, I want to understand how you got there.",
    "Go through it one step at a time please",
];

/// A prompt on `topic` for an ordinary user; `step` appends a request for step-by-step reasoning.
pub fn legit(r: &mut Rng, topic: usize, step: bool) -> Prompt {
    let (lang, fence) = *r.pick(LANGS).unwrap_or(&("Python", "python"));
    let mut p = Prompt { max_tokens: *r.pick(&[1024, 1024, 2048, 4096, 8192, 512]).unwrap_or(&1024), ..Prompt::default() };
    if r.chance(0.4) {
        p.temperature = Some(*r.pick(&[0.0, 0.2, 0.5, 0.7, 1.0]).unwrap_or(&0.7));
    }
    p.stream = r.chance(0.5);
    p.user = match TOPICS.get(topic).copied().unwrap_or("chat") {
        "coding" => {
            let ask = r.pick(&["How do I", "What's the best way to", "Write a function to", "Can you help me", "how to", "Show me how to"]).copied().unwrap_or("How do I");
            let what = format!("{} {}s by {} in {lang}", corpus::verb(r), corpus::noun(r), corpus::noun(r));
            if r.chance(0.4) {
                let c = { let n = r.range(3, 14) as usize; corpus::code(r, fence, n) };
                format!("{ask} {what}? Here's what I have:\n```{fence}\n{c}\n```")
            } else {
                format!("{ask} {what}?")
            }
        }
        "debug" => {
            let c = { let n = r.range(4, 20) as usize; corpus::code(r, fence, n) };
            let e = corpus::error_message(r, fence);
            let ask = r.pick(&["why does this fail?", "what am I doing wrong", "Any idea how to fix this?", "help", "This worked yesterday, what changed?"]).copied().unwrap_or("help");
            format!("I'm getting `{e}` when I run this:\n```{fence}\n{c}\n```\n{ask}")
        }
        "writing" => {
            let kind = r.pick(&["an email", "a short blog post", "a LinkedIn post", "a cover letter", "a speech", "a product description", "a polite reply"]).copied().unwrap_or("an email");
            let tone = r.pick(&["Keep it friendly.", "Make it formal.", "Under 200 words.", "", "Make it sound less robotic.", "Use bullet points."]).copied().unwrap_or("");
            let s = corpus::subject(r);
            format!("Write {kind} about {s}. {tone}").trim_end().to_string()
        }
        "data" => {
            let (t, c) = (corpus::noun(r), corpus::noun(r));
            match r.below(3) {
                0 => format!("I have a table {t}s(id, {c}_id, amount, created_at). Write a SQL query that returns the top 10 {c}s by total amount in the last 30 days."),
                1 => format!("In pandas, how do I group a dataframe by '{c}' and compute the rolling 7-day mean of '{t}_count'?"),
                _ => format!("My A/B test had {} conversions out of {} in control and {} out of {} in the variant. Is this significant?", r.range(80, 400), r.range(2000, 9000), r.range(80, 400), r.range(2000, 9000)),
            }
        }
        "support" => {
            p.system = Some("You are a helpful support assistant for Acme Cloud Storage. Answer briefly and politely. If you do not know, offer to open a ticket.".into());
            let issue = r.pick(&["I can't log in after resetting my password", "my upload keeps failing at 99%", "how do I share a folder with my team", "I was charged twice this month", "the desktop app won't sync", "how do I delete my account"]).copied().unwrap_or("help");
            format!("Hi, {issue}. My account is {}{}", corpus::noun(r), r.range(100, 99999))
        }
        "translation" => {
            let to = r.pick(&["French", "German", "Spanish", "Japanese", "Portuguese", "English", "Korean", "Italian"]).copied().unwrap_or("French");
            let text = { let n = r.range(1, 4) as usize; corpus::prose(r, n) };
            format!("Translate to {to}:\n\n{text}")
        }
        "summary" => {
            let text = { let n = r.range(6, 40) as usize; corpus::prose(r, n) };
            let ask = r.pick(&["Summarize this in three bullet points:", "TL;DR please:", "Can you summarize the following for my manager?", "Summarize:"]).copied().unwrap_or("Summarize:");
            format!("{ask}\n\n{text}")
        }
        "homework" => {
            let (a, b, c) = (r.range(2, 12), r.range(1, 40), r.range(1, 90));
            match r.below(3) {
                0 => format!("Solve {a}x^2 + {b}x - {c} = 0"),
                1 => format!("A train leaves at {a}:00 going {b}0 km/h. Another leaves an hour later at {c} km/h faster. When does it catch up?"),
                _ => format!("What is the derivative of x^{a} * sin({b}x)?"),
            }
        }
        "brainstorm" => {
            let n = r.range(5, 20);
            format!("Give me {n} name ideas for {} {} app", r.pick(&["a", "an indie", "a B2B", "a kids'"]).copied().unwrap_or("a"), corpus::noun(r))
        }
        "agent" => {
            p.tools = true;
            p.system = Some(format!("You are a coding assistant working in the user's repository. Use the tools to read and edit files. The project is written in {lang}."));
            for _ in 0..r.below(4) {
                p.history.push(format!("Look at src/{}.{fence}", corpus::noun(r)));
                p.history.push(format!("I read the file; `{}` handles the {}s.", corpus::fn_name(r), corpus::noun(r)));
            }
            format!("{} {} in {} so the {} {}", r.pick(&["Fix the bug where", "Refactor", "Add tests for", "Rename", "Speed up"]).copied().unwrap_or("Refactor"), corpus::fn_name(r), corpus::noun(r), corpus::noun(r), r.pick(&["works again", "is faster", "is covered", "handles empty input"]).copied().unwrap_or("works"))
        }
        _ => {
            let (x, y) = (corpus::noun(r), corpus::noun(r));
            let q = match r.below(6) {
                0 => format!("what's the difference between a {x} and a {y}?"),
                1 => format!("Explain {} like I'm five", corpus::subject(r)),
                2 => "hi".to_string(),
                3 => format!("any tips for {}?", corpus::subject(r)),
                4 => format!("Is it normal that my {x} {} every {} minutes?", corpus::verb(r), r.range(2, 60)),
                _ => "thanks! one more question: can you make it shorter?".to_string(),
            };
            if r.chance(0.5) {
                for _ in 0..r.range(1, 3) * 2 {
                    p.history.push({ let n = r.range(1, 3) as usize; corpus::prose(r, n) });
                }
            }
            q
        }
    };
    if step {
        let s = r.pick(STEP_PHRASES).copied().unwrap_or("Think step by step.");
        p.user = format!("{} {s}", p.user);
    }
    p
}

/// Tool definitions offered by coding agents (both APIs).
fn tools(api: Api) -> Value {
    let defs = [
        ("read_file", "Read a file from the repository", json!({"path": {"type": "string"}})),
        ("write_file", "Write a file in the repository", json!({"path": {"type": "string"}, "content": {"type": "string"}})),
        ("run_tests", "Run the test suite and return the output", json!({"filter": {"type": "string"}})),
        ("search_code", "Search the repository for a pattern", json!({"pattern": {"type": "string"}})),
    ];
    let list: Vec<Value> = defs
        .iter()
        .map(|(name, desc, props)| {
            let schema = json!({"type": "object", "properties": props});
            match api {
                Api::Anthropic => json!({"name": name, "description": desc, "input_schema": schema}),
                Api::OpenAi => json!({"type": "function", "function": {"name": name, "description": desc, "parameters": schema}}),
            }
        })
        .collect();
    Value::Array(list)
}

/// Serializes a prompt as a request body for `api` with `model`.
pub fn body(p: &Prompt, api: Api, model: &str) -> String {
    let mut messages = Vec::with_capacity(p.history.len() + 2);
    if let (Api::OpenAi, Some(s)) = (api, &p.system) {
        messages.push(json!({"role": "system", "content": s}));
    }
    for (i, h) in p.history.iter().enumerate() {
        messages.push(json!({"role": if i % 2 == 0 { "user" } else { "assistant" }, "content": h}));
    }
    messages.push(json!({"role": "user", "content": p.user}));
    let mut b = serde_json::Map::new();
    b.insert("model".into(), json!(model));
    match api {
        Api::Anthropic => {
            b.insert("max_tokens".into(), json!(p.max_tokens));
            if let Some(s) = &p.system {
                b.insert("system".into(), json!(s));
            }
        }
        Api::OpenAi => {
            b.insert("max_completion_tokens".into(), json!(p.max_tokens));
        }
    }
    b.insert("messages".into(), Value::Array(messages));
    if let Some(t) = p.temperature {
        b.insert("temperature".into(), json!(t));
    }
    if p.tools {
        b.insert("tools".into(), tools(api));
    }
    if api == Api::OpenAi && p.logprobs {
        b.insert("logprobs".into(), json!(true));
        b.insert("top_logprobs".into(), json!(5));
    }
    if api == Api::OpenAi && p.n > 1 {
        b.insert("n".into(), json!(p.n));
    }
    if p.stream {
        b.insert("stream".into(), json!(true));
    }
    Value::Object(b).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_topic_makes_a_body_both_apis_parse() {
        let mut r = Rng::new(9);
        for t in 0..TOPICS.len() {
            for api in [Api::Anthropic, Api::OpenAi] {
                let p = legit(&mut r, t, t % 2 == 0);
                let v: Value = serde_json::from_str(&body(&p, api, "m")).unwrap();
                let msgs = v["messages"].as_array().unwrap();
                assert_eq!(msgs.last().unwrap()["content"].as_str().unwrap(), p.user);
                assert_eq!(v.get("tools").is_some(), p.tools);
            }
        }
    }

    #[test]
    fn legit_prompts_are_varied() {
        let mut r = Rng::new(10);
        let set: std::collections::HashSet<String> = (0..300).map(|i| legit(&mut r, i % TOPICS.len(), false).user).collect();
        assert!(set.len() > 250, "{}", set.len());
    }
}
