//! Scan-level tests: the three APIs, cut / invalid / deep / non-UTF-8 bodies, signals,
//! template distances on realistic prompts, and no-panic property tests.

use super::*;
use crate::policy::Policy;
use crate::signal::Signal;

/// Pairs of prompts from one template. The first four differ only in what normalization
/// masks (code, numbers, quotes, names); the next two in one or two topic words; the last
/// in half its content.
pub(super) const NEAR: &[(&str, &str)] = &[
    (
        "You are an expert software engineer. Review the following Python function for bugs, performance problems and style issues. For each issue, explain why it is a problem, rate its severity from 1 to 5, and suggest a fix. Finally, provide a corrected version of the whole function.\n\n```python\ndef total(items):\n    s = 0\n    for i in items: s += i.price\n    return s\n```\n\nThe function lives in `billing/invoice.py` and is called about 3000 times per second.",
        "You are an expert software engineer. Review the following Python function for bugs, performance problems and style issues. For each issue, explain why it is a problem, rate its severity from 1 to 5, and suggest a fix. Finally, provide a corrected version of the whole function.\n\n```python\ndef parse_dates(rows):\n    return [datetime.strptime(r[2], '%Y-%m-%d') for r in rows]\n```\n\nThe function lives in `etl/loader.py` and is called about 12 times per second.",
    ),
    (
        "Write a polite reply to a customer named Alice Johnson who ordered 3 items (order #48213) on March 5 and received a damaged blender. Apologize for the inconvenience, offer either a full refund of $49.99 or a free replacement shipped within 2 business days, and ask her to reply with a photo of the damage. Keep it under 150 words and sign it as Maria from the Support Team.",
        "Write a polite reply to a customer named Rahul Mehta who ordered 1 items (order #99120) on July 19 and received a damaged toaster. Apologize for the inconvenience, offer either a full refund of $29.50 or a free replacement shipped within 5 business days, and ask her to reply with a photo of the damage. Keep it under 200 words and sign it as Tom from the Support Team.",
    ),
    (
        "Translate the following sentence into French, then explain any idioms it contains and give two alternative translations with a short note on tone: \"The early bird catches the worm, but the second mouse gets the cheese.\" Format the answer as a numbered list.",
        "Translate the following sentence into French, then explain any idioms it contains and give two alternative translations with a short note on tone: \"Don't count your chickens before they hatch.\" Format the answer as a numbered list.",
    ),
    (
        "请将下面的句子翻译成英文，并解释其中的成语和俗语，然后给出两个不同语气的备选翻译：“他这个人总是画蛇添足。”请用编号列表回答。",
        "请将下面的句子翻译成英文，并解释其中的成语和俗语，然后给出两个不同语气的备选翻译：“这件事真是一石二鸟。”请用编号列表回答。",
    ),
    (
        "Write a 600 word blog post about the benefits of remote work for small businesses. Use a friendly but professional tone, include three subheadings, one statistic with its source, and end with a call to action inviting readers to subscribe to the newsletter.",
        "Write a 600 word blog post about the benefits of electric vans for small businesses. Use a friendly but professional tone, include three subheadings, one statistic with its source, and end with a call to action inviting readers to subscribe to the newsletter.",
    ),
    (
        "Generate ten multiple choice quiz questions about photosynthesis for high school students. Each question must have four options labelled A to D, exactly one correct answer, and a one sentence explanation of why the correct answer is right.",
        "Generate ten multiple choice quiz questions about plate tectonics for middle school students. Each question must have four options labelled A to D, exactly one correct answer, and a one sentence explanation of why the correct answer is right.",
    ),
    (
        "Summarize the following customer review in one sentence, classify its sentiment as positive, negative or mixed, and list the product features it mentions.\n\nReview: I bought this vacuum for my apartment and it is surprisingly quiet, the battery lasts about forty minutes, but the dust bin is tiny and hard to empty.",
        "Summarize the following customer review in one sentence, classify its sentiment as positive, negative or mixed, and list the product features it mentions.\n\nReview: these headphones sound great and the noise cancelling works on the train, but the ear cushions got uncomfortable after an hour and the app keeps crashing.",
    ),
];

/// Prompts with nothing in common but the language.
pub(super) const UNRELATED: &[&str] = &[
    "Write a haiku about the first snow of winter falling on a quiet mountain village at night.",
    "Explain the difference between a process and a thread in an operating system, with examples of when you would use each one.",
    "My sourdough starter smells like acetone and is not rising anymore. What am I doing wrong and how do I fix it?",
    "Draft a two paragraph cover letter for a junior data analyst position at a logistics company, highlighting SQL and dashboard experience.",
    "What were the main causes of the French Revolution, and how did the financial crisis of the monarchy contribute to it?",
    "Give me a weekly training plan for running a first half marathon in twelve weeks, for someone who currently runs three times a week.",
];

fn run(body: &str) -> (PromptView<'_>, Fired, Scratch) {
    run_bytes(body.as_bytes(), true)
}

fn run_bytes(body: &[u8], complete: bool) -> (PromptView<'_>, Fired, Scratch) {
    let mut fired = Fired::default();
    let mut s = Scratch::default();
    let v = scan_with(body, complete, &PromptConfig::default(), &mut fired, &mut s);
    (v, fired, s)
}

fn print(text: &str) -> TextPrint {
    let (mut n, mut st) = (Vec::new(), Vec::new());
    fingerprint(text.as_bytes(), 6, &mut n, &mut st)
}

fn dist(a: &str, b: &str) -> u32 {
    simhash_distance(print(a).template.unwrap(), print(b).template.unwrap())
}

const ANTHROPIC: &str = r#"{
  "model": "claude-sonnet-4-5", "max_tokens": 64000, "temperature": 1, "stream": true,
  "thinking": {"type": "enabled", "budget_tokens": 32000},
  "system": "You are a careful math tutor. Always think step by step.",
  "tools": [{"name": "calc", "input_schema": {"type": "object", "properties": {"x": {"type": "string"}}}},
            {"name": "search", "input_schema": {"type": "object"}}],
  "messages": [
    {"role": "user", "content": "What is 2+2?"},
    {"role": "assistant", "content": [{"type": "text", "text": "4"}, {"type": "tool_use", "id": "t1", "name": "calc", "input": {"x": "2+2"}}]},
    {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": [{"type": "text", "text": "TOOL OUTPUT"}]}]},
    {"role": "assistant", "content": "4"},
    {"role": "user", "content": [
      {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}},
      {"text": "Now solve x^2 - 5x + 6 = 0 and explain \"why\" \u00e9\ud83d\ude00.", "type": "text"},
      {"type": "text", "text": "Be brief."}
    ]}
  ]
}"#;

#[test]
fn anthropic_messages() {
    let (v, fired, s) = run(ANTHROPIC);
    assert_eq!(v.parse_error, None);
    assert!(!v.truncated && !v.text_capped);
    assert_eq!(v.api, Api::AnthropicMessages);
    assert_eq!(v.model, Some("claude-sonnet-4-5"));
    assert_eq!((v.max_tokens, v.temperature, v.stream, v.thinking), (Some(64000), Some(1.0), Some(true), true));
    assert_eq!((v.tools, v.messages, v.user_turns), (2, 5, 2));
    assert_eq!((v.depth, v.tool_calls, v.latest_is_tool_result), (2, 1, false));
    assert_eq!(s.task_text(), "What is 2+2?");
    assert_eq!(v.task_template, None, "a 4-token task is too short");
    assert_eq!(s.user_text(), "Now solve x^2 - 5x + 6 = 0 and explain \"why\" é😀.\nBe brief.");
    assert_eq!(s.system_text(), "You are a careful math tutor. Always think step by step.");
    assert_eq!(v.user_bytes as usize, s.user_text().len());
    assert!(v.template.is_some() && v.skeleton.is_some() && v.system_template.is_some());
    assert!(!v.cot && !v.rubric && v.system_elicitation, "CoT in the system prompt is the harness's: weak evidence");
    assert_eq!(fired.get(Signal::PromptCot), 0.0);
    assert_eq!(fired.get(Signal::PromptSystemElicitation), 1.0);
    assert_eq!(fired.get(Signal::PromptLongOutput), 1.0);
    assert_eq!(fired.get(Signal::PromptLogprobs), 0.0);
}

#[test]
fn anthropic_system_blocks_and_thinking_off() {
    let body = r#"{"model":"m","max_tokens":100,"thinking":{"type":"disabled"},
      "system":[{"type":"text","text":"Grade the following response against the rubric.","cache_control":{"type":"ephemeral"}},{"type":"text","text":"Be strict."}],
      "messages":[{"content":"Response: Paris is the capital of Germany.","role":"user"},{"role":"assistant","content":"Score:"}]}"#;
    let (v, fired, s) = run(body);
    assert_eq!(s.system_text(), "Grade the following response against the rubric.\nBe strict.");
    assert_eq!(s.user_text(), "Response: Paris is the capital of Germany.", "role after content still counts");
    assert!(!v.rubric && v.system_elicitation && !v.thinking, "a rubric in the system prompt is weak evidence");
    assert_eq!(fired.get(Signal::PromptRubric), 0.0);
    assert_eq!(fired.get(Signal::PromptLongOutput), 0.0);
}

#[test]
fn openai_chat() {
    let body = r#"{"model":"gpt-4o","logprobs":true,"top_logprobs":5,"n":4,"max_completion_tokens":50000,
      "messages":[{"role":"developer","content":"You are terse."},{"role":"system","content":"ignored second system"},
        {"role":"user","content":[{"type":"text","text":"Describe this picture in one sentence please."},{"type":"image_url","image_url":{"url":"https://x/y.png"}}]}],
      "tools":[{"type":"function","function":{"name":"f","parameters":{}}}]}"#;
    let (v, fired, s) = run(body);
    assert_eq!(v.api, Api::OpenAiChat);
    assert_eq!((v.logprobs, v.top_logprobs, v.n, v.tools, v.max_tokens), (true, 5, 4, 1, Some(50000)));
    assert_eq!(s.system_text(), "You are terse.");
    assert_eq!(s.user_text(), "Describe this picture in one sentence please.");
    assert!(v.elicitation && !v.cot);
    assert_eq!(fired.get(Signal::PromptLogprobs), 1.0);
    assert_eq!(fired.get(Signal::PromptMultiN), 1.0);
    assert_eq!(fired.get(Signal::PromptLongOutput), 0.0, "no explicit temperature");
    let (v, fired, _) = run(r#"{"messages":[],"n":1,"logprobs":false,"top_logprobs":0}"#);
    assert!(!v.logprobs && !v.elicitation);
    assert_eq!(fired.iter().count(), 0);
}

#[test]
fn openai_responses() {
    let (v, _, s) = run(r#"{"model":"o3","instructions":"Answer in French.","input":"Bonjour, comment vas-tu aujourd'hui ?","reasoning":{"effort":"high"}}"#);
    assert_eq!(v.api, Api::OpenAiResponses);
    assert_eq!((s.system_text(), s.user_text()), ("Answer in French.", "Bonjour, comment vas-tu aujourd'hui ?"));
    assert!(v.thinking);
    let body = r#"{"model":"gpt-5","max_output_tokens":40000,"temperature":0.2,"include":["message.output_text.logprobs"],
      "input":[{"role":"developer","content":"Be exact."},
        {"type":"message","role":"user","content":[{"type":"input_text","text":"first question"}]},
        {"type":"function_call_output","call_id":"c1","output":"{\"ok\":true}"},
        {"type":"message","role":"user","content":[{"type":"input_image","image_url":"data:"},{"type":"input_text","text":"Explique paso a paso tu razonamiento."}]}]}"#;
    let (v, fired, s) = run(body);
    assert_eq!((s.system_text(), s.user_text()), ("Be exact.", "Explique paso a paso tu razonamiento."));
    assert!(v.logprobs && v.cot);
    assert_eq!((v.messages, v.user_turns, v.max_tokens), (4, 2, Some(40000)));
    assert_eq!(fired.get(Signal::PromptLongOutput), 1.0);
}

#[test]
fn cut_bodies_keep_what_was_read() {
    let full = run(ANTHROPIC).2.user_text().to_string();
    let b = ANTHROPIC.as_bytes();
    let text_at = ANTHROPIC.find("Now solve").unwrap();
    for cut in 0..b.len() {
        let (v, _, s) = run_bytes(&b[..cut], false);
        assert!(v.truncated, "cut at {cut}");
        assert_eq!(v.parse_error, None, "cut at {cut}");
        if cut > text_at + 20 {
            let got = s.user_text();
            assert!(got.starts_with("Now solve x^2"), "cut at {cut}: {got:?}");
            assert!(full.starts_with(got), "cut at {cut}: {got:?}");
        }
        let (v, _, _) = run_bytes(&b[..cut], true);
        assert!(!v.truncated && v.parse_error.is_some(), "complete but cut at {cut}");
    }
    let (v, _, _) = run_bytes(b, false);
    assert!(!v.truncated, "a prefix that holds the whole document is not truncated");
}

#[test]
fn invalid_json_is_reported_not_fatal() {
    for (body, err) in [
        ("", Some("body ends inside the JSON document")),
        ("[1,2]", Some("expected an object")),
        (r#"{"model": gpt-4}"#, Some("expected a value")),
        (r#"{"model" "x"}"#, Some("expected ':'")),
        (r#"{"a":1 "b":2}"#, Some("expected ',' or '}'")),
        (r#"{"messages":[{"role":"user","content":"hello there my friend how are you"} {"x":1}]}"#, Some("expected ',' or ']'")),
        (r#"{"model":"x"} trailing"#, None),
    ] {
        let (v, _, _) = run(body);
        assert_eq!(v.parse_error, err, "{body}");
    }
    // Invalid JSON after the user turn still yields its template.
    let (v, _, s) = run(r#"{"messages":[{"role":"user","content":"Think step by step about this problem please"}], "x": ?}"#);
    assert!(v.parse_error.is_some() && v.cot && v.template.is_some());
    assert_eq!(s.user_text(), "Think step by step about this problem please");
}

#[test]
fn deep_nesting_stops_without_recursion() {
    let mut body = String::from(r#"{"messages":[{"role":"user","content":"Show your reasoning for every step of this proof"}],"metadata":"#);
    body.push_str(&"[".repeat(100_000));
    let (v, _, _) = run(&body);
    assert_eq!(v.parse_error, Some("nesting deeper than 128 levels"));
    assert!(v.cot && v.template.is_some());
    let mut ok = String::from(r#"{"tools":[{"s":"#);
    ok.push_str(&"[".repeat(100));
    ok.push_str(&"]".repeat(100));
    ok.push_str("}]}");
    let (v, _, _) = run(&ok);
    assert_eq!((v.parse_error, v.tools), (None, 1));
}

#[test]
fn non_utf8_bytes_are_replaced() {
    let body = b"{\"model\":\"m\xff\",\"messages\":[{\"role\":\"user\",\"content\":\"caf\xe9 ok \xe4\xb8\xad\"}]}";
    let (v, _, s) = run_bytes(body, true);
    assert_eq!(v.parse_error, None);
    assert_eq!(v.model, None);
    assert_eq!(s.user_text(), "caf? ok 中");
}

#[test]
fn text_is_capped() {
    let long = "word ".repeat(5000);
    let body = format!(r#"{{"messages":[{{"role":"user","content":"{long}"}}],"system":[{{"type":"text","text":"{long}"}}]}}"#);
    let (v, _, s) = run(&body);
    assert!(v.text_capped);
    assert_eq!((v.user_bytes, v.system_bytes), (8192, 8192));
    assert_eq!(s.user_text().len(), 8192);
    let cfg = PromptConfig { max_text_bytes: 300, ..Default::default() };
    let body = format!(r#"{{"messages":[{{"role":"user","content":"{}"}}]}}"#, r"\u4e2d".repeat(200));
    let mut s = Scratch::default();
    let v = scan_with(body.as_bytes(), true, &cfg, &mut Fired::default(), &mut s);
    assert!(v.text_capped);
    assert!(s.user_text().chars().all(|c| c == '中') && s.user_text().len() == 300);
}

/// A prompt that puts its context first and its question last: a text over the cap is also
/// searched for markers in its end (a string, escapes included, or the last text block).
#[test]
fn capped_texts_are_searched_for_markers_in_their_end() {
    let context = r#"    rows = db.query(\"SELECT id FROM users WHERE org = %s\", org)\n"#.repeat(200);
    let ask = r#"Fix the bug above. Before the code, \"show your reasoning\" and think step by step.\n"#;
    let body = format!(r#"{{"messages":[{{"role":"user","content":"{context}{ask}"}}]}}"#);
    let (v, _, s) = run(&body);
    assert!(v.text_capped && v.cot, "{}", s.user_text().len());
    // The context alone: capped, no marker.
    let alone = format!(r#"{{"messages":[{{"role":"user","content":"{context}"}}]}}"#);
    let (v, _, _) = run(&alone);
    assert!(v.text_capped && !v.cot);
    // Content blocks: the question in a last, short block after a long one; then before a
    // non-text block.
    let blocks = format!(r#"{{"messages":[{{"role":"user","content":[{{"type":"text","text":"{context}"}},{{"type":"text","text":"Grade it against the rubric. {ask}"}}]}}]}}"#);
    let (v, _, _) = run(&blocks);
    assert!(v.text_capped && v.cot && v.rubric, "{} {} {}", v.text_capped, v.cot, v.rubric);
    let image = format!(r#"{{"messages":[{{"role":"user","content":[{{"type":"text","text":"{context}{ask}"}},{{"type":"image","source":{{"type":"base64","data":"AAAA"}}}}]}}]}}"#);
    assert!(run(&image).0.cot);
    // A text under the cap reads as before; an end without a space adds nothing.
    let short = format!(r#"{{"messages":[{{"role":"user","content":"{ask}"}}]}}"#);
    let (v, _, _) = run(&short);
    assert!(!v.text_capped && v.cot);
    let spaceless = format!(r#"{{"messages":[{{"role":"user","content":"{context}{ask}{}"}}]}}"#, "x".repeat(9000));
    let (v, _, _) = run(&spaceless);
    assert!(v.text_capped && !v.cot);
}

#[test]
fn short_prompts_have_no_template_but_markers_count() {
    let (v, _, _) = run(r#"{"messages":[{"role":"user","content":"hi there!"}]}"#);
    assert_eq!((v.template, v.skeleton, v.user_tokens), (None, None, 2));
    let (v, _, _) = run(r#"{"messages":[{"role":"user","content":"Think step by step."}]}"#);
    assert!(v.template.is_none() && v.cot);
    let (v, _, _) = run(r#"{"messages":[{"role":"user","content":"please write me a short poem today"}]}"#);
    assert!(v.template.is_some());
}

#[test]
fn long_output_needs_fixed_temperature() {
    for (body, fires) in [
        (r#"{"max_tokens":32000,"temperature":0}"#, true),
        (r#"{"max_tokens":32000}"#, false),
        (r#"{"max_tokens":31999,"temperature":0.7}"#, false),
        (r#"{"max_tokens":"lots","temperature":0.7}"#, false),
    ] {
        assert_eq!(run(body).1.get(Signal::PromptLongOutput) > 0.0, fires, "{body}");
    }
}

#[test]
fn near_duplicates_are_close_and_unrelated_prompts_are_not() {
    for (a, b) in &NEAR[..4] {
        assert!(dist(a, b) <= 3, "{} bits: {a}", dist(a, b));
    }
    assert_eq!(print(NEAR[0].0).skeleton, print(NEAR[0].1).skeleton);
    assert_eq!(print(NEAR[3].0).skeleton, print(NEAR[3].1).skeleton);
    assert_ne!(print(NEAR[1].0).skeleton, print(NEAR[1].1).skeleton, "blender vs toaster");
    for (a, b) in &NEAR[4..6] {
        assert!(dist(a, b) <= 12, "{} bits: {a}", dist(a, b));
    }
    let half = dist(NEAR[6].0, NEAR[6].1);
    assert!((8..=24).contains(&half), "{half} bits for a half-shared prompt");
    let all: Vec<&str> = UNRELATED.iter().copied().chain(NEAR.iter().map(|p| p.0)).collect();
    let (mut sum, mut n, mut min) = (0, 0, 64);
    for i in 0..all.len() {
        for j in i + 1..all.len() {
            let d = dist(all[i], all[j]);
            (sum, n, min) = (sum + d, n + 1, min.min(d));
        }
    }
    let mean = sum as f64 / n as f64;
    assert!((26.0..=38.0).contains(&mean) && min >= 16, "mean {mean}, min {min}");
}

#[test]
fn config_validation_reports_every_field() {
    let p = Policy::from_json(r#"{"prompt":{"long_output_tokens":0,"max_text_bytes":10,"min_template_tokens":5000}}"#);
    let errs = p.unwrap_err().0;
    let paths: Vec<&str> = errs.iter().map(|e| e.path.as_str()).collect();
    for want in ["prompt.long_output_tokens", "prompt.max_text_bytes", "prompt.min_template_tokens"] {
        assert!(paths.contains(&want), "{paths:?}");
    }
    assert!(Policy::from_json(r#"{"prompt":{"max_text_byte":1000}}"#).is_err());
    assert!(Policy::from_json(r#"{"prompt":{"max_text_bytes":1000}}"#).is_ok());
}

#[test]
fn system_prompt_cache_changes_nothing() {
    let mut s = Scratch::default();
    let cfg = PromptConfig::default();
    let first = scan_with(ANTHROPIC.as_bytes(), true, &cfg, &mut Fired::default(), &mut s);
    let again = scan_with(ANTHROPIC.as_bytes(), true, &cfg, &mut Fired::default(), &mut s);
    assert_eq!(first, again);
    assert_eq!(s.system_text(), "You are a careful math tutor. Always think step by step.");
    // Another system prompt, then a different cap: no stale entry is reused.
    let other = ANTHROPIC.replace("Always think step by step.", "Be concise and friendly in every reply.");
    let v = scan_with(other.as_bytes(), true, &cfg, &mut Fired::default(), &mut s);
    assert!(!v.cot && v.system_template != first.system_template);
    let small = PromptConfig { max_text_bytes: 256, min_template_tokens: 20, ..cfg };
    let v = scan_with(ANTHROPIC.as_bytes(), true, &small, &mut Fired::default(), &mut s);
    assert_eq!(v.system_template, None, "10 tokens < 20");
}

#[test]
fn thread_local_scan_matches_scan_with() {
    let mut f = Fired::default();
    let a = scan(ANTHROPIC.as_bytes(), true, &PromptConfig::default(), &mut f);
    assert_eq!(a, run(ANTHROPIC).0);
}

mod props {
    use super::*;
    use proptest::prelude::*;

    /// Words that make phrases (and near-misses) likely.
    const WORDS: &[&str] = &[
        "think", "step", "by", "show", "your", "reasoning", "grade", "the", "response", "rubric", "according", "to",
        "paso", "a", "пошагово", "逐步思考", "Alice", "42", "\"q\"", "`c`", "x_y", "well", ".",
    ];

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]
        #[test]
        fn any_bytes_never_panic(body in proptest::collection::vec(any::<u8>(), 0..400), complete: bool) {
            let (v, _, s) = run_bytes(&body, complete);
            prop_assert!(v.user_bytes as usize == s.user_text().len());
        }

        #[test]
        fn mutated_bodies_never_panic(pos in 0usize..2000, byte in any::<u8>(), cut in 0usize..2000) {
            let mut b = ANTHROPIC.as_bytes().to_vec();
            let n = b.len();
            b[pos % n] = byte;
            b.truncate(cut % (n + 1));
            let (v, _, s) = run_bytes(&b, false);
            prop_assert!(v.user_bytes as usize == s.user_text().len());
        }

        #[test]
        fn any_text_normalizes(text in "\\PC{0,300}") {
            let p = print(&text);
            prop_assert!(p.template.is_some() == (p.tokens >= 6));
        }

        #[test]
        fn streaming_equals_batch(words in proptest::collection::vec(proptest::sample::select(WORDS), 0..80)) {
            let text = words.join(" ");
            let (mut n, mut st) = (Vec::new(), Vec::new());
            let p = fingerprint(text.as_bytes(), 1, &mut n, &mut st);
            prop_assert_eq!(p.template, (!st.is_empty()).then(|| simhash::simhash(&n, &st)));
            prop_assert_eq!(p.markers, markers::find(&n, &st));
        }
    }
}
