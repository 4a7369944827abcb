//! The native CLI: `replay` traffic files through one engine, `campaigns`, `check-policy`,
//! `simulate`, `quality`, `fit`, `signals`, `fleet-view`. One file per command; this one
//! parses arguments, loads policies and reads traffic files line by line for the commands
//! that replay them.

mod campaigns;
mod fit;
mod fleet_view;
mod replay;
mod simulate;

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufRead, BufReader};
use std::process::ExitCode;

use distill_guard::Policy;

use campaigns::campaigns;
use fit::fit;
use fleet_view::fleet_view;
use replay::replay;
use simulate::{quality, simulate};

const USAGE: &str = "distill-guard: detect LLM distillation campaigns in API traffic

usage:
  distill-guard replay --policy FILE [--explain] [INPUT|-]
      Runs JSONL traffic records through one engine, in order, and prints one JSON
      verdict per input line. A summary goes to stderr. --explain adds each reason's
      measured level, ramp, strength, weight and points, the levels of graded signals
      that added nothing, and the readable header shape.
  distill-guard campaigns --policy FILE [--format table|json] [--min-accounts N]
                          [--sample N] [--accounts N] [--clusters N] [--link-share X]
                          [--account-share X] [--window-s N] [INPUT|-]
      Replays JSONL traffic through one engine, as replay does, and prints the suspected
      campaigns: flagged accounts grouped by the cluster keys they share (client
      environment, fingerprint x prefix / ASN, template, task), each with its keys,
      account ids, counts, first and last seen, elicitation share, reason mix and a
      confidence. --min-accounts (default 10): distinct flagged accounts a campaign needs
      in one key; --sample: account ids listed per campaign (default: all tracked).
      Bad lines are reported on stderr with their number and the run goes on.
  distill-guard campaigns --fleet REPLY [--format table|json] [--window-s N] [...]
      The fleet's report: merges every node's campaign tracker snapshot from the store's
      answer to a read (REPLY: the bridge's body, see README \"Campaign reports\"),
      with the settings above (--window-s must be the nodes' envoy.campaigns.window_s).
  distill-guard check-policy FILE...
      Validates policy files; prints every error with its path; exits 1 on any error.
      Settings that are valid but unsafe to deploy (the shipped identity.hash_key) get a
      warning line and do not change the exit status.
  distill-guard simulate --scenario FILE [--seed N] [--out FILE] [--requests N]
                        [--without asn,country,ja4,ja3]
      Writes labeled simulated traffic (JSONL, time-ordered), deterministic for
      (scenario, seed); --requests stops after the first N records; --without leaves
      those peer facts out of every record (what a host without them sees).
  distill-guard quality --policy FILE --scenarios DIR|FILE... [--seeds 11,12,13] [--jobs 2]
                       [--check] [--segments] [--families] [--held] [--misses]
                       [--legit-clients ID,...] [--without asn,country,ja4,ja3]
      Simulates every scenario for every seed, runs one engine per run, and prints a
      Markdown table of detection quality; --check exits 1 when a target is missed;
      --segments adds legitimate false positives per population segment, --families
      per client family (target: none above 1 % flagged), --held the share of requests
      held for their body before the verdict, --misses the campaign requests not flagged
      by their account's request number (its 1st, 2nd, ... request: what passes, first
      requests or steady work); --without removes those peer facts from
      every record first (a deployment without a geo database has no asn or country, one
      without TLS fingerprinting no ja4 / ja3).
  distill-guard fit --policy FILE --scenarios DIR|FILE... [--seeds 11] [--jobs 2] [--rounds 2]
                   [--signals all|state|prompt|KEY,...] [--legit-clients ID,...] [--out FILE]
      Fits the signal weights of a policy to simulated traffic by coordinate search over
      a grid (legitimate flagged <= 0.4 %, denied <= 0.03 %, no client family above
      0.8 %; then as much of every campaign as possible); prints progress to stderr and
      writes the fitted policy to --out (or stdout). --legit-clients keeps only these
      client stacks in the legitimate population (held-out fits). Report on other seeds.
  distill-guard signals
      Prints the reason-code table (Markdown): code, default weight, ramp, meaning.
  distill-guard fleet-view --policy FILE [--now-ms N] REPLY
      Merges what the fleet store holds (REPLY: the raw answer of a read-only store round
      trip, fleet/parts.py read_store) into one state of FILE's shape; prints a JSON summary:
      entries per node, deltas merged and refused, the distinct active accounts.
";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("replay") => replay(&args[1..]),
        Some("campaigns") => campaigns(&args[1..]),
        Some("check-policy") => check_policy(&args[1..]),
        Some("simulate") => simulate(&args[1..]),
        Some("quality") => quality(&args[1..]),
        Some("fit") => fit(&args[1..]),
        Some("fleet-view") => fleet_view(&args[1..]),
        Some("signals") => {
            print!("{}", signal_table());
            Ok(ExitCode::SUCCESS)
        }
        Some("-h" | "--help" | "help") => {
            print!("{USAGE}");
            Ok(ExitCode::SUCCESS)
        }
        _ => Err(format!("unknown or missing command\n\n{USAGE}")),
    };
    match result {
        Ok(code) => code,
        Err(msg) => {
            eprintln!("error: {msg}");
            ExitCode::from(2)
        }
    }
}

/// Splits `--name VALUE` options from positional arguments.
fn parse_args<'a>(args: &'a [String], with_value: &[&str], flags: &[&str]) -> Result<(BTreeMap<&'a str, &'a str>, Vec<&'a str>), String> {
    let mut opts = BTreeMap::new();
    let mut pos = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if with_value.contains(&a.as_str()) {
            let v = it.next().ok_or_else(|| format!("{a} needs a value"))?;
            opts.insert(a.as_str(), v.as_str());
        } else if flags.contains(&a.as_str()) {
            opts.insert(a.as_str(), "");
        } else if a.starts_with("--") {
            return Err(format!("unknown option {a}"));
        } else {
            pos.push(a.as_str());
        }
    }
    Ok((opts, pos))
}

fn load_policy(path: &str) -> Result<Policy, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
    Policy::from_json(&text).map_err(|errs| {
        let lines: Vec<String> = errs.0.iter().map(|e| format!("{path}: {e}")).collect();
        lines.join("\n")
    })
}

fn check_policy(args: &[String]) -> Result<ExitCode, String> {
    let (_, files) = parse_args(args, &[], &[])?;
    if files.is_empty() {
        return Err("check-policy needs at least one FILE".into());
    }
    let mut ok = true;
    for f in files {
        match load_policy(f) {
            Ok(p) => {
                let mem = p.state.memory_bound();
                let routes = if p.routes.is_empty() { String::new() } else { format!(", {} route(s)", p.routes.len()) };
                println!("{f}: ok (mode {:?}, thresholds tag {} / throttle {} / deny {}{routes}, state memory bound {} bytes = {:.1} MiB)",
                    p.mode, p.thresholds.tag, p.thresholds.throttle, p.thresholds.deny, mem, mem as f64 / 1048576.0);
                // Valid but unsafe to deploy: a warning line each, and still exit 0.
                for w in p.warnings() {
                    println!("{f}: warning: {w}");
                }
            }
            Err(msg) => {
                ok = false;
                println!("{msg}");
            }
        }
    }
    Ok(if ok { ExitCode::SUCCESS } else { ExitCode::from(1) })
}


/// Opens the one traffic INPUT of `command` (`-` or none: stdin) with a large buffer.
fn open_input(command: &str, pos: &[&str]) -> Result<Box<dyn BufRead>, String> {
    Ok(match pos {
        [] | ["-"] => Box::new(BufReader::with_capacity(1 << 17, io::stdin().lock())),
        [path] => Box::new(BufReader::with_capacity(1 << 17, File::open(path).map_err(|e| format!("{path}: {e}"))?)),
        _ => return Err(format!("{command} takes one INPUT")),
    })
}

/// Calls `f(line, line_no)` for every line of `input` (without its newline; 1-based
/// numbers). Lines are read in place from the buffer; only a line that runs past the
/// buffered bytes is copied out.
fn for_each_line(input: &mut dyn BufRead, mut f: impl FnMut(&[u8], u64) -> Result<(), String>) -> Result<(), String> {
    let mut long = Vec::new();
    let mut line_no = 0u64;
    loop {
        let avail = input.fill_buf().map_err(|e| format!("reading input: {e}"))?;
        if avail.is_empty() {
            return Ok(());
        }
        line_no += 1;
        match memchr::memchr(b'\n', avail) {
            Some(k) => {
                f(avail.get(..k).unwrap_or(avail), line_no)?;
                input.consume(k + 1);
            }
            None => {
                long.clear();
                input.read_until(b'\n', &mut long).map_err(|e| format!("reading input: {e}"))?;
                f(&long, line_no)?;
            }
        }
    }
}

/// The reason-code table of the README, generated from the signal catalogue.
fn signal_table() -> String {
    let mut s = String::from("| code | policy key | default weight | default ramp (from → full) | meaning |\n|---|---|---|---|---|\n");
    for sig in distill_guard::Signal::ALL {
        let ramp = sig.default_ramp().map(|(a, b)| format!("{a} → {b}")).unwrap_or_else(|| "—".into());
        s.push_str(&format!("| `{}` | `{}` | {} | {} | {} |\n", sig.code(), sig.key(), sig.default_weight(), ramp, sig.description()));
    }
    s
}

