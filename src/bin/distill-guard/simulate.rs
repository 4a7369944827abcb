//! `distill-guard simulate` (labeled traffic from a scenario) and `quality` (detection
//! quality over scenarios and seeds).

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
    let (opts, pos) = parse_args(args, &["--scenario", "--seed", "--out", "--requests"], &[])?;
    if !pos.is_empty() {
        return Err(format!("simulate takes no positional arguments, got {pos:?}"));
    }
    let scenario = load_scenario(opts.get("--scenario").ok_or("simulate needs --scenario FILE")?)?;
    let seed: u64 = opts.get("--seed").map_or(Ok(1), |s| s.parse()).map_err(|_| "--seed must be a whole number")?;
    let limit: usize = opts.get("--requests").map_or(Ok(usize::MAX), |s| s.parse()).map_err(|_| "--requests must be a whole number")?;
    let mut sim = distill_guard::simulate::generate(&scenario, seed)?;
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
    let (opts, pos) = parse_args(args, &["--policy", "--scenarios", "--seeds", "--jobs"], &["--check", "--segments"])?;
    let policy = load_policy(opts.get("--policy").ok_or("quality needs --policy FILE")?)?;
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
        return Err("quality needs --scenarios DIR|FILE".into());
    }
    let scenarios = files.iter().map(|f| load_scenario(f)).collect::<Result<Vec<_>, _>>()?;
    let seeds = opts
        .get("--seeds")
        .unwrap_or(&"11,12,13")
        .split(',')
        .map(|s| s.trim().parse::<u64>().map_err(|_| format!("--seeds: not a whole number: {s:?}")))
        .collect::<Result<Vec<_>, _>>()?;
    let jobs: usize = opts.get("--jobs").map_or(Ok(2), |s| s.parse()).map_err(|_| "--jobs must be a whole number")?;
    let started = std::time::Instant::now();
    let runs = quality::run_all(&scenarios, &seeds, &policy, jobs).into_iter().collect::<Result<Vec<_>, _>>()?;
    let requests: u64 = runs.iter().map(|r| r.legit + r.campaigns.iter().map(|c| c.requests).sum::<u64>()).sum();
    let errors: u64 = runs.iter().map(|r| r.errors).sum();
    let (table, ok) = quality::table(&runs, &quality::Targets::default());
    print!("{table}");
    if opts.contains_key("--segments") {
        print!("\nLegitimate requests flagged (denied) per population segment:\n\n{}", quality::segment_table(&runs));
    }
    eprintln!(
        "quality: {} runs, {requests} requests, {errors} parse errors, {:.1} s; targets: campaign flagged >= 95 % after {} warm-up requests, legit flagged <= 0.5 %, legit denied <= 0.05 %: {}",
        runs.len(),
        started.elapsed().as_secs_f64(),
        quality::WARMUP,
        if ok { "met" } else { "missed" }
    );
    Ok(if opts.contains_key("--check") && (!ok || errors > 0) { ExitCode::from(1) } else { ExitCode::SUCCESS })
}

