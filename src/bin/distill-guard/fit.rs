//! `distill-guard fit`: fits a policy's signal weights to simulated traffic by coordinate
//! search ([`distill_guard::simulate::fit`]) and writes the fitted policy.

use std::process::ExitCode;

use distill_guard::simulate::fit;
use distill_guard::{signal::Family, Signal};

use crate::simulate::{scenario_args, seed_list};
use crate::{load_policy, parse_args};

pub(crate) fn fit(args: &[String]) -> Result<ExitCode, String> {
    let (opts, pos) = parse_args(args, &["--policy", "--scenarios", "--seeds", "--jobs", "--rounds", "--signals", "--legit-clients", "--out"], &[])?;
    let base = load_policy(opts.get("--policy").ok_or("fit needs --policy FILE")?)?;
    let scenarios = scenario_args(&opts, &pos)?;
    let seeds = seed_list(opts.get("--seeds").copied().unwrap_or("11"))?;
    let jobs: usize = opts.get("--jobs").map_or(Ok(2), |s| s.parse()).map_err(|_| "--jobs must be a whole number")?;
    let rounds: usize = opts.get("--rounds").map_or(Ok(2), |s| s.parse()).map_err(|_| "--rounds must be a whole number")?;
    let which = opts.get("--signals").copied().unwrap_or("state,prompt");
    let mut signals: Vec<Signal> = Vec::new();
    for part in which.split(',').map(str::trim) {
        match part {
            "all" => signals.extend(Signal::ALL.iter().copied()),
            "state" => signals.extend(Signal::ALL.iter().copied().filter(|s| s.family() == Family::State)),
            "prompt" => signals.extend(Signal::ALL.iter().copied().filter(|s| s.family() == Family::Prompt)),
            key => signals.push(Signal::from_key(key).ok_or_else(|| format!("--signals: unknown signal {key:?}"))?),
        }
    }
    signals.dedup();
    let started = std::time::Instant::now();
    let mut runs = Vec::new();
    for s in &scenarios {
        for &seed in &seeds {
            runs.push(fit::prepare(s, seed)?);
        }
    }
    eprintln!("fit: {} runs simulated in {:.1} s; {} signals, {} rounds", runs.len(), started.elapsed().as_secs_f64(), signals.len(), rounds);
    let fitted = fit::coordinate_search(&runs, &base, &signals, &fit::Limits::default(), rounds, jobs, &mut |line| eprintln!("fit: {line}"));
    let text = fitted.to_json_pretty() + "\n";
    match opts.get("--out") {
        Some(path) => std::fs::write(path, text).map_err(|e| format!("{path}: {e}"))?,
        None => print!("{text}"),
    }
    eprintln!("fit: done in {:.1} s", started.elapsed().as_secs_f64());
    Ok(ExitCode::SUCCESS)
}
