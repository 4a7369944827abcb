//! Criterion benches of the core: header-only request, 4 KB and 64 KB Messages bodies, with
//! and without cross-request state. Each iteration varies the account, client IP and time so
//! the state tables see realistic churn rather than one hot key.
//!
//! The requests have a real client's shape (the `node-fetch-builtin-post` entry of tests/data/clients.json,
//! Node's built-in fetch: 11 headers on a POST, 9 on a GET), each of the 4,096 accounts its own
//! address and, on POSTs, its own prompt instruction (256 distinct bodies), so the default
//! policy allows them: the benches measure the common allow path. Each case prints its verdict
//! mix once before it is measured.
//!
//! Times are the bench thread's CPU time (Linux `clock_gettime(CLOCK_THREAD_CPUTIME_ID)`), so
//! that other jobs on a shared machine do not count; wall time on other systems or with
//! `DG_BENCH_WALL=1`.

use criterion::measurement::{Measurement, ValueFormatter, WallTime};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use distill_guard::{Action, Engine, Header, HttpVersion, Request};
use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

const ACCOUNTS: u64 = 4096;
const BODIES: usize = 256;

/// A Messages body of about `size` bytes: a coding prompt (instruction `variant`) padded with a
/// code block.
pub fn messages_body(size: usize, variant: u32) -> String {
    const WORDS: [&str; 16] = ["add", "cache", "check", "clean", "error", "index", "join", "limit", "merge", "order", "parse", "query", "retry", "sort", "table", "update"];
    let mut s = String::with_capacity(size + 64);
    s.push_str(r#"{"model":"claude-sonnet-4-5","max_tokens":4096,"temperature":0.2,"system":"You are a senior engineer.","messages":[{"role":"user","content":"Please"#);
    let mut x = variant.wrapping_mul(2_654_435_761) | 1;
    for _ in 0..12 {
        x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        s.push(' ');
        s.push_str(WORDS[(x >> 16) as usize % WORDS.len()]);
    }
    s.push_str(".\\n```python\\n");
    let tail = "\n```\"}]}";
    let line = "    rows = db.query(\"SELECT id, name FROM users WHERE org_id = %s\", org_id)\\n";
    while s.len() + line.len() + tail.len() < size {
        s.push_str(line);
    }
    s.push_str(tail);
    s
}

/// The headers Node's fetch sends (captured, wire order), with a body of `body_len` bytes or none.
pub fn client_headers(key: &str, body_len: Option<usize>) -> Vec<(String, String)> {
    let mut h: Vec<(String, String)> = [
        ("host", "api.example.com"),
        ("connection", "keep-alive"),
        ("x-api-key", key),
        ("anthropic-version", "2023-06-01"),
        ("content-type", "application/json"),
        ("accept", "*/*"),
        ("accept-language", "*"),
        ("sec-fetch-mode", "cors"),
        ("user-agent", "node"),
        ("accept-encoding", "gzip, deflate"),
    ]
    .iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect();
    match body_len {
        Some(n) => h.push(("content-length".into(), n.to_string())),
        None => {
            h.remove(4);
        }
    }
    h
}

/// Account `a`'s address: its own /24 in most cases.
fn address(a: u64) -> IpAddr {
    let h = (a.wrapping_mul(2_654_435_761) & 0xFFFF_FFFF) as u32;
    IpAddr::V4(Ipv4Addr::new(10 + (h % 200) as u8, (h >> 8) as u8, (h >> 16) as u8, 1 + ((h >> 24) % 254) as u8))
}

struct Case {
    keys: Vec<String>,
    headers: Vec<Vec<(String, String)>>,
    bodies: Vec<String>,
}

impl Case {
    fn new(size: usize) -> Self {
        let keys: Vec<String> = (0..ACCOUNTS).map(|i| format!("sk-ant-api03-{i:08x}-bench")).collect();
        let bodies: Vec<String> = if size == 0 { vec![String::new()] } else { (0..BODIES as u32).map(|v| messages_body(size, v)).collect() };
        let headers = keys
            .iter()
            .enumerate()
            .map(|(a, k)| client_headers(k, (size > 0).then(|| bodies[a % bodies.len()].len())))
            .collect();
        Case { keys, headers, bodies }
    }

    fn request(&self, i: u64) -> Request<'_> {
        let a = i % ACCOUNTS;
        let post = self.bodies.len() > 1;
        let mut r = Request::new();
        r.method = if post { b"POST" } else { b"GET" };
        r.path = if post { b"/v1/messages" } else { b"/v1/models" };
        r.version = HttpVersion::Http11;
        r.headers = self.headers[a as usize].iter().map(|(n, v)| Header::new(n, v)).collect();
        r.body = self.bodies[a as usize % self.bodies.len()].as_bytes();
        r.peer.ip = Some(address(a));
        r.peer.asn = Some(64500 + (a as u32 * 7) % 3000);
        r.now_ms = 1_700_000_000_000 + i * 3;
        r
    }
}

/// CPU time of the bench thread, or wall time (see the module doc).
struct CpuTime {
    wall: WallTime,
    use_wall: bool,
}

impl CpuTime {
    fn new() -> Self {
        let use_wall = std::env::var_os("DG_BENCH_WALL").is_some_and(|v| v == "1") || thread_cpu().is_none();
        eprintln!("engine bench: measuring {}", if use_wall { "wall time" } else { "thread CPU time" });
        CpuTime { wall: WallTime, use_wall }
    }
}

#[cfg(all(target_os = "linux", target_pointer_width = "64"))]
fn thread_cpu() -> Option<Duration> {
    #[repr(C)]
    struct Timespec {
        sec: i64,
        nsec: i64,
    }
    extern "C" {
        fn clock_gettime(clock: i32, ts: *mut Timespec) -> i32;
    }
    const CLOCK_THREAD_CPUTIME_ID: i32 = 3;
    let mut ts = Timespec { sec: 0, nsec: 0 };
    // SAFETY: `ts` is a valid, writable timespec (two 64-bit fields on 64-bit Linux).
    let rc = unsafe { clock_gettime(CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    (rc == 0).then(|| Duration::new(ts.sec as u64, ts.nsec as u32))
}

#[cfg(not(all(target_os = "linux", target_pointer_width = "64")))]
fn thread_cpu() -> Option<Duration> {
    None
}

impl Measurement for CpuTime {
    type Intermediate = (Instant, Option<Duration>);
    type Value = Duration;

    fn start(&self) -> Self::Intermediate {
        (Instant::now(), if self.use_wall { None } else { thread_cpu() })
    }
    fn end(&self, (t, cpu): Self::Intermediate) -> Duration {
        match (cpu, thread_cpu()) {
            (Some(a), Some(b)) if !self.use_wall => b.saturating_sub(a),
            _ => t.elapsed(),
        }
    }
    fn add(&self, a: &Duration, b: &Duration) -> Duration {
        *a + *b
    }
    fn zero(&self) -> Duration {
        Duration::ZERO
    }
    fn to_f64(&self, v: &Duration) -> f64 {
        v.as_nanos() as f64
    }
    fn formatter(&self) -> &dyn ValueFormatter {
        self.wall.formatter()
    }
}

fn bench(c: &mut Criterion<CpuTime>) {
    let mut group = c.benchmark_group("inspect");
    for (name, size) in [("headers_only", 0usize), ("body_4k", 4096), ("body_64k", 65536)] {
        let case = Case::new(size);
        assert_eq!(case.keys.len() as u64, ACCOUNTS);
        for state in [true, false] {
            let policy = format!(r#"{{"state": {{"enabled": {state}}}}}"#);
            let id = format!("{name}/{}", if state { "state" } else { "stateless" });
            // The verdict mix on a fresh engine, for the record.
            let mut engine = Engine::from_json(&policy).unwrap();
            let mut mix = [0u64; 4];
            for i in 0..20_000 {
                mix[engine.inspect(&case.request(i)).action as usize] += 1;
            }
            let mix: Vec<String> = Action::ALL.iter().map(|a| format!("{} {}", a.as_str(), mix[*a as usize])).collect();
            eprintln!("inspect/{id}: verdicts of 20,000 requests: {}", mix.join(", "));

            let mut engine = Engine::from_json(&policy).unwrap();
            group.throughput(Throughput::Elements(1));
            group.bench_function(BenchmarkId::from_parameter(id), |b| {
                let mut i: u64 = 0;
                b.iter(|| {
                    i += 1;
                    let r = case.request(i);
                    black_box(engine.inspect(black_box(&r)))
                })
            });
        }
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().with_measurement(CpuTime::new());
    targets = bench
}
criterion_main!(benches);
