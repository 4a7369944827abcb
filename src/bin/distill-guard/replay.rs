//! `distill-guard replay`: one JSON verdict per input line, a summary on stderr.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::io::{self, BufWriter, Write};
use std::process::ExitCode;

use distill_guard::explain::explain;
use distill_guard::report::VerdictReport;
use distill_guard::score::{Action, Verdict};
use distill_guard::signal::Levels;
use distill_guard::{traffic, Engine};

use crate::{for_each_line, load_policy, open_input, parse_args};

#[derive(Default)]
struct Summary {
    lines: u64,
    errors: u64,
    per_action: [u64; 4],
    per_label: BTreeMap<String, [u64; 4]>,
    /// Requests held for their body before the verdict.
    held: u64,
}

pub(crate) fn replay(args: &[String]) -> Result<ExitCode, String> {
    let (opts, pos) = parse_args(args, &["--policy"], &["--explain"])?;
    let policy_path = opts.get("--policy").ok_or("replay needs --policy FILE")?;
    let explain = opts.contains_key("--explain");
    let policy = load_policy(policy_path)?;
    let mut input = open_input("replay", &pos)?;
    let engine = Engine::new(policy);
    let limit = engine.body_limit();
    let stdout = io::stdout();
    let out = BufWriter::with_capacity(1 << 16, stdout.lock());
    let mut r = Replayer { engine, limit, explain, decoder: traffic::LineDecoder::new(), out, sum: Summary::default(), buf: Vec::new() };
    for_each_line(&mut *input, |line, line_no| r.line(line, line_no))?;
    r.out.flush().map_err(|e| format!("writing output: {e}"))?;
    print_summary(&r.sum, r.engine.counters());
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
                if let Some((n, _)) = self.engine.take_notice() {
                    eprintln!("line {line_no}: {n}");
                }
                let label = dec.record().label.as_ref();
                let a = v.action as usize;
                sum.per_action[a] += 1;
                sum.held += u64::from(v.held);
                if let Some(l) = label {
                    let key = l.as_str().map_or_else(|| Cow::Owned(l.to_string()), Cow::Borrowed);
                    match sum.per_label.get_mut(key.as_ref()) {
                        Some(c) => c[a] += 1,
                        None => sum.per_label.entry(key.into_owned()).or_default()[a] += 1,
                    }
                }
                if self.explain {
                    let why = explain(&self.engine.compiled().settings(v.route).weights, &v.reasons, &levels);
                    let o = VerdictReport::new(&v).line(line_no).route(self.engine.route_label(&v)).label(label).explained(why, &req);
                    serde_json::to_writer(&mut self.out, &o)
                } else {
                    self.buf.clear();
                    report_line(&mut self.buf, &v, line_no, self.engine.route_label(&v), label);
                    self.out.write_all(&self.buf).map_err(serde_json::Error::io)
                }
            }
        };
        written.map_err(|e| format!("writing output: {e}"))?;
        self.out.write_all(b"\n").map_err(|e| format!("writing output: {e}"))
    }
}

/// Appends the verdict line of `v` without `--explain`: the bytes `serde_json::to_writer` gives
/// for `VerdictReport::new(v).line(line).route(route).label(label)`, without building the report (its
/// strings and vector). Strings that JSON must escape, and labels that are not strings, are
/// written by serde_json itself.
fn report_line(out: &mut Vec<u8>, v: &Verdict, line: u64, route: Option<&str>, label: Option<&serde_json::Value>) {
    out.extend_from_slice(b"{\"line\":");
    decimal(out, line);
    out.extend_from_slice(b",\"action\":");
    json_str(out, v.action.as_str());
    out.extend_from_slice(b",\"enforced\":");
    json_str(out, v.enforced.as_str());
    out.extend_from_slice(b",\"score\":");
    decimal(out, v.score as u64);
    if let Some(r) = route {
        out.extend_from_slice(b",\"route\":");
        json_str(out, r);
    }
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

fn print_summary(s: &Summary, c: distill_guard::engine::Counters) {
    let mut err = io::stderr().lock();
    let acts = |c: &[u64; 4]| {
        Action::ALL.iter().map(|a| format!("{} {}", a.as_str(), c[*a as usize])).collect::<Vec<_>>().join(", ")
    };
    let _ = writeln!(err, "summary: {} records, {} errors; {}", s.lines, s.errors, acts(&s.per_action));
    let _ = writeln!(err, "  bodies: {} held for the verdict, {} learned after it, {} left unread (body.heavy_learn_one_in)", s.held, c.learned, c.skipped);
    let _ = writeln!(err, "  deployment checks: {}", checks_line(c));
    for (label, c) in &s.per_label {
        let total: u64 = c.iter().sum();
        let flagged = total - c[0];
        let _ = writeln!(err, "  label {label}: {total} records, flagged {flagged} ({:.2}%); {}", 100.0 * flagged as f64 / total.max(1) as f64, acts(c));
    }
}

/// What the deployment checks judged, for the summary, pointing at the warning lines above.
fn checks_line(c: distill_guard::engine::Counters) -> String {
    let lines = if c.checked_windows > 0 && c.deployment_warnings > 0 { " (above, with their input lines)" } else { "" };
    format!("{}{lines}", c.checks_summary())
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
                let route = [None, Some("batch"), Some("0")][i % 3];
                for line in [0, 1, 9, 10, 12345, u64::MAX] {
                    n += 1;
                    buf.clear();
                    report_line(&mut buf, &v, line, route, label.as_ref());
                    let want = VerdictReport::new(&v).line(line).route(route).label(label.as_ref()).to_json();
                    assert_eq!(String::from_utf8(buf.clone()).unwrap(), want);
                }
            }
        }
        assert_eq!(n, 7 * 7 * 6);
    }
}

