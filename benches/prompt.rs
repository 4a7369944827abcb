//! Prompt view speed: the whole scan (walk + decode + normalize + SimHash + markers) of ~4 KB
//! Anthropic Messages bodies (a coding turn, a chat with history, and one free-text user turn
//! each of English prose, prose with code blocks, and Russian + Chinese text from
//! `benches/prompt_texts/`), of a 64 KB body (a long history and a latest turn over
//! `prompt.max_text_bytes`), of ~15 KB coding-agent bodies in the three APIs' shapes (tool
//! definitions, tool calls and results; the task and the system prompt are resent texts, so
//! they come from the scratch's cache as in a real agent loop), and its parts. The scratch is reused, as in the engine, so the
//! repeated system prompt comes from its cache.
//!
//! A bench that scans one body over and over lets the CPU's branch predictors learn that
//! text; real traffic brings new text with every request. `scan_4k_prose_en_varied` scans 64
//! word-shuffled variants of the English prose in turn (time per body), which is closer to
//! what a proxy sees; `scan_4k_load_bench_bodies` scans 1,024 bodies shaped as the Envoy and
//! workerd load benches' POSTs (`benches/envoy/load.lua`) in turn: what learning one costs.
//!
//! Run: `CARGO_PROFILE_BENCH_PANIC=unwind cargo bench --bench prompt` (the release profile's
//! `panic = "abort"` otherwise makes the bin and bench builds of the lib collide, cargo#6313).

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use distill_guard::prompt::{fingerprint, markers, normalize, scan_with, simhash, PromptConfig, Scratch};
use distill_guard::signal::Fired;

/// A ~4 KB Messages body: system prompt, two earlier turns with a tool call, and a latest
/// user turn (1.7 KB) with prose, a code block and an image.
fn body() -> String {
    let system = "You are Claude Code, an expert software engineering assistant. You help users with \
        programming tasks: reading and writing code, debugging, explaining concepts and reviewing \
        designs. Follow the user's instructions precisely. Prefer small, focused changes and explain \
        the reasoning behind non-obvious decisions. When you are unsure, say so and ask a clarifying \
        question instead of guessing. Never invent APIs; if a library function might not exist, \
        check the documentation first. Format code with fenced blocks and the right language tag. \
        Keep answers concise unless the user asks for detail.";
    let user = "I have a Rust service that parses incoming webhook payloads and stores them in Postgres. \
        Under load (about 2,000 requests per second) the p99 latency jumps from 15 ms to 900 ms and \
        I see \\\"connection pool timed out\\\" errors in the logs. Here is the handler:\\n\\n```rust\\n\
        async fn handle(State(pool): State<PgPool>, Json(ev): Json<Event>) -> Result<StatusCode, AppError> {\\n\
            let mut tx = pool.begin().await?;\\n\
            sqlx::query(\\\"INSERT INTO events (id, kind, body) VALUES ($1, $2, $3)\\\")\\n\
                .bind(ev.id).bind(&ev.kind).bind(serde_json::to_value(&ev)?)\\n\
                .execute(&mut *tx).await?;\\n\
            notify_subscribers(&pool, &ev).await?;\\n\
            tx.commit().await?;\\n\
            Ok(StatusCode::ACCEPTED)\\n\
        }\\n```\\n\\nThe pool is created with `PgPoolOptions::new().max_connections(10)`. \
        What is causing the timeouts, and how should I restructure this so that slow subscribers \
        do not hold a transaction open? Please explain the trade-offs between moving the \
        notification out of the transaction, using a background queue, and raising the pool size. \
        Also tell me which metrics I should watch to confirm the fix works in production, and \
        whether `sqlx` offers a way to set a statement timeout per query. For context: we run 4 \
        replicas behind an nginx ingress, Postgres 15 on a db.r6g.xlarge instance, and the \
        subscribers are HTTP endpoints owned by other teams with timeouts of up to 30 seconds. \
        Our SLO is 99.9% of webhooks acknowledged within 200 ms. I would prefer a solution that \
        does not add new infrastructure this quarter, but I am open to using the existing Redis \
        cluster if that is clearly the better option. Please keep the answer structured: first \
        the diagnosis, then two or three options with pros and cons, then your recommendation \
        with a code sketch.";
    format!(
        r#"{{"model":"claude-sonnet-4-5","max_tokens":8192,"temperature":0.7,"stream":true,
"system":"{system}",
"tools":[{{"name":"read_file","description":"Read a file from the workspace","input_schema":{{"type":"object","properties":{{"path":{{"type":"string"}}}},"required":["path"]}}}},
{{"name":"run","description":"Run a shell command","input_schema":{{"type":"object","properties":{{"cmd":{{"type":"string"}}}},"required":["cmd"]}}}}],
"messages":[
{{"role":"user","content":"Can you look at src/handlers/webhook.rs and tell me what it does?"}},
{{"role":"assistant","content":[{{"type":"text","text":"Let me read the file first."}},{{"type":"tool_use","id":"toolu_01","name":"read_file","input":{{"path":"src/handlers/webhook.rs"}}}}]}},
{{"role":"user","content":[{{"type":"tool_result","tool_use_id":"toolu_01","content":"pub async fn handle(...) {{ ... }} // 120 lines"}}]}},
{{"role":"assistant","content":"It receives webhook events, validates the signature and stores each event in Postgres inside one transaction, then notifies subscribers. The signature check uses an HMAC over the raw body with a shared secret per sender, compared in constant time. Events are deserialized into a tagged enum; unknown kinds are rejected with 422. After the insert, it calls every subscriber registered for the event kind over HTTP and only then commits. Errors from subscribers are logged and turned into a 502 for the sender, which makes the sender retry the whole webhook later."}},
{{"role":"user","content":[{{"type":"text","text":"{user}"}},{{"type":"image","source":{{"type":"base64","media_type":"image/png","data":"iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="}}}}]}}
]}}"#
    )
}

/// A ~4 KB chat body: a short system prompt, six earlier turns, and a short latest turn.
fn chat_body() -> String {
    let turns = [
        ("user", "I'm planning a two week trip to Japan in April with my partner. We like food, hiking and old towns, not big nightlife. Can you suggest a rough route?"),
        ("assistant", "A good loop for April: Tokyo (4 days) for food and day trips, Hakone (2 days) for hot springs and hiking with views of Fuji, Kanazawa (2 days) for the old samurai and geisha districts, Takayama and Shirakawa-go (2 days) for preserved mountain towns, then Kyoto (3 days) and Nara (1 day). Cherry blossoms peak in early April in Tokyo and Kyoto, later in Takayama, so you may catch them twice."),
        ("user", "That sounds great. Is the JR Pass still worth it for that route, or should we buy single tickets?"),
        ("assistant", "Since the 2023 price increase, the nationwide JR Pass rarely pays off for a loop like this. Add up the main legs: Tokyo to Odawara, Odawara to Kanazawa via Tokyo or Nagoya, Kanazawa to Takayama by bus, Takayama to Kyoto via Nagoya, and Kyoto to Tokyo for the flight home. Single tickets plus a regional pass such as the Hokuriku Arch Pass usually come out cheaper. Use an IC card like Suica for local trains and buses."),
        ("user", "OK. What about luggage? We don't want to carry big suitcases on buses."),
        ("assistant", "Use luggage forwarding (takkyubin): hotels and convenience stores send a suitcase to your next hotel for about 2,000 to 3,000 yen, usually arriving the next day. Send the big bags from Tokyo straight to Kyoto and travel through Hakone, Kanazawa and Takayama with a small backpack each. Many hotels also hold bags for free."),
    ];
    let mut msgs = String::new();
    for (role, text) in turns.iter().chain(turns.iter()) {
        msgs.push_str(&format!(r#"{{"role":"{role}","content":"{text}"}},"#));
    }
    format!(
        r#"{{"model":"claude-haiku-4-5","max_tokens":2048,"system":"You are a friendly, well-travelled trip planner. Give concrete, practical advice.","messages":[{msgs}{{"role":"user","content":"Perfect. Could you turn the whole plan into a day by day itinerary with approximate travel times and one restaurant idea per day?"}}]}}"#
    )
}

/// Free-text user turns (~4 KB each): English prose, prose with code blocks, Russian + Chinese.
const PROSE_EN: &str = include_str!("prompt_texts/prose_en.txt");
const MIXED: &str = include_str!("prompt_texts/mixed.txt");
const RU_ZH: &str = include_str!("prompt_texts/ru_zh.txt");

/// One coding-agent conversation (~15 KB: a 4.3 KB system prompt, 12 tools, 11 assistant turns,
/// ending in a tool result) as an Anthropic, a Chat and a Responses body (`gen_agent.py`).
const AGENT_ANTHROPIC: &str = include_str!("prompt_texts/agent_anthropic.json");
const AGENT_CHAT: &str = include_str!("prompt_texts/agent_chat.json");
const AGENT_RESPONSES: &str = include_str!("prompt_texts/agent_responses.json");

/// A Messages body whose only user turn is `text`.
fn text_body(text: &str) -> String {
    let text = serde_json::to_string(text).unwrap_or_default();
    format!(r#"{{"model":"claude-sonnet-4-5","max_tokens":4096,"temperature":0.2,"system":"You are a helpful assistant.","messages":[{{"role":"user","content":{text}}}]}}"#)
}

/// A ~64 KB Messages body: a long history of prose turns and a latest user turn longer than
/// the default `prompt.max_text_bytes` (8 KB), so its text is capped.
fn body_64k() -> String {
    let mut msgs = String::new();
    let (mut k, texts) = (0usize, [PROSE_EN, MIXED, RU_ZH]);
    while msgs.len() < 50_000 {
        let role = if k % 2 == 0 { "user" } else { "assistant" };
        let text = serde_json::to_string(texts[k % 3]).unwrap_or_default();
        msgs.push_str(&format!(r#"{{"role":"{role}","content":{text}}},"#));
        k += 1;
    }
    let last = serde_json::to_string(&format!("{PROSE_EN}\n\n{MIXED}\n\n{PROSE_EN}")).unwrap_or_default();
    format!(r#"{{"model":"claude-sonnet-4-5","max_tokens":4096,"system":"You are a helpful assistant.","messages":[{msgs}{{"role":"user","content":{last}}}]}}"#)
}

/// 64 bodies of `text` with its words shuffled (seeded), so no two scans see the same text.
fn varied_bodies(text: &str) -> Vec<String> {
    let words: Vec<&str> = text.split(' ').collect();
    let mut r = 0x9E37_79B9_7F4A_7C15u64;
    (0..64)
        .map(|_| {
            let mut v = words.clone();
            for i in (1..v.len()).rev() {
                r ^= r << 13;
                r ^= r >> 7;
                r ^= r << 17;
                v.swap(i, (r % (i as u64 + 1)) as usize);
            }
            text_body(&v.join(" "))
        })
        .collect()
}

/// 1,024 bodies shaped as `benches/envoy/load.lua` shapes the Envoy and workerd benches' POSTs: a
/// Messages body with a short system prompt and one user turn of ~3,900 bytes of pseudo-words (3-9
/// lower-case letters drawn from a vocabulary of 4,000; seeded here with another generator than
/// Lua's, so the same shape, not the same words).
fn load_bodies() -> Vec<String> {
    let mut r = 0x2545_F491_4F6C_DD1Du64;
    let mut next = |n: u64| {
        r ^= r << 13;
        r ^= r >> 7;
        r ^= r << 17;
        r % n
    };
    let vocab: Vec<String> = (0..4000).map(|_| (0..3 + next(7)).map(|_| char::from(b'a' + next(26) as u8)).collect()).collect();
    (0..1024)
        .map(|_| {
            let mut text = String::new();
            while text.len() < 3900 {
                if !text.is_empty() {
                    text.push(' ');
                }
                text.push_str(vocab.get(next(4000) as usize).map_or("", String::as_str));
            }
            format!(
                r#"{{"model":"claude-sonnet-4-5","max_tokens":4096,"temperature":0.2,"system":"You are a helpful assistant.","messages":[{{"role":"user","content":"{text}"}}]}}"#
            )
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let cfg = PromptConfig::default();
    let mut s = Scratch::default();
    let mut g = c.benchmark_group("prompt");
    let cases = [
        ("scan_4k_coding_turn", body()),
        ("scan_4k_chat", chat_body()),
        ("scan_4k_prose_en", text_body(PROSE_EN)),
        ("scan_4k_prose_code", text_body(MIXED)),
        ("scan_4k_ru_zh", text_body(RU_ZH)),
        ("scan_64k_history", body_64k()),
        ("scan_15k_agent_anthropic", AGENT_ANTHROPIC.to_string()),
        ("scan_15k_agent_chat", AGENT_CHAT.to_string()),
        ("scan_15k_agent_responses", AGENT_RESPONSES.to_string()),
    ];
    for (name, body) in cases {
        let v = scan_with(body.as_bytes(), true, &cfg, &mut Fired::default(), &mut s);
        assert!(v.parse_error.is_none() && v.template.is_some() && v.system_bytes > 0, "{v:?}");
        eprintln!("{name}: body {} bytes, user text {} bytes / {} tokens, system text {} bytes", body.len(), v.user_bytes, v.user_tokens, v.system_bytes);
        g.throughput(Throughput::Bytes(body.len() as u64));
        g.bench_function(name, |b| {
            b.iter(|| {
                let mut fired = Fired::default();
                let v = scan_with(black_box(body.as_bytes()), true, &cfg, &mut fired, &mut s);
                black_box(v.template)
            })
        });
    }
    // Bodies scanned in turn (time per body): the English prose in 64 variants, and the load
    // benches' POSTs (what learning one costs natively).
    for (name, bodies) in [("scan_4k_prose_en_varied", varied_bodies(PROSE_EN)), ("scan_4k_load_bench_bodies", load_bodies())] {
        assert!(bodies.iter().all(|b| scan_with(b.as_bytes(), true, &cfg, &mut Fired::default(), &mut s).template.is_some()), "{name}");
        g.throughput(Throughput::Bytes(bodies.iter().map(|b| b.len() as u64).sum::<u64>() / bodies.len() as u64));
        let mut k = 0;
        g.bench_function(name, |b| {
            b.iter(|| {
                k = (k + 1) % bodies.len();
                let body = bodies.get(k).map_or(&[][..], |b| b.as_bytes());
                black_box(scan_with(black_box(body), true, &cfg, &mut Fired::default(), &mut s).template)
            })
        });
    }
    let body = body();
    scan_with(body.as_bytes(), true, &cfg, &mut Fired::default(), &mut s);
    let (mut norm, mut starts) = (Vec::new(), Vec::new());
    let texts = [
        ("fingerprint_user_1.7k", s.user_text().to_string()),
        ("fingerprint_system_0.6k_uncached", s.system_text().to_string()),
        ("fingerprint_prose_en_4k", PROSE_EN.to_string()),
        ("fingerprint_ru_zh_4k", RU_ZH.to_string()),
    ];
    for (name, text) in texts {
        g.throughput(Throughput::Bytes(text.len() as u64));
        g.bench_function(name, |b| b.iter(|| black_box(fingerprint(black_box(text.as_bytes()), 6, &mut norm, &mut starts))));
    }
    // The parts of a fingerprint, each alone: normalization, SimHash and marker search of the
    // normalized English prose.
    g.throughput(Throughput::Bytes(PROSE_EN.len() as u64));
    g.bench_function("normalize_prose_en_4k", |b| {
        b.iter(|| black_box(normalize::normalize(black_box(PROSE_EN.as_bytes()), &mut norm, &mut starts)))
    });
    normalize::normalize(PROSE_EN.as_bytes(), &mut norm, &mut starts);
    g.bench_function("simhash_prose_en_4k", |b| b.iter(|| black_box(simhash::simhash(black_box(&norm), &starts))));
    g.bench_function("markers_prose_en_4k", |b| b.iter(|| black_box(markers::find(black_box(&norm), &starts))));
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
