//! Tests for `claims`: every real capture in `tests/data/clients.json` must be consistent
//! with itself, and spoofed shapes must fire the right signal.

use super::*;
use crate::fingerprint::testdata::{client, clients, Client};
use crate::request::{Header, HttpVersion};

const MISMATCH: [Signal; 4] =
    [Signal::ClientUaMismatch, Signal::ClientSdkMismatch, Signal::ClientLangMismatch, Signal::ClientOrderMismatch];

fn run(req: &Request) -> (&'static str, Fired) {
    let mut f = Fired::default();
    let fam = check(req, &mut f);
    (fam, f)
}

fn fired(f: &Fired) -> Vec<&'static str> {
    f.iter().map(|(s, _)| s.code()).collect()
}

/// `c` with header `name` replaced (or appended) and headers named in `drop` removed.
fn edit(c: &Client, set: &[(&str, &str)], drop: &[&str]) -> Client {
    let mut headers: Vec<(String, String)> =
        c.headers.iter().filter(|(n, _)| !drop.iter().any(|d| n.eq_ignore_ascii_case(d))).cloned().collect();
    for (name, value) in set {
        match headers.iter_mut().find(|(n, _)| n.eq_ignore_ascii_case(name)) {
            Some(h) => h.1 = value.to_string(),
            None => headers.push((name.to_string(), value.to_string())),
        }
    }
    Client { headers, name: c.name.clone(), family: c.family.clone(), source: c.source.clone(),
        method: c.method.clone(), path: c.path.clone(), version: c.version }
}

const CHROME_UA: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";

#[test]
fn every_real_client_fits_its_own_claim() {
    let all = clients();
    assert!(all.iter().filter(|c| c.source == "captured").count() >= 15);
    for c in &all {
        let (fam, f) = run(&c.request());
        assert_eq!(fam, c.family, "{}", c.name);
        for s in MISMATCH {
            assert_eq!(f.get(s), 0.0, "{} ({}) fired {}", c.name, c.source, s.code());
        }
        assert_eq!(f.get(Signal::ClientNoUserAgent), 0.0, "{}", c.name);
        assert_eq!(f.get(Signal::ClientScripted) > 0.0, SCRIPTED.contains(&fam), "{}", c.name);
    }
}

#[test]
fn every_real_client_fits_through_envoy() {
    // Envoy: lowercase names, Host -> :authority (pseudo-headers first), hop-by-hop gone.
    for c in clients().iter().filter(|c| c.version == HttpVersion::Http11) {
        let mut hs: Vec<(String, String)> = vec![(":authority".into(), "a".into()), (":method".into(), c.method.clone())];
        hs.extend(
            c.headers.iter()
                .filter(|(n, _)| !["host", "connection", "keep-alive"].iter().any(|d| n.eq_ignore_ascii_case(d)))
                .map(|(n, v)| (n.to_ascii_lowercase(), v.clone())),
        );
        hs.push(("x-forwarded-proto".into(), "https".into()));
        let r = Request { headers: hs.iter().map(|(n, v)| Header::new(n, v)).collect(), ..c.request() };
        let (fam, f) = run(&r);
        assert_eq!(fam, c.family, "{}", c.name);
        assert!(MISMATCH.iter().all(|s| f.get(*s) == 0.0), "{}: {:?}", c.name, fired(&f));
    }
}

#[test]
fn every_order_rule_rejects_some_other_family() {
    let all = clients();
    for (fam, _) in ORDER {
        let own: Vec<_> = all.iter().filter(|c| c.family == *fam).collect();
        assert!(!own.is_empty(), "rule for {fam} has no client in clients.json");
        let broken_by: Vec<&str> =
            all.iter().filter(|c| c.family != *fam && order_violated(&c.request(), fam)).map(|c| c.name.as_str()).collect();
        assert!(!broken_by.is_empty(), "{fam}'s order rule accepts every other family");
        println!("{fam:22} broken by {}", broken_by.join(" "));
    }
}

#[test]
fn requests_shape_with_chrome_ua_is_a_ua_mismatch() {
    let c = edit(&client("python-requests"), &[("User-Agent", CHROME_UA)], &[]);
    let (fam, f) = run(&c.request());
    assert_eq!(fam, "chrome");
    assert!(f.get(Signal::ClientUaMismatch) > 0.0);
    assert_eq!(f.get(Signal::ClientScripted), 0.0);
    // Adding the browser headers in a script's order still gives the order away.
    let c = edit(&c, &[("Accept-Language", "en"), ("sec-ch-ua", "x"), ("Sec-Fetch-Site", "none"), ("Sec-Fetch-Mode", "cors")], &[]);
    let (_, f) = run(&c.request());
    assert_eq!(f.get(Signal::ClientUaMismatch), 0.0);
    assert!(f.get(Signal::ClientOrderMismatch) > 0.0, "{:?}", fired(&f));
}

#[test]
fn curl_with_stainless_headers_is_an_sdk_mismatch() {
    let c = edit(&client("curl-post"), &[("x-stainless-lang", "python"), ("x-stainless-os", "Linux")], &[]);
    let (fam, f) = run(&c.request());
    assert_eq!(fam, "curl");
    assert!(f.get(Signal::ClientSdkMismatch) > 0.0);
    // The same headers under a browser UA are the JS SDK running in a page: fine.
    let c = edit(&client("chromium-headless-fetch"), &[("x-stainless-lang", "js"), ("x-stainless-runtime", "browser:chrome")], &[]);
    let (_, f) = run(&c.request());
    assert!(MISMATCH.iter().all(|s| f.get(*s) == 0.0), "{:?}", fired(&f));
}

#[test]
fn anthropic_python_ua_claiming_js_is_a_lang_mismatch() {
    let c = edit(&client("anthropic-sdk-python"), &[("X-Stainless-Lang", "js")], &[]);
    let (fam, f) = run(&c.request());
    assert_eq!(fam, "anthropic-sdk-python");
    assert!(f.get(Signal::ClientLangMismatch) > 0.0);
    assert_eq!(f.get(Signal::ClientSdkMismatch), 0.0);
    // Runtime contradicting the language, or a Node-style version under CPython.
    let c = edit(&client("openai-sdk-python"), &[("x-stainless-runtime", "node")], &[]);
    assert!(run(&c.request()).1.get(Signal::ClientLangMismatch) > 0.0);
    let c = edit(&client("openai-sdk-python"), &[("x-stainless-runtime-version", "v20.1.0")], &[]);
    assert!(run(&c.request()).1.get(Signal::ClientLangMismatch) > 0.0);
    let c = edit(&client("anthropic-sdk-js"), &[("X-Stainless-Runtime", "CPython")], &[]);
    assert!(run(&c.request()).1.get(Signal::ClientLangMismatch) > 0.0);
}

#[test]
fn sdk_ua_without_its_headers_or_with_another_version() {
    let c = edit(&client("python-requests"), &[("User-Agent", "Anthropic/Python 0.40.0")], &[]);
    let (fam, f) = run(&c.request());
    assert_eq!(fam, "anthropic-sdk-python");
    assert!(f.get(Signal::ClientSdkMismatch) > 0.0);
    let c = edit(&client("openai-sdk-js"), &[], &["x-stainless-arch"]);
    assert!(run(&c.request()).1.get(Signal::ClientSdkMismatch) > 0.0);
    let c = edit(&client("openai-sdk-js"), &[("x-stainless-package-version", "4.0.0")], &[]);
    assert!(run(&c.request()).1.get(Signal::ClientSdkMismatch) > 0.0);
}

#[test]
fn browser_claims_need_browser_headers() {
    let nav = client("chromium-headless-nav");
    for drop in ["sec-ch-ua", "accept-language"] {
        let c = edit(&nav, &[], &[drop]);
        assert!(run(&c.request()).1.get(Signal::ClientUaMismatch) > 0.0, "without {drop}");
    }
    let c = edit(&nav, &[], &["sec-fetch-site", "sec-fetch-mode", "sec-fetch-user", "sec-fetch-dest"]);
    assert!(run(&c.request()).1.get(Signal::ClientUaMismatch) > 0.0);
    // A Chromium request claiming to be Firefox carries sec-ch-ua, and Chromium's order.
    let ff = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";
    let c = edit(&nav, &[("User-Agent", ff)], &[]);
    let (fam, f) = run(&c.request());
    assert_eq!(fam, "firefox");
    assert!(f.get(Signal::ClientUaMismatch) > 0.0);
    let c = edit(&c, &[], &["sec-ch-ua", "sec-ch-ua-mobile", "sec-ch-ua-platform"]);
    assert!(run(&c.request()).1.get(Signal::ClientOrderMismatch) > 0.0);
}

#[test]
fn order_is_only_judged_when_known() {
    let c = edit(&client("python-httpx"), &[("User-Agent", "python-requests/2.32.3")], &[]);
    let mut r = c.request();
    let (fam, f) = run(&r);
    assert_eq!(fam, "python-requests");
    assert!(f.get(Signal::ClientOrderMismatch) > 0.0);
    r.order_known = false;
    assert_eq!(run(&r).1.get(Signal::ClientOrderMismatch), 0.0);
}

#[test]
fn no_user_agent_and_family_table() {
    let (fam, f) = run(&Request::new());
    assert_eq!(fam, "none");
    assert!(f.get(Signal::ClientNoUserAgent) > 0.0);
    let r = Request { headers: vec![Header::new("User-Agent", "  ")], ..Request::new() };
    assert_eq!(run(&r).0, "none");
    let cases = [
        ("Mozilla/5.0 (Windows NT 10.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0", "edge"),
        ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Safari/605.1.15", "safari"),
        ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/120.0 Mobile/15E148 Safari/604.1", "safari"),
        ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/156.0.0.0 Safari/537.36", "chrome"),
        ("Python/3.12 aiohttp/3.9.1", "aiohttp"),
        ("OpenAI/Python 1.55.0", "openai-sdk-python"),
        ("Anthropic/JS 0.30.1", "anthropic-sdk-js"),
        ("okhttp/4.12.0", "okhttp"),
        ("Go-http-client/2.0", "go"),
        ("node", "node"),
        ("Mozilla/5.0 (compatible; Googlebot/2.1)", "other"),
        ("my-bot/1.0", "other"),
    ];
    for (ua, want) in cases {
        assert_eq!(family(Some(ua.as_bytes())), want, "{ua}");
    }
    assert_eq!(family(Some(&[0xff, 0xfe][..])), "other");
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(300))]

    /// Arbitrary bytes in method, names and values never panic any fingerprint function.
    #[test]
    fn arbitrary_requests_never_panic(
        method in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..8),
        headers in proptest::collection::vec(
            (proptest::collection::vec(proptest::prelude::any::<u8>(), 0..12),
             proptest::collection::vec(proptest::prelude::any::<u8>(), 0..24)), 0..40),
        pick in proptest::collection::vec(0usize..12, 0..40),
        order_known in proptest::prelude::any::<bool>(),
    ) {
        // Mix random names with meaningful ones so every branch is reached.
        const NAMES: [&str; 12] = ["user-agent", "cookie", "accept-language", "x-stainless-lang", "x-stainless-runtime",
            "x-stainless-runtime-version", "sec-ch-ua", ":authority", "host", "Referer", "sec-fetch-mode", "accept"];
        let mut hs: Vec<Header> = headers.iter().map(|(n, v)| Header::new(n, v)).collect();
        for (i, p) in pick.iter().enumerate() {
            if let (Some(name), Some((_, v))) = (NAMES.get(*p), headers.get(i)) {
                hs.push(Header::new(*name, v));
            }
        }
        for version in [HttpVersion::Http11, HttpVersion::Http2] {
            let r = Request { method: &method, headers: hs.clone(), order_known, version, ..Request::new() };
            let _ = run(&r);
            let _ = (crate::fingerprint::hfp::hfp(&r), crate::fingerprint::hfp::readable(&r));
            let j = crate::fingerprint::ja4h::ja4h(&r);
            proptest::prop_assert_eq!(j.split('_').next().map(str::len), Some(12));
            let _ = crate::fingerprint::ja4h::ja4h_r(&r);
        }
    }
}
