//! Criterion benches of the core: header-only request, 4 KB and 64 KB Messages bodies, with
//! and without cross-request state. Each iteration varies the account, client IP and time so
//! the state tables see realistic churn rather than one hot key.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use distill_guard::{Engine, Header, HttpVersion, Request};
use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr};

/// A Messages body of about `size` bytes: a coding prompt padded with a code block.
pub fn messages_body(size: usize) -> String {
    let head = r#"{"model":"claude-sonnet-4-5","max_tokens":4096,"temperature":0.2,"system":"You are a senior engineer.","messages":[{"role":"user","content":"Refactor the function below to remove the N+1 query and explain the change step by step.\n```python\n"#;
    let tail = "\n```\"}]}";
    let mut s = String::with_capacity(size + 64);
    s.push_str(head);
    let line = "    rows = db.query(\"SELECT id, name FROM users WHERE org_id = %s\", org_id)\\n";
    while s.len() + line.len() + tail.len() < size {
        s.push_str(line);
    }
    s.push_str(tail);
    s
}

/// Twelve headers of the official Python SDK.
pub fn sdk_headers(key: &str) -> Vec<(String, String)> {
    [
        ("host", "api.example.com"),
        ("accept-encoding", "gzip, deflate"),
        ("connection", "keep-alive"),
        ("accept", "application/json"),
        ("content-type", "application/json"),
        ("user-agent", "Anthropic/Python 0.40.0"),
        ("x-stainless-lang", "python"),
        ("x-stainless-package-version", "0.40.0"),
        ("x-stainless-os", "Linux"),
        ("x-stainless-arch", "x64"),
        ("anthropic-version", "2023-06-01"),
        ("x-api-key", key),
    ]
    .iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect()
}

fn bench(c: &mut Criterion) {
    let keys: Vec<String> = (0..4096).map(|i| format!("sk-ant-api03-{i:08x}-bench")).collect();
    let headers: Vec<Vec<(String, String)>> = keys.iter().map(|k| sdk_headers(k)).collect();
    let mut group = c.benchmark_group("inspect");
    for (name, size) in [("headers_only", 0usize), ("body_4k", 4096), ("body_64k", 65536)] {
        let body = if size == 0 { String::new() } else { messages_body(size) };
        for state in [true, false] {
            let policy = format!(r#"{{"state": {{"enabled": {state}}}}}"#);
            let mut engine = Engine::from_json(&policy).unwrap();
            let id = format!("{name}/{}", if state { "state" } else { "stateless" });
            group.throughput(Throughput::Elements(1));
            group.bench_function(BenchmarkId::from_parameter(id), |b| {
                let mut i: u64 = 0;
                b.iter(|| {
                    i += 1;
                    let h = &headers[(i % 4096) as usize];
                    let mut r = Request::new();
                    r.method = if size == 0 { b"GET" } else { b"POST" };
                    r.path = if size == 0 { b"/v1/models" } else { b"/v1/messages" };
                    r.version = HttpVersion::Http11;
                    r.headers = h.iter().map(|(n, v)| Header::new(n, v)).collect();
                    r.body = body.as_bytes();
                    r.peer.ip = Some(IpAddr::V4(Ipv4Addr::from(0xC000_0200u32.wrapping_add((i * 2654435761) as u32 & 0xFFFF))));
                    r.now_ms = 1_700_000_000_000 + i * 3;
                    black_box(engine.inspect(black_box(&r)))
                })
            });
        }
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
