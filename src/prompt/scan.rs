//! Walks an LLM API request body with the pull lexer and records what the prompt view needs:
//! scalar settings (`model`, `max_tokens`, `temperature`, `n`, `logprobs`, ...), the
//! conversation's turns ([`super::turns`]: the spans of the first and the latest user text
//! turns, tool results, depth, tool calls), the tool-set fingerprint ([`super::tools`]) and
//! the system prompt's span; then decodes only the spans it needs into text.
//!
//! It understands Anthropic Messages, OpenAI Chat Completions and the OpenAI Responses API
//! at the top level; every other value is skipped without being validated. It deliberately
//! keeps no per-message data beyond running spans and counters, and it never fails: a cut or
//! invalid body ends the walk with what was read and the reason in [`Found::stop`].

use super::json::{find1, fix_utf8, unescape, Lexer, Span, Stop, Str, R};
use super::tools::{self, ToolCache, ToolSet};
use super::turns::{self, Side};

/// Which API a body looks like (a guess from its keys; the host's path is authoritative).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Api {
    /// No telling key was seen.
    #[default]
    Unknown,
    /// Anthropic Messages (`system`, `thinking`, `stop_sequences`, `top_k`, ...).
    AnthropicMessages,
    /// OpenAI Chat Completions (`n`, `logprobs`, `max_completion_tokens`, system/developer messages, ...).
    OpenAiChat,
    /// OpenAI Responses (`input`, `instructions`, `max_output_tokens`).
    OpenAiResponses,
}

/// What a walk found.
#[derive(Debug, Clone, Default)]
pub(crate) struct Found {
    pub model: Option<Str>,
    /// The latest user text turn's content.
    pub user: Option<Span>,
    /// The first user text turn's content (the task of an agent loop).
    pub task: Option<Span>,
    /// The latest user-side turn was a tool result.
    pub latest_tool_result: bool,
    /// Assistant turns.
    pub depth: u32,
    /// Tool calls in assistant turns.
    pub tool_calls: u32,
    /// The side of the latest conversation item.
    pub last: Side,
    /// The tool definitions read so far.
    pub tool_set: ToolSet,
    /// Top-level `system` or `instructions`.
    pub system: Option<Span>,
    /// First system/developer message.
    pub msg_system: Option<Span>,
    pub max_tokens: Option<u64>,
    pub temperature: Option<f64>,
    pub stream: Option<bool>,
    pub thinking: bool,
    pub tools: u32,
    pub messages: u32,
    pub user_turns: u32,
    pub logprobs: bool,
    pub top_logprobs: u32,
    pub n: u32,
    pub anthropic: bool,
    pub chat: bool,
    pub responses: bool,
    /// Why the walk ended early, if it did.
    pub stop: Option<Stop>,
}

impl Found {
    /// The API guess: Responses keys win, then Chat keys, then Anthropic keys.
    pub fn api(&self) -> Api {
        if self.responses {
            Api::OpenAiResponses
        } else if self.chat {
            Api::OpenAiChat
        } else if self.anthropic {
            Api::AnthropicMessages
        } else {
            Api::Unknown
        }
    }
}

struct Walker<'a, 'c> {
    lx: Lexer<'a>,
    f: Found,
    tools: &'c mut ToolCache,
}

/// Walks `body` (tool sets through `tools`); never fails (see [`Found::stop`]).
pub(crate) fn walk(body: &[u8], tools: &mut ToolCache) -> Found {
    let mut w = Walker { lx: Lexer::new(body), f: Found::default(), tools };
    let r = w.top();
    w.f.stop = r.err();
    w.f
}

impl Walker<'_, '_> {
    fn top(&mut self) -> R<()> {
        self.lx.expect(b'{', "expected an object")?;
        let mut first = true;
        while let Some(k) = self.lx.key(&mut first)? {
            match self.lx.bytes(k.span) {
                b"model" => self.f.model = self.string()?,
                b"system" | b"instructions" => {
                    if self.lx.bytes(k.span) == b"system" {
                        self.f.anthropic = true;
                    } else {
                        self.f.responses = true;
                    }
                    let (sp, r) = self.value();
                    self.f.system = Some(sp);
                    r?;
                }
                b"messages" => turns::messages(&mut self.lx, &mut self.f)?,
                b"input" => {
                    self.f.responses = true;
                    if self.lx.peek()? == b'"' {
                        let (sp, r) = self.value();
                        turns::user_text(&mut self.f, sp);
                        self.f.user_turns = self.f.user_turns.saturating_add(1);
                        r?;
                    } else {
                        turns::messages(&mut self.lx, &mut self.f)?;
                    }
                }
                b"tools" | b"functions" => {
                    let r = tools::tools(&mut self.lx, &mut self.f, self.tools);
                    self.f.tools = self.f.tool_set.count();
                    r?;
                }
                b"max_tokens" => self.f.max_tokens = self.number()?.map(to_u64),
                b"max_completion_tokens" => {
                    self.f.chat = true;
                    self.f.max_tokens = self.number()?.map(to_u64);
                }
                b"max_output_tokens" => {
                    self.f.responses = true;
                    self.f.max_tokens = self.number()?.map(to_u64);
                }
                b"temperature" => self.f.temperature = self.number()?,
                b"stream" => self.f.stream = self.boolean()?,
                b"thinking" => {
                    self.f.anthropic = true;
                    self.f.thinking = self.thinking()?;
                }
                b"reasoning_effort" => {
                    self.f.chat = true;
                    self.f.thinking = self.string()?.is_some_and(|s| self.lx.bytes(s.span) != b"none");
                }
                b"reasoning" => self.f.thinking = self.thinking()?,
                b"logprobs" => {
                    self.f.chat = true;
                    self.f.logprobs = match self.lx.peek()? {
                        b't' | b'f' => self.boolean()? == Some(true),
                        _ => self.number()?.is_some_and(|n| n > 0.0), // legacy completions: an integer
                    };
                }
                b"top_logprobs" => self.f.top_logprobs = self.number()?.map_or(0, |n| to_u64(n).min(u32::MAX as u64) as u32),
                b"n" => {
                    self.f.chat = true;
                    self.f.n = self.number()?.map_or(0, |n| to_u64(n).min(u32::MAX as u64) as u32);
                }
                b"include" => self.include()?,
                b"stop_sequences" | b"top_k" | b"anthropic_version" => {
                    self.f.anthropic = true;
                    self.lx.skip()?;
                }
                _ => {
                    self.lx.skip()?;
                }
            }
        }
        Ok(())
    }

    /// The span of the next value, and how skipping it ended. On a cut or invalid value the
    /// span runs to where the lexer stopped, so the caller can still use what was read.
    fn value(&mut self) -> (Span, R<()>) {
        let start = self.lx.i;
        match self.lx.skip() {
            Ok(sp) => (sp, Ok(())),
            Err(e) => (Span { start, end: self.lx.i.max(start) }, Err(e)),
        }
    }

    fn string(&mut self) -> R<Option<Str>> {
        if self.lx.peek()? == b'"' {
            self.lx.string().map(Some)
        } else {
            self.lx.skip().map(|_| None)
        }
    }

    fn number(&mut self) -> R<Option<f64>> {
        let c = self.lx.peek()?;
        if c == b'-' || c.is_ascii_digit() {
            let s = self.lx.scalar()?;
            Ok(super::number::parse(self.lx.bytes(s)).filter(|v| v.is_finite()))
        } else {
            self.lx.skip().map(|_| None)
        }
    }

    fn boolean(&mut self) -> R<Option<bool>> {
        let s = self.lx.skip()?;
        Ok(match self.lx.bytes(s) {
            b"true" => Some(true),
            b"false" => Some(false),
            _ => None,
        })
    }

    /// `thinking: {"type": "enabled"|"adaptive"}` or `reasoning: {"effort": ...}`.
    fn thinking(&mut self) -> R<bool> {
        if self.lx.peek()? != b'{' {
            return Ok(self.boolean()? == Some(true));
        }
        self.lx.i += 1;
        let (mut first, mut on) = (true, false);
        while let Some(k) = self.lx.key(&mut first)? {
            match self.lx.bytes(k.span) {
                b"type" | b"effort" => {
                    on = self.string()?.is_some_and(|s| !matches!(self.lx.bytes(s.span), b"disabled" | b"none"));
                }
                _ => {
                    self.lx.skip()?;
                }
            }
        }
        Ok(on)
    }

    /// Responses `include: [..., "message.output_text.logprobs"]`.
    fn include(&mut self) -> R<()> {
        if self.lx.peek()? != b'[' {
            return self.lx.skip().map(drop);
        }
        self.lx.i += 1;
        let mut first = true;
        while self.lx.elem(&mut first)? {
            if let Some(s) = self.string()? {
                if memchr::memmem::find(self.lx.bytes(s.span), b"logprobs").is_some() {
                    self.f.logprobs = true;
                }
            }
        }
        Ok(())
    }
}

fn to_u64(v: f64) -> u64 {
    if v <= 0.0 {
        0
    } else {
        v as u64 // saturating
    }
}

/// Decodes the text of a value span into `out` (cleared first), at most `cap` bytes: a string,
/// or the text of an array of content blocks (`text`, `input_text`, `output_text`; other
/// blocks are skipped), joined by newlines. Returns true when the cap cut the text. A cut
/// value yields what was read; `out` is always valid UTF-8 afterwards.
pub(crate) fn extract(body: &[u8], span: Span, out: &mut Vec<u8>, cap: usize) -> bool {
    out.clear();
    let mut lx = Lexer::new(body.get(span.start..span.end).unwrap_or(&[]));
    let capped = match lx.peek() {
        // A complete string (the walk already found its end): decode what is between the
        // quotes without lexing it again.
        Ok(b'"') => string_content(&mut lx).is_some_and(|raw| !unescape(raw, out, cap)),
        Ok(b'[') => {
            lx.i += 1;
            let mut block = Block::default();
            let r = blocks(&mut lx, &mut block, |lx, b| b.flush(lx, out, cap));
            // A cut block: keep its text if it was (or may be) a text block.
            match r {
                Ok(c) => c,
                Err(_) => block.flush(&lx, out, cap),
            }
        }
        _ => false,
    };
    fix_utf8(out);
    capped
}

/// Decodes the end of the text of a value span into `out` (cleared first): of a string, or of
/// the last text block of an array of content blocks, at most its last `tail` bytes, read from
/// a literal space (never inside an escape or a character: the start of a word). For a text
/// [`extract`] capped: a prompt that puts its context first and its question last. Nothing
/// when that end holds no space; `out` is always valid UTF-8 afterwards.
pub(crate) fn extract_tail(body: &[u8], span: Span, out: &mut Vec<u8>, tail: usize) {
    out.clear();
    let mut lx = Lexer::new(body.get(span.start..span.end).unwrap_or(&[]));
    let last = match lx.peek() {
        Ok(b'"') => string_content(&mut lx),
        Ok(b'[') => {
            lx.i += 1;
            let (mut block, mut last) = (Block::default(), None);
            let cut = blocks(&mut lx, &mut block, |_, b| {
                last = b.take_text().or(last);
                false
            })
            .is_err();
            // A cut block: its text if it was (or may be) a text block.
            if cut {
                last = block.take_text().or(last);
            }
            last.map(|t| lx.bytes(t.span))
        }
        _ => None,
    };
    let Some(raw) = last else { return };
    let from = raw.len().saturating_sub(tail);
    let start = if from == 0 { Some(0) } else { raw.get(from..).and_then(|r| find1(r, b' ')).map(|k| from + k + 1) };
    if let Some(rest) = start.and_then(|i| raw.get(i..)) {
        unescape(rest, out, tail);
        fix_utf8(out);
    }
}

/// The raw content of the string value at the lexer: a complete string's (the walk already
/// found its end) without lexing it again, else what a cut string holds; `None` when unreadable.
fn string_content<'a>(lx: &mut Lexer<'a>) -> Option<&'a [u8]> {
    match complete_string(lx.b.get(lx.i..).unwrap_or(&[])) {
        Some(inner) => Some(inner),
        None => lx.string_partial().ok().map(|(s, _)| lx.bytes(s.span)),
    }
}

/// The content of `raw` when it is exactly one complete JSON string (`"..."`, its last quote
/// not escaped), as a value span of the walk is; `None` for a string cut short.
fn complete_string(raw: &[u8]) -> Option<&[u8]> {
    let inner = raw.strip_prefix(b"\"")?.strip_suffix(b"\"")?;
    let mut end = inner.len();
    while end > 0 && matches!(inner.get(end - 1), Some(b'\\')) {
        end -= 1;
    }
    ((inner.len() - end) % 2 == 0).then_some(inner)
}

#[derive(Default)]
struct Block {
    text: Option<Str>,
    texty: Option<bool>,
}

impl Block {
    /// The block's text if it is a text block (or untyped); the block is reset.
    fn take_text(&mut self) -> Option<Str> {
        let b = std::mem::take(self);
        b.text.filter(|_| b.texty != Some(false))
    }

    /// Appends the block's text if it is a text block (or untyped); returns true when capped.
    fn flush(&mut self, lx: &Lexer<'_>, out: &mut Vec<u8>, cap: usize) -> bool {
        match self.take_text() {
            Some(t) => {
                if !out.is_empty() {
                    if out.len() >= cap {
                        return true;
                    }
                    out.push(b'\n');
                }
                let raw = lx.bytes(t.span);
                if t.escaped {
                    !unescape(raw, out, cap)
                } else {
                    let room = cap.saturating_sub(out.len());
                    out.extend_from_slice(raw.get(..room).unwrap_or(raw));
                    raw.len() > room
                }
            }
            None => false,
        }
    }
}

fn blocks(lx: &mut Lexer<'_>, block: &mut Block, mut done: impl FnMut(&Lexer<'_>, &mut Block) -> bool) -> R<bool> {
    let mut first = true;
    while lx.elem(&mut first)? {
        match lx.peek()? {
            b'"' => {
                let (s, done) = lx.string_partial()?;
                block.text = Some(s);
                if !done {
                    return Err(Stop::Eof);
                }
            }
            b'{' => {
                lx.i += 1;
                let mut kf = true;
                while let Some(k) = lx.key(&mut kf)? {
                    match lx.bytes(k.span) {
                        b"type" => {
                            if lx.peek()? == b'"' {
                                let t = lx.string()?;
                                block.texty = Some(matches!(lx.bytes(t.span), b"text" | b"input_text" | b"output_text"));
                            } else {
                                lx.skip()?;
                                block.texty = Some(false);
                            }
                        }
                        b"text" if lx.peek()? == b'"' => {
                            let (s, done) = lx.string_partial()?;
                            block.text = Some(s);
                            if !done {
                                return Err(Stop::Eof);
                            }
                        }
                        _ => {
                            lx.skip()?;
                        }
                    }
                }
            }
            _ => {
                lx.skip()?;
                continue;
            }
        }
        if done(lx, block) {
            return Ok(true);
        }
    }
    Ok(false)
}
