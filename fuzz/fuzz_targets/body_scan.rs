//! Fuzz target: the bounded body scan (`prompt::scan`) on arbitrary bytes.
//!
//! Each input is scanned as a complete body and as a cut prefix (`complete` false), and its
//! first half as a cut prefix too, as hosts pass a body cut at `body.max_bytes`. The scan
//! must accept any bytes: invalid JSON, invalid UTF-8, deep nesting, huge numbers.
#![no_main]

use distill_guard::policy::Policy;
use distill_guard::prompt;
use distill_guard::signal::Fired;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let cfg = Policy::default().prompt;
    for (body, complete) in [(data, true), (data, false), (&data[..data.len() / 2], false)] {
        let mut fired = Fired::default();
        let _ = prompt::scan(body, complete, &cfg, &mut fired);
    }
});
