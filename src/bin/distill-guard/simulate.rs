//! `distill-guard simulate` (labeled traffic from a scenario) and `quality` (detection
//! quality over scenarios and seeds), with the scenario and seed arguments `fit` shares.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::process::ExitCode;

use crate::{load_policy, parse_args};

fn load_scenario(path: &str) -> Result<distill_guard::simulate::Scenario, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
    distill_guard::simulate::Scenario::from_json(&text).map_err(|errs| {
        let lines: Vec<String> = errs.0.iter().map(|e| format!("{path}: {e}")).collect();
        lines.join("\n")
    })
}

pub(crate) fn simulate(args: &[String]) -> Result<ExitCode, String> {
    let (opts, pos) = parse_args(args, &["--scenario", "--seed", "--out", "--requests", "--without"], &[])?;
    if !pos.is_empty() {
        return Err(format!("simulate takes no positional arguments, got {pos:?}"));
    }
    let scenario = load_scenario(opts.get("--scenario").ok_or("simulate needs --scenario FILE")?)?;
    let seed: u64 = opts.get("--seed").map_or(Ok(1), |s| s.parse()).map_err(|_| "--seed must be a whole number")?;
    let limit: usize = opts.get("--requests").map_or(Ok(usize::MAX), |s| s.parse()).map_err(|_| "--requests must be a whole number")?;
    let without = distill_guard::simulate::Without::parse(opts.get("--without").copied().unwrap_or_default()).map_err(|e| format!("--without: {e}"))?;
    let mut sim = distill_guard::simulate::generate(&scenario, seed)?.omitting(without);
    let out: Box<dyn Write> = match opts.get("--out") {
        None | Some(&"-") => Box::new(io::stdout().lock()),
        Some(path) => Box::new(File::create(path).map_err(|e| format!("{path}: {e}"))?),
    };
    let mut out = BufWriter::with_capacity(1 << 16, out);
    let labels = sim.labels().to_vec();
    let mut counts = vec![0u64; labels.len()];
    let mut n = 0usize;
    while let Some((label, line)) = sim.next_labeled().filter(|_| n < limit) {
        if let Some(c) = counts.get_mut(label) {
            *c += 1;
        }
        out.write_all(line.as_bytes()).and_then(|_| out.write_all(b"\n")).map_err(|e| format!("writing output: {e}"))?;
        n += 1;
    }
    out.flush().map_err(|e| format!("writing output: {e}"))?;
    let per: Vec<String> = labels.iter().zip(&counts).map(|(l, c)| format!("{l} {c}")).collect();
    eprintln!("simulate: {} (seed {seed}): {n} records; {}", scenario.name, per.join(", "));
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn quality(args: &[String]) -> Result<ExitCode, String> {
    use distill_guard::simulate::quality;
    let (opts, pos) = parse_args(args, &["--policy", "--scenarios", "--seeds", "--jobs", "--legit-clients", "--without"], &["--check", "--segments", "--families", "--held", "--misses"])?;
    let policy = load_policy(opts.get("--policy").ok_or("quality needs --policy FILE")?)?;
    let without = distill_guard::simulate::Without::parse(opts.get("--without").copied().unwrap_or_default()).map_err(|e| format!("--without: {e}"))?;
    let scenarios = scenario_args(&opts, &pos)?;
    let seeds = seed_list(opts.get("--seeds").copied().unwrap_or("11,12,13"))?;
    let jobs: usize = opts.get("--jobs").map_or(Ok(2), |s| s.parse()).map_err(|_| "--jobs must be a whole number")?;
    let started = std::time::Instant::now();
    let runs = quality::run_all(&scenarios, &seeds, &policy, without, jobs).into_iter().collect::<Result<Vec<_>, _>>()?;
    let requests: u64 = runs.iter().map(|r| r.legit + r.campaigns.iter().map(|c| c.requests).sum::<u64>()).sum();
    let errors: u64 = runs.iter().map(|r| r.errors).sum();
    let (table, ok) = quality::table(&runs, &quality::Targets::default());
    print!("{table}");
    if opts.contains_key("--segments") {
        print!("\nLegitimate requests flagged (denied) per population segment:\n\n{}", quality::segment_table(&runs));
    }
    let mut families_ok = true;
    if opts.contains_key("--families") {
        let (t, fine) = quality::family_table(&runs);
        families_ok = fine;
        print!("\nLegitimate requests flagged per client family (all scenarios and seeds):\n\n{t}");
    }
    if opts.contains_key("--held") {
        print!("\nRequests held for their body before the verdict, legitimate bodies read and left unread (`body.heavy_learn_one_in`), and the most active accounts the state's window held:\n\n{}", quality::held_table(&runs));
    }
    if opts.contains_key("--misses") {
        print!("\nCampaign requests after the warm-up not flagged, by their account's request number:\n\n{}", quality::misses_table(&runs));
    }
    let ok = ok && families_ok;
    eprintln!(
        "quality: {} runs, {requests} requests{}, {errors} parse errors, {:.1} s; targets: campaign flagged >= 95 % after {} warm-up requests, legit flagged <= 0.5 %, legit denied <= 0.05 %: {}",
        runs.len(),
        opts.get("--without").map_or(String::new(), |w| format!(" (without peer {w})")),
        started.elapsed().as_secs_f64(),
        quality::WARMUP,
        if ok { "met" } else { "missed" }
    );
    Ok(if opts.contains_key("--check") && (!ok || errors > 0) { ExitCode::from(1) } else { ExitCode::SUCCESS })
}

/// The scenarios named by `--scenarios` and positional arguments (directories: every
/// `*.json` in them, sorted), with `--legit-clients` applied.
pub(crate) fn scenario_args(opts: &BTreeMap<&str, &str>, pos: &[&str]) -> Result<Vec<distill_guard::simulate::Scenario>, String> {
    let mut files: Vec<String> = Vec::new();
    for p in opts.get("--scenarios").into_iter().chain(pos.iter()) {
        let path = std::path::Path::new(p);
        if path.is_dir() {
            let mut found: Vec<String> = std::fs::read_dir(path)
                .map_err(|e| format!("{p}: {e}"))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|f| f.extension().is_some_and(|x| x == "json"))
                .map(|f| f.to_string_lossy().into_owned())
                .collect();
            found.sort();
            files.extend(found);
        } else {
            files.push(p.to_string());
        }
    }
    if files.is_empty() {
        return Err("--scenarios DIR|FILE is needed".into());
    }
    let mut scenarios = files.iter().map(|f| load_scenario(f)).collect::<Result<Vec<_>, _>>()?;
    if let Some(keep) = opts.get("--legit-clients") {
        let keep: Vec<&str> = keep.split(',').map(str::trim).filter(|s| !s.is_empty()).collect();
        for id in &keep {
            if distill_guard::simulate::clients::stack_index(id).is_none() {
                return Err(format!("--legit-clients: unknown client stack {id:?}"));
            }
        }
        for s in &mut scenarios {
            s.legit.clients.retain(|id, _| keep.contains(&id.as_str()));
            if s.legit.clients.is_empty() {
                return Err(format!("--legit-clients leaves {} without legitimate clients", s.name));
            }
        }
    }
    Ok(scenarios)
}

/// A comma-separated list of seeds.
pub(crate) fn seed_list(text: &str) -> Result<Vec<u64>, String> {
    text.split(',').map(|s| s.trim().parse::<u64>().map_err(|_| format!("--seeds: not a whole number: {s:?}"))).collect()
}
