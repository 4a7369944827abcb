//! The readable form of a [`Report`] (the CLI's `--format table`): one block per campaign.
//! It formats only; the JSON form is the report's serde serialization.

use std::fmt::Write;

use super::Report;

/// Account ids shown per campaign in the table (JSON lists up to `Settings::sample`).
pub const TABLE_ACCOUNTS: usize = 12;

/// `ms` since the epoch as `YYYY-MM-DD hh:mm:ss UTC`.
pub fn utc(ms: u64) -> String {
    let secs = ms / 1000;
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC", rem / 3600, rem % 3600 / 60, rem % 60)
}

fn pct(x: f64) -> String {
    format!("{:.1} %", 100.0 * x)
}

/// The report as text (see the module docs).
pub fn table(r: &Report) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{} suspected campaign{} (at least {} accounts; {} requests, {} flagged, {} flagged accounts tracked{})",
        r.campaigns_total,
        if r.campaigns_total == 1 { "" } else { "s" },
        r.min_accounts,
        r.requests,
        r.flagged,
        r.accounts_tracked,
        if r.window_s > 0 { format!(", last {} s", r.window_s) } else { String::new() }
    );
    for (i, c) in r.campaigns.iter().enumerate() {
        let _ = writeln!(s, "\n#{} campaign {}  confidence {}", i + 1, c.id, c.confidence);
        let _ = writeln!(s, "  accounts     {} (estimate {})", c.accounts.count, c.accounts.estimate);
        let _ = writeln!(
            s,
            "  requests     {} flagged of {} from its accounts; its keys {} flagged",
            c.requests.flagged,
            c.requests.all,
            pct(c.flagged_share)
        );
        let _ = writeln!(s, "  seen         {} .. {}", utc(c.first_seen_ms), utc(c.last_seen_ms));
        let _ = writeln!(s, "  elicitation  {}   mean score {:.1}", pct(c.elicitation_share), c.mean_score);
        let reasons: Vec<String> = c.reasons.iter().map(|r| format!("{} {}", r.code, r.count)).collect();
        let _ = writeln!(s, "  reasons      {}", reasons.join(", "));
        for (k, key) in c.keys.iter().enumerate() {
            let _ = writeln!(
                s,
                "  {}{} {} ({} accounts, {} of {} requests flagged)",
                if k == 0 { "keys         " } else { "             " },
                key.name.kind,
                key.name.id,
                key.accounts,
                key.flagged,
                key.requests
            );
        }
        if c.keys_total > c.keys.len() as u64 {
            let _ = writeln!(s, "               ... {} more keys", c.keys_total - c.keys.len() as u64);
        }
        let shown: Vec<&str> = c.accounts.sample.iter().take(TABLE_ACCOUNTS).map(String::as_str).collect();
        let more = if c.accounts.count > shown.len() as u64 { format!(" ... ({} of {}; --format json lists more)", shown.len(), c.accounts.count) } else { String::new() };
        let _ = writeln!(s, "  account ids  {}{more}", shown.join(" "));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_formats_civil_dates() {
        assert_eq!(utc(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(utc(1_772_409_600_000), "2026-03-02 00:00:00 UTC");
        assert_eq!(utc(951_782_400_000 + 3_723_000), "2000-02-29 01:02:03 UTC");
    }
}
