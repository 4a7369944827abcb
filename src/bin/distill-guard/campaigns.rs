//! `distill-guard campaigns`: replays a traffic file through one engine with a campaign
//! tracker attached ([`distill_guard::campaign`]) and prints the suspected campaigns, as
//! JSON or a readable table. Bad lines are reported on stderr with their number and the run
//! goes on. When records carry labels (simulated traffic), stderr also shows how the
//! labels' accounts landed in the campaigns (the precision and recall of the report).

use std::collections::{BTreeMap, HashMap};
use std::io::{self, Write};
use std::process::ExitCode;

use distill_guard::campaign::{self, Report, Settings};
use distill_guard::fleet::protocol::Refusal;
use distill_guard::{traffic, Engine};

use crate::{for_each_line, load_policy, open_input, parse_args};

/// Options that map to a [`Settings`] field, with its name.
const SETTING_FLAGS: [(&str, &str); 7] = [
    ("--min-accounts", "min_accounts"),
    ("--accounts", "accounts"),
    ("--clusters", "clusters"),
    ("--link-share", "link_share"),
    ("--account-share", "account_share"),
    ("--window-s", "window_s"),
    ("--sample", "sample"),
];

/// The tracker settings of the command line, validated like every setting (errors name
/// the flag). `--sample` defaults to every tracked account: the JSON is the ban list.
fn settings(opts: &BTreeMap<&str, &str>) -> Result<Settings, String> {
    let mut obj = serde_json::Map::new();
    for (flag, key) in SETTING_FLAGS {
        if let Some(v) = opts.get(flag) {
            let value: serde_json::Value = serde_json::from_str(v).map_err(|_| format!("{flag}: not a number: {v:?}"))?;
            obj.insert(key.to_string(), value);
        }
    }
    let mut s = Settings::from_value(&serde_json::Value::Object(obj), "campaigns").map_err(|errs| {
        let lines: Vec<String> = errs.0.iter().map(|e| format!("--{}: {}", e.path.trim_start_matches("campaigns.").replace('_', "-"), e.message)).collect();
        lines.join("\n")
    })?;
    if !opts.contains_key("--sample") {
        s.sample = s.accounts;
    }
    Ok(s)
}

pub(crate) fn campaigns(args: &[String]) -> Result<ExitCode, String> {
    let with_value: Vec<&str> = ["--policy", "--format", "--fleet"].into_iter().chain(SETTING_FLAGS.iter().map(|f| f.0)).collect();
    let (opts, pos) = parse_args(args, &with_value, &[])?;
    let json = match opts.get("--format").copied().unwrap_or("table") {
        "json" => true,
        "table" => false,
        other => return Err(format!("--format: expected table or json, got {other:?}")),
    };
    let settings = settings(&opts)?;
    if let Some(reply) = opts.get("--fleet") {
        if !pos.is_empty() || opts.contains_key("--policy") {
            return Err("campaigns --fleet takes no traffic file and no --policy (the nodes scored the requests)".into());
        }
        return fleet(reply, settings, json);
    }
    let policy = load_policy(opts.get("--policy").ok_or("campaigns needs --policy FILE (or --fleet REPLY)")?)?;
    let mut input = open_input("campaigns", &pos)?;
    let mut engine = Engine::new(policy);
    engine.track_campaigns(settings);
    let limit = engine.body_limit();
    let mut decoder = traffic::LineDecoder::new();
    let mut labels = Labels::default();
    let (mut records, mut errors) = (0u64, 0u64);
    let mut err = io::stderr().lock();
    for_each_line(&mut *input, |raw, line_no| {
        let trimmed = raw.trim_ascii();
        if trimmed.is_empty() {
            return Ok(());
        }
        records += 1;
        let res = std::str::from_utf8(trimmed).map_err(|e| format!("not UTF-8: {e}")).and_then(|l| decoder.parse(l));
        match res {
            Err(msg) => {
                errors += 1;
                let _ = writeln!(err, "line {line_no}: {msg}");
            }
            Ok(dec) => {
                let v = engine.inspect(&dec.request(limit));
                if let (Some(a), Some(l)) = (v.fp.account, dec.record().label.as_ref()) {
                    labels.note(a, l);
                }
            }
        }
        Ok(())
    })?;
    let tracker = engine.campaigns().ok_or("no campaign tracker")?;
    let report = tracker.report(tracker.last_ms());
    let text = if json { serde_json::to_string_pretty(&report).map_err(|e| e.to_string())? + "\n" } else { campaign::table(&report) };
    io::stdout().lock().write_all(text.as_bytes()).map_err(|e| format!("writing output: {e}"))?;
    let mem = settings.memory_bound();
    let _ = writeln!(
        err,
        "campaigns: {records} records, {errors} errors; {} flagged; {} campaigns; tracker memory bound {mem} bytes = {:.1} MiB",
        report.flagged,
        report.campaigns_total,
        mem as f64 / 1048576.0
    );
    labels.summary(&report, &mut err);
    Ok(ExitCode::SUCCESS)
}

/// `--fleet REPLY`: the store's answer to a read of every node's campaign snapshot (the
/// bridge's raw body, see [`distill_guard::fleet::campaigns`]), merged into one tracker with
/// the command line's settings (`--window-s` must be the nodes'). A node's snapshot that
/// does not merge is reported on stderr and left out.
fn fleet(path: &str, settings: Settings, json: bool) -> Result<ExitCode, String> {
    let body = std::fs::read(path).map_err(|e| format!("{path}: {e}"))?;
    let nodes = distill_guard::fleet::campaigns::answer(&body).map_err(|r| match r {
        Refusal::Store(text) => format!("{path}: the store answered with an error: {text}"),
        Refusal::Malformed(e) => format!("{path}: not the store's answer to a campaigns read ({e})"),
    })?;
    let mut tracker = campaign::Tracker::new(settings);
    let mut err = io::stderr().lock();
    let mut merged = 0;
    for n in &nodes {
        let name = String::from_utf8_lossy(n.node);
        match tracker.merge_snapshot(n.snapshot) {
            Ok(()) => merged += 1,
            Err(e) => {
                let _ = writeln!(err, "node {name}: snapshot refused ({e}); left out");
            }
        }
    }
    let report = tracker.report(tracker.last_ms());
    let text = if json { serde_json::to_string_pretty(&report).map_err(|e| e.to_string())? + "\n" } else { campaign::table(&report) };
    io::stdout().lock().write_all(text.as_bytes()).map_err(|e| format!("writing output: {e}"))?;
    let _ = writeln!(err, "campaigns: {merged} of {} node snapshots merged; {} requests, {} flagged; {} campaigns", nodes.len(), report.requests, report.flagged, report.campaigns_total);
    Ok(if merged == nodes.len() { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

/// Each labeled account's label (its first record's), for the summary.
#[derive(Default)]
struct Labels {
    names: Vec<String>,
    of: HashMap<u64, u16>,
}

impl Labels {
    fn note(&mut self, account: u64, label: &serde_json::Value) {
        if self.of.contains_key(&account) {
            return;
        }
        let name = label.as_str().map_or_else(|| label.to_string(), str::to_string);
        let i = match self.names.iter().position(|n| *n == name) {
            Some(i) => i,
            None => {
                self.names.push(name);
                self.names.len() - 1
            }
        };
        self.of.insert(account, i.min(u16::MAX as usize) as u16);
    }

    /// Per label: accounts, and how many a campaign lists (recall); per campaign: its
    /// listed accounts by label (precision).
    fn summary(&self, r: &Report, err: &mut impl Write) {
        if self.names.is_empty() {
            return;
        }
        let mut listed = vec![0u64; self.names.len()];
        for (i, c) in r.campaigns.iter().enumerate() {
            let mut mix = vec![0u64; self.names.len()];
            for id in &c.accounts.sample {
                let label = u64::from_str_radix(id, 16).ok().and_then(|a| self.of.get(&a));
                if let Some(&l) = label {
                    mix[l as usize] += 1;
                    listed[l as usize] += 1;
                }
            }
            let parts: Vec<String> = self.names.iter().zip(&mix).filter(|(_, &n)| n > 0).map(|(l, n)| format!("{l} {n}")).collect();
            let _ = writeln!(err, "  campaign #{} {}: {} accounts listed: {}", i + 1, c.id, c.accounts.sample.len(), parts.join(", "));
        }
        let mut total = vec![0u64; self.names.len()];
        for &l in self.of.values() {
            total[l as usize] += 1;
        }
        for (i, name) in self.names.iter().enumerate() {
            let _ = writeln!(err, "  label {name}: {} accounts, {} listed in a campaign ({:.1} %)", total[i], listed[i], 100.0 * listed[i] as f64 / total[i].max(1) as f64);
        }
    }
}
