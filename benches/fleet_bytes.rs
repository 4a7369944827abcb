//! Bytes a fleet node publishes per tick (`State::export_delta` of one second of its traffic,
//! framed as the batch it stores), on simulated traffic: `cargo bench --bench fleet_bytes`.
//!
//! One node receives `r` requests a second of a scenario's traffic (legitimate population and
//! campaigns); the rest of a fleet of `n` nodes is one more engine fed `(n - 1) x r` a second,
//! whose deltas the node merges every tick (so the node's keys carry the fleet's registers,
//! as they would). After a warm-up the node's per-tick delta sizes are summarized: the `D` of
//! the README's formula. Deliberately simple: no network, no store; time is the records'.

use std::time::Instant;

use distill_guard::fleet::batch;
use distill_guard::simulate::{self, scenario::Scenario};
use distill_guard::{traffic, Engine, Policy};

const WARMUP_TICKS: u64 = 30;
const TICKS: u64 = 60;

fn main() {
    let scenario_path = std::env::var("FLEET_SCENARIO").unwrap_or_else(|_| "scenarios/hydra_mixed.json".into());
    let text = std::fs::read_to_string(&scenario_path).expect("scenario file");
    let scenario = Scenario::from_json(&text).expect("valid scenario");
    let policy_text = std::fs::read_to_string("filters/default.json").expect("filters/default.json");
    let policy = Policy::from_json(&policy_text).expect("valid policy");
    println!("scenario {scenario_path}, policy filters/default.json, fleet of n = 10 nodes ({} warm-up + {} measured ticks)", WARMUP_TICKS, TICKS);
    println!("| requests/s per node | D: delta bytes per tick, median | mean | p95 | max | batch with one delta, mean |");
    println!("|---:|---:|---:|---:|---:|---:|");
    for rate in [10u64, 100, 1000] {
        let started = Instant::now();
        let sizes = measure(&scenario, &policy, rate, 10);
        if sizes.len() < TICKS as usize / 2 {
            println!("| {rate} | (the scenario's traffic ran out after {} measured ticks) | | | | |", sizes.len());
            continue;
        }
        let mut s = sizes.clone();
        s.sort_unstable();
        let mean = s.iter().sum::<usize>() as f64 / s.len() as f64;
        let pct = |q: f64| s[((s.len() - 1) as f64 * q) as usize];
        println!(
            "| {rate} | {} | {:.0} | {} | {} | {:.0} |",
            pct(0.5),
            mean,
            pct(0.95),
            s[s.len() - 1],
            mean + (batch::HEADER_LEN + 4) as f64
        );
        eprintln!("rate {rate}: {:.1} s", started.elapsed().as_secs_f64());
    }
}

/// Per-tick delta sizes of one node at `rate` requests a second in a fleet of `n`.
fn measure(scenario: &Scenario, policy: &Policy, rate: u64, n: u64) -> Vec<usize> {
    let mut node = Engine::new(policy.clone());
    let mut rest = Engine::new(policy.clone());
    let mut sim = simulate::generate(scenario, 7).expect("simulation");
    let start = scenario.start_ms;
    let per_tick = rate * n;
    let mut sizes = Vec::new();
    for tick in 0..WARMUP_TICKS + TICKS {
        for k in 0..per_tick {
            let Some(line) = sim.next_labeled().map(|(_, l)| l) else { return sizes };
            let Ok(dec) = traffic::parse_line(&line) else { continue };
            let mut req = dec.request(node.body_limit());
            // Re-timed: this tick's requests spread over its second.
            req.now_ms = start + tick * 1000 + k * 1000 / per_tick;
            if k % n == 0 {
                node.inspect(&req);
            } else {
                rest.inspect(&req);
            }
        }
        let mine = node.state_mut().export_delta();
        let theirs = rest.state_mut().export_delta();
        node.state_mut().merge_bytes(&theirs).expect("same shape");
        rest.state_mut().merge_bytes(&mine).expect("same shape");
        if tick >= WARMUP_TICKS {
            sizes.push(mine.len());
        }
    }
    sizes
}
