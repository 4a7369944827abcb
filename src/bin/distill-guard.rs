//! The native CLI: `replay` traffic files through one engine, `check-policy`, `simulate`,
//! `quality`, `signals`, `fleet-view`.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Write};
use std::process::ExitCode;

use distill_guard::explain::explain;
use distill_guard::report::VerdictReport;
use distill_guard::signal::Levels;
use distill_guard::score::{Action, Verdict};
use distill_guard::{traffic, Engine, Policy};

const USAGE: &str = "distill-guard: detect LLM distillation campaigns in API traffic

usage:
  distill-guard replay --policy FILE [--explain] [INPUT|-]
      Runs JSONL traffic records through one engine, in order, and prints one JSON
      verdict per input line. A summary goes to stderr. --explain adds each reason's
      measured level, ramp, strength, weight and points, the levels of graded signals
      that added nothing, and the readable header shape.
  distill-guard check-policy FILE...
      Validates policy files; prints every error with its path; exits 1 on any error.
      Settings that are valid but unsafe to deploy (the shipped identity.hash_key) get a
      warning line and do not change the exit status.
  distill-guard simulate --scenario FILE [--seed N] [--out FILE] [--requests N]
      Writes labeled simulated traffic (JSONL, time-ordered), deterministic for
      (scenario, seed); --requests stops after the first N records.
  distill-guard quality --policy FILE --scenarios DIR|FILE... [--seeds 11,12,13] [--jobs 2]
                       [--check] [--segments] [--families] [--held] [--legit-clients ID,...]
                       [--without asn,country,ja4,ja3]
      Simulates every scenario for every seed, runs one engine per run, and prints a
      Markdown table of detection quality; --check exits 1 when a target is missed;
      --segments adds legitimate false positives per population segment, --families
      per client family (target: none above 1 % flagged), --held the share of requests
      held for their body before the verdict; --without removes those peer facts from
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

fn fleet_view(args: &[String]) -> Result<ExitCode, String> {
    let (opts, pos) = parse_args(args, &["--policy", "--now-ms"], &[])?;
    let policy = load_policy(opts.get("--policy").ok_or("fleet-view needs --policy FILE")?)?;
    let [reply] = pos.as_slice() else { return Err("fleet-view takes one REPLY file".into()) };
    let now_ms = match opts.get("--now-ms") {
        Some(n) => n.parse().map_err(|_| format!("--now-ms: not a number: {n}"))?,
        None => std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64),
    };
    let bytes = std::fs::read(reply).map_err(|e| format!("{reply}: {e}"))?;
    let mut state = distill_guard::state::State::new(&policy.state);
    let summary = distill_guard::fleet::view::merge_reply(&mut state, &bytes, now_ms).map_err(|e| format!("{reply}: {e}"))?;
    println!("{}", summary.to_json());
    Ok(ExitCode::SUCCESS)
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
                println!("{f}: ok (mode {:?}, thresholds tag {} / throttle {} / deny {}, state memory bound {} bytes = {:.1} MiB)",
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

#[derive(Default)]
struct Summary {
    lines: u64,
    errors: u64,
    per_action: [u64; 4],
    per_label: BTreeMap<String, [u64; 4]>,
}

fn replay(args: &[String]) -> Result<ExitCode, String> {
    let (opts, pos) = parse_args(args, &["--policy"], &["--explain"])?;
    let policy_path = opts.get("--policy").ok_or("replay needs --policy FILE")?;
    let explain = opts.contains_key("--explain");
    let policy = load_policy(policy_path)?;
    // Lines are read in place from a large buffer; only a line that runs past the buffered
    // bytes is copied out (into `long`).
    let mut input: Box<dyn BufRead> = match pos.as_slice() {
        [] | ["-"] => Box::new(BufReader::with_capacity(1 << 17, io::stdin().lock())),
        [path] => Box::new(BufReader::with_capacity(1 << 17, File::open(path).map_err(|e| format!("{path}: {e}"))?)),
        _ => return Err("replay takes one INPUT".into()),
    };
    let engine = Engine::new(policy);
    let limit = engine.body_limit();
    let stdout = io::stdout();
    let out = BufWriter::with_capacity(1 << 16, stdout.lock());
    let mut r = Replayer { engine, limit, explain, decoder: traffic::LineDecoder::new(), out, sum: Summary::default(), buf: Vec::new() };
    let mut long = Vec::new();
    let mut line_no = 0u64;
    loop {
        let avail = input.fill_buf().map_err(|e| format!("reading input: {e}"))?;
        if avail.is_empty() {
            break;
        }
        line_no += 1;
        match memchr::memchr(b'\n', avail) {
            Some(k) => {
                r.line(avail.get(..k).unwrap_or(avail), line_no)?;
                input.consume(k + 1);
            }
            None => {
                long.clear();
                input.read_until(b'\n', &mut long).map_err(|e| format!("reading input: {e}"))?;
                r.line(&long, line_no)?;
            }
        }
    }
    r.out.flush().map_err(|e| format!("writing output: {e}"))?;
    print_summary(&r.sum);
    Ok(ExitCode::SUCCESS)
}

/// One engine and the output of a `replay` run.
struct Replayer<W: Write> {
    engine: Engine,
    limit: usize,
    explain: bool,
    decoder: traffic::LineDecoder,
    out: W,
    sum: Summary,
    /// The verdict line being written (reused).
    buf: Vec<u8>,
}

impl<W: Write> Replayer<W> {
    /// Inspects one input line (without its newline) and writes its verdict or error.
    fn line(&mut self, raw: &[u8], line_no: u64) -> Result<(), String> {
        let trimmed = raw.trim_ascii();
        if trimmed.is_empty() {
            return Ok(());
        }
        let sum = &mut self.sum;
        sum.lines += 1;
        let res = std::str::from_utf8(trimmed)
            .map_err(|e| format!("not UTF-8: {e}"))
            .and_then(|line| self.decoder.parse(line));
        let written = match res {
            Err(msg) => {
                sum.errors += 1;
                serde_json::to_writer(&mut self.out, &serde_json::json!({"line": line_no, "error": msg}))
            }
            Ok(dec) => {
                let req = dec.request(self.limit);
                let mut levels = Levels::default();
                let v = if self.explain { self.engine.inspect_levels(&req, &mut levels) } else { self.engine.inspect(&req) };
                let label = dec.record().label.as_ref();
                let a = v.action as usize;
                sum.per_action[a] += 1;
                if let Some(l) = label {
                    let key = l.as_str().map_or_else(|| Cow::Owned(l.to_string()), Cow::Borrowed);
                    match sum.per_label.get_mut(key.as_ref()) {
                        Some(c) => c[a] += 1,
                        None => sum.per_label.entry(key.into_owned()).or_default()[a] += 1,
                    }
                }
                if self.explain {
                    let why = explain(&self.engine.compiled().weights, &v.reasons, &levels);
                    let o = VerdictReport::new(&v).line(line_no).label(label).explained(why, &req);
                    serde_json::to_writer(&mut self.out, &o)
                } else {
                    self.buf.clear();
                    report_line(&mut self.buf, &v, line_no, label);
                    self.out.write_all(&self.buf).map_err(serde_json::Error::io)
                }
            }
        };
        written.map_err(|e| format!("writing output: {e}"))?;
        self.out.write_all(b"\n").map_err(|e| format!("writing output: {e}"))
    }
}

/// Appends the verdict line of `v` without `--explain`: the bytes `serde_json::to_writer` gives
/// for `VerdictReport::new(v).line(line).label(label)`, without building the report (its
/// strings and vector). Strings that JSON must escape, and labels that are not strings, are
/// written by serde_json itself.
fn report_line(out: &mut Vec<u8>, v: &Verdict, line: u64, label: Option<&serde_json::Value>) {
    out.extend_from_slice(b"{\"line\":");
    decimal(out, line);
    out.extend_from_slice(b",\"action\":");
    json_str(out, v.action.as_str());
    out.extend_from_slice(b",\"enforced\":");
    json_str(out, v.enforced.as_str());
    out.extend_from_slice(b",\"score\":");
    decimal(out, v.score as u64);
    out.extend_from_slice(b",\"reasons\":[");
    for (i, r) in v.reasons.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        json_str(out, r.signal.code());
    }
    out.extend_from_slice(b"],\"fp\":{\"hfp\":");
    hex16(out, v.fp.hfp);
    out.extend_from_slice(b",\"client\":");
    json_str(out, v.fp.client);
    if let Some(a) = v.fp.account {
        out.extend_from_slice(b",\"account\":");
        hex16(out, a);
    }
    for (key, val) in [(&b",\"ja4h\":"[..], &v.fp.ja4h), (b",\"ja4\":", &v.fp.ja4), (b",\"ja3\":", &v.fp.ja3)] {
        if let Some(s) = val {
            out.extend_from_slice(key);
            json_str(out, s);
        }
    }
    for (key, val) in [(&b",\"template\":"[..], v.fp.template), (b",\"task\":", v.fp.task), (b",\"tools\":", v.fp.tool_set)] {
        if let Some(t) = val {
            out.extend_from_slice(key);
            hex16(out, t);
        }
    }
    out.push(b'}');
    match label {
        None => {}
        Some(serde_json::Value::String(s)) => {
            out.extend_from_slice(b",\"label\":");
            json_str(out, s);
        }
        Some(other) => {
            out.extend_from_slice(b",\"label\":");
            // Writing into a Vec cannot fail.
            let _ = serde_json::to_writer(&mut *out, other);
        }
    }
    out.push(b'}');
}

/// A JSON string as serde_json writes it: as it is when no byte needs an escape.
fn json_str(out: &mut Vec<u8>, s: &str) {
    if s.bytes().all(|c| c >= 0x20 && c != b'"' && c != b'\\') {
        out.push(b'"');
        out.extend_from_slice(s.as_bytes());
        out.push(b'"');
    } else {
        let _ = serde_json::to_writer(&mut *out, s);
    }
}

/// `n` in decimal.
fn decimal(out: &mut Vec<u8>, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[i..]);
}

/// `x` as a JSON string of 16 lowercase hex digits (`format!("{x:016x}")`).
fn hex16(out: &mut Vec<u8>, x: u64) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut s = [b'"'; 18];
    for (k, c) in s[1..17].iter_mut().enumerate() {
        *c = HEX[(x >> (60 - 4 * k) & 15) as usize];
    }
    out.extend_from_slice(&s);
}

fn print_summary(s: &Summary) {
    let mut err = io::stderr().lock();
    let acts = |c: &[u64; 4]| {
        Action::ALL.iter().map(|a| format!("{} {}", a.as_str(), c[*a as usize])).collect::<Vec<_>>().join(", ")
    };
    let _ = writeln!(err, "summary: {} records, {} errors; {}", s.lines, s.errors, acts(&s.per_action));
    for (label, c) in &s.per_label {
        let total: u64 = c.iter().sum();
        let flagged = total - c[0];
        let _ = writeln!(err, "  label {label}: {total} records, flagged {flagged} ({:.2}%); {}", 100.0 * flagged as f64 / total.max(1) as f64, acts(c));
    }
}

fn load_scenario(path: &str) -> Result<distill_guard::simulate::Scenario, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
    distill_guard::simulate::Scenario::from_json(&text).map_err(|errs| {
        let lines: Vec<String> = errs.0.iter().map(|e| format!("{path}: {e}")).collect();
        lines.join("\n")
    })
}

fn simulate(args: &[String]) -> Result<ExitCode, String> {
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

fn quality(args: &[String]) -> Result<ExitCode, String> {
    use distill_guard::simulate::quality;
    let (opts, pos) = parse_args(args, &["--policy", "--scenarios", "--seeds", "--jobs", "--legit-clients", "--without"], &["--check", "--segments", "--families", "--held"])?;
    let policy = load_policy(opts.get("--policy").ok_or("quality needs --policy FILE")?)?;
    let without = quality::Without::parse(opts.get("--without").copied().unwrap_or_default())?;
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
        print!("\nRequests held for their body before the verdict:\n\n{}", quality::held_table(&runs));
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
fn scenario_args(opts: &BTreeMap<&str, &str>, pos: &[&str]) -> Result<Vec<distill_guard::simulate::Scenario>, String> {
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
fn seed_list(text: &str) -> Result<Vec<u64>, String> {
    text.split(',').map(|s| s.trim().parse::<u64>().map_err(|_| format!("--seeds: not a whole number: {s:?}"))).collect()
}

fn fit(args: &[String]) -> Result<ExitCode, String> {
    use distill_guard::simulate::fit;
    use distill_guard::{Signal, signal::Family};
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

/// The reason-code table of the README, generated from the signal catalogue.
fn signal_table() -> String {
    let mut s = String::from("| code | policy key | default weight | default ramp (from → full) | meaning |\n|---|---|---|---|---|\n");
    for sig in distill_guard::Signal::ALL {
        let ramp = sig.default_ramp().map(|(a, b)| format!("{a} → {b}")).unwrap_or_else(|| "—".into());
        s.push_str(&format!("| `{}` | `{}` | {} | {} | {} |\n", sig.code(), sig.key(), sig.default_weight(), ramp, sig.description()));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use distill_guard::score::Reason;
    use distill_guard::Signal;

    /// `report_line` writes exactly what serde_json writes for the report.
    #[test]
    fn report_line_matches_the_serde_report() {
        let odd = ["", "t13d1516h2_8daaf6152771_e5627efa2ab1", "a\"b\\c", "tab\there", "\u{1}\u{1f}", "caf\u{e9} \u{1F600}", "\u{7f}"];
        let labels = [
            None,
            Some(serde_json::json!("legit")),
            Some(serde_json::json!("q\"uote\n")),
            Some(serde_json::json!(7)),
            Some(serde_json::json!(-1.5)),
            Some(serde_json::json!({"a": [1, "x", null]})),
            Some(serde_json::json!(null)),
        ];
        let mut n = 0u64;
        let mut buf = Vec::new();
        for (i, s) in odd.iter().enumerate() {
            for label in &labels {
                let mut v = Verdict {
                    action: Action::ALL[i % 4],
                    enforced: Action::ALL[(i + 1) % 4],
                    score: [0, 7, 10, 99, 100, 255][i % 6],
                    ..Default::default()
                };
                v.reasons = Signal::ALL.iter().take(i).map(|&signal| Reason { signal, strength: 0.5, points: 1.0 }).collect();
                v.fp.hfp = [0, 1, u64::MAX, 0xa74e_b43a_4fa7_3654][i % 4];
                v.fp.client = ["node", "", "curl"][i % 3];
                v.fp.account = (i % 2 == 0).then_some(0x0123_4567_89ab_cdef ^ i as u64);
                v.fp.ja4h = (i % 3 == 1).then(|| s.to_string());
                v.fp.ja4 = (i % 2 == 1).then(|| s.to_string());
                v.fp.ja3 = Some(s.to_string());
                v.fp.template = (i % 3 != 2).then_some(u64::MAX >> i);
                v.fp.task = (i % 2 == 0).then_some(u64::MAX >> (i + 3));
                v.fp.tool_set = (i % 4 != 1).then_some(0x0123_4567_89ab_cdef >> i);
                for line in [0, 1, 9, 10, 12345, u64::MAX] {
                    n += 1;
                    buf.clear();
                    report_line(&mut buf, &v, line, label.as_ref());
                    let want = VerdictReport::new(&v).line(line).label(label.as_ref()).to_json();
                    assert_eq!(String::from_utf8(buf.clone()).unwrap(), want);
                }
            }
        }
        assert_eq!(n, 7 * 7 * 6);
    }
}
