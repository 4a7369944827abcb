//! Fuzz target: the request path the hosts run, from a host's own bytes to what it applies.
//!
//! Input: a selector byte, a little-endian `u16` head length, the head, then the body.
//! Selector bit 0 picks the host shape: 0, the edge worker's packed head text
//! (`host::packed::parse_head`, invalid UTF-8 replaced as JS strings would); 1, Envoy's
//! serialized header map (`host::envoy::wire::parse_pairs`, pseudo-headers included).
//! Bits 1-2 pick the engine (the shipped default policy, the strict one, or the default
//! holding every API body for a 1 KB prefix), bit 3 cuts the body (the client went away),
//! bits 4-7 the size of the chunks it arrives in (64..1024 bytes).
//!
//! Each request takes the engine's two phases as the host does: `inspect_headers`, then
//! for a held request the buffered prefix (Envoy's `on_body` rule) through `inspect_body`,
//! for one decided at its headers the prefix read as it streams past (Envoy's
//! `PrefixReader`) through `learn_body`; the verdict becomes the edge worker's outcome text
//! or Envoy's response. Asserts what the hosts rely on: the outcome text parses as
//! `edge/worker.mjs` reads it (no field spans lines), a prefix is the body's first bytes
//! within the limit, and a parked request's body phase gives a verdict. The engines persist
//! across inputs (their bounded state sees millions of requests); DG_FUZZ_FRESH_ENGINE=1
//! builds them per input.
#![no_main]

use std::cell::RefCell;

use distill_guard::engine::Decision;
use distill_guard::host::envoy::wire::{self, PrefixReader, Step};
use distill_guard::host::packed;
use distill_guard::{respond, Action, Engine, HttpVersion, Peer, Request, Verdict};
use libfuzzer_sys::fuzz_target;

const DEFAULT: &str = include_str!("../../filters/default.json");
const STRICT: &str = include_str!("../../filters/strict.json");
const T0: u64 = 1_745_280_000_000;

fn engines() -> Vec<Engine> {
    let hold_all = DEFAULT.replacen("\"max_bytes\": 65536", "\"max_bytes\": 1024, \"inspect\": \"always\"", 1);
    assert_ne!(hold_all, DEFAULT, "filters/default.json changed: update the fuzz target's edit");
    [DEFAULT, STRICT, hold_all.as_str()].iter().map(|p| Engine::from_json(p).expect("valid policy")).collect()
}

thread_local! {
    static ENGINES: RefCell<(Vec<Engine>, u64)> = RefCell::new((engines(), 0));
}

/// An outcome text as `edge/worker.mjs` splits it: kind, status, ticket, body, log line, the
/// count of names to delete, those names, then name / value pairs.
fn check_outcome(out: &str, held: bool) {
    let lines: Vec<&str> = out.split('\n').collect();
    assert!(lines.len() >= 6, "outcome of {} lines: {out:?}", lines.len());
    match lines[0] {
        "hold" => assert!(held && lines.len() == 6, "unexpected hold: {out:?}"),
        "forward" | "reply" => assert!(!held, "a held request's first outcome is a hold: {out:?}"),
        k => panic!("outcome kind {k:?}: {out:?}"),
    }
    let status: u16 = lines[1].parse().expect("status");
    let _ticket: u32 = lines[2].parse().expect("ticket");
    let deletes: usize = lines[5].parse().expect("delete count");
    assert!(lines.len() >= 6 + deletes && (lines.len() - 6 - deletes) % 2 == 0, "pairs do not pair up: {out:?}");
    assert!(lines[0] != "reply" || status >= 400, "a reply's status: {out:?}");
}

/// What the host applies for a verdict, and the edge worker's outcome text of it.
fn apply(engine: &mut Engine, v: &Verdict, forged: &[&str], ticket: u32) {
    let _ = respond::respond(v, engine.policy(), 7);
    let mut out = packed::outcome(v, engine.policy(), 7, forged, None, ticket);
    if let Some((notice, _)) = engine.take_notice() {
        packed::with_notice(&mut out, &notice);
    }
    check_outcome(&out, false);
    assert!(v.score <= 100);
}

/// The two phases: the body arrives in chunks of `chunk` bytes, `cut` if the client went away.
fn phases(engine: &mut Engine, req: &Request, body: &[u8], cut: bool, chunk: usize, forged: &[&str]) {
    let limit = engine.body_limit();
    match engine.inspect_headers(req, !body.is_empty()) {
        Decision::Final { verdict, learn } => {
            let ticket = u32::from(learn.is_some() && verdict.enforced <= Action::Tag);
            apply(engine, &verdict, forged, ticket);
            let Some(learn) = learn else { return };
            // Envoy's reading as the body streams past: each chunk forwarded, the prefix kept.
            let mut reader = PrefixReader::new(limit);
            let mut chunks = body.chunks(chunk).peekable();
            while let Some(c) = chunks.next() {
                let take = reader.take(c.len());
                if take > 0 {
                    reader.push(c[..take].to_vec());
                }
                let end = chunks.peek().is_none() && !cut;
                if let Some(complete) = reader.ready(end) {
                    assert!(reader.bytes().len() <= limit && body.starts_with(reader.bytes()));
                    assert!(!complete || reader.bytes() == body);
                    engine.learn_body(&learn, reader.bytes(), complete);
                    return;
                }
            }
            // Cut: the stream ended without its end (Envoy's trailers or a reset): learn what came.
            let complete = reader.ready(true).unwrap_or(false) && !cut;
            engine.learn_body(&learn, reader.bytes(), complete);
        }
        Decision::NeedBody(held) => {
            check_outcome(&packed::hold(1), true);
            // Envoy buffers until the end or the limit (`on_body`), then decides on the prefix.
            let mut buffered = 0;
            let mut complete = false;
            for (i, c) in body.chunks(chunk).enumerate() {
                buffered += c.len();
                let end = (i + 1) * chunk >= body.len() && !cut;
                if wire::on_body(buffered, limit, end) == Step::Decide {
                    complete = end && buffered <= limit;
                    break;
                }
            }
            let (prefix, complete) = packed::prefix(&body[..buffered.min(body.len())], complete || body.is_empty(), limit);
            let v = engine.inspect_body(held, prefix, complete);
            apply(engine, &v, forged, 0);
        }
    }
}

fn edge(engine: &mut Engine, head: &[u8], body: &[u8], cut: bool, chunk: usize, now_ms: u64) {
    let text = String::from_utf8_lossy(head);
    let h = match packed::parse_head(&text) {
        Ok(h) => h,
        Err(msg) => {
            let v = engine.internal_error();
            let out = packed::outcome(&v, engine.policy(), 7, &[], Some(&msg), 0);
            check_outcome(&out, false);
            return;
        }
    };
    let forged = packed::forged_names(&h.headers, &engine.policy().output.header_prefix);
    let asn = (now_ms % 7 != 0).then_some(64_500 + (now_ms % 5) as u32);
    let req = packed::request(h, &[], body.is_empty(), 0, asn, now_ms);
    phases(engine, &req, body, cut, chunk, &forged);
}

fn envoy(engine: &mut Engine, head: &[u8], body: &[u8], cut: bool, chunk: usize, now_ms: u64) {
    let Some(headers) = wire::parse_pairs(head) else { return };
    let path = wire::find_value(head, b":path");
    assert_eq!(path, headers.iter().find(|h| h.name == b":path").map(|h| h.value), "find_value disagrees with parse_pairs");
    let prefix = engine.policy().output.header_prefix.clone();
    let forged: Vec<String> = wire::forged_tag_names(&headers, &prefix).iter().map(|n| String::from_utf8_lossy(n).into_owned()).collect();
    let forged: Vec<&str> = forged.iter().map(String::as_str).collect();
    let ip = wire::parse_socket_addr(format!("203.0.113.{}:443", now_ms % 251).as_bytes());
    let peer = Peer { ip, ja4: None, ja3: None, asn: None, country: None };
    let _ = wire::reference_id(engine.policy(), wire::find_value(head, b"x-request-id"), now_ms, now_ms);
    let req = wire::build_request(headers, &[], body.is_empty(), peer, HttpVersion::Http11, now_ms);
    phases(engine, &req, body, cut, chunk, &forged);
}

fn run(engines: &mut [Engine], n: u64, data: &[u8]) {
    let Some((&sel, rest)) = data.split_first() else { return };
    let Some((len, rest)) = rest.split_first_chunk::<2>() else { return };
    let (head, body) = rest.split_at((u16::from_le_bytes(*len) as usize).min(rest.len()));
    let engine = &mut engines[((sel >> 1) & 3) as usize % engines.len()];
    let (cut, chunk) = (sel & 8 != 0, 64 * (1 + (sel >> 4) as usize));
    // A second per input: the windows of the state move as inputs go by.
    let now_ms = T0 + n * 1000;
    if sel & 1 == 0 {
        edge(engine, head, body, cut, chunk, now_ms);
    } else {
        envoy(engine, head, body, cut, chunk, now_ms);
    }
}

fuzz_target!(|data: &[u8]| {
    if std::env::var_os("DG_FUZZ_FRESH_ENGINE").is_some() {
        run(&mut engines(), 0, data);
    } else {
        ENGINES.with(|e| {
            let (engines, n) = &mut *e.borrow_mut();
            *n += 1;
            run(engines, *n, data);
        });
    }
});
