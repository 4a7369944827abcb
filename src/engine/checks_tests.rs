use std::net::IpAddr;

use super::*;
use crate::proxy::address::WINDOW;

fn headers() -> Vec<String> {
    vec!["x-api-key".into(), "authorization".into()]
}

/// Feeds `windows` windows of `f(i)` = (client, X-Forwarded-For entries, has an account), a
/// second apart, and returns the notices handed out (one `take_notice` per request, as hosts do).
fn run(c: &mut Checks, windows: u32, hops: u32, t0: u64, f: impl Fn(u32) -> (Option<IpAddr>, u64, bool)) -> Vec<(String, bool)> {
    run_seen(c, windows, hops, t0, |i| {
        let (ip, xff_entries, account) = f(i);
        Seen { address: ClientAddress { ip, xff_entries, beyond: 0 }, account, ..Seen::default() }
    })
}

fn run_seen(c: &mut Checks, windows: u32, hops: u32, t0: u64, f: impl Fn(u32) -> Seen) -> Vec<(String, bool)> {
    let mut out = Vec::new();
    for i in 0..windows * WINDOW {
        c.record(f(i), hops, t0 + u64::from(i) * 1000);
        if c.has_notice() {
            out.extend(c.take_notice(&headers()));
        }
    }
    out
}

fn public(i: u32) -> Option<IpAddr> {
    Some(IpAddr::from([20 + (i % 50) as u8, (i / 7 % 250) as u8, (i % 13) as u8, 9]))
}

#[test]
fn a_matching_deployment_gives_no_line() {
    let mut c = Checks::default();
    assert_eq!(run(&mut c, 30, 1, 0, |i| (public(i), 1, i % 7 != 0)), vec![]);
}

#[test]
fn a_warning_is_named_once_again_hourly_and_its_end_once() {
    let mut c = Checks::default();
    let lb = |_| (Some(IpAddr::from([10, 1, 2, 3])), 1, true);
    let lines = run(&mut c, 3, 0, 0, lb);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(lines[0].1 && lines[0].0.starts_with("warning: client address: 100 % of the last 256 requests came from private addresses"), "{lines:?}");
    // Still so an hour later (ten windows: 43 minutes of requests): named again, once.
    let lines = run(&mut c, 10, 0, REPEAT_MS, lb);
    assert_eq!(lines.len(), 1, "{lines:?}");
    // Fixed: its end is logged once.
    let lines = run(&mut c, 3, 1, 2 * REPEAT_MS, |i| (public(i), 1, true));
    assert_eq!(lines, vec![("client address: the earlier warning no longer holds".to_string(), false)]);
}

#[test]
fn requests_without_an_account_key_are_named_with_the_headers_looked_at() {
    let mut c = Checks::default();
    // A filter before this one replaced the API key with its own user header: no account at all.
    let lines = run(&mut c, 2, 0, 0, |i| (public(i), 0, false));
    assert_eq!(lines.len(), 1, "{lines:?}");
    let (line, warning) = &lines[0];
    assert!(warning);
    assert!(line.starts_with("warning: account key: 100 % of the last 256 requests carried none of identity.headers (x-api-key, authorization)"), "{line}");
    // Both at once: both named, the address first (one line per request).
    let mut c = Checks::default();
    let lines = run(&mut c, 2, 0, 0, |_| (Some(IpAddr::from([10, 1, 2, 3])), 1, false));
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(lines[0].0.contains("client address") && lines[1].0.contains("account key"));
    // Under half without: nothing.
    let mut c = Checks::default();
    assert_eq!(run(&mut c, 4, 0, 0, |i| (public(i), 0, i % 3 != 0)), vec![]);
}

#[test]
fn bodies_the_policy_never_reads_are_named() {
    // An Azure-style API: every POST's path is outside body.paths, nothing is read.
    let post = |i: u32| Seen { address: ClientAddress { ip: public(i), ..ClientAddress::default() }, account: true, body_read: false, body_unread: i % 4 != 0 };
    let mut c = Checks::default();
    let lines = run_seen(&mut c, 2, 0, 0, post);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(lines[0].0.starts_with("warning: request bodies: 75 % of the last 256 requests sent a body to a path body.paths does not list"), "{lines:?}");
    // The API's paths listed: its bodies are read, and uploads elsewhere are no warning even
    // when they are most of the traffic.
    let mixed = |i: u32| Seen { body_read: i % 3 == 0, body_unread: i % 3 != 0, ..post(i) };
    let lines = run_seen(&mut c, 2, 0, REPEAT_MS, mixed);
    assert_eq!(lines, vec![("request bodies: the earlier warning no longer holds".to_string(), false)]);
    let mut c = Checks::default();
    assert_eq!(run_seen(&mut c, 4, 0, 0, mixed), vec![]);
}
