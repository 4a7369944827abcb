//! Maps a [`Verdict`] to what a host does: forward with the verdict on the request, or
//! answer 403 / 429.
//!
//! Shared by every host adapter so that Envoy, edge workers and tests agree byte for byte.
//! The verdict travels to the origin as separate tag headers (`x-distill-score`, ...), as one
//! RFC 9651 dictionary header (`x-distill: score=41, action=tag, ...`, see [`sf`]) or both,
//! as the policy's `output.format` says. A blocked client gets a generic message and an
//! opaque reference id ([`reference`]; the same id is on the origin-side tags and in the
//! hosts' logs) unless `output.client_reasons` opts in to the score, reasons and fingerprint.
//! It does not talk to any host; adapters apply the returned [`Response`].

pub mod sf;

use crate::policy::{Mode, Policy};
use crate::score::{Action, Verdict};

/// What the host must do with the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Response {
    /// Forward upstream, after removing client-sent tag headers ([`is_tag_header`]) and adding these.
    Forward {
        /// Tag headers to add (lowercase names).
        headers: Vec<(String, String)>,
    },
    /// Answer locally; the origin never sees the request.
    Reply {
        /// 403 or 429.
        status: u16,
        /// Response headers (content-type, retry-after; the tags only with `client_reasons`).
        headers: Vec<(String, String)>,
        /// JSON body: a generic message and the reference id (plus the verdict with `client_reasons`).
        body: String,
    },
}

/// The opaque reference id of one request: a keyed hash (seeded from the policy's
/// `identity.hash_key`) of `token`, which the host makes unique per request (Envoy: its
/// `x-request-id`, the time and the VM's request count; the worker: `cf-ray`, or a random
/// per-isolate id and a count). It reveals nothing about the verdict; operators find the
/// request by it in the logs and the origin's tags.
pub fn reference(policy: &Policy, token: &[u8]) -> u64 {
    let key = crate::identity::derive_key(&policy.identity.hash_key);
    xxhash_rust::xxh3::xxh3_64_with_seed(token, key ^ 0x7265_665f_6964_5f31) // "ref_id_1": apart from account ids
}

/// The tag headers for a verdict, in [`for_each_tag`]'s order, as owned strings.
pub fn tag_headers(v: &Verdict, policy: &Policy, reference: u64) -> Vec<(String, String)> {
    let mut h = Vec::with_capacity(10);
    let _ = for_each_tag::<()>(v, policy, reference, |name, value| {
        h.push((name.to_string(), value.to_string()));
        Ok(())
    });
    h
}

/// Calls `f(name, value)` for each header the policy's `output.format` adds to a forwarded
/// request: the separate tags (`score`, `action`, `reasons`, `fp`, `client`, then `account`,
/// `ja4h`, `mode`, `error` when they apply, and `ref`, each under the prefix) and / or the
/// structured header ([`dictionary`]). Nothing is built as an owned string per header: for
/// hosts that add headers one host call at a time. Stops at the first `Err` of `f`.
pub fn for_each_tag<E>(v: &Verdict, policy: &Policy, reference: u64, mut f: impl FnMut(&str, &str) -> Result<(), E>) -> Result<(), E> {
    let mut failed = None;
    each_tag(v, policy, reference, &mut |name, value| match f(name, value) {
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
fn each_tag(v: &Verdict, policy: &Policy, reference: u64, f: &mut dyn FnMut(&str, &str) -> bool) {
    let out = &policy.output;
    if out.format.headers() && !separate_tags(v, policy, reference, f) {
        return;
    }
    if out.format.structured() {
        let mut value = String::with_capacity(160);
        dictionary(v, policy, reference, &mut value);
        f(out.structured_name(), &value);
    }
}

/// The separate tag headers; false when `f` asked to stop.
fn separate_tags(v: &Verdict, policy: &Policy, reference: u64, f: &mut dyn FnMut(&str, &str) -> bool) -> bool {
    let prefix = policy.output.header_prefix.as_str();
    let shadow = shadow(v, policy);
    let mut name = String::with_capacity(prefix.len() + 8);
    let mut tag = |suffix: &str, value: &str| {
        name.clear();
        name.push_str(prefix);
        name.push_str(suffix);
        f(&name, value)
    };
    let (mut digits, mut account_hex, mut ref_hex, mut route_buf) = ([0u8; 16], [0u8; 16], [0u8; 16], [0u8; 5]);
    let account = v.fp.account.map(|a| hex16(a, &mut account_hex));
    let route = v.route.map(|i| crate::policy::route_label(&policy.routes, i, &mut route_buf));
    tag("score", decimal(v.score, &mut digits))
        && tag("action", v.action.as_str())
        && tag("reasons", &v.reason_codes())
        && tag("fp", hex16(v.fp.hfp, &mut digits))
        && tag("client", v.fp.client)
        && account.map_or(true, |a| tag("account", a))
        && v.fp.ja4h.as_deref().map_or(true, |j| tag("ja4h", j))
        && route.map_or(true, |r| tag("route", r))
        && (!shadow || tag("mode", "shadow"))
        && (!v.internal_error || tag("error", "internal"))
        && tag("ref", hex16(reference, &mut ref_hex))
}

/// Appends the verdict as an RFC 9651 dictionary (the structured header's value, and what
/// the Envoy filter puts in filter state for access logs):
/// `score=41, action=tag, reasons=(proxy.via client.scripted), fp="9f0c...", client="curl",
/// account="4be1...", ja4h="...", route="batch", mode=shadow, error=internal, ref="..."`
/// (`account`, `ja4h`, `route`, `mode` and `error` only when they apply; `route` is the
/// policy route's name, else its index). `action` is the computed action, as in
/// the tag headers (in shadow mode the request is forwarded anyway).
pub fn dictionary(v: &Verdict, policy: &Policy, reference: u64, out: &mut String) {
    let mut hex = [0u8; 16];
    let mut d = sf::Dict::new(out);
    d.integer("score", i64::from(v.score));
    d.token("action", v.action.as_str());
    d.tokens("reasons", v.reasons.iter().map(|r| r.signal.code()));
    d.string("fp", hex16(v.fp.hfp, &mut hex));
    d.string("client", v.fp.client);
    if let Some(a) = v.fp.account {
        d.string("account", hex16(a, &mut hex));
    }
    if let Some(j) = v.fp.ja4h.as_deref() {
        d.string("ja4h", j);
    }
    if let Some(i) = v.route {
        d.string("route", crate::policy::route_label(&policy.routes, i, &mut [0; 5]));
    }
    if shadow(v, policy) {
        d.token("mode", "shadow");
    }
    if v.internal_error {
        d.token("error", "internal");
    }
    d.string("ref", hex16(reference, &mut hex));
}

/// True when the verdict was made in shadow mode: its route's mode, else the policy's.
fn shadow(v: &Verdict, policy: &Policy) -> bool {
    let route = v.route.and_then(|i| policy.routes.get(usize::from(i)));
    route.map_or(policy.mode, |r| r.mode(policy)) == Mode::Shadow
}

/// `n` in decimal, written into `buf`.
fn decimal(n: u8, buf: &mut [u8; 16]) -> &str {
    let (h, t, o) = (n / 100, n / 10 % 10, n % 10);
    let start = if h > 0 { 0 } else if t > 0 { 1 } else { 2 };
    buf[..3].copy_from_slice(&[b'0' + h, b'0' + t, b'0' + o]);
    std::str::from_utf8(&buf[start..3]).unwrap_or("0")
}

/// `n` as 16 lowercase hex digits, written into `buf`.
pub fn hex16(n: u64, buf: &mut [u8; 16]) -> &str {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for (i, b) in buf.iter_mut().enumerate() {
        *b = HEX[((n >> (60 - 4 * i)) & 0xf) as usize];
    }
    std::str::from_utf8(buf).unwrap_or("")
}

/// Decides the host response for `v` under `policy`; `reference` is the request's
/// [`reference`] id.
pub fn respond(v: &Verdict, policy: &Policy, reference: u64) -> Response {
    match v.enforced {
        Action::Allow | Action::Tag => Response::Forward { headers: tag_headers(v, policy, reference) },
        Action::Throttle | Action::Deny => {
            let (status, kind, message) = if v.enforced == Action::Deny {
                (403, "forbidden", "request blocked")
            } else {
                (429, "rate_limited", "too many requests; retry later")
            };
            // Every piece is a fixed ASCII token or hex (no escaping needed); built by hand so
            // the Wasm modules carry no JSON value serializer for it.
            let mut hex = [0u8; 16];
            let mut body = format!(r#"{{"error":{{"type":"{kind}","message":"{message}","ref":"{}"}}"#, hex16(reference, &mut hex));
            let mut headers = vec![("content-type".to_string(), "application/json".to_string())];
            if v.enforced == Action::Throttle {
                headers.push(("retry-after".to_string(), policy.throttle.retry_after_s.to_string()));
            }
            if policy.output.client_reasons {
                body.push_str(&format!(r#","action":"{}","score":{},"reasons":["#, v.enforced.as_str(), v.score));
                for (i, r) in v.reasons.iter().enumerate() {
                    body.push_str(if i == 0 { "\"" } else { ",\"" });
                    body.push_str(r.signal.code());
                    body.push('"');
                }
                body.push_str(&format!(r#"],"fp":"{}""#, hex16(v.fp.hfp, &mut hex)));
                headers.extend(tag_headers(v, policy, reference));
            }
            body.push('}');
            Response::Reply { status, headers, body }
        }
    }
}

/// True when a client-sent header name must be removed before forwarding: it carries the
/// tag prefix, or it is the structured header (the prefix without its trailing `-`s).
pub fn is_tag_header(name: &[u8], prefix: &str) -> bool {
    let structured = prefix.trim_end_matches('-').as_bytes();
    (name.len() >= prefix.len() && crate::util::eq_ci(&name[..prefix.len()], prefix.as_bytes()))
        || (!structured.is_empty() && crate::util::eq_ci(name, structured))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::OutputFormat;
    use crate::score::Reason;
    use crate::signal::Signal;

    fn verdict(action: Action) -> Verdict {
        let mut v = Verdict {
            action,
            enforced: action,
            score: 95,
            reasons: vec![
                Reason { signal: Signal::ProxyVia, strength: 1.0, points: 25.0 },
                Reason { signal: Signal::ClientScripted, strength: 1.0, points: 3.0 },
            ],
            ..Default::default()
        };
        v.fp.hfp = 0x9f0c_1d2e_3f40_5162;
        v.fp.client = "curl";
        v
    }

    fn policy(json: &str) -> Policy {
        Policy::from_json(json).unwrap()
    }

    const REF: u64 = 0x0123_4567_89ab_cdef;

    #[test]
    fn blocked_clients_get_a_generic_message_and_the_reference_only() {
        let p = Policy::default();
        let Response::Reply { status, headers, body } = respond(&verdict(Action::Deny), &p, REF) else { panic!() };
        assert_eq!(status, 403);
        assert_eq!(body, r#"{"error":{"type":"forbidden","message":"request blocked","ref":"0123456789abcdef"}}"#);
        assert_eq!(headers, vec![("content-type".to_string(), "application/json".to_string())]);
        let Response::Reply { status, headers, body } = respond(&verdict(Action::Throttle), &p, REF) else { panic!() };
        assert_eq!(status, 429);
        assert_eq!(body, r#"{"error":{"type":"rate_limited","message":"too many requests; retry later","ref":"0123456789abcdef"}}"#);
        assert_eq!(headers, vec![("content-type".into(), "application/json".into()), ("retry-after".into(), "30".into())]);
        let _: serde_json::Value = serde_json::from_str(&body).unwrap();
        for text in [body.as_str()] {
            assert!(!text.contains("proxy.via") && !text.contains("95") && !text.contains("9f0c"), "{text}");
        }
    }

    #[test]
    fn client_reasons_opts_in_to_the_verdict() {
        let p = policy(r#"{"output": {"client_reasons": true}}"#);
        let Response::Reply { status, headers, body } = respond(&verdict(Action::Deny), &p, REF) else { panic!() };
        assert_eq!(status, 403);
        let doc: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(doc["error"]["ref"], "0123456789abcdef");
        assert_eq!(doc["action"], "deny");
        assert_eq!(doc["score"], 95);
        assert_eq!(doc["reasons"], serde_json::json!(["proxy.via", "client.scripted"]));
        assert_eq!(doc["fp"], "9f0c1d2e3f405162");
        assert!(headers.contains(&("x-distill-reasons".into(), "proxy.via,client.scripted".into())));
        assert!(headers.contains(&("x-distill-ref".into(), "0123456789abcdef".into())));
    }

    #[test]
    fn tags_are_formatted_like_the_display_impls() {
        let p = policy(r#"{"mode": "shadow", "output": {"header_prefix": "x-t-"}}"#);
        for (score, account, hfp) in [(0u8, 0u64, 0u64), (7, 1, 0xabc), (95, u64::MAX, 0x0123_4567_89ab_cdef), (100, 42, 1 << 63)] {
            let mut v = verdict(Action::Tag);
            v.score = score;
            v.fp.account = Some(account);
            v.fp.hfp = hfp;
            v.fp.ja4h = Some("ge11nn05enus_0000".into());
            v.internal_error = true;
            let h = tag_headers(&v, &p, REF);
            let want = vec![
                ("x-t-score".to_string(), score.to_string()),
                ("x-t-action".to_string(), "tag".to_string()),
                ("x-t-reasons".to_string(), "proxy.via,client.scripted".to_string()),
                ("x-t-fp".to_string(), format!("{hfp:016x}")),
                ("x-t-client".to_string(), "curl".to_string()),
                ("x-t-account".to_string(), format!("{account:016x}")),
                ("x-t-ja4h".to_string(), "ge11nn05enus_0000".to_string()),
                ("x-t-mode".to_string(), "shadow".to_string()),
                ("x-t-error".to_string(), "internal".to_string()),
                ("x-t-ref".to_string(), format!("{REF:016x}")),
            ];
            assert_eq!(h, want);
        }
        let mut seen = 0;
        let r: Result<(), u8> = for_each_tag(&verdict(Action::Allow), &Policy::default(), REF, |_, _| {
            seen += 1;
            if seen == 2 { Err(9) } else { Ok(()) }
        });
        assert_eq!((r, seen), (Err(9), 2));
    }

    #[test]
    fn structured_format_is_one_dictionary_header() {
        let mut v = verdict(Action::Tag);
        v.score = 41;
        v.fp.account = Some(0x4be1);
        let p = policy(r#"{"output": {"format": "structured"}}"#);
        let h = tag_headers(&v, &p, REF);
        let want = r#"score=41, action=tag, reasons=(proxy.via client.scripted), fp="9f0c1d2e3f405162", client="curl", account="0000000000004be1", ref="0123456789abcdef""#;
        assert_eq!(h, vec![("x-distill".to_string(), want.to_string())]);
        // Shadow, internal error, JA4H, no account, no reasons; and `both` = separate + structured.
        let p = policy(r#"{"mode": "shadow", "output": {"format": "both", "header_prefix": "x-dg-"}}"#);
        let mut v = verdict(Action::Deny);
        v.reasons.clear();
        v.fp.ja4h = Some("ge11nn05enus_0000".into());
        v.internal_error = true;
        let h = tag_headers(&v, &p, REF);
        assert_eq!(h.len(), 10);
        assert!(h[..9].iter().all(|(k, _)| k.starts_with("x-dg-")));
        assert_eq!(h[9].0, "x-dg");
        assert_eq!(
            h[9].1,
            r#"score=95, action=deny, reasons=(), fp="9f0c1d2e3f405162", client="curl", ja4h="ge11nn05enus_0000", mode=shadow, error=internal, ref="0123456789abcdef""#
        );
        let Response::Forward { headers } = respond(&verdict(Action::Allow), &p, REF) else { panic!() };
        assert_eq!(headers, tag_headers(&verdict(Action::Allow), &p, REF));
    }

    #[test]
    fn the_route_and_its_mode_travel_with_the_verdict() {
        let p = policy(r#"{"output": {"format": "both"}, "routes": [{"match": {"path": "/a"}, "mode": "shadow"}, {"name": "batch", "match": {"path": "/b"}}]}"#);
        let mut v = verdict(Action::Tag);
        v.route = Some(0);
        let h = tag_headers(&v, &p, REF);
        let get = |k: &str| h.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        assert_eq!((get("x-distill-route"), get("x-distill-mode")), (Some("0"), Some("shadow")));
        assert_eq!(
            get("x-distill"),
            Some(r#"score=95, action=tag, reasons=(proxy.via client.scripted), fp="9f0c1d2e3f405162", client="curl", route="0", mode=shadow, ref="0123456789abcdef""#)
        );
        v.route = Some(1);
        let h = tag_headers(&v, &p, REF);
        let get = |k: &str| h.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        assert_eq!((get("x-distill-route"), get("x-distill-mode")), (Some("batch"), None));
        assert!(get("x-distill").unwrap().contains(r#"route="batch", ref="#));
        v.route = None;
        assert!(!tag_headers(&v, &p, REF).iter().any(|(k, v)| k.ends_with("route") || v.contains("route=")));
    }

    #[test]
    fn reference_ids_depend_on_token_and_hash_key_only() {
        let a = Policy::default();
        let b = policy(r#"{"identity": {"hash_key": "another secret"}}"#);
        assert_eq!(reference(&a, b"req-1"), reference(&a, b"req-1"));
        assert_ne!(reference(&a, b"req-1"), reference(&a, b"req-2"));
        assert_ne!(reference(&a, b"req-1"), reference(&b, b"req-1"));
        // Not the account id of the same bytes.
        assert_ne!(reference(&a, b"k"), crate::identity::hash_account(b"k", crate::identity::derive_key("distill-guard")));
    }

    #[test]
    fn forward_carries_tags_and_tag_names_match_case_insensitively() {
        let p = Policy::default();
        let Response::Forward { headers } = respond(&verdict(Action::Allow), &p, REF) else { panic!() };
        assert!(headers.iter().any(|(k, v)| k == "x-distill-reasons" && v == "proxy.via,client.scripted"));
        assert!(is_tag_header(b"X-Distill-Score", "x-distill-"));
        assert!(is_tag_header(b"X-Distill", "x-distill-"));
        assert!(!is_tag_header(b"x-dist", "x-distill-"));
        assert!(!is_tag_header(b"x-distillery", "x-distill-"));
        assert_eq!(p.output.format, OutputFormat::Headers);
    }
}
