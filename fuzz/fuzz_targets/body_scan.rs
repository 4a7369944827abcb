//! Fuzz target: the bounded body scan (`prompt::scan`) on arbitrary bytes.
//!
//! Each input is scanned as a complete body and as a cut prefix (`complete` false), and its
//! first half as a cut prefix too, as hosts pass a body cut at `body.max_bytes`; under the
//! default prompt settings and under the tightest valid ones (smallest text cap, one-token
//! templates), so the caps are hit. The scan must accept any bytes (invalid JSON or UTF-8,
//! deep nesting, huge numbers) and give the same view twice (its scratch buffers and the
//! cache of resent texts are reused). The agent-loop fields must hold together: the kept
//! texts fit the cap, an assistant turn is at least one item, the template of a request whose
//! latest user-side turn is a tool result is its task's, a tool set is printed exactly when a
//! tool was read, and a cut prefix never reports more messages or tools than the whole. (Its
//! depth and tool calls may exceed the whole's: a repeated `role` or `type` key, the last of
//! which counts as in the APIs' own JSON parsers, can reclassify a message after the cut.)
#![no_main]

use distill_guard::prompt::{self, PromptConfig, PromptView};
use distill_guard::signal::Fired;
use libfuzzer_sys::fuzz_target;

fn check(v: &PromptView<'_>, cfg: &PromptConfig, body: &[u8]) {
    assert!(v.user_bytes <= cfg.max_text_bytes && v.system_bytes <= cfg.max_text_bytes, "texts are capped");
    assert!(v.depth <= v.messages, "an assistant turn is at least one item");
    assert!(v.tool_calls as usize <= body.len() && v.tools as usize <= body.len(), "counts are bounded by the body");
    if v.latest_is_tool_result {
        assert_eq!((v.template, v.skeleton), (v.task_template, v.task_skeleton), "the template is the task's");
    }
    if v.tool_set.is_some() {
        assert!(v.tools > 0, "a tool set needs a tool");
    }
    assert_eq!(v.elicitation, v.cot || v.rubric || v.logprobs);
}

fuzz_target!(|data: &[u8]| {
    let tight = PromptConfig { long_output_tokens: 1, max_text_bytes: 256, min_template_tokens: 1 };
    for cfg in [PromptConfig::default(), tight] {
        let mut whole = None;
        for (body, complete) in [(data, true), (data, false), (&data[..data.len() / 2], false)] {
            let mut fired = Fired::default();
            let first = prompt::scan(body, complete, &cfg, &mut fired);
            let mut again = Fired::default();
            assert_eq!(first, prompt::scan(body, complete, &cfg, &mut again), "scan is deterministic");
            check(&first, &cfg, body);
            match &whole {
                None => whole = Some((first.messages, first.tools)),
                Some((m, t)) => assert!(first.messages <= *m && first.tools <= *t, "a prefix reports no more than the whole"),
            }
        }
    }
});
