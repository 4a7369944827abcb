//! Maps a [`Verdict`] to what a host does: forward with tag headers, or answer 403 / 429.
//!
//! Shared by every host adapter so that Envoy, edge workers and tests agree byte for byte.
//! It does not talk to any host; adapters apply the returned [`Response`].

use crate::policy::Policy;
use crate::score::{Action, Verdict};

/// What the host must do with the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Response {
    /// Forward upstream, after removing client-sent headers with the tag prefix and adding these.
    Forward {
        /// Tag headers to add (lowercase names).
        headers: Vec<(String, String)>,
    },
    /// Answer locally; the origin never sees the request.
    Reply {
        /// 403 or 429.
        status: u16,
        /// Response headers (content-type, retry-after, tag headers).
        headers: Vec<(String, String)>,
        /// JSON body naming the reason codes.
        body: String,
    },
}

/// The tag headers for a verdict: `score`, `action`, `reasons`, `fp`, plus `client`,
/// `account`, `ja4h` and `mode` when known, each under `prefix`.
pub fn tag_headers(v: &Verdict, prefix: &str, shadow: bool) -> Vec<(String, String)> {
    let mut h = Vec::with_capacity(8);
    let _ = for_each_tag::<()>(v, prefix, shadow, |name, value| {
        h.push((name.to_string(), value.to_string()));
        Ok(())
    });
    h
}

/// Calls `f(name, value)` for each header of [`tag_headers`], in the same order and with
/// the same bytes, without building them as owned strings (one buffer for the names, one
/// for the reason list): for hosts that add headers one host call at a time. Stops at the
/// first `Err` of `f` and returns it.
pub fn for_each_tag<E>(v: &Verdict, prefix: &str, shadow: bool, mut f: impl FnMut(&str, &str) -> Result<(), E>) -> Result<(), E> {
    let mut failed = None;
    each_tag(v, prefix, shadow, &mut |name, value| match f(name, value) {
        Ok(()) => true,
        Err(e) => {
            failed = Some(e);
            false
        }
    });
    failed.map_or(Ok(()), Err)
}

/// [`for_each_tag`] without the generic error (one copy in the Wasm modules); `f` returns
/// false to stop.
fn each_tag(v: &Verdict, prefix: &str, shadow: bool, f: &mut dyn FnMut(&str, &str) -> bool) {
    let mut name = String::with_capacity(prefix.len() + 8);
    let mut tag = |suffix: &str, value: &str| {
        name.clear();
        name.push_str(prefix);
        name.push_str(suffix);
        f(&name, value)
    };
    let (mut digits, mut account_hex) = ([0u8; 16], [0u8; 16]);
    let account = v.fp.account.map(|a| hex16(a, &mut account_hex));
    let _ = tag("score", decimal(v.score, &mut digits))
        && tag("action", v.action.as_str())
        && tag("reasons", &v.reason_codes())
        && tag("fp", hex16(v.fp.hfp, &mut digits))
        && tag("client", v.fp.client)
        && account.map_or(true, |a| tag("account", a))
        && v.fp.ja4h.as_deref().map_or(true, |j| tag("ja4h", j))
        && (!shadow || tag("mode", "shadow"))
        && (!v.internal_error || tag("error", "internal"));
}

/// `n` in decimal, written into `buf`.
fn decimal(n: u8, buf: &mut [u8; 16]) -> &str {
    let (h, t, o) = (n / 100, n / 10 % 10, n % 10);
    let start = if h > 0 { 0 } else if t > 0 { 1 } else { 2 };
    buf[..3].copy_from_slice(&[b'0' + h, b'0' + t, b'0' + o]);
    std::str::from_utf8(&buf[start..3]).unwrap_or("0")
}

/// `n` as 16 lowercase hex digits, written into `buf`.
fn hex16(n: u64, buf: &mut [u8; 16]) -> &str {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for (i, b) in buf.iter_mut().enumerate() {
        *b = HEX[((n >> (60 - 4 * i)) & 0xf) as usize];
    }
    std::str::from_utf8(buf).unwrap_or("")
}

/// Decides the host response for `v` under `policy`.
pub fn respond(v: &Verdict, policy: &Policy) -> Response {
    let prefix = policy.output.header_prefix.as_str();
    let shadow = policy.mode == crate::policy::Mode::Shadow;
    let tags = tag_headers(v, prefix, shadow);
    match v.enforced {
        Action::Allow | Action::Tag => Response::Forward { headers: tags },
        Action::Throttle | Action::Deny => {
            let (status, kind, message) = if v.enforced == Action::Deny {
                (403, "forbidden", "request blocked by distill-guard")
            } else {
                (429, "rate_limited", "request throttled by distill-guard")
            };
            // Every piece is a fixed ASCII token (no escaping needed); built by hand so the
            // Wasm modules carry no JSON value serializer for it.
            let mut reasons = String::new();
            for (i, r) in v.reasons.iter().enumerate() {
                reasons.push_str(if i == 0 { "\"" } else { ",\"" });
                reasons.push_str(r.signal.code());
                reasons.push('"');
            }
            let body = format!(
                r#"{{"error":{{"type":"{kind}","message":"{message}"}},"action":"{}","score":{},"reasons":[{reasons}]}}"#,
                v.enforced.as_str(),
                v.score
            );
            let mut headers = vec![("content-type".to_string(), "application/json".to_string())];
            if v.enforced == Action::Throttle {
                headers.push(("retry-after".to_string(), policy.throttle.retry_after_s.to_string()));
            }
            headers.extend(tags);
            Response::Reply { status, headers, body }
        }
    }
}

/// True when a client-sent header name carries the tag prefix and must be removed.
pub fn is_tag_header(name: &[u8], prefix: &str) -> bool {
    name.len() >= prefix.len() && crate::util::eq_ci(&name[..prefix.len()], prefix.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::score::Reason;
    use crate::signal::Signal;

    fn verdict(action: Action) -> Verdict {
        Verdict {
            action,
            enforced: action,
            score: 95,
            reasons: vec![Reason { signal: Signal::ProxyVia, strength: 1.0, points: 25.0 }],
            ..Default::default()
        }
    }

    #[test]
    fn deny_and_throttle_reply_locally() {
        let p = Policy::default();
        match respond(&verdict(Action::Deny), &p) {
            Response::Reply { status, body, .. } => {
                assert_eq!(status, 403);
                assert!(body.contains("\"proxy.via\""), "{body}");
            }
            r => panic!("{r:?}"),
        }
        match respond(&verdict(Action::Throttle), &p) {
            Response::Reply { status, headers, .. } => {
                assert_eq!(status, 429);
                assert!(headers.contains(&("retry-after".into(), "30".into())));
            }
            r => panic!("{r:?}"),
        }
    }

    #[test]
    fn tags_are_formatted_like_the_display_impls() {
        for (score, account, hfp) in [(0u8, 0u64, 0u64), (7, 1, 0xabc), (95, u64::MAX, 0x0123_4567_89ab_cdef), (100, 42, 1 << 63)] {
            let mut v = verdict(Action::Tag);
            v.score = score;
            v.fp.account = Some(account);
            v.fp.hfp = hfp;
            v.fp.ja4h = Some("ge11nn05enus_0000".into());
            v.internal_error = true;
            let h = tag_headers(&v, "x-t-", true);
            let want = vec![
                ("x-t-score".to_string(), score.to_string()),
                ("x-t-action".to_string(), "tag".to_string()),
                ("x-t-reasons".to_string(), "proxy.via".to_string()),
                ("x-t-fp".to_string(), format!("{hfp:016x}")),
                ("x-t-client".to_string(), v.fp.client.to_string()),
                ("x-t-account".to_string(), format!("{account:016x}")),
                ("x-t-ja4h".to_string(), "ge11nn05enus_0000".to_string()),
                ("x-t-mode".to_string(), "shadow".to_string()),
                ("x-t-error".to_string(), "internal".to_string()),
            ];
            assert_eq!(h, want);
        }
        let mut seen = 0;
        let r: Result<(), u8> = for_each_tag(&verdict(Action::Allow), "x-", false, |_, _| {
            seen += 1;
            if seen == 2 { Err(9) } else { Ok(()) }
        });
        assert_eq!((r, seen), (Err(9), 2));
    }

    #[test]
    fn forward_carries_tags_and_prefix_matches_case_insensitively() {
        let p = Policy::default();
        let Response::Forward { headers } = respond(&verdict(Action::Allow), &p) else { panic!() };
        assert!(headers.iter().any(|(k, v)| k == "x-distill-reasons" && v == "proxy.via"));
        assert!(is_tag_header(b"X-Distill-Score", "x-distill-"));
        assert!(!is_tag_header(b"x-dist", "x-distill-"));
    }
}
