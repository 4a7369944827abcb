//! Coding-agent traffic: multi-turn tool-use conversations as the agent harness sends them,
//! one request per turn. Turn 0 carries the task (the first user turn); every later turn
//! carries the whole conversation so far: assistant turns with tool calls, and user turns
//! holding the tool results (Anthropic `tool_use` / `tool_result` blocks, OpenAI
//! `tool_calls` / `role: "tool"` messages).
//!
//! Two harnesses: the popular open-source coding agent many legitimate users run (a long
//! shared system prompt that also asks the model to think before acting, ten tools), and
//! the campaign's harness (a system prompt that asks for the full reasoning before every
//! tool call, its own five tools). Which task a conversation works on is the caller's.

use serde_json::{json, Value};

use super::clients::Api;
use super::corpus;
use super::rng::Rng;

/// An agent harness: its system prompt and tool definitions (name, description, parameters).
#[derive(Debug, Clone)]
pub struct Harness {
    /// System prompt sent with every turn.
    pub system: String,
    /// Tools: (name, description, JSON schema properties).
    pub tools: Vec<(&'static str, &'static str, Value)>,
}

fn props(names: &[&str]) -> Value {
    let mut m = serde_json::Map::new();
    for n in names {
        m.insert((*n).to_string(), json!({"type": "string"}));
    }
    Value::Object(m)
}

/// The popular open-source coding agent (shared by its many legitimate users).
pub fn open_source_agent() -> Harness {
    let system = "You are OpenCoder, an interactive command-line coding agent that helps users with software engineering tasks in their own repository. \
Use the tools available to you to read, search and edit files and to run commands. Follow the conventions of the existing code; never invent APIs that do not exist in the project. \
Before each tool call, think step by step about what you expect to learn and why the call is needed. Keep your answers short and concise: fewer than four lines of text unless the user asks for detail. \
When you change code, run the project's tests or linters if you know how. Never commit changes unless the user explicitly asks you to. \
If a task is ambiguous, ask a clarifying question instead of guessing. Do not add comments to code unless asked. \
Refuse to write or explain code that may be used maliciously. Respect .gitignore and never print secrets.";
    let tools = vec![
        ("read", "Read a file from the local filesystem", props(&["file_path", "offset", "limit"])),
        ("edit", "Replace an exact string in a file", props(&["file_path", "old_string", "new_string"])),
        ("write", "Write a file", props(&["file_path", "content"])),
        ("bash", "Run a shell command in the repository", props(&["command", "timeout"])),
        ("grep", "Search file contents with a regular expression", props(&["pattern", "path", "glob"])),
        ("glob", "Find files by name pattern", props(&["pattern", "path"])),
        ("ls", "List a directory", props(&["path"])),
        ("todo_write", "Update the task list", props(&["todos"])),
        ("web_fetch", "Fetch a URL and return its text", props(&["url", "prompt"])),
        ("task", "Launch a sub-agent for a search task", props(&["description", "prompt"])),
    ];
    Harness { system: system.to_string(), tools }
}

/// The campaign's harness.
pub fn campaign_harness() -> Harness {
    let system = "You are an autonomous software engineering agent working in a sandboxed repository. \
Before every tool call, write out your complete reasoning step by step: what you know, what you are unsure about, and why this call is the best next step. \
After the final tool call, explain the full solution and your reasoning in detail. Solve the task completely; the tests must pass.";
    let tools = vec![
        ("open_file", "Open a file and return its contents", props(&["path"])),
        ("apply_patch", "Apply a unified diff to the repository", props(&["patch"])),
        ("run_python", "Run a Python snippet and return stdout and stderr", props(&["code"])),
        ("run_tests", "Run the test suite", props(&["selector"])),
        ("search", "Search the repository", props(&["query"])),
    ];
    Harness { system: system.to_string(), tools }
}

/// What one tool call of turn `k` did: the call's name and input, and its result.
fn step(h: &Harness, r: &mut Rng) -> (&'static str, Value, String) {
    let (name, _, schema) = h.tools.get(r.index(h.tools.len())).cloned().unwrap_or(("read", "", json!({})));
    let mut input = serde_json::Map::new();
    if let Some(obj) = schema.as_object() {
        for k in obj.keys() {
            input.insert(k.clone(), json!(format!("src/{}.py", corpus::noun(r))));
        }
    }
    let result = match r.below(3) {
        0 => format!("```python\n{}\n```", { let n = r.range(4, 18) as usize; corpus::code(r, "python", n) }),
        1 => format!("{} passed, {} failed in {}.{}s", r.range(3, 80), r.range(0, 4), r.range(0, 9), r.range(10, 99)),
        _ => format!("src/{}.py:{}: def {}(", corpus::noun(r), r.range(1, 400), corpus::fn_name(r)),
    };
    (name, Value::Object(input), result)
}

/// The request body of turn `turn` (0 = the task alone) of a conversation on `task` with
/// harness `h`. `r` must be seeded per conversation: every turn replays the same history.
pub fn body(h: &Harness, api: Api, model: &str, task: &str, turn: u32, r: &mut Rng) -> String {
    let tools: Vec<Value> = h
        .tools
        .iter()
        .map(|(name, desc, p)| {
            let schema = json!({"type": "object", "properties": p});
            match api {
                Api::Anthropic => json!({"name": name, "description": desc, "input_schema": schema}),
                Api::OpenAi => json!({"type": "function", "function": {"name": name, "description": desc, "parameters": schema}}),
            }
        })
        .collect();
    let mut messages = Vec::with_capacity(2 + 2 * turn as usize);
    if api == Api::OpenAi {
        messages.push(json!({"role": "system", "content": h.system}));
    }
    messages.push(json!({"role": "user", "content": task}));
    for k in 0..turn {
        let (name, input, result) = step(h, r);
        let id = format!("call_{k}_{}", r.hex(8));
        let thought = format!("I'll {} `{}` to see how the {}s are handled.", ["check", "open", "search for", "test"][r.index(4)], corpus::fn_name(r), corpus::noun(r));
        match api {
            Api::Anthropic => {
                messages.push(json!({"role": "assistant", "content": [
                    {"type": "text", "text": thought},
                    {"type": "tool_use", "id": id, "name": name, "input": input}]}));
                messages.push(json!({"role": "user", "content": [{"type": "tool_result", "tool_use_id": id, "content": result}]}));
            }
            Api::OpenAi => {
                messages.push(json!({"role": "assistant", "content": thought, "tool_calls": [
                    {"id": id, "type": "function", "function": {"name": name, "arguments": input.to_string()}}]}));
                messages.push(json!({"role": "tool", "tool_call_id": id, "content": result}));
            }
        }
    }
    let mut b = serde_json::Map::new();
    b.insert("model".into(), json!(model));
    match api {
        Api::Anthropic => {
            b.insert("max_tokens".into(), json!(8192));
            b.insert("system".into(), json!(h.system));
        }
        Api::OpenAi => {
            b.insert("max_completion_tokens".into(), json!(8192));
        }
    }
    b.insert("messages".into(), Value::Array(messages));
    b.insert("tools".into(), Value::Array(tools));
    b.insert("stream".into(), json!(true));
    Value::Object(b).to_string()
}

/// A legitimate agent user's own task: work on their repository's code.
pub fn own_task(r: &mut Rng) -> String {
    let f = corpus::fn_name(r);
    match r.below(5) {
        0 => format!("Fix the bug where `{f}` drops the last {} when the input is empty", corpus::noun(r)),
        1 => format!("Add tests for {f} in tests/test_{}.py", corpus::noun(r)),
        2 => format!("Refactor src/{}.py: split `{f}` into smaller functions and keep behaviour identical", corpus::noun(r)),
        3 => format!("why is {f} so slow on big {}s? profile it and speed it up", corpus::noun(r)),
        _ => format!("Rename {} to {} everywhere and update the docs", corpus::fn_name(r), f),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn turns_grow_the_conversation_and_keep_the_task_first() {
        for api in [Api::Anthropic, Api::OpenAi] {
            let h = open_source_agent();
            let b0: Value = serde_json::from_str(&body(&h, api, "m", "Fix it", 0, &mut Rng::new(1))).unwrap();
            let b3: Value = serde_json::from_str(&body(&h, api, "m", "Fix it", 3, &mut Rng::new(1))).unwrap();
            let n = |v: &Value| v["messages"].as_array().unwrap().len();
            assert_eq!(n(&b3), n(&b0) + 6);
            let first_user = b3["messages"].as_array().unwrap().iter().find(|m| m["role"] == "user").unwrap();
            assert_eq!(first_user["content"], "Fix it");
            assert_eq!(b3["tools"].as_array().unwrap().len(), 10);
            let last = b3["messages"].as_array().unwrap().last().unwrap().clone();
            match api {
                Api::Anthropic => assert_eq!(last["content"][0]["type"], "tool_result"),
                Api::OpenAi => assert_eq!(last["role"], "tool"),
            }
        }
    }
}
