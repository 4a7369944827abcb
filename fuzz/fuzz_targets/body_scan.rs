//! Fuzz target: the bounded body scan (`prompt::scan`) on arbitrary bytes.
//!
//! Each input is scanned as a complete body and as a cut prefix (`complete` false), and its
//! first half as a cut prefix too, as hosts pass a body cut at `body.max_bytes`; under the
//! default prompt settings and under the tightest valid ones (smallest text cap, one-token
//! templates), so the caps are hit. The scan must accept any bytes (invalid JSON or UTF-8,
//! deep nesting, huge numbers) and give the same view twice (its scratch buffers are reused).
#![no_main]

use distill_guard::prompt::{self, PromptConfig};
use distill_guard::signal::Fired;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let tight = PromptConfig { long_output_tokens: 1, max_text_bytes: 256, min_template_tokens: 1 };
    for cfg in [PromptConfig::default(), tight] {
        for (body, complete) in [(data, true), (data, false), (&data[..data.len() / 2], false)] {
            let mut fired = Fired::default();
            let first = prompt::scan(body, complete, &cfg, &mut fired);
            let mut again = Fired::default();
            assert_eq!(first, prompt::scan(body, complete, &cfg, &mut again), "scan is deterministic");
        }
    }
});
