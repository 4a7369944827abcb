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
    h.push((format!("{prefix}score"), v.score.to_string()));
    h.push((format!("{prefix}action"), v.action.as_str().to_string()));
    h.push((format!("{prefix}reasons"), v.reason_codes()));
    h.push((format!("{prefix}fp"), v.hfp_hex()));
    h.push((format!("{prefix}client"), v.fp.client.to_string()));
    if let Some(a) = v.fp.account {
        h.push((format!("{prefix}account"), format!("{a:016x}")));
    }
    if let Some(j) = &v.fp.ja4h {
        h.push((format!("{prefix}ja4h"), j.clone()));
    }
    if shadow {
        h.push((format!("{prefix}mode"), "shadow".to_string()));
    }
    if v.internal_error {
        h.push((format!("{prefix}error"), "internal".to_string()));
    }
    h
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
    name.len() >= prefix.len() && name[..prefix.len()].eq_ignore_ascii_case(prefix.as_bytes())
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
    fn forward_carries_tags_and_prefix_matches_case_insensitively() {
        let p = Policy::default();
        let Response::Forward { headers } = respond(&verdict(Action::Allow), &p) else { panic!() };
        assert!(headers.iter().any(|(k, v)| k == "x-distill-reasons" && v == "proxy.via"));
        assert!(is_tag_header(b"X-Distill-Score", "x-distill-"));
        assert!(!is_tag_header(b"x-dist", "x-distill-"));
    }
}
