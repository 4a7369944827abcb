//! `distill-guard fleet-view`: merges what the fleet store holds (the raw answer of a
//! read-only store round trip) into one state of a policy's shape and prints a JSON summary
//! ([`distill_guard::fleet::view`]).

use std::process::ExitCode;

use crate::{load_policy, parse_args};

pub(crate) fn fleet_view(args: &[String]) -> Result<ExitCode, String> {
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
