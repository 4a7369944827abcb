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
    Client { headers, name: c.name.clone(), stack: c.stack.clone(), family: c.family.clone(), source: c.source.clone(),
        method: c.method.clone(), path: c.path.clone(), version: c.version }
}

const CHROME_UA: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";

fn captured() -> Vec<Client> {
    clients().into_iter().filter(|c| c.source == "captured").collect()
}

#[test]
fn every_real_client_fits_its_own_claim() {
    let all = clients();
    assert!(captured().iter().map(|c| &c.stack).collect::<std::collections::HashSet<_>>().len() >= 40);
    for c in &all {
        let (fam, f) = run(&c.request());
        assert_eq!(fam, c.family, "{}", c.name);
        for s in MISMATCH {
            assert_eq!(f.get(s), 0.0, "{} ({}) fired {}", c.name, c.source, s.code());
        }
        assert_eq!(f.get(Signal::ClientNoUserAgent), 0.0, "{}", c.name);
        assert_eq!(f.get(Signal::ClientScripted) > 0.0, kind(fam) == Kind::Script, "{}", c.name);
    }
}

/// The request Envoy hands the filter for capture `c`: lowercase names, Host as
/// :authority (pseudo-headers first), hop-by-hop headers gone, its own appended.
fn via_envoy(c: &Client) -> Vec<(String, String)> {
    let mut hs: Vec<(String, String)> = vec![(":authority".into(), "a".into()), (":method".into(), c.method.clone())];
    hs.extend(
        c.headers.iter()
            .filter(|(n, _)| !["host", "connection", "keep-alive"].iter().any(|d| n.eq_ignore_ascii_case(d)))
            .map(|(n, v)| (n.to_ascii_lowercase(), v.clone())),
    );
    hs.push(("x-forwarded-proto".into(), "https".into()));
    hs
}

#[test]
fn every_real_client_fits_through_envoy() {
    for c in clients().iter().filter(|c| c.version == HttpVersion::Http11) {
        let hs = via_envoy(c);
        let r = Request { headers: hs.iter().map(|(n, v)| Header::new(n, v)).collect(), ..c.request() };
        let (fam, f) = run(&r);
        assert_eq!(fam, c.family, "{}", c.name);
        assert!(MISMATCH.iter().all(|s| f.get(*s) == 0.0), "{}: {:?}", c.name, fired(&f));
    }
}

/// Family whose rules a capture's order is judged by (Edge shares Chrome's).
fn rule_family(fam: &str) -> &str {
    if fam == "edge" { "chrome" } else { fam }
}

/// The owned headers of `c` (see [`order_owned`]) in wire order, lowercased, first occurrence.
fn owned_chain(c: &Client) -> Vec<String> {
    let k = kind(&c.family);
    let mut out: Vec<String> = Vec::new();
    for (n, _) in &c.headers {
        let n = n.to_ascii_lowercase();
        if order_owned(k, &n) && !out.contains(&n) {
            out.push(n);
        }
    }
    out
}

/// One sequence holding both `a` and `b` as subsequences (ties in `a`'s order, then
/// `b`'s), or None when they conflict.
fn merge(a: &[String], b: &[String]) -> Option<Vec<String>> {
    let mut nodes: Vec<&String> = Vec::new();
    for n in a.iter().chain(b) {
        if !nodes.contains(&n) {
            nodes.push(n);
        }
    }
    let edges: Vec<(&String, &String)> = a.windows(2).chain(b.windows(2)).map(|w| (&w[0], &w[1])).collect();
    let mut out: Vec<String> = Vec::new();
    while out.len() < nodes.len() {
        let free = nodes.iter().find(|n| {
            !out.contains(**n) && !edges.iter().any(|(x, y)| y == *n && !out.contains(*x))
        })?;
        out.push((*free).clone());
    }
    Some(out)
}

/// True when `short` is a subsequence of `long`.
fn subsequence(short: &[String], long: &[String]) -> bool {
    let mut it = long.iter();
    short.iter().all(|s| it.any(|l| l == s))
}

/// The order rules the captures imply: per family, one chain per captured stack (its GET
/// and POST merged), identical chains once, and for scripts no chain that merely
/// lengthens another (it would accept nothing the shorter one rejects).
fn derived_rules() -> Vec<(String, Vec<Vec<String>>)> {
    let mut stacks: Vec<(String, String, Vec<String>)> = Vec::new();
    for c in captured() {
        let chain = owned_chain(&c);
        match stacks.iter_mut().find(|(s, _, _)| *s == c.stack) {
            Some(entry) => entry.2 = merge(&entry.2, &chain).unwrap_or_else(|| panic!("{}: GET and POST orders conflict", c.stack)),
            None => stacks.push((c.stack.clone(), rule_family(&c.family).to_string(), chain)),
        }
    }
    let mut fams: Vec<(String, Vec<Vec<String>>)> = Vec::new();
    for (_, fam, chain) in stacks {
        if chain.len() < 2 {
            continue;
        }
        match fams.iter_mut().find(|(f, _)| *f == fam) {
            Some((_, chains)) => chains.push(chain),
            None => fams.push((fam, vec![chain])),
        }
    }
    for (fam, chains) in fams.iter_mut() {
        // Only open (script) chains: a closed chain also limits which owned headers it takes.
        let all = chains.clone();
        let open = kind(fam) == Kind::Script;
        chains.retain(|c| !open || !all.iter().any(|o| o != c && subsequence(o, c)));
        chains.dedup();
        let mut seen = Vec::new();
        chains.retain(|c| if seen.contains(c) { false } else { seen.push(c.clone()); true });
    }
    fams.sort();
    fams
}

fn render(rules: &[(String, Vec<Vec<String>>)]) -> String {
    let mut s = String::from(
        "//! The client-order rules, derived from the captures in `tests/data/clients.json` (see\n\
         //! `claims::order_owned`). Generated: do not edit; after recapturing, run\n\
         //! `DG_BLESS=1 cargo test --release --lib order_rules_are_derived_from_the_captures`.\n\n\
         /// Per family, header chains in the relative order one captured stack emits them; a\n\
         /// request of that family must fit one chain (only the headers present are compared).\n\
         pub const ORDER: &[(&str, &[&[&str]])] = &[\n",
    );
    for (fam, chains) in rules {
        s += &format!("    ({fam:?}, &[\n");
        for c in chains {
            let names: Vec<String> = c.iter().map(|n| format!("{n:?}")).collect();
            s += &format!("        &[{}],\n", names.join(", "));
        }
        s += "    ]),\n";
    }
    s + "];\n"
}

#[test]
fn order_rules_are_derived_from_the_captures() {
    let want = render(&derived_rules());
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/src/fingerprint/claims_order.rs");
    if std::env::var_os("DG_BLESS").is_some() {
        std::fs::write(path, &want).unwrap();
    }
    let have = std::fs::read_to_string(path).unwrap_or_default();
    assert!(have == want, "src/fingerprint/claims_order.rs is stale; rerun with DG_BLESS=1. Expected:\n{want}");
}

#[test]
fn every_rule_fits_every_capture_of_its_family_and_is_witnessed() {
    let all = captured();
    for c in &all {
        let fam = rule_family(&c.family);
        if let Some((_, chains)) = ORDER.iter().find(|(f, _)| *f == fam) {
            assert!(chains.iter().any(|ch| fits(&c.request(), ch, kind(fam))), "{} fits no {fam} rule", c.name);
        }
    }
    for (fam, chains) in ORDER {
        for ch in *chains {
            let witness = all.iter().any(|c| rule_family(&c.family) == *fam && {
                let own = owned_chain(c);
                own.iter().all(|n| ch.contains(&n.as_str())) && fits(&c.request(), ch, kind(fam))
            });
            assert!(witness, "{fam}: no capture shows the chain {ch:?}");
        }
    }
}

#[test]
fn families_with_several_orders_accept_each() {
    for fam in ["java", "none", "openai-sdk-python", "ureq"] {
        let (_, chains) = ORDER.iter().find(|(f, _)| *f == fam).unwrap_or_else(|| panic!("no rule for {fam}"));
        assert!(chains.len() >= 2, "{fam}: {chains:?}");
    }
    for c in captured() {
        assert!(!order_violated(&c.request(), &c.family), "{}", c.name);
    }
}

#[test]
fn a_family_without_captures_gets_no_order_verdict() {
    let families: Vec<String> = captured().iter().map(|c| rule_family(&c.family).to_string()).collect();
    for (fam, _) in ORDER {
        assert!(families.iter().any(|f| f == fam), "rule for {fam} without a capture");
    }
    // Any order at all under a User-Agent of an uncaptured stack: no verdict.
    let reversed: Vec<(String, String)> = client("python-requests-post").headers.into_iter().rev().collect();
    for ua in ["okhttp/4.12.0", "Apache-HttpClient/4.5.14 (Java/17.0.9)", "Dart/3.2 (dart:io)", "node-superagent/3.8.3",
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Safari/605.1.15"] {
        let mut hs = reversed.clone();
        hs.retain(|(n, _)| !n.eq_ignore_ascii_case("user-agent"));
        hs.insert(0, ("User-Agent".into(), ua.into()));
        let r = Request { headers: hs.iter().map(|(n, v)| Header::new(n, v)).collect(), ..Request::new() };
        assert_eq!(run(&r).1.get(Signal::ClientOrderMismatch), 0.0, "{ua}");
    }
}

#[test]
fn every_order_rule_rejects_something() {
    let all = captured();
    // Stacks without a User-Agent share no order (PHP's curl sends Host first, Node's http
    // module after the caller's headers): their rules cancel out, and say nothing.
    for (fam, _) in ORDER.iter().filter(|(f, _)| *f != "none") {
        if kind(fam) == Kind::Sdk {
            // SDK rules cover what the SDK builds: its x-stainless set out of order is rejected.
            let c = all.iter().find(|c| c.family == *fam && c.headers.iter().any(|(n, _)| n.eq_ignore_ascii_case("x-stainless-os"))).unwrap();
            let mut shuffled = edit(c, &[], &["x-stainless-os"]);
            shuffled.headers.insert(0, ("x-stainless-os".into(), "Linux".into()));
            assert!(order_violated(&shuffled.request(), fam), "{fam}");
            continue;
        }
        let broken_by: Vec<&str> = all.iter()
            .filter(|c| rule_family(&c.family) != *fam && order_violated(&c.request(), fam))
            .map(|c| c.name.as_str())
            .collect();
        assert!(!broken_by.is_empty(), "{fam}'s order rules accept every other family");
    }
}

#[test]
fn requests_shape_with_chrome_ua_is_a_ua_mismatch() {
    let c = edit(&client("python-requests-post"), &[("User-Agent", CHROME_UA)], &[]);
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
    let c = edit(&client("chromium-post"), &[("x-stainless-lang", "js"), ("x-stainless-runtime", "browser:chrome")], &[]);
    let (_, f) = run(&c.request());
    assert!(MISMATCH.iter().all(|s| f.get(*s) == 0.0), "{:?}", fired(&f));
}

#[test]
fn anthropic_python_ua_claiming_js_is_a_lang_mismatch() {
    let c = edit(&client("anthropic-python-post"), &[("X-Stainless-Lang", "js")], &[]);
    let (fam, f) = run(&c.request());
    assert_eq!(fam, "anthropic-sdk-python");
    assert!(f.get(Signal::ClientLangMismatch) > 0.0);
    assert_eq!(f.get(Signal::ClientSdkMismatch), 0.0);
    // Runtime contradicting the language, or a Node-style version under CPython.
    let c = edit(&client("openai-python-post"), &[("x-stainless-runtime", "node")], &[]);
    assert!(run(&c.request()).1.get(Signal::ClientLangMismatch) > 0.0);
    let c = edit(&client("openai-python-post"), &[("x-stainless-runtime-version", "v20.1.0")], &[]);
    assert!(run(&c.request()).1.get(Signal::ClientLangMismatch) > 0.0);
    let c = edit(&client("anthropic-node-post"), &[("X-Stainless-Runtime", "CPython")], &[]);
    assert!(run(&c.request()).1.get(Signal::ClientLangMismatch) > 0.0);
}

#[test]
fn sdk_ua_without_its_headers_or_with_another_version() {
    let c = edit(&client("python-requests-post"), &[("User-Agent", "Anthropic/Python 0.40.0")], &[]);
    let (fam, f) = run(&c.request());
    assert_eq!(fam, "anthropic-sdk-python");
    assert!(f.get(Signal::ClientSdkMismatch) > 0.0);
    let c = edit(&client("openai-node-post"), &[], &["x-stainless-arch"]);
    assert!(run(&c.request()).1.get(Signal::ClientSdkMismatch) > 0.0);
    let c = edit(&client("openai-node-post"), &[("x-stainless-package-version", "4.0.0")], &[]);
    assert!(run(&c.request()).1.get(Signal::ClientSdkMismatch) > 0.0);
}

#[test]
fn browser_claims_need_browser_headers() {
    let nav = client("chromium-get");
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
    let c = edit(&client("python-httpx-post"), &[("User-Agent", "python-requests/2.32.3")], &[]);
    let mut r = c.request();
    let (fam, f) = run(&r);
    assert_eq!(fam, "python-requests");
    assert!(f.get(Signal::ClientOrderMismatch) > 0.0);
    r.order_known = false;
    assert_eq!(run(&r).1.get(Signal::ClientOrderMismatch), 0.0);
}

#[test]
fn old_sdk_majors_fit_and_their_contradictions_fire() {
    // openai 0.28: `OpenAI/v1 PythonBindings/0.28.1` + X-OpenAI-Client-User-Agent, no x-stainless.
    let old = client("openai-python-0-post");
    let (fam, f) = run(&old.request());
    assert_eq!(fam, "openai-sdk-python");
    assert!(MISMATCH.iter().all(|s| f.get(*s) == 0.0), "{:?}", fired(&f));
    let c = edit(&old, &[], &["x-openai-client-user-agent"]);
    assert!(run(&c.request()).1.get(Signal::ClientSdkMismatch) > 0.0);
    let c = edit(&old, &[("x-stainless-lang", "python")], &[]);
    assert!(run(&c.request()).1.get(Signal::ClientSdkMismatch) > 0.0);
    // The old UA over a current SDK's headers, and the current UA without them.
    let c = edit(&client("openai-python-post"), &[("User-Agent", "OpenAI/v1 PythonBindings/0.28.1")], &[]);
    assert!(run(&c.request()).1.get(Signal::ClientSdkMismatch) > 0.0);
    let c = edit(&old, &[("User-Agent", "OpenAI/Python 1.30.5")], &[]);
    assert!(run(&c.request()).1.get(Signal::ClientSdkMismatch) > 0.0);
    // openai-node 3 (axios) sends only its User-Agent; older Stainless majors their set.
    for name in ["openai-node-3-post", "openai-node-4-post", "anthropic-node-0-post", "anthropic-python-0.34-post"] {
        let (fam, f) = run(&client(name).request());
        assert_eq!(kind(fam), Kind::Sdk, "{name}");
        assert!(MISMATCH.iter().all(|s| f.get(*s) == 0.0), "{name}: {:?}", fired(&f));
    }
    let c = edit(&client("openai-node-3-post"), &[("x-stainless-os", "Linux")], &[]);
    assert!(run(&c.request()).1.get(Signal::ClientSdkMismatch) > 0.0);
}

#[test]
fn no_user_agent_is_a_script_and_a_blank_one_is_not_a_client() {
    let (fam, f) = run(&Request::new());
    assert_eq!(fam, "none");
    assert_eq!(f.get(Signal::ClientNoUserAgent), 0.0);
    assert!(f.get(Signal::ClientScripted) > 0.0);
    for name in ["php-curl-post", "node-http-post", "reqwest-post", "superagent-post"] {
        let (fam, f) = run(&client(name).request());
        assert_eq!((fam, fired(&f)), ("none", vec!["client.scripted"]), "{name}");
    }
    let r = Request { headers: vec![Header::new("User-Agent", "  ")], ..Request::new() };
    let (fam, f) = run(&r);
    assert_eq!(fam, "none");
    assert!(f.get(Signal::ClientNoUserAgent) > 0.0);
}

#[test]
fn family_table() {
    let cases = [
        ("Mozilla/5.0 (Windows NT 10.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0", "edge"),
        ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Safari/605.1.15", "safari"),
        ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/120.0 Mobile/15E148 Safari/604.1", "safari"),
        ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/156.0.0.0 Safari/537.36", "chrome"),
        ("Python/3.12 aiohttp/3.9.1", "aiohttp"),
        ("litellm/1.110.2", "litellm"),
        ("PycURL/7.49.0 libcurl/8.23.0 OpenSSL/3.6.5", "pycurl"),
        ("OpenAI/Python 1.55.0", "openai-sdk-python"),
        ("OpenAI/v1 PythonBindings/0.28.1", "openai-sdk-python"),
        ("OpenAI/NodeJS/3.3.0", "openai-sdk-js"),
        ("Anthropic/JS 0.30.1", "anthropic-sdk-js"),
        ("okhttp/4.12.0", "okhttp"),
        ("Go-http-client/2.0", "go"),
        ("node", "node"),
        ("undici", "node"),
        ("axios/1.7.9", "axios"),
        ("node-fetch/1.0 (+https://github.com/bitinn/node-fetch)", "node-fetch"),
        ("got (https://github.com/sindresorhus/got)", "got"),
        ("Needle/3.5.0 (Node.js v20.20.2; linux x64)", "needle"),
        ("ai/6.0.326 ai-sdk/provider-utils/4.0.66 runtime/node.js/v20.20.2", "ai-sdk"),
        ("Ruby", "ruby"),
        ("GuzzleHttp/7", "guzzle"),
        ("ureq/3.1.0", "ureq"),
        ("HTTPie/3.2.4", "httpie"),
        ("niquests/3.11.0", "niquests"),
        ("python-urllib3/2.3.0", "python-urllib3"),
        ("Python-urllib/3.11", "python-urllib"),
        ("Apache-HttpClient/4.5.14 (Java/17.0.9)", "java"),
        ("Mozilla/5.0 (compatible; Googlebot/2.1)", "other"),
        ("my-bot/1.0", "other"),
    ];
    for (ua, want) in cases {
        assert_eq!(family(Some(ua.as_bytes())), want, "{ua}");
    }
    assert_eq!(family(Some(&[0xff, 0xfe][..])), "other");
    assert_eq!(family(None), "none");
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
