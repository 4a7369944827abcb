//! Client claims: which client family the User-Agent claims, and whether the rest of the
//! request contradicts that claim, judged only against real captures of the claimed stack.
//!
//! Fires (see `signal.rs`): `client.scripted` for scripts, CLIs and HTTP libraries
//! (every family that is neither a browser, an official SDK nor an unknown User-Agent; a
//! request without a User-Agent is one too: PHP's curl extension, Node's `http` module,
//! superagent and reqwest send none); `client.no_user_agent` for a User-Agent header that is
//! present but blank (stacks without one omit the header); `client.ua_mismatch` when a
//! browser UA lacks what that browser always sends (`sec-fetch-*`, `accept-language`,
//! `sec-ch-ua` for Chromium) or a Firefox/Safari UA carries Chromium's `sec-ch-ua`;
//! `client.sdk_mismatch` when a Stainless SDK UA (`OpenAI/Python 1.55.0`) lacks its
//! `x-stainless-*` set or names another package version, a pre-Stainless SDK UA
//! (`OpenAI/v1 PythonBindings/0.28.1`) lacks its own marker header or carries
//! `x-stainless-*`, or a script UA carries `x-stainless-*`; `client.lang_mismatch` when
//! `x-stainless-lang` or `x-stainless-runtime[-version]` contradict the SDK's language;
//! `client.order_mismatch` (only when the host sees header order) when the headers the
//! claimed stack sets itself come in an order no capture of that family shows.
//!
//! The order rules ([`ORDER`], in `claims_order.rs`) are derived from the real captures in
//! `tests/data/clients.json` by a test that fails when they drift (see
//! [`order_owned`]); a family with several wire orders (Java's HttpClient and
//! HttpURLConnection, ureq 2 and 3, openai-python 0.x and later) has one rule per order and
//! a request must fit one. Node's `http`-module libraries name themselves (`axios`, `got`,
//! `node-fetch`, `needle`) and get their own families; `node` is the global fetch (undici).
//! A family without captures (Safari, okhttp, ...) has no rule: no order verdict at all.
//! Not done here: proxy headers (`proxy`), hashing the shape (`hfp`).

use crate::request::Request;
use crate::signal::{Fired, Signal};

pub use super::claims_order::ORDER;

/// The `x-stainless-*` headers every Stainless-generated official SDK sends.
pub(crate) const STAINLESS: [&str; 6] = [
    "x-stainless-lang",
    "x-stainless-package-version",
    "x-stainless-os",
    "x-stainless-arch",
    "x-stainless-runtime",
    "x-stainless-runtime-version",
];

/// How a User-Agent pattern matches (ASCII case ignored).
#[derive(Clone, Copy)]
enum Pat {
    Prefix(&'static str),
    Exact(&'static str),
    Contains(&'static str),
}

use Pat::{Contains, Exact, Prefix};

/// A pre-Stainless SDK User-Agent and the header that SDK always sends beside it (if any).
const LEGACY_SDK: &[(&str, Option<&str>)] = &[
    ("openai/v1 pythonbindings/", Some("x-openai-client-user-agent")),
    ("openai/nodejs/", None),
];

/// User-Agent patterns, first match wins: (pattern, family, whether the family's order
/// rules describe this stack). Browsers (`Mozilla/...`) are told apart in [`family`].
const AGENTS: &[(Pat, &str, bool)] = &[
    (Prefix("anthropic/python"), "anthropic-sdk-python", true),
    (Prefix("anthropic/js"), "anthropic-sdk-js", true),
    (Prefix("openai/python"), "openai-sdk-python", true),
    (Prefix("openai/v1 pythonbindings/"), "openai-sdk-python", true),
    (Prefix("openai/js"), "openai-sdk-js", true),
    (Prefix("openai/nodejs/"), "openai-sdk-js", true),
    (Prefix("curl/"), "curl", true),
    (Prefix("wget/"), "wget", true),
    (Prefix("wget2/"), "wget2", true),
    (Prefix("python-requests/"), "python-requests", true),
    (Prefix("python-httpx/"), "python-httpx", true),
    (Prefix("python-urllib3/"), "python-urllib3", true),
    (Prefix("python-urllib/"), "python-urllib", true),
    (Prefix("niquests/"), "niquests", true),
    (Prefix("httpie/"), "httpie", true),
    (Prefix("pycurl/"), "pycurl", true),
    (Contains("aiohttp/"), "aiohttp", true),
    (Prefix("litellm/"), "litellm", true),
    (Prefix("go-http-client/"), "go", true),
    (Prefix("okhttp/"), "okhttp", true),
    (Prefix("java-http-client/"), "java", true),
    (Prefix("java/"), "java", true),
    // Apache HttpClient keeps its old family name, but no capture shows its order.
    (Prefix("apache-httpclient/"), "java", false),
    (Exact("node"), "node", true),
    (Prefix("undici"), "node", true),
    (Prefix("node-fetch"), "node-fetch", true),
    (Prefix("axios/"), "axios", true),
    (Prefix("got "), "got", true),
    (Prefix("needle/"), "needle", true),
    (Prefix("node-superagent/"), "superagent", true),
    (Contains("ai-sdk/"), "ai-sdk", true),
    (Exact("ruby"), "ruby", true),
    (Prefix("guzzlehttp/"), "guzzle", true),
    (Prefix("reqwest/"), "reqwest", true),
    (Prefix("ureq/"), "ureq", true),
];

/// Broad kind of a client family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A web browser.
    Browser,
    /// An official LLM SDK.
    Sdk,
    /// A script, CLI or HTTP library (`client.scripted`), or no User-Agent at all.
    Script,
    /// A User-Agent we do not know (`other`).
    Unknown,
}

/// The kind of a family returned by [`family`].
pub fn kind(fam: &str) -> Kind {
    match fam {
        "chrome" | "edge" | "firefox" | "safari" => Kind::Browser,
        "anthropic-sdk-python" | "openai-sdk-python" | "anthropic-sdk-js" | "openai-sdk-js" => Kind::Sdk,
        "other" => Kind::Unknown,
        _ => Kind::Script,
    }
}

/// Classifies the claimed client and fires `client.*` signals. Returns the family name.
pub fn check(req: &Request, fired: &mut Fired) -> &'static str {
    let raw_ua = req.header("user-agent");
    let ua = raw_ua.filter(|v| !v.trim_ascii().is_empty());
    if raw_ua.is_some() && ua.is_none() {
        fired.fire(Signal::ClientNoUserAgent);
    }
    let (fam, ordered) = lookup(ua);
    let kind = kind(fam);
    if kind == Kind::Script {
        fired.fire(Signal::ClientScripted);
    }
    if browser_mismatch(req, fam) {
        fired.fire(Signal::ClientUaMismatch);
    }
    let sdk_lang = sdk_language(fam);
    if sdk_mismatch(req, ua, sdk_lang.is_some(), kind == Kind::Script) {
        fired.fire(Signal::ClientSdkMismatch);
    }
    let lang = sdk_lang.or(if kind == Kind::Browser { Some("js") } else { None });
    if lang_mismatch(req, lang) {
        fired.fire(Signal::ClientLangMismatch);
    }
    if ordered && req.order_known && order_violated(req, fam) {
        fired.fire(Signal::ClientOrderMismatch);
    }
    fam
}

/// The client family a User-Agent value claims (`none` when absent).
pub fn family(ua: Option<&[u8]>) -> &'static str {
    lookup(ua).0
}

/// The family and whether its order rules describe this User-Agent's stack.
fn lookup(ua: Option<&[u8]>) -> (&'static str, bool) {
    let Some(ua) = ua else { return ("none", true) };
    let ua = ua.trim_ascii();
    let hit = AGENTS.iter().find(|(p, _, _)| match *p {
        Prefix(s) => starts_with_ci(ua, s),
        Exact(s) => crate::util::eq_ci(ua, s.as_bytes()),
        Contains(s) => contains_ci(ua, s),
    });
    if let Some((_, f, ordered)) = hit {
        return (f, *ordered);
    }
    if !contains_ci(ua, "mozilla/") {
        return ("other", true);
    }
    // iOS browsers are all WebKit underneath: they send what Safari sends.
    let fam = if contains_ci(ua, "crios/") || contains_ci(ua, "fxios/") || contains_ci(ua, "edgios/") {
        "safari"
    } else if contains_ci(ua, "edg/") {
        "edge"
    } else if contains_ci(ua, "firefox/") {
        "firefox"
    } else if contains_ci(ua, "chrome/") || contains_ci(ua, "chromium/") {
        "chrome"
    } else if contains_ci(ua, "safari/") {
        "safari"
    } else {
        "other"
    };
    (fam, true)
}

/// The language an SDK family is written for.
fn sdk_language(fam: &str) -> Option<&'static str> {
    match fam {
        "anthropic-sdk-python" | "openai-sdk-python" => Some("python"),
        "anthropic-sdk-js" | "openai-sdk-js" => Some("js"),
        _ => None,
    }
}

fn browser_mismatch(req: &Request, fam: &str) -> bool {
    if kind(fam) != Kind::Browser {
        return false;
    }
    let sec_fetch = req.headers.iter().any(|h| starts_with_ci(h.name, "sec-fetch-"));
    let chromium = matches!(fam, "chrome" | "edge");
    !sec_fetch || !req.has("accept-language") || chromium != req.has("sec-ch-ua")
}

fn sdk_mismatch(req: &Request, ua: Option<&[u8]>, sdk: bool, scripted: bool) -> bool {
    let stainless = req.headers.iter().any(|h| starts_with_ci(h.name, "x-stainless-"));
    if !sdk {
        return scripted && stainless;
    }
    let ua = ua.map(<[u8]>::trim_ascii).unwrap_or_default();
    if let Some((_, marker)) = LEGACY_SDK.iter().find(|(p, _)| starts_with_ci(ua, p)) {
        // Pre-Stainless SDKs never sent x-stainless-*; some always send a marker of their own.
        return stainless || marker.is_some_and(|m| !req.has(m));
    }
    if !STAINLESS.iter().all(|h| req.has(h)) {
        return true;
    }
    // `Anthropic/Python 0.40.0` names the same version as `x-stainless-package-version`.
    let ua_version = ua.rsplit(|&b| b == b' ').next();
    match (ua_version, req.header("x-stainless-package-version")) {
        (Some(a), Some(b)) if a.first().is_some_and(u8::is_ascii_digit) => a != b.trim_ascii(),
        _ => false,
    }
}

fn lang_mismatch(req: &Request, lang: Option<&str>) -> bool {
    let claimed = req.header("x-stainless-lang").map(<[u8]>::trim_ascii);
    if let (Some(l), Some(c)) = (lang, claimed) {
        if !crate::util::eq_ci(c, l.as_bytes()) {
            return true;
        }
    }
    let lang: &[u8] = match (claimed, lang) {
        (Some(c), _) => c,
        (None, Some(l)) => l.as_bytes(),
        (None, None) => return false,
    };
    let runtime = req.header("x-stainless-runtime").map(<[u8]>::trim_ascii).unwrap_or_default();
    let version = req.header("x-stainless-runtime-version").map(<[u8]>::trim_ascii).unwrap_or_default();
    let any = |names: &[&str]| names.iter().any(|r| crate::util::eq_ci(runtime, r.as_bytes()));
    let py_runtime = any(&["cpython", "pypy", "ironpython", "jython", "graalpy"]);
    let js_runtime = any(&["node", "deno", "bun", "edge", "workerd", "vercel-edge"]) || starts_with_ci(runtime, "browser");
    let bad_runtime = if crate::util::eq_ci(lang, b"python") {
        js_runtime
    } else if crate::util::eq_ci(lang, b"js") {
        py_runtime
    } else {
        false
    };
    // Node reports `process.version` (`v20.1.0`); CPython reports `3.11.7`.
    let bad_version = !version.is_empty()
        && ((crate::util::eq_ci(runtime, b"node") && !matches!(version.first(), Some(b'v')))
            || (crate::util::eq_ci(runtime, b"cpython") && !version.first().is_some_and(u8::is_ascii_digit)));
    bad_runtime || bad_version
}

/// Headers whose relative order the order rules of a family of kind `kind` compare: what
/// the stack itself sets and callers rarely move. Browsers: the navigation/fetch headers
/// stable across versions; SDKs: what the SDK builds whatever HTTP backend sends it (users
/// may swap the backend); scripts and HTTP libraries: all but the headers an API caller
/// sets ([`CALLER`]), whose place depends on the caller's code.
pub fn order_owned(kind: Kind, name: &str) -> bool {
    owns(kind, name.as_bytes())
}

fn owns(kind: Kind, name: &[u8]) -> bool {
    let any = |list: &[&str]| list.iter().any(|n| crate::util::eq_ci(name, n.as_bytes()));
    match kind {
        Kind::Browser => any(BROWSER_OWNED),
        Kind::Sdk => any(&["user-agent", "x-openai-client-user-agent"]) || any(&STAINLESS),
        Kind::Script | Kind::Unknown => !any(CALLER) && name.first() != Some(&b':'),
    }
}

/// Browser headers whose relative order is stable across browser versions and request types.
const BROWSER_OWNED: &[&str] =
    &["user-agent", "accept-encoding", "accept-language", "sec-fetch-site", "sec-fetch-mode", "sec-fetch-dest"];
/// Headers an API caller sets: their place depends on the caller's code, not the stack.
const CALLER: &[&str] = &["x-api-key", "authorization", "anthropic-version", "content-type", "accept"];

/// True when `req` fits none of the family's [`ORDER`] rules (false without a rule).
pub fn order_violated(req: &Request, fam: &str) -> bool {
    let fam = if fam == "edge" { "chrome" } else { fam };
    let Some((_, chains)) = ORDER.iter().find(|(f, _)| *f == fam) else { return false };
    let kind = kind(fam);
    !chains.iter().any(|chain| fits(req, chain, kind))
}

/// True when the headers of `chain` present in `req` come in the chain's order. For a
/// browser or SDK family (a fixed set of owned headers) the request must also carry no
/// owned header the chain lacks, so an old SDK major's short chain does not excuse a
/// current one's shuffled set.
pub fn fits(req: &Request, chain: &[&str], kind: Kind) -> bool {
    let mut last = None;
    for name in chain {
        if let Some(pos) = req.headers.iter().position(|h| h.is(name)) {
            if last.is_some_and(|l| pos < l) {
                return false;
            }
            last = Some(pos);
        }
    }
    kind == Kind::Script || req.headers.iter().all(|h| !owns(kind, h.name) || chain.iter().any(|c| h.is(c)))
}

fn starts_with_ci(hay: &[u8], lower: &str) -> bool {
    hay.get(..lower.len()).is_some_and(|p| crate::util::eq_ci(p, lower.as_bytes()))
}

fn contains_ci(hay: &[u8], lower: &str) -> bool {
    let n = lower.as_bytes();
    !n.is_empty() && hay.windows(n.len()).any(|w| crate::util::eq_ci(w, n))
}

#[cfg(test)]
#[path = "claims_tests.rs"]
mod tests;
