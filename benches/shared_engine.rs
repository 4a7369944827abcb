//! One engine shared by threads behind a lock, as the native Envoy filter shares it between
//! Envoy's worker threads: how long a legitimate 4 KB POST holds the lock, and the throughput
//! of one and of several threads, with the request read inside the lock
//! (`Engine::inspect_headers` and `Engine::learn_body` under it) and outside it, as the filter
//! does (`Reader::headers` and `Reader::facts` without the lock, then
//! `Engine::decide_headers` and `Engine::learn_facts` under it).
//!
//! Load: the Envoy load bench's `post` shape (`benches/envoy/load.lua`): the official Python
//! SDK's headers, 100,000 accounts each with its own address, and a ~3.9 KB prompt of
//! pseudo-words (8,192 texts), with `filters/default.json`; every request is allowed and its
//! body learned. Only the engine's work is timed: the filter's host calls (reading Envoy's
//! header map, adding the tag headers) are not part of it, so the lock times here are a lower
//! bound of the filter's.
//!
//! Run: `cargo bench --bench shared_engine -- [--threads N] [--seconds S] [--rounds R]`
//! (defaults: 2 threads, 2 s, 3 rounds; the modes alternate within each round, medians
//! printed). Throughput is wall-clock requests per second: a ratio between the modes of one
//! run is what it shows.

use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use distill_guard::engine::{Decision, Reader};
use distill_guard::{Action, Engine, Header, HttpVersion, Request};

const ACCOUNTS: u64 = 100_000;
const BODIES: usize = 8192;

/// The Python SDK's POST headers (tests/data/clients.json, anthropic-sdk-python, wire order).
const HEADERS: &[(&str, &str)] = &[
    ("host", "api.example.com"),
    ("accept-encoding", "gzip, deflate"),
    ("connection", "keep-alive"),
    ("x-stainless-timeout", "600"),
    ("x-stainless-retry-count", "0"),
    ("x-stainless-read-timeout", "600"),
    ("accept", "application/json"),
    ("content-type", "application/json"),
    ("user-agent", "Anthropic/Python 2.14.0"),
    ("x-stainless-lang", "python"),
    ("x-stainless-package-version", "2.14.0"),
    ("x-stainless-os", "Linux"),
    ("x-stainless-arch", "x64"),
    ("x-stainless-runtime", "CPython"),
    ("x-stainless-runtime-version", "3.11.7"),
];

struct Load {
    tokens: Vec<String>,
    bodies: Vec<String>,
    lengths: Vec<String>,
}

/// A small deterministic generator (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

impl Load {
    fn new() -> Self {
        let mut rng = Rng(42);
        let vocab: Vec<String> = (0..4000)
            .map(|_| {
                let n = 3 + rng.next() % 7;
                (0..n).map(|_| (b'a' + (rng.next() % 26) as u8) as char).collect()
            })
            .collect();
        let bodies: Vec<String> = (0..BODIES)
            .map(|_| {
                let mut text = String::with_capacity(4000);
                while text.len() < 3900 {
                    if !text.is_empty() {
                        text.push(' ');
                    }
                    text.push_str(&vocab[(rng.next() % vocab.len() as u64) as usize]);
                }
                format!(r#"{{"model":"claude-sonnet-4-5","max_tokens":4096,"temperature":0.2,"system":"You are a helpful assistant.","messages":[{{"role":"user","content":"{text}"}}]}}"#)
            })
            .collect();
        let lengths = bodies.iter().map(|b| b.len().to_string()).collect();
        let tokens = (0..ACCOUNTS).map(|a| format!("Bearer sk-ant-api03-{a:08x}-bench")).collect();
        Load { tokens, bodies, lengths }
    }

    /// Request `i`: account `i % ACCOUNTS`, body `i % BODIES`.
    fn request(&self, i: u64) -> Request<'_> {
        let a = (i % ACCOUNTS) as usize;
        let b = (i % BODIES as u64) as usize;
        let mut r = Request::new();
        r.method = b"POST";
        r.path = b"/v1/messages";
        r.version = HttpVersion::Http11;
        r.headers = HEADERS.iter().map(|(n, v)| Header::new(n, v)).collect();
        r.headers.push(Header::new("content-length", &self.lengths[b]));
        r.headers.push(Header::new("x-stainless-async", "false"));
        r.headers.push(Header::new("anthropic-version", "2026-10-21"));
        r.headers.push(Header::new("authorization", &self.tokens[a]));
        r.body = self.bodies[b].as_bytes();
        r.peer.ip = Some(IpAddr::V4(Ipv4Addr::new(20 + (a >> 16) as u8, (a >> 8) as u8, a as u8, 7)));
        r.now_ms = 1_700_000_000_000 + i / 20;
        r
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    /// The headers and the body read under the lock.
    Inside,
    /// The headers and the body read outside the lock; the state work under it.
    Outside,
}

impl Mode {
    fn label(self) -> &'static str {
        match self {
            Mode::Inside => "request read inside the lock (inspect_headers, learn_body)",
            Mode::Outside => "request read outside the lock (Reader; decide_headers, learn_facts inside)",
        }
    }
}

/// One request through the shared engine; returns the time from asking for the lock to
/// releasing it, summed over its two sections (with one thread: the time holding it).
fn one(engine: &Mutex<Engine>, reader: &Reader, mode: Mode, req: &Request) -> Duration {
    let (decision, mut held) = match mode {
        Mode::Inside => {
            let t = Instant::now();
            let d = engine.lock().unwrap().inspect_headers(req, true);
            (d, t.elapsed())
        }
        Mode::Outside => {
            let read = reader.headers(req, true);
            let t = Instant::now();
            let d = engine.lock().unwrap().decide_headers(read);
            (d, t.elapsed())
        }
    };
    let Decision::Final { verdict, learn: Some(learn) } = decision else { panic!("every bench request is decided at its headers and learned") };
    assert!(verdict.enforced == Action::Allow, "every bench request is allowed");
    match mode {
        Mode::Inside => {
            let t = Instant::now();
            engine.lock().unwrap().learn_body(&learn, req.body, true);
            held += t.elapsed();
        }
        Mode::Outside => {
            let facts = reader.facts(&learn, req.body, true);
            let t = Instant::now();
            engine.lock().unwrap().learn_facts(&learn, facts);
            held += t.elapsed();
        }
    }
    held
}

/// `threads` threads sending requests through `engine` for `seconds`: (requests per second,
/// µs in the lock per request: holding it, and with several threads waiting for it too).
fn run(load: &Arc<Load>, engine: &Arc<Mutex<Engine>>, reader: &Reader, mode: Mode, threads: usize, seconds: f64, next: &Arc<AtomicU64>) -> (f64, f64) {
    let stop = Arc::new(AtomicBool::new(false));
    let start = Instant::now();
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let (load, engine, reader, stop, next) = (Arc::clone(load), Arc::clone(engine), reader.clone(), Arc::clone(&stop), Arc::clone(next));
            std::thread::spawn(move || {
                let (mut n, mut held) = (0u64, Duration::ZERO);
                while !stop.load(Ordering::Relaxed) {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    held += black_box(one(&engine, &reader, mode, &load.request(i)));
                    n += 1;
                }
                (n, held)
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs_f64(seconds));
    stop.store(true, Ordering::Relaxed);
    let (mut n, mut held) = (0u64, Duration::ZERO);
    for h in handles {
        let (a, b) = h.join().unwrap();
        n += a;
        held += b;
    }
    (n as f64 / start.elapsed().as_secs_f64(), held.as_secs_f64() * 1e6 / n.max(1) as f64)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let mut args = std::env::args().skip(1);
    let (mut threads, mut seconds, mut rounds) = (2usize, 2.0f64, 3usize);
    while let Some(a) = args.next() {
        let mut value = || args.next().and_then(|v| v.parse::<f64>().ok()).unwrap_or_else(|| panic!("{a} needs a number"));
        match a.as_str() {
            "--threads" => threads = value() as usize,
            "--seconds" => seconds = value(),
            "--rounds" => rounds = value() as usize,
            "--bench" => {}
            other => panic!("unknown argument {other} (--threads N --seconds S --rounds R)"),
        }
    }
    let load = Arc::new(Load::new());
    let policy = include_str!("../filters/default.json");
    let engine = Arc::new(Mutex::new(Engine::from_json(policy).expect("filters/default.json")));
    let reader = engine.lock().unwrap().reader();
    let next = Arc::new(AtomicU64::new(0));
    // Warm-up: every account seen once, so that both modes meet the same state.
    run(&load, &engine, &reader, Mode::Outside, 1, seconds, &next);
    let modes = [Mode::Inside, Mode::Outside];
    let mut results: Vec<[Vec<f64>; 3]> = modes.iter().map(|_| [Vec::new(), Vec::new(), Vec::new()]).collect();
    for round in 0..rounds {
        for (m, &mode) in modes.iter().enumerate() {
            let (one_rps, held) = run(&load, &engine, &reader, mode, 1, seconds, &next);
            let (many_rps, _) = run(&load, &engine, &reader, mode, threads, seconds, &next);
            eprintln!("round {}: {}: 1 thread {one_rps:.0} req/s, {held:.2} us in the lock per request; {threads} threads {many_rps:.0} req/s", round + 1, mode.label());
            results[m][0].push(held);
            results[m][1].push(one_rps);
            results[m][2].push(many_rps);
        }
    }
    println!("\n{} threads, {seconds} s per run, median of {rounds} rounds:\n", threads);
    println!("| mode | µs in the lock per request | req/s, 1 thread | req/s, {threads} threads | {threads} threads / 1 |");
    println!("|---|---:|---:|---:|---:|");
    for (m, mode) in modes.iter().enumerate() {
        let [held, one, many] = results[m].clone();
        let (held, one, many) = (median(held), median(one), median(many));
        println!("| {} | {held:.2} | {one:.0} | {many:.0} | {:.2} |", mode.label(), many / one);
    }
}
