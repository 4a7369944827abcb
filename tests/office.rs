//! An office: a company's employees, each with an API key of their own, all reaching the API
//! through the company's one egress (a NAT on a business line: one or two addresses), on the
//! same client (the company's internal tool on the official SDK: one set of headers, one JA4)
//! and the same instructions (the tool's system prompt, chain-of-thought included, as many
//! production prompts have), each with their own questions through the working day.
//! Hundreds of accounts on one fingerprint and one address, one shared system prompt: the
//! counts a proxy campaign makes, with none of its rotation or shared tasks. The shipped
//! policies must not flag it; the crowd counts are real on most of its requests (with
//! `default.json` they and the system prompt's elicitation add up to 25-27 points, the tag
//! threshold being 30). Left out here: a user's own request for the reasoning (`prompt.cot`)
//! on top of them can tag such a request (a tag, not a throttle).

use std::net::Ipv4Addr;

use distill_guard::score::Action;

mod support;
use support::{sdk_headers, send, shipped, words, Rng, T0};

fn ask(question: &str) -> String {
    format!(
        r#"{{"model":"gpt-5","messages":[{{"role":"system","content":"You are Acme Corp's internal assistant. Think step by step, cite the internal wiki where you can, and keep answers short."}},{{"role":"user","content":"{question}"}}]}}"#
    )
}

#[test]
fn an_office_behind_one_nat_is_not_a_campaign() {
    let headers = sdk_headers();
    for (employees, per_day, egress) in [(300u64, 40u64, 1u64), (1_500, 20, 2)] {
        for name in ["default", "strict"] {
            let mut engine = shipped(name);
            let mut rng = Rng(0x0ff1_ce00_0000_0001 + employees);
            let total = employees * per_day;
            let mut plan: Vec<(u64, u64)> = (0..total).map(|i| (T0 + 9 * 3_600_000 + rng.below(9 * 3_600_000), i % employees)).collect();
            plan.sort();
            let (mut flagged, mut crowd) = (Vec::new(), 0u64);
            for (n, &(ts, e)) in plan.iter().enumerate() {
                let ip = Ipv4Addr::new(195, 50, 7, 10 + (e % egress) as u8);
                let len = 12 + rng.below(30) as usize;
                let q = words(&mut rng, len);
                let v = send(&mut engine, &headers, &format!("sk-proj-acme{e:05}-eeeeeeeeeeeeeeeeeeee"), &ask(&q), ip, 3209, ts);
                if v.action >= Action::Tag {
                    flagged.push(format!("#{n} {:?} {} {}", v.action, v.score, v.reason_codes()));
                }
                crowd += v.reasons.iter().any(|r| r.signal.code() == "cluster.accounts_per_fp_prefix") as u64;
            }
            assert!(flagged.is_empty(), "{name}.json, {employees} employees: {} of {total} flagged, first {:?}, last {:?}", flagged.len(), flagged.first(), flagged.last());
            // The crowd is real: most requests carry the (fingerprint, prefix) count.
            assert!(crowd * 2 > total, "{name}.json, {employees} employees: the crowd count on {crowd} of {total} requests only");
        }
    }
}

/// One turn of an agent loop in the company's coding agent: its system prompt and tools, the
/// employee's task, then `steps` tool calls and their results (the latest user-side turn a
/// tool result).
fn agent(task: &str, steps: u64, rng: &mut Rng) -> String {
    let mut msgs = vec![
        r#"{"role":"system","content":"You are Acme Code, an agent working in the user's repository. Think step by step; use the tools to read and edit files, run the tests before you finish."}"#.to_string(),
        format!(r#"{{"role":"user","content":"{task}"}}"#),
    ];
    for s in 0..steps {
        msgs.push(format!(r#"{{"role":"assistant","content":null,"tool_calls":[{{"id":"call_{s}","type":"function","function":{{"name":"read_file","arguments":"{{\"path\":\"src/{}.rs\"}}"}}}}]}}"#, words(rng, 1)));
        msgs.push(format!(r#"{{"role":"tool","tool_call_id":"call_{s}","content":"{}"}}"#, words(rng, 60)));
    }
    let tools = r#"[{"type":"function","function":{"name":"read_file","parameters":{"type":"object","properties":{"path":{"type":"string"}}}}},{"type":"function","function":{"name":"edit_file","parameters":{"type":"object","properties":{"path":{"type":"string"},"patch":{"type":"string"}}}}},{"type":"function","function":{"name":"run_tests","parameters":{"type":"object","properties":{}}}}]"#;
    format!(r#"{{"model":"gpt-5","tools":{tools},"messages":[{}]}}"#, msgs.join(","))
}

#[test]
fn an_office_on_its_coding_agent_is_not_a_harness_campaign() {
    let headers = sdk_headers();
    let (employees, sessions, steps) = (400u64, 6u64, 12u64);
    for name in ["default", "strict"] {
        let mut engine = shipped(name);
        let mut rng = Rng(0xac3e_c0de_0000_0001);
        // Each session: a task of the employee's own, then a step every ~20 s.
        let mut plan: Vec<(u64, u64, u64, u64)> = Vec::new();
        for e in 0..employees {
            for s in 0..sessions {
                let start = T0 + 9 * 3_600_000 + rng.below(8 * 3_600_000);
                for k in 0..steps {
                    plan.push((start + k * (10_000 + rng.below(20_000)), e, s, k));
                }
            }
        }
        plan.sort();
        let mut tasks = std::collections::HashMap::new();
        let (mut flagged, mut crowd) = (Vec::new(), 0usize);
        for (n, &(ts, e, s, k)) in plan.iter().enumerate() {
            let task = tasks.entry((e, s)).or_insert_with(|| format!("Fix the {} in the {} module: {}", words(&mut rng, 2), words(&mut rng, 1), words(&mut rng, 20))).clone();
            let body = agent(&task, k, &mut rng);
            let ip = Ipv4Addr::new(195, 50, 7, 10 + (e % 2) as u8);
            let v = send(&mut engine, &headers, &format!("sk-proj-acme{e:05}-eeeeeeeeeeeeeeeeeeee"), &body, ip, 3209, ts);
            if v.action >= Action::Tag {
                flagged.push(format!("#{n} {:?} {} {}", v.action, v.score, v.reason_codes()));
            }
            crowd += v.reasons.iter().any(|r| r.signal.code() == "cluster.accounts_per_fp_prefix") as usize;
        }
        assert!(flagged.is_empty(), "{name}.json: {} of {} flagged, first {:?}, last {:?}", flagged.len(), plan.len(), flagged.first(), flagged.last());
        assert!(crowd * 2 > plan.len(), "{name}.json: the crowd count on {crowd} of {} requests only", plan.len());
    }
}
