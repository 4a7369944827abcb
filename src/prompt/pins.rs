//! Pinned outputs of the prompt view: the normalized text, token starts, SimHash, skeleton
//! hash and markers of a diverse set of texts and bodies must stay bit-identical across
//! speed work (templates are compared across nodes, versions and hosts).
//!
//! Inputs: the bodies of `tests/data/golden_requests.jsonl`, the bench texts of
//! `benches/prompt_texts/` (alone and as bodies), agent-loop bodies of the three APIs (whole,
//! their tasks, and cut), the template test prompts, edge cases, and
//! 8,192 seeded random texts built from fragments that hit every normalization rule.
//! Expected values live in `src/prompt/pins.txt`; `DG_BLESS_PINS=1` rewrites that file (only
//! for a deliberate output change, which breaks stored templates).

use super::agent_tests::{AGENT_ANTHROPIC, AGENT_CHAT, AGENT_RESPONSES, ANTHROPIC_LOOP, CHAT_LOOP, RESPONSES_LOOP};
use super::tests::{NEAR, UNRELATED};
use super::*;
use xxhash_rust::xxh3::Xxh3;

const PROSE_EN: &str = include_str!("../../benches/prompt_texts/prose_en.txt");
const MIXED: &str = include_str!("../../benches/prompt_texts/mixed.txt");
const RU_ZH: &str = include_str!("../../benches/prompt_texts/ru_zh.txt");
const GOLDEN: &str = include_str!("../../tests/data/golden_requests.jsonl");
const PINS: &str = include_str!("pins.txt");

/// Fragments the random texts are built from: every byte class, mask, quote kind, joiner,
/// case, script and marker phrase the normalizer distinguishes, plus broken UTF-8.
const FRAGS: &[&[u8]] = &[
    b" ", b" ", b" ", b"  ", b"\n", b"\n\n", b"\t", b"\r\n", b".", b". ", b", ", b"!", b"?", b":", b";", b"(", b")", b"[", b"]",
    b"{", b"}", b"*", b"#", b">", b"|", b"-", b"--", b"/", b"\\", b"@", b"%", b"+", b"=", b"&", b"~", b"_", b"'", b"\"", b"`",
    b"```", b"``", b"the", b"and", b"of", b"reasoning", b"step", b"by", b"think", b"rubric", b"grade", b"response",
    b"The", b"Alice", b"Bob", b"NASA", b"HTTP", b"parseConfig", b"user_id", b"x86_64", b"42", b"3.14", b"1,000", b"0x1F",
    b"deadbeef", b"3f2a9c1d0e", b"abcdef12", b"ABCDEF123", b"https://ex.com/a?b=1", b"www.x.org", b"bob@mail.example.com",
    b"src/main.rs", b"/etc/hosts", b"~/x", b"a/b/c", b"and/or", b"C:\\dir\\f.txt", b"..", b"./run", b"e.g.", b"i.e.",
    b"don't", b"it's", b"'quoted'", b"\"a string\"", b"`code`", b"```rust\nfn main() {}\n```", b"aVeryLongIdentifierNameThatGoesOnAndOnPastFortyEightBytes",
    "«".as_bytes(), "»".as_bytes(), "“".as_bytes(), "”".as_bytes(), "„".as_bytes(), "‘".as_bytes(), "’".as_bytes(),
    "「".as_bytes(), "」".as_bytes(), "『".as_bytes(), "』".as_bytes(), "…".as_bytes(), "。".as_bytes(), "！".as_bytes(),
    "（".as_bytes(), "：".as_bytes(), "？".as_bytes(), "—".as_bytes(), "×".as_bytes(), "÷".as_bytes(), "¿".as_bytes(),
    "Москва".as_bytes(), "Иван".as_bytes(), "ПОЖАЛУЙСТА".as_bytes(), "пошагово".as_bytes(), "рассуждения".as_bytes(),
    "шаг за шагом".as_bytes(), "Ёлка".as_bytes(), "ёж".as_bytes(), "Ѐ".as_bytes(), "Rúbrica".as_bytes(), "ÁRBOL".as_bytes(),
    "ñ".as_bytes(), "Ü".as_bytes(), "ß".as_bytes(), "Ø".as_bytes(), "café".as_bytes(), "naïve".as_bytes(), "Œuvre".as_bytes(),
    "逐步思考".as_bytes(), "评分标准".as_bytes(), "中文".as_bytes(), "カタカナ".as_bytes(), "한국어".as_bytes(), "𠀀".as_bytes(),
    "😀".as_bytes(), "👍🏽".as_bytes(), "\u{200b}".as_bytes(), "\u{feff}".as_bytes(), "\u{a0}".as_bytes(), "ﬁ".as_bytes(),
    "ǅ".as_bytes(), "Ω".as_bytes(), "ω".as_bytes(), "א".as_bytes(), "ع".as_bytes(), "ก".as_bytes(), "ä".as_bytes(),
    b"\xff", b"\xc3", b"\xe4\xb8", b"\xf0\x9f\x98", b"\xed\xa0\x80", b"\xc0\xaf", b"\x00", b"\x7f", b"\x0b",
    b"think step by step", b"show your work", b"chain of thought", b"grade the response", b"according to the rubric",
    b"score from 1 to 10", b"paso a paso", "критерии оценки".as_bytes(), "一步一步".as_bytes(),
];

/// A seeded xorshift (tests only).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Random text `seed`: fragments, with now and then raw random bytes.
fn random_text(seed: u64) -> Vec<u8> {
    let mut r = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let len = [8, 40, 200, 1500][r.below(4)];
    let mut t = Vec::new();
    for _ in 0..r.below(len) + 1 {
        if r.below(40) == 0 {
            t.push(r.next() as u8);
        } else {
            t.extend_from_slice(FRAGS[r.below(FRAGS.len())]);
        }
    }
    t
}

/// One line describing everything the prompt view derives from one text.
fn text_line(name: &str, text: &[u8]) -> String {
    let (mut norm, mut starts) = (Vec::new(), Vec::new());
    let p = fingerprint(text, 6, &mut norm, &mut starts);
    let (mut norm2, mut starts2) = (Vec::new(), Vec::new());
    let n = normalize::normalize(text, &mut norm2, &mut starts2);
    assert_eq!((&norm, &starts, n), (&norm2, &starts2, p.tokens as usize), "{name}: normalize and fingerprint agree");
    assert_eq!(markers::find(&norm, &starts), p.markers, "{name}: streaming and batch markers agree");
    if let Some(t) = p.template {
        assert_eq!(simhash::simhash(&norm, &starts), t, "{name}: streaming and batch SimHash agree");
    }
    let mut h = Xxh3::new();
    h.update(&norm);
    for s in &starts {
        h.update(&s.to_le_bytes());
    }
    format!(
        "{name} tokens={} norm={:016x} template={:?} skeleton={:?} cot={} rubric={}",
        p.tokens,
        h.digest(),
        p.template.map(|t| format!("{t:016x}")),
        p.skeleton.map(|t| format!("{t:016x}")),
        p.markers.cot,
        p.markers.rubric
    )
}

/// One line describing a body's scan.
fn body_line(name: &str, body: &[u8]) -> String {
    let mut fired = Fired::default();
    let mut s = Scratch::default();
    let v = scan_with(body, true, &PromptConfig::default(), &mut fired, &mut s);
    let mut h = Xxh3::new();
    h.update(&s.user);
    h.update(&[0xff]);
    h.update(&s.system);
    format!("{name} texts={:016x} fired={:016x} {v:?}", h.digest(), xxhash_rust::xxh3::xxh3_64(format!("{fired:?}").as_bytes()))
}

fn lines() -> Vec<String> {
    let mut out = Vec::new();
    for (k, line) in GOLDEN.lines().enumerate() {
        let rec: serde_json::Value = serde_json::from_str(line).unwrap_or_default();
        if let Some(body) = rec.get("body").and_then(|b| b.as_str()) {
            out.push(body_line(&format!("golden{k}"), body.as_bytes()));
            let mut s = Scratch::default();
            scan_with(body.as_bytes(), true, &PromptConfig::default(), &mut Fired::default(), &mut s);
            out.push(text_line(&format!("golden{k}.user"), &s.user));
            out.push(text_line(&format!("golden{k}.system"), &s.system));
        }
    }
    for (name, text) in [("prose_en", PROSE_EN), ("mixed", MIXED), ("ru_zh", RU_ZH)] {
        out.push(text_line(name, text.as_bytes()));
        let json = serde_json::to_string(text).unwrap_or_default();
        let body = format!(r#"{{"model":"m","max_tokens":4096,"system":{json},"messages":[{{"role":"user","content":{json}}}]}}"#);
        out.push(body_line(&format!("{name}.body"), body.as_bytes()));
        for cut in [100, 1000, 2500] {
            out.push(body_line(&format!("{name}.cut{cut}"), body.as_bytes().get(..cut).unwrap_or(&[])));
        }
    }
    // Agent loops: the body, its task text, and cuts through its history and tools.
    let agents = [
        ("agent_anthropic", AGENT_ANTHROPIC),
        ("agent_chat", AGENT_CHAT),
        ("agent_responses", AGENT_RESPONSES),
        ("anthropic_loop", ANTHROPIC_LOOP),
        ("chat_loop", CHAT_LOOP),
        ("responses_loop", RESPONSES_LOOP),
    ];
    for (name, body) in agents {
        out.push(body_line(name, body.as_bytes()));
        let mut s = Scratch::default();
        scan_with(body.as_bytes(), true, &PromptConfig::default(), &mut Fired::default(), &mut s);
        out.push(text_line(&format!("{name}.task"), s.task_text().as_bytes()));
        for quarter in 1..4 {
            let cut = body.len() * quarter / 4;
            out.push(body_line(&format!("{name}.cut{cut}"), body.as_bytes().get(..cut).unwrap_or(&[])));
        }
    }
    for (k, (a, b)) in NEAR.iter().enumerate() {
        out.push(text_line(&format!("near{k}a"), a.as_bytes()));
        out.push(text_line(&format!("near{k}b"), b.as_bytes()));
    }
    for (k, t) in UNRELATED.iter().enumerate() {
        out.push(text_line(&format!("unrelated{k}"), t.as_bytes()));
    }
    let long = PROSE_EN.repeat(20);
    out.push(text_line("prose_x20", long.as_bytes()));
    for (k, t) in ["", "a", "A", "'", "`", "```", "\"", "«", "x\u{2018}y\u{2019}", "\u{2018}q\u{2019} z", " 'a'b c", "Ab. Cd Ef"].iter().enumerate() {
        out.push(text_line(&format!("edge{k}"), t.as_bytes()));
    }
    // Random texts: one line per block of 64, so the file stays short.
    let mut seen = [0usize; 4];
    for block in 0..128u64 {
        let mut h = Xxh3::new();
        for seed in block * 64..block * 64 + 64 {
            let line = text_line("", &random_text(seed));
            for (k, what) in ["template=Some", "cot=true", "rubric=true", "template=None"].iter().enumerate() {
                seen[k] += line.contains(what) as usize;
            }
            h.update(line.as_bytes());
        }
        out.push(format!("random{block} {:016x}", h.digest()));
    }
    assert!(seen.iter().all(|&n| n >= 50), "the random texts reach every output: {seen:?}");
    out
}

#[test]
fn outputs_are_pinned() {
    let got = lines();
    if std::env::var_os("DG_BLESS_PINS").is_some_and(|v| v == "1") {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/src/prompt/pins.txt");
        std::fs::write(path, got.join("\n") + "\n").unwrap();
        return;
    }
    let want: Vec<&str> = PINS.lines().collect();
    for (k, g) in got.iter().enumerate() {
        assert_eq!(Some(&g.as_str()), want.get(k), "pinned output {k} changed");
    }
    assert_eq!(got.len(), want.len(), "number of pinned outputs");
}
