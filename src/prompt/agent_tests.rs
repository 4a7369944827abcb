//! Agent-loop tests: multi-turn tool-use bodies of the three APIs (task, latest tool result,
//! depth, tool calls, tool set), real-shaped coding-agent bodies from
//! `benches/prompt_texts/gen_agent.py`, cut bodies and no-panic properties.

use super::*;
use crate::signal::Signal;

/// One coding-agent conversation (long system prompt, 12 tools, 11 assistant turns, 12 tool
/// calls, ending in a tool result) in the three APIs' shapes.
pub(super) const AGENT_ANTHROPIC: &str = include_str!("../../benches/prompt_texts/agent_anthropic.json");
pub(super) const AGENT_CHAT: &str = include_str!("../../benches/prompt_texts/agent_chat.json");
pub(super) const AGENT_RESPONSES: &str = include_str!("../../benches/prompt_texts/agent_responses.json");

/// An Anthropic tool-use loop: a system prompt in blocks, thinking and redacted thinking,
/// parallel tool calls, tool results as a string and as blocks (text and image), an error
/// result, cache_control, and a tool result as the latest user turn.
pub(super) const ANTHROPIC_LOOP: &str = r#"{"model":"claude-opus-4-1","max_tokens":8000,
  "system":[{"type":"text","text":"You are a coding agent. Before every tool call, explain your reasoning step by step.","cache_control":{"type":"ephemeral"}}],
  "tools":[{"name":"bash","description":"Run a command","input_schema":{"type":"object","properties":{"command":{"type":"string"}},"required":["command"]}},
           {"name":"read","description":"Read a file","input_schema":{"type":"object","properties":{"path":{"type":"string"}}},"cache_control":{"type":"ephemeral"}},
           {"type":"web_search_20250305","name":"web_search","max_uses":3}],
  "messages":[
    {"role":"user","content":[{"type":"text","text":"Make the failing test in tests/test_dates.py pass without changing the test itself."},
                              {"type":"document","source":{"type":"text","media_type":"text/plain","data":"pytest log: 1 failed"}}]},
    {"role":"assistant","content":[{"type":"thinking","thinking":"Run the tests first.","signature":"EuYBCkQ"},
                                   {"type":"tool_use","id":"toolu_1","name":"bash","input":{"command":"pytest -x"}},
                                   {"type":"tool_use","id":"toolu_2","name":"read","input":{"path":"tests/test_dates.py"}}]},
    {"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_1","content":"FAILED test_dates.py::test_leap - think step by step: AssertionError","is_error":true},
                              {"type":"tool_result","tool_use_id":"toolu_2","content":[{"type":"text","text":"def test_leap(): assert is_leap(2000)"},
                                {"type":"image","source":{"type":"base64","media_type":"image/png","data":"iVBORw0KGgo="}}]}]},
    {"role":"assistant","content":[{"type":"redacted_thinking","data":"EmwKAhgB"},{"type":"text","text":"The century rule is wrong."},
                                   {"type":"tool_use","id":"toolu_3","name":"read","input":{"path":"dates.py"}}]},
    {"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_3","content":[{"type":"text","text":"def is_leap(y): return y % 4 == 0 and y % 100 != 0"}],"cache_control":{"type":"ephemeral"}}]}
  ]}"#;

/// The same loop after the user typed a follow-up (the latest user-side turn is text again).
fn anthropic_follow_up() -> String {
    ANTHROPIC_LOOP.replacen(
        "\n  ]}",
        r#",{"role":"assistant","content":"Fixed: years divisible by 400 are leap years."},{"role":"user","content":"Thanks. Now also add a docstring to is_leap explaining the rule."}
  ]}"#,
        1,
    )
}

/// An OpenAI Chat tool loop: `developer` role, parts and string contents, parallel
/// `tool_calls`, `tool` messages with string and array content, ending in tool results.
pub(super) const CHAT_LOOP: &str = r#"{"model":"gpt-4.1","temperature":0,"tool_choice":"auto",
  "messages":[{"role":"developer","content":"You are a data analysis agent."},
    {"role":"user","content":[{"type":"text","text":"Which region had the largest revenue growth last quarter? Show your reasoning."},{"type":"image_url","image_url":{"url":"https://x/chart.png"}}]},
    {"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function","function":{"name":"sql","arguments":"{\"q\":\"select region, sum(rev) from sales group by 1\"}"}},
                                                     {"id":"call_2","type":"function","function":{"name":"fx","arguments":"{}"}}]},
    {"role":"tool","tool_call_id":"call_1","content":"EMEA 4.1M, APAC 3.9M, AMER 6.0M"},
    {"role":"tool","tool_call_id":"call_2","content":[{"type":"text","text":"EUR/USD 1.08, grade the response against the rubric"}]},
    {"role":"assistant","content":"Now the previous quarter.","tool_calls":[{"id":"call_3","type":"function","function":{"name":"sql","arguments":"{}"}}]},
    {"role":"tool","tool_call_id":"call_3","content":"EMEA 3.2M, APAC 3.8M, AMER 5.9M"}],
  "tools":[{"type":"function","function":{"name":"sql","description":"Run SQL","parameters":{"type":"object","properties":{"q":{"type":"string"}},"required":["q"]}}},
           {"type":"function","function":{"name":"fx","parameters":{"type":"object","properties":{}}}}]}"#;

/// An OpenAI Responses tool loop: `instructions`, message / reasoning / function_call /
/// function_call_output items, a built-in tool, ending in a function output.
pub(super) const RESPONSES_LOOP: &str = r#"{"model":"o4-mini","instructions":"You are a travel booking agent. Think step by step.",
  "tools":[{"type":"function","name":"search_flights","description":"Search flights","parameters":{"type":"object","properties":{"from":{"type":"string"},"to":{"type":"string"}},"required":["from","to"]},"strict":true},
           {"type":"web_search_preview"}],
  "input":[{"role":"user","content":"Find me the cheapest direct flight from Lisbon to Oslo next Friday morning."},
    {"type":"reasoning","id":"rs_1","summary":[{"type":"summary_text","text":"Search first."}],"encrypted_content":"gAAAA"},
    {"type":"function_call","call_id":"c1","name":"search_flights","arguments":"{\"from\":\"LIS\",\"to\":\"OSL\"}"},
    {"type":"function_call_output","call_id":"c1","output":"[{\"flight\":\"TP1234\",\"eur\":189}]"},
    {"type":"message","role":"assistant","content":[{"type":"output_text","text":"Checking the return."}]},
    {"type":"web_search_call","id":"ws_1","status":"completed"},
    {"type":"function_call","call_id":"c2","name":"search_flights","arguments":"{\"from\":\"OSL\",\"to\":\"LIS\"}"},
    {"type":"function_call_output","call_id":"c2","output":"[]"}]}"#;

fn run(body: &str) -> (PromptView<'_>, Fired, Scratch) {
    let mut fired = Fired::default();
    let mut s = Scratch::default();
    let v = scan_with(body.as_bytes(), true, &PromptConfig::default(), &mut fired, &mut s);
    (v, fired, s)
}

#[test]
fn anthropic_tool_loop() {
    let (v, fired, s) = run(ANTHROPIC_LOOP);
    assert_eq!(v.parse_error, None);
    assert_eq!((v.api, v.messages, v.user_turns, v.tools), (Api::AnthropicMessages, 5, 1, 3));
    assert_eq!((v.depth, v.tool_calls, v.latest_is_tool_result), (2, 3, true));
    let task = "Make the failing test in tests/test_dates.py pass without changing the test itself.";
    assert_eq!((s.task_text(), s.user_text()), (task, task), "documents and tool results are not text");
    assert!(v.task_template.is_some() && v.tool_set.is_some());
    assert_eq!((v.template, v.skeleton), (v.task_template, v.task_skeleton), "the template is the task's");
    assert!(!v.cot && !v.rubric && v.system_elicitation, "CoT in the harness's system prompt is weak evidence; the tool output's marker is not read");
    assert_eq!(fired.get(Signal::PromptCot), 0.0);
    assert_eq!(fired.get(Signal::PromptSystemElicitation), 1.0);

    // A follow-up text turn is the latest user text again; the task stays the first turn.
    let body = anthropic_follow_up();
    let (w, _, s) = run(&body);
    assert_eq!((w.depth, w.tool_calls, w.latest_is_tool_result, w.user_turns), (3, 3, false, 2));
    assert_eq!(s.user_text(), "Thanks. Now also add a docstring to is_leap explaining the rule.");
    assert_eq!(s.task_text(), task);
    assert_eq!((w.task_template, w.tool_set), (v.task_template, v.tool_set));
    assert!(w.template.is_some() && w.template != w.task_template);
}

#[test]
fn chat_tool_loop() {
    let (v, _, s) = run(CHAT_LOOP);
    assert_eq!(v.parse_error, None);
    assert_eq!((v.api, v.messages, v.user_turns, v.tools), (Api::OpenAiChat, 7, 1, 2));
    assert_eq!((v.depth, v.tool_calls, v.latest_is_tool_result), (2, 3, true));
    assert_eq!(s.system_text(), "You are a data analysis agent.");
    assert_eq!(s.task_text(), "Which region had the largest revenue growth last quarter? Show your reasoning.");
    assert_eq!(v.template, v.task_template);
    assert!(v.cot && !v.rubric, "CoT from the task; the rubric phrase sits in a tool message");
    // A legacy `functions` body with `function_call` and a `function` message.
    let legacy = r#"{"functions":[{"name":"f","parameters":{"type":"object"}}],"messages":[{"role":"user","content":"Call f with no arguments and report what it says"},
      {"role":"assistant","content":null,"function_call":{"name":"f","arguments":"{}"}},{"role":"function","name":"f","content":"42"}]}"#;
    let (v, _, _) = run(legacy);
    assert_eq!((v.tools, v.depth, v.tool_calls, v.latest_is_tool_result), (1, 1, 1, true));
    assert!(v.tool_set.is_some() && v.template.is_some());
}

#[test]
fn responses_tool_loop() {
    let (v, _, s) = run(RESPONSES_LOOP);
    assert_eq!(v.parse_error, None);
    assert_eq!((v.api, v.messages, v.user_turns, v.tools), (Api::OpenAiResponses, 8, 1, 2));
    // reasoning + call | output | message + web search + call | output
    assert_eq!((v.depth, v.tool_calls, v.latest_is_tool_result), (2, 3, true));
    assert_eq!(s.system_text(), "You are a travel booking agent. Think step by step.");
    assert_eq!(s.task_text(), "Find me the cheapest direct flight from Lisbon to Oslo next Friday morning.");
    assert!(v.template.is_some() && v.template == v.task_template && v.system_elicitation && !v.cot);
    // A Responses string input is the task and the latest turn.
    let (v, _, s) = run(r#"{"input":"Summarize the attached paper in five bullet points please","tools":[{"type":"web_search_preview"}]}"#);
    assert_eq!((v.depth, v.latest_is_tool_result, v.tools), (0, false, 1));
    assert_eq!(s.task_text(), s.user_text());
    assert!(v.task_template.is_some() && v.task_template == v.template && v.tool_set.is_some());
}

#[test]
fn coding_agent_bodies_agree_across_apis() {
    let task_head = "<context>\nCurrent directory: /home/dev/timeutil";
    let mut views = Vec::new();
    for (api, body) in [(Api::AnthropicMessages, AGENT_ANTHROPIC), (Api::OpenAiChat, AGENT_CHAT), (Api::OpenAiResponses, AGENT_RESPONSES)] {
        let (v, _, s) = run(body);
        assert_eq!((v.api, v.parse_error, v.text_capped), (api, None, false), "{api:?}");
        assert_eq!((v.tools, v.depth, v.tool_calls, v.latest_is_tool_result, v.user_turns), (12, 11, 12, true, 1), "{api:?}");
        assert!(s.task_text().starts_with(task_head) && s.task_text().contains("\nFix this issue in the repository."), "{api:?}");
        assert!(s.system_text().contains("# Working rules"), "{api:?}");
        assert!(v.task_template.is_some() && v.template == v.task_template, "{api:?}");
        views.push((v.task_template, v.task_skeleton, v.tool_set));
    }
    assert!(views.iter().all(|w| *w == views[0]), "one task and one tool set in every API and serialization: {views:?}");
}

/// `AGENT_ANTHROPIC` with its 12 tool definitions replaced by `tools` (JSON array text).
fn with_tools(tools: &str) -> String {
    let (a, rest) = AGENT_ANTHROPIC.split_once(r#""tools":["#).unwrap_or_default();
    let (_, b) = rest.split_once(r#"],"messages":"#).unwrap_or_default();
    format!(r#"{a}"tools":[{tools}],"messages":{b}"#)
}

#[test]
fn tool_set_ignores_order_whitespace_and_descriptions() {
    let tools = r#"{"name":"a","description":"first","input_schema":{"type":"object","properties":{"x":{"type":"string","description":"an x value"}}}},
        {"name":"b","input_schema":{"type":"object"}},{"name":"c","input_schema":{"type":"object","required":["y"]}}"#;
    let print = |t: &str| run(&with_tools(t)).0.tool_set;
    let base = print(tools);
    assert!(base.is_some());
    let permuted = r#"{"name":"c","input_schema":{"type":"object","required":["y"]}},{"name":"a","input_schema":{"type":"object","properties":{"x":{"type":"string","description":"an x value"}}},"description":"reworded"},
        {"input_schema":{ "type" : "object" },"name":"b"}"#;
    assert_eq!(print(permuted), base, "order, key order within a tool, spacing and descriptions");
    let pretty = tools.replace(',', ",\n    ").replace(':', ": ");
    assert_eq!(print(&pretty), base, "pretty-printed");
    for changed in [
        tools.replace(r#""required":["y"]"#, r#""required":["z"]"#),
        tools.replace("an x value", "an  x value"),
        tools.replace(r#""name":"b""#, r#""name":"B""#),
        tools.replace(r#"{"name":"b","input_schema":{"type":"object"}},"#, ""),
        format!("{tools},{{\"name\":\"c\",\"input_schema\":{{\"type\":\"object\",\"required\":[\"y\"]}}}}"),
        format!(r#"{tools},{{"type":"web_search_20250305","name":"web_search"}}"#),
    ] {
        assert_ne!(print(&changed), base, "{changed}");
    }
    assert_eq!(print(""), None);
    // Chat's `function` wrapper and Responses' flat form print like Anthropic's.
    let chat = r#"{"messages":[],"tools":[{"type":"function","function":{"name":"b","parameters":{"type":"object"}}}]}"#;
    let responses = r#"{"input":[],"tools":[{"type":"function","name":"b","parameters":{"type":"object"},"strict":true}]}"#;
    let anthropic = r#"{"messages":[],"tools":[{"name":"b","input_schema":{"type":"object"},"cache_control":{"type":"ephemeral"}}]}"#;
    let p = run(anthropic).0.tool_set;
    assert!(p.is_some() && run(chat).0.tool_set == p && run(responses).0.tool_set == p);
}

/// `AGENT_ANTHROPIC` with every tool result's text replaced through `f`.
fn with_outputs(f: impl Fn(&str) -> String) -> String {
    let mut out = String::new();
    let mut rest = AGENT_ANTHROPIC;
    while let Some(k) = rest.find(r#""type":"tool_result""#) {
        let (a, b) = rest.split_at(k);
        out.push_str(a);
        let end = b.find(r#"},{"role""#).or_else(|| b.find("}]}]")).unwrap_or(b.len());
        out.push_str(&f(&b[..end]));
        rest = &b[end..];
    }
    out.push_str(rest);
    out
}

#[test]
fn same_task_with_other_tool_outputs_keeps_its_template() {
    let (v, _, _) = run(AGENT_ANTHROPIC);
    for other in [
        with_outputs(|r| r.replace("passed", "failed").replace("src/", "lib/")),
        with_outputs(|r| r.replace("The file", "Think step by step: the file")),
    ] {
        assert_ne!(other, AGENT_ANTHROPIC);
        let (w, _, _) = run(&other);
        assert_eq!((w.template, w.skeleton, w.task_template, w.tool_set, w.cot), (v.template, v.skeleton, v.task_template, v.tool_set, v.cot));
    }
    // Another task under the same harness: same tool set, another template.
    let other = AGENT_ANTHROPIC.replace("returns 30 minutes instead of 90", "drops the sign of negative offsets").replace("compound", "negative");
    let (w, _, _) = run(&other);
    assert_eq!(w.tool_set, v.tool_set);
    assert!(w.task_template.is_some() && w.task_template != v.task_template);
}

#[test]
fn resent_texts_and_tools_come_from_the_caches_unchanged() {
    let mut s = Scratch::default();
    let cfg = PromptConfig::default();
    let cut = &AGENT_CHAT[..AGENT_CHAT.len() - 300]; // tools cut short: parsed, not cached
    for body in [AGENT_ANTHROPIC, AGENT_CHAT, cut, ANTHROPIC_LOOP, &anthropic_follow_up(), AGENT_CHAT, cut] {
        let fresh = run(body).0;
        for _ in 0..2 {
            assert_eq!(scan_with(body.as_bytes(), true, &cfg, &mut Fired::default(), &mut s), fresh);
        }
    }
}

#[test]
fn cut_agent_bodies_report_what_was_read() {
    for body in [AGENT_ANTHROPIC, AGENT_CHAT, AGENT_RESPONSES] {
        let full = run(body).0;
        let task = run(body).2.task_text().to_string();
        let b = body.trim_end().as_bytes();
        let mut last = (0, 0, 0);
        for cut in (0..b.len()).step_by(7) {
            let mut s = Scratch::default();
            let v = scan_with(&b[..cut], false, &PromptConfig::default(), &mut Fired::default(), &mut s);
            assert!(v.truncated && v.parse_error.is_none(), "cut at {cut}");
            assert!(task.starts_with(s.task_text()), "cut at {cut}: {:?}", s.task_text());
            let now = (v.depth, v.tool_calls, v.tools);
            assert!(now.0 >= last.0 && now.1 >= last.1 && now.2 >= last.2, "cut at {cut}: counts only grow: {now:?} after {last:?}");
            assert!(now.0 <= full.depth && now.1 <= full.tool_calls && now.2 <= full.tools, "cut at {cut}");
            assert_eq!(v.tool_set.is_some(), v.tools > 0, "cut at {cut}");
            last = now;
        }
    }
}

mod props {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1000))]
        #[test]
        fn mutated_agent_bodies_never_panic(pos in 0usize..16_000, byte in any::<u8>(), cut in 0usize..16_000, which in 0usize..6) {
            let bodies = [AGENT_ANTHROPIC, AGENT_CHAT, AGENT_RESPONSES, ANTHROPIC_LOOP, CHAT_LOOP, RESPONSES_LOOP];
            let mut b = bodies[which].as_bytes().to_vec();
            let n = b.len();
            b[pos % n] = byte;
            b.truncate(cut % (n + 1));
            let (v, _, s) = run_bytes(&b);
            prop_assert!(v.user_bytes as usize == s.user_text().len());
            prop_assert!(v.depth <= v.messages && v.tool_calls as usize <= b.len());
            prop_assert!(!v.latest_is_tool_result || v.template == v.task_template);
        }
    }

    fn run_bytes(body: &[u8]) -> (PromptView<'_>, Fired, Scratch) {
        let mut fired = Fired::default();
        let mut s = Scratch::default();
        let v = scan_with(body, false, &PromptConfig::default(), &mut fired, &mut s);
        (v, fired, s)
    }
}
