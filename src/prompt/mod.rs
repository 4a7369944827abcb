//! Prompt view: a bounded scan of LLM API request bodies (Anthropic Messages, OpenAI Chat
//! Completions and Responses, single-turn or multi-turn agent loops with tool use): template
//! fingerprints of the latest user text, of the task (the first user turn) and of the system
//! prompt, a fingerprint of the tool set, the conversation's depth and tool calls, and
//! elicitation markers.
//!
//! One call ([`scan`]) walks the body prefix once with a pull lexer ([`json`]; no JSON tree),
//! reading the conversation's turns ([`turns`]) and the tool definitions ([`tools`]) on the
//! way, then decodes only the latest user text turn, the first one and the system prompt
//! (each capped at `prompt.max_text_bytes`) into reusable buffers, normalizes them
//! ([`normalize`]), hashes the token shingles ([`simhash`]) and searches the phrase table
//! ([`markers`]; a capped text's end too, where a prompt that puts its context first asks its
//! question), then fires `prompt.*` signals. In an agent loop the latest user-side turn
//! is a tool result: its text is never decoded, and the per-request template is the task's.
//! A cut body, invalid JSON, deep nesting or invalid UTF-8 never fail the scan: what could
//! not be read is reported in [`PromptView::truncated`], [`PromptView::text_capped`] and
//! [`PromptView::parse_error`].
//!
//! It deliberately does not read assistant text, tool inputs or outputs, tool descriptions,
//! images or documents, and keeps no state across requests (clustering templates is
//! `state`'s job; the only memory is a cache of fingerprints of resent texts, a pure
//! function's memo).

#[cfg(test)]
mod agent_tests;
pub mod anchor;
mod json;
pub mod markers;
pub mod normalize;
mod number;
#[cfg(test)]
mod pins;
mod scan;
pub mod simhash;
#[cfg(test)]
mod tests;
mod tools;
mod turns;

use std::cell::RefCell;

use serde::{Deserialize, Serialize};

use crate::policy::Errors;
use crate::signal::{Fired, Signal};

pub use markers::Markers;
pub use scan::Api;
pub use simhash::simhash_distance;
pub use tools::TOOL_SEED;

use json::Span;

/// Prompt-view settings (`prompt` in a policy).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PromptConfig {
    /// `max_tokens` at or above which, with a fixed temperature, `prompt.long_output` fires.
    pub long_output_tokens: u32,
    /// Largest text kept (and fingerprinted) of the latest user turn, the first one and the system prompt, in bytes (256..=65536);
    /// a longer text is also searched for elicitation markers in its last quarter of this many bytes.
    pub max_text_bytes: u32,
    /// Fewest normalized tokens that give a template; shorter prompts (`hi`) get none (1..=1000).
    pub min_template_tokens: u32,
}

impl Default for PromptConfig {
    fn default() -> Self {
        PromptConfig { long_output_tokens: 32_000, max_text_bytes: 8192, min_template_tokens: 6 }
    }
}

impl PromptConfig {
    /// Records every invalid setting under `path`.
    pub fn validate(&self, path: &str, e: &mut Errors) {
        e.range(&format!("{path}.long_output_tokens"), self.long_output_tokens, 1, 10_000_000);
        e.range(&format!("{path}.max_text_bytes"), self.max_text_bytes, 256, 65_536);
        e.range(&format!("{path}.min_template_tokens"), self.min_template_tokens, 1, 1000);
    }
}

/// What the scan found in one body. Texts stay in the [`Scratch`] the scan used.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PromptView<'a> {
    /// Which API the body looks like (from its keys).
    pub api: Api,
    /// `model`, when it is a plain (unescaped, UTF-8) string.
    pub model: Option<&'a str>,
    /// `max_tokens`, `max_completion_tokens` or `max_output_tokens`.
    pub max_tokens: Option<u64>,
    /// `temperature`, when set explicitly.
    pub temperature: Option<f64>,
    /// `stream`.
    pub stream: Option<bool>,
    /// Extended thinking (`thinking.type` enabled/adaptive) or a reasoning effort was requested.
    pub thinking: bool,
    /// Number of `tools` (or legacy `functions`) read whole.
    pub tools: u32,
    /// Number of message objects in `messages` / `input` (items of every type).
    pub messages: u32,
    /// Number of user text turns among them (tool results not included).
    pub user_turns: u32,
    /// Token log-probabilities requested (`logprobs`, `top_logprobs > 0`, or a `*logprobs` include).
    pub logprobs: bool,
    /// `top_logprobs`.
    pub top_logprobs: u32,
    /// `n` (completions per request; 0 when absent).
    pub n: u32,
    /// Bytes kept of the latest user text turn.
    pub user_bytes: u32,
    /// Bytes kept of the system prompt's text.
    pub system_bytes: u32,
    /// Normalized tokens of the latest user text turn.
    pub user_tokens: u32,
    /// The per-request template: SimHash of the latest user text turn, or of the task when
    /// the latest user-side turn is a tool result (None when too short or absent). Tool output
    /// is never a template.
    pub template: Option<u64>,
    /// Exact hash of the normalized skeleton of the same text as `template`.
    pub skeleton: Option<u64>,
    /// Task anchor: the code identifier the task (the first user text turn) is about
    /// ([`anchor`]).
    pub anchor: Option<u64>,
    /// SimHash of the normalized system prompt.
    pub system_template: Option<u64>,
    /// Exact hash of the normalized system prompt.
    pub system_skeleton: Option<u64>,
    /// SimHash of the task: the first user text turn (text blocks only; tool results, images
    /// and documents excluded). Equals `template` for a single-turn body.
    pub task_template: Option<u64>,
    /// Exact hash of the task's normalized skeleton.
    pub task_skeleton: Option<u64>,
    /// The latest user-side turn is a tool result (an Anthropic `user` message holding
    /// `tool_result` blocks, a Chat `tool` message, a Responses `*_call_output` item).
    pub latest_is_tool_result: bool,
    /// Order-insensitive fingerprint of the tool definitions (names, built-in types and
    /// schemas; see `tools.rs`), None without tools.
    pub tool_set: Option<u64>,
    /// Assistant turns in the conversation (runs of assistant messages, reasoning and tool-call items).
    pub depth: u32,
    /// Tool calls in them (Anthropic `tool_use` blocks, Chat `tool_calls` entries, Responses `*_call` items).
    pub tool_calls: u32,
    /// Chain-of-thought elicitation in the latest user text or the task.
    pub cot: bool,
    /// Rubric grading in the latest user text or the task.
    pub rubric: bool,
    /// Chain-of-thought or rubric markers in the system prompt (the harness's, not the
    /// user's: weak evidence, `prompt.system_elicitation`).
    pub system_elicitation: bool,
    /// True when cot, rubric or logprobs fired (the user's own elicitation).
    pub elicitation: bool,
    /// The body prefix ended before the JSON document did (`complete` was false).
    pub truncated: bool,
    /// A kept text was cut at `max_text_bytes`.
    pub text_capped: bool,
    /// Why the walk stopped early on a complete body (invalid JSON, nesting too deep).
    pub parse_error: Option<&'static str>,
}

impl PromptView<'_> {
    /// The agent harness of the body: its tool set together with its system prompt (the
    /// exact normalized skeleton, when it has one). None without tools.
    pub fn harness(&self) -> Option<u64> {
        self.tool_set.map(|t| t ^ crate::sketch::mix64(self.system_skeleton.unwrap_or(0) ^ 0x4A52_4E53))
    }
}

/// Reusable buffers of a scan: the decoded texts, the normalized token stream, and the
/// fingerprints of the last few resent texts and tool arrays (clients resend the system
/// prompt, the earlier turns and the tool definitions with every request, so each is
/// normalized or parsed once; the caches only memoize pure functions).
#[derive(Debug, Default)]
pub struct Scratch {
    user: Vec<u8>,
    task: Vec<u8>,
    /// The task is the latest user text turn (its text is in `user`).
    task_is_user: bool,
    system: Vec<u8>,
    /// The end of a capped text ([`scan::extract_tail`]).
    tail: Vec<u8>,
    norm: Vec<u8>,
    starts: Vec<u32>,
    /// Fingerprints of resent system prompts, and of resent turns: apart, so that the many
    /// tasks of one harness never evict its system prompt.
    resent: [[(u64, TextPrint); 8]; 2],
    /// Tool sets of the last few tool arrays.
    tools: tools::ToolCache,
}

/// Which buffer of a [`Scratch`] a text is decoded into.
#[derive(Clone, Copy)]
enum Buf {
    User,
    Task,
    System,
}

impl Scratch {
    /// The latest user text turn from the last scan (capped; empty when none).
    pub fn user_text(&self) -> &str {
        std::str::from_utf8(&self.user).unwrap_or("")
    }

    /// The task (first user text turn) from the last scan (capped; empty when none).
    pub fn task_text(&self) -> &str {
        std::str::from_utf8(if self.task_is_user { &self.user } else { &self.task }).unwrap_or("")
    }

    /// The system prompt's text from the last scan (capped; empty when none).
    pub fn system_text(&self) -> &str {
        std::str::from_utf8(&self.system).unwrap_or("")
    }

    /// Decodes the text at `sp` into `buf` and fingerprints it, through the cache when the
    /// client `resent` it; also returns whether the cap cut it.
    fn print(&mut self, body: &[u8], sp: Span, buf: Buf, resent: bool, cfg: &PromptConfig) -> (TextPrint, bool) {
        let (cap, min) = (cfg.max_text_bytes as usize, cfg.min_template_tokens as usize);
        let out = match buf {
            Buf::User => &mut self.user,
            Buf::Task => &mut self.task,
            Buf::System => &mut self.system,
        };
        let capped = scan::extract(body, sp, out, cap);
        // A capped text is also searched for markers in its end (the last quarter of the cap):
        // a prompt that puts its context first and its question last.
        let (tail, norm, starts) = (&mut self.tail, &mut self.norm, &mut self.starts);
        let mut print = |out: &[u8]| {
            let p = fingerprint(out, min, norm, starts);
            if !capped {
                return p;
            }
            scan::extract_tail(body, sp, tail, cap / 4);
            normalize::normalize(tail, norm, starts);
            TextPrint { markers: p.markers.or(markers::find(norm, starts)), ..p }
        };
        if !resent {
            return (print(out), capped);
        }
        let raw = body.get(sp.start..sp.end).unwrap_or(&[]);
        let key = xxhash_rust::xxh3::xxh3_64_with_seed(raw, (cap as u64) << 32 | min as u64) | 1;
        let [turns, systems] = &mut self.resent;
        let cache = if matches!(buf, Buf::System) { systems } else { turns };
        let slot = (key >> 1) as usize % cache.len();
        let p = match cache.get(slot) {
            Some(&(k, p)) if k == key => p,
            _ => {
                let p = print(out);
                if let Some(e) = cache.get_mut(slot) {
                    *e = (key, p);
                }
                p
            }
        };
        (p, capped)
    }
}

/// Template fingerprints and markers of one text.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TextPrint {
    /// Normalized tokens.
    pub tokens: u32,
    /// SimHash (None below the token minimum).
    pub template: Option<u64>,
    /// Exact hash of the normalized text (None below the token minimum).
    pub skeleton: Option<u64>,
    /// Elicitation markers (searched at any length).
    pub markers: Markers,
    /// Task anchor: the code identifier the text is about ([`anchor`]).
    pub anchor: Option<u64>,
}

/// Normalizes `text` into `norm`/`starts` and fingerprints it; texts with fewer than
/// `min_tokens` tokens get no template.
pub fn fingerprint(text: &[u8], min_tokens: usize, norm: &mut Vec<u8>, starts: &mut Vec<u32>) -> TextPrint {
    struct Both(simhash::Shingler, markers::Scan);
    impl normalize::Sink for Both {
        // One out-of-line body with the hashing and the marker test inlined into it: a
        // direct call per token (the normalizer is generic over its sink). Inlining it into
        // the normalizer's token loop too gained ~2 % in V8 for ~40 KB of module.
        #[inline(never)]
        fn token(&mut self, k: usize, tok: &[u8]) {
            self.0.push(tok);
            self.1.token(k, tok);
        }
    }
    let mut sink = Both(simhash::Shingler::default(), markers::Scan::default());
    let tokens = normalize::normalize_into(text, norm, starts, &mut sink);
    let long = tokens >= min_tokens.max(1);
    TextPrint {
        tokens: tokens.min(u32::MAX as usize) as u32,
        template: long.then(|| sink.0.finish()),
        skeleton: long.then(|| simhash::skeleton(norm)),
        markers: sink.1.finish(norm, starts),
        anchor: anchor::anchor(text),
    }
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

/// Scans a body prefix (`complete` false when it was cut) and fires `prompt.*` signals,
/// using a per-thread [`Scratch`].
pub fn scan<'a>(body: &'a [u8], complete: bool, cfg: &PromptConfig, fired: &mut Fired) -> PromptView<'a> {
    let r = SCRATCH.try_with(|s| match s.try_borrow_mut() {
        Ok(mut s) => scan_with(body, complete, cfg, fired, &mut s),
        Err(_) => scan_with(body, complete, cfg, fired, &mut Scratch::default()),
    });
    match r {
        Ok(v) => v,
        Err(_) => scan_with(body, complete, cfg, fired, &mut Scratch::default()),
    }
}

/// [`scan`] with caller-owned buffers; the texts stay readable in `s` afterwards.
pub fn scan_with<'a>(body: &'a [u8], complete: bool, cfg: &PromptConfig, fired: &mut Fired, s: &mut Scratch) -> PromptView<'a> {
    let f = scan::walk(body, &mut s.tools);
    let mut v = PromptView {
        api: f.api(),
        model: f.model.filter(|m| !m.escaped).and_then(|m| std::str::from_utf8(body.get(m.span.start..m.span.end)?).ok()),
        max_tokens: f.max_tokens,
        temperature: f.temperature,
        stream: f.stream,
        thinking: f.thinking,
        tools: f.tools,
        messages: f.messages,
        user_turns: f.user_turns,
        logprobs: f.logprobs || f.top_logprobs > 0,
        top_logprobs: f.top_logprobs,
        n: f.n,
        latest_is_tool_result: f.latest_tool_result,
        tool_set: f.tool_set.finish(),
        depth: f.depth,
        tool_calls: f.tool_calls,
        ..Default::default()
    };
    match f.stop {
        None => {}
        Some(json::Stop::Eof) if !complete => v.truncated = true,
        Some(json::Stop::Eof) => v.parse_error = Some("body ends inside the JSON document"),
        Some(json::Stop::Bad(m)) => v.parse_error = Some(m),
        Some(json::Stop::Deep) => v.parse_error = Some("nesting deeper than 128 levels"),
    }

    // The latest user text is resent when a tool result came after it.
    let mut user = TextPrint::default();
    s.user.clear();
    if let Some(sp) = f.user {
        let (p, capped) = s.print(body, sp, Buf::User, f.latest_tool_result, cfg);
        (user, v.text_capped) = (p, v.text_capped | capped);
    }
    s.task.clear();
    s.task_is_user = f.task.is_some() && f.task == f.user;
    let task = match f.task {
        Some(_) if s.task_is_user => user,
        Some(sp) => {
            let (p, capped) = s.print(body, sp, Buf::Task, true, cfg);
            v.text_capped |= capped;
            p
        }
        None => TextPrint::default(),
    };
    let mut system = TextPrint::default();
    s.system.clear();
    if let Some(sp) = f.system.or(f.msg_system) {
        let (p, capped) = s.print(body, sp, Buf::System, true, cfg);
        (system, v.text_capped) = (p, v.text_capped | capped);
    }
    let latest = if f.latest_tool_result { task } else { user };
    (v.template, v.skeleton) = (latest.template, latest.skeleton);
    (v.task_template, v.task_skeleton) = (task.template, task.skeleton);
    (v.system_template, v.system_skeleton) = (system.template, system.skeleton);
    v.user_tokens = user.tokens;
    v.user_bytes = s.user.len() as u32;
    v.system_bytes = s.system.len() as u32;
    v.anchor = task.anchor.or(user.anchor);
    // The user's own texts elicit; a system prompt is the harness's, and the harnesses of
    // popular coding agents ask the model to think before acting too (weak evidence).
    v.cot = user.markers.cot || task.markers.cot;
    v.rubric = user.markers.rubric || task.markers.rubric;
    v.system_elicitation = system.markers.cot || system.markers.rubric;
    v.elicitation = v.cot || v.rubric || v.logprobs;

    for (on, sig) in [
        (v.system_elicitation, Signal::PromptSystemElicitation),
        (v.cot, Signal::PromptCot),
        (v.rubric, Signal::PromptRubric),
        (v.logprobs, Signal::PromptLogprobs),
        (v.n > 1, Signal::PromptMultiN),
        (v.temperature.is_some() && v.max_tokens.is_some_and(|m| m >= cfg.long_output_tokens as u64), Signal::PromptLongOutput),
    ] {
        if on {
            fired.fire(sig);
        }
    }
    v
}
