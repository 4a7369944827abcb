//! Tests for `clients`: every stack builds from its capture, keeps the captured order and
//! claims what its capture claims; spoofs change what they claim.

use super::*;

fn names(p: &Persona) -> Vec<String> {
    p.headers.iter().map(|(n, _)| n.to_ascii_lowercase()).collect()
}

#[test]
fn every_stack_builds_from_the_captures() {
    let mut r = Rng::new(1);
    for (i, id) in STACK_IDS.iter().enumerate() {
        let p = persona(i, Spoof::None, 0, "https://console.example.com", &mut r).unwrap();
        assert!(p.headers.iter().any(|(_, v)| *v == Val::Len), "{id}");
        assert!(p.headers.iter().any(|(_, v)| matches!(v, Val::Key | Val::Bearer)), "{id}");
    }
}

#[test]
fn sdk_personas_keep_the_captured_order_and_vary_values() {
    let mut r = Rng::new(2);
    let a = persona(6, Spoof::None, 0, "", &mut r).unwrap();
    let caps = captures().unwrap();
    let captured: Vec<String> = caps[6].1.iter().map(|(n, _)| n.to_ascii_lowercase()).collect();
    assert_eq!(names(&a), captured);
    assert_eq!(a.api, Api::OpenAi);
    let uas: std::collections::HashSet<String> = (0..40)
        .map(|_| match &persona(6, Spoof::None, 0, "", &mut r).unwrap().headers.iter().find(|(n, _)| n == "user-agent").unwrap().1 {
            Val::Text(t) => t.clone(),
            _ => String::new(),
        })
        .collect();
    assert!(uas.len() > 1 && uas.iter().all(|u| u.starts_with("OpenAI/Python ")), "{uas:?}");
}

#[test]
fn spoofs_change_what_they_claim() {
    let mut r = Rng::new(3);
    let ua = persona(9, Spoof::BrowserUa, 0, "", &mut r).unwrap();
    assert!(ua.headers.iter().any(|(n, v)| n == "User-Agent" && matches!(v, Val::Text(t) if t.contains("Chrome/"))));
    assert!(!names(&ua).contains(&"sec-fetch-mode".to_string()));
    let rep = persona(9, Spoof::BrowserReplay, 0, "", &mut r).unwrap();
    let n = names(&rep);
    assert_eq!(&n[..4], &["host", "user-agent", "accept-encoding", "accept"]);
    assert!(n.contains(&"sec-ch-ua".to_string()) && n.contains(&"sec-fetch-mode".to_string()));
    assert_eq!(rep.ja4, ja4_of(9));
    let imp = persona(9, Spoof::Impersonate, 0, "", &mut r).unwrap();
    assert_eq!(imp.ja4, ja4_of(0));
    assert_eq!(names(&imp), names(&persona(0, Spoof::None, 0, "", &mut r).unwrap()));
}

/// Every captured stack's POST, as (stack, family).
fn captured_stacks() -> Vec<(String, String)> {
    let doc: serde_json::Value = serde_json::from_str(CLIENTS_JSON).unwrap();
    let mut out: Vec<(String, String)> = Vec::new();
    for c in doc["clients"].as_array().unwrap() {
        if c["source"] == "captured" && c["method"] == "POST" {
            out.push((c["stack"].as_str().unwrap().into(), c["family"].as_str().unwrap().into()));
        }
    }
    out
}

#[test]
fn every_captured_stack_is_a_stack_with_its_family() {
    for (stack, family) in captured_stacks() {
        let capture = format!("{stack}-post");
        let s = STACKS.iter().find(|s| s.1 == capture).unwrap_or_else(|| panic!("no simulator stack for {capture}"));
        assert_eq!(s.2, family, "{}", s.0);
        let i = stack_index(s.0).unwrap();
        assert_eq!(stack_family(i), family);
        assert_eq!(kind(i) == Kind::Browser, crate::fingerprint::claims::kind(&family) == crate::fingerprint::claims::Kind::Browser);
    }
    let ids: std::collections::HashSet<&str> = STACK_IDS.iter().copied().collect();
    assert_eq!(ids.len(), STACK_IDS.len(), "stack ids are unique");
    for id in ["chrome", "chrome-android", "edge", "firefox", "anthropic-python", "anthropic-node", "openai-python",
        "openai-node", "curl", "python-requests", "python-httpx", "aiohttp", "python-urllib", "node-fetch", "go"] {
        assert!(stack_index(id).is_some(), "{id} (scenarios name it)");
    }
}

#[test]
fn personas_claim_what_their_capture_claims_in_every_version() {
    use crate::fingerprint::claims;
    use crate::request::{Header, Request};
    use crate::signal::{Fired, Signal};
    let caps = captures().unwrap();
    for (i, id) in STACK_IDS.iter().enumerate() {
        if let Some(first) = versions(i).first() {
            assert!(caps[i].1.iter().any(|(_, v)| v.contains(first)), "{id}: captured version {first} not in its headers");
        }
        let mut r = Rng::new(7 + i as u64);
        for _ in 0..12 {
            let p = persona(i, Spoof::None, 3, "https://console.example.com", &mut r).unwrap();
            let hs: Vec<(String, String)> = p.headers.iter().map(|(n, v)| {
                let v = match v {
                    Val::Text(t) => t.clone(),
                    Val::Host => "api.example.com".into(),
                    Val::Key => "sk-test".into(),
                    Val::Bearer => "Bearer sk-test".into(),
                    Val::Len => "120".into(),
                };
                (n.clone(), v)
            }).collect();
            let req = Request { headers: hs.iter().map(|(n, v)| Header::new(n, v)).collect(), ..Request::new() };
            let mut f = Fired::default();
            assert_eq!(claims::check(&req, &mut f), p.family, "{id}");
            let bad: Vec<&str> = f.iter().filter(|(s, v)| *v > 0.0 && *s != Signal::ClientScripted).map(|(s, _)| s.code()).collect();
            assert!(bad.is_empty(), "{id}: {bad:?} {hs:?}");
        }
    }
}
