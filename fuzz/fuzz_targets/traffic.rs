//! Fuzz target: the traffic record parser and the request view.
//!
//! The input is treated as JSONL (invalid UTF-8 is replaced, as a reader of a damaged file
//! would). Each line goes through `traffic::parse_line` (serde) and through the
//! `traffic::LineDecoder` that `replay` uses (a hand-written fast path with serde as its
//! fallback): both must return the same record and body, or the same error. Every record
//! that parses is turned
//! into a `Request` with the policy's body cap and inspected by engines running the shipped
//! default and strict policies, and the verdict is mapped to tag headers and a response, as
//! a host would. The engines persist across inputs so their bounded state sees millions of
//! requests (as in Envoy); set DG_FUZZ_FRESH_ENGINE=1 to build them per input when
//! reproducing a crash.
#![no_main]

use std::cell::RefCell;

use distill_guard::{respond, traffic, Engine};
use libfuzzer_sys::fuzz_target;

const DEFAULT: &str = include_str!("../../filters/default.json");
const STRICT: &str = include_str!("../../filters/strict.json");

fn engines() -> Vec<Engine> {
    [DEFAULT, STRICT]
        .iter()
        .map(|p| Engine::from_json(p).expect("shipped policy is valid"))
        .collect()
}

thread_local! {
    static ENGINES: RefCell<Vec<Engine>> = RefCell::new(engines());
}

fn run(engines: &mut [Engine], text: &str) {
    let mut fast = traffic::LineDecoder::new();
    for line in text.lines() {
        if let Some(d) = traffic::decoders_disagree(&mut fast, line) {
            panic!("{d}: {line:?}");
        }
        let Ok(decoded) = traffic::parse_line(line) else { continue };
        for engine in engines.iter_mut() {
            let req = decoded.request(engine.body_limit());
            let _ = engine.wants_body(req.path);
            let v = engine.inspect(&req);
            let _ = respond::respond(&v, engine.policy(), 0);
            let _ = (v.reason_codes(), v.hfp_hex());
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if std::env::var_os("DG_FUZZ_FRESH_ENGINE").is_some() {
        run(&mut engines(), &text);
    } else {
        ENGINES.with(|e| run(&mut e.borrow_mut(), &text));
    }
});
