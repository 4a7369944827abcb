//! The conversation part of the walk: `messages` (Anthropic Messages, OpenAI Chat) and the
//! `input` items of the OpenAI Responses API, one level into each message and one more into
//! its content blocks, to tell text turns from tool traffic.
//!
//! Per message it reads the role, the item `type`, the content's span and the `type` of each
//! content block, and Chat's `tool_calls`; it keeps the spans of the first and the latest
//! user text turns, whether the latest user-side turn was a tool result, the number of
//! assistant turns and of tool calls. A user-side turn is one of:
//! - a text turn: a `user` message (Anthropic, Chat, Responses `message`) holding no
//!   `tool_result` block;
//! - a tool result: an Anthropic `user` message holding a `tool_result` block (any text
//!   blocks beside it are the harness's reminders and notes, which change step to step, and
//!   are not read), a Chat `tool` (or legacy `function`) message, or a Responses
//!   `*_call_output` item.
//!
//! An assistant turn is a run of consecutive assistant-side items: `assistant` messages and
//! Responses `reasoning` and `*_call` items. Tool calls are Anthropic `*tool_use` blocks,
//! Chat `tool_calls` entries (and a legacy `function_call`) and Responses `*_call` items.
//!
//! A key repeated in one message counts with its last value, as the APIs' JSON parsers take it.
//! It deliberately keeps nothing per message beyond the running spans and counters (no
//! allocation), and never looks inside tool inputs or outputs.

use super::json::{Lexer, Span, R};
use super::scan::Found;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum Role {
    #[default]
    Unknown,
    User,
    System,
    Assistant,
    Tool,
    Other,
}

/// What an item is by its `type` (messages of Anthropic and Chat have none).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum Kind {
    #[default]
    Message,
    /// `function_call`, `custom_tool_call`, `computer_call`, `web_search_call`, ...
    Call,
    /// `function_call_output`, `custom_tool_call_output`, `computer_call_output`, ...
    Output,
    Reasoning,
    Other,
}

/// Which side of the conversation an item is on, for the turn counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum Side {
    /// Nothing yet (or only system items).
    #[default]
    None,
    /// A user text turn.
    User,
    /// A tool result.
    Tool,
    /// An assistant message, reasoning or tool call.
    Assistant,
}

/// One message as read so far.
#[derive(Debug, Default)]
struct Msg {
    role: Role,
    kind: Kind,
    content: Option<Span>,
    /// A content block of type `*tool_result` was seen.
    tool_result: bool,
    /// Tool calls seen: `*tool_use` blocks, `tool_calls` entries, a `function_call`.
    calls: u32,
}

/// Walks `messages` (or an `input` array) into `f`; a message cut short (or invalid) is
/// counted with what was read before the error is passed on.
pub(crate) fn messages(lx: &mut Lexer<'_>, f: &mut Found) -> R<()> {
    lx.objects(|lx| {
        f.messages = f.messages.saturating_add(1);
        let mut m = Msg::default();
        let r = message(lx, f, &mut m);
        finish(f, &m);
        r
    })
}

/// The keys of one message object whose `{` was consumed.
fn message(lx: &mut Lexer<'_>, f: &mut Found, m: &mut Msg) -> R<()> {
    let mut kf = true;
    while let Some(k) = lx.key(&mut kf)? {
        match lx.bytes(k.span) {
            b"role" => {
                let role = match string(lx)? {
                    Some(b"user") => Role::User,
                    Some(b"assistant") => Role::Assistant,
                    Some(b"system") => Role::System,
                    Some(b"developer") => {
                        f.chat = true;
                        Role::System
                    }
                    Some(b"tool" | b"function") => Role::Tool,
                    _ => Role::Other,
                };
                if matches!(role, Role::System | Role::Tool) && !f.responses {
                    f.chat = true;
                }
                m.role = role;
            }
            b"type" => {
                m.kind = match string(lx)? {
                    Some(b"message") | None => Kind::Message,
                    Some(b"reasoning") => Kind::Reasoning,
                    Some(t) if t.ends_with(b"_call_output") => Kind::Output,
                    Some(t) if t.ends_with(b"_call") => Kind::Call,
                    Some(_) => Kind::Other,
                };
            }
            b"content" => content(lx, m)?,
            b"tool_calls" => {
                if lx.peek()? != b'[' {
                    lx.skip()?;
                    continue;
                }
                lx.i += 1;
                let mut first = true;
                while lx.elem(&mut first)? {
                    lx.skip()?;
                    m.calls = m.calls.saturating_add(1);
                }
            }
            b"function_call" => {
                if lx.skip().map(|s| lx.bytes(s).first() == Some(&b'{'))? {
                    m.calls = m.calls.saturating_add(1);
                }
            }
            _ => {
                lx.skip()?;
            }
        }
    }
    Ok(())
}

/// A string value's raw bytes (`None` for any other value, which is skipped).
fn string<'a>(lx: &mut Lexer<'a>) -> R<Option<&'a [u8]>> {
    if lx.peek()? == b'"' {
        let s = lx.string()?;
        Ok(Some(lx.bytes(s.span)))
    } else {
        lx.skip().map(|_| None)
    }
}

/// `content`: its span (up to where the lexer stopped, on a cut or invalid value) and, for an
/// array, the `type` of each block.
fn content(lx: &mut Lexer<'_>, m: &mut Msg) -> R<()> {
    let start = lx.i;
    let r = match lx.peek() {
        Ok(b'[') => lx.objects(|lx| block(lx, m)),
        Ok(_) => lx.skip().map(drop),
        Err(e) => Err(e),
    };
    m.content = Some(Span { start, end: lx.i.max(start) });
    r
}

/// The keys of one content block: only its `type` counts.
fn block(lx: &mut Lexer<'_>, m: &mut Msg) -> R<()> {
    let mut kf = true;
    while let Some(k) = lx.key(&mut kf)? {
        if lx.bytes(k.span) != b"type" {
            lx.skip()?;
            continue;
        }
        match string(lx)? {
            Some(t) if t.ends_with(b"tool_result") => m.tool_result = true,
            Some(t) if t.ends_with(b"tool_use") => m.calls = m.calls.saturating_add(1),
            _ => {}
        }
    }
    Ok(())
}

/// Records one message (complete or cut) in `f`.
fn finish(f: &mut Found, m: &Msg) {
    let side = match (m.kind, m.role) {
        (Kind::Output, _) => Side::Tool,
        (Kind::Call, _) => {
            f.tool_calls = f.tool_calls.saturating_add(1);
            Side::Assistant
        }
        (Kind::Reasoning, _) | (Kind::Message, Role::Assistant) => {
            f.tool_calls = f.tool_calls.saturating_add(m.calls);
            Side::Assistant
        }
        (Kind::Message, Role::Tool) => Side::Tool,
        (Kind::Message, Role::User) => {
            match m.content {
                Some(_) if m.tool_result => Side::Tool,
                Some(c) => {
                    f.user_turns = f.user_turns.saturating_add(1);
                    user_text(f, c);
                    return;
                }
                None => return,
            }
        }
        (Kind::Message, Role::System) => {
            if let (Some(c), None) = (m.content, f.msg_system) {
                f.msg_system = Some(c);
            }
            return;
        }
        _ => return,
    };
    side_turn(f, side);
}

/// A user text turn with content `c` (a message, or a Responses `input` string).
pub(crate) fn user_text(f: &mut Found, c: Span) {
    f.user = Some(c);
    f.task.get_or_insert(c);
    side_turn(f, Side::User);
}

fn side_turn(f: &mut Found, side: Side) {
    match side {
        Side::Assistant if f.last != Side::Assistant => f.depth = f.depth.saturating_add(1),
        Side::Tool => f.latest_tool_result = true,
        Side::User => f.latest_tool_result = false,
        _ => {}
    }
    f.last = side;
}
