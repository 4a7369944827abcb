//! Client claims: which client family the User-Agent claims, and whether the rest of the
//! request fits that claim.
//!
//! Fires (see `signal.rs`): `client.no_user_agent`; `client.scripted` for script and CLI
//! stacks; `client.ua_mismatch` when a browser UA lacks what that browser always sends
//! (`sec-fetch-*`, `accept-language`, `sec-ch-ua` for Chromium) or a Firefox/Safari UA
//! carries Chromium's `sec-ch-ua`; `client.sdk_mismatch` when an official SDK UA lacks its
//! `x-stainless-*` set or names another package version, or a script UA (curl, requests,
//! ...) carries `x-stainless-*`; `client.lang_mismatch` when `x-stainless-lang` or
//! `x-stainless-runtime[-version]` contradict the SDK's language; `client.order_mismatch`
//! (only when the host sees header order) when headers the claimed stack sets itself come
//! in an order that stack never produces.
//!
//! The order rules ([`ORDER`]) come from real captures (`tests/data/clients.json`, made
//! by `tests/tools/capture_server.py`). Each rule lists headers in the relative order the
//! stack emits them; only the headers present are compared, so hosts that drop `host` or
//! `connection` (Envoy) do not break a rule. Rules name only headers the stack sets
//! itself and that callers rarely override (a caller-set header may move), and SDK rules
//! only cover what the SDK builds, not its HTTP backend, which users may swap.
//! Firefox's rule is from public documentation, not a capture; Safari has no order rule.
//! Not done here: proxy headers (`proxy`), hashing the shape (`hfp`).

use crate::request::Request;
use crate::signal::{Fired, Signal};

/// The `x-stainless-*` headers every official SDK sends.
pub(crate) const STAINLESS: [&str; 6] = [
    "x-stainless-lang",
    "x-stainless-package-version",
    "x-stainless-os",
    "x-stainless-arch",
    "x-stainless-runtime",
    "x-stainless-runtime-version",
];

/// Families that are scripts or CLI tools (`client.scripted`).
const SCRIPTED: &[&str] = &[
    "curl", "wget", "python-requests", "python-httpx", "aiohttp", "python-urllib", "node", "go", "java", "okhttp",
];

/// Per family, header chains in the relative order that stack emits them (Edge uses Chrome's).
pub const ORDER: &[(&str, &[&[&str]])] = &[
    ("chrome", &[&["user-agent", "sec-fetch-site", "sec-fetch-mode", "sec-fetch-dest", "accept-encoding"]]),
    ("firefox", &[&["user-agent", "accept-encoding", "sec-fetch-dest", "sec-fetch-mode", "sec-fetch-site"]]),
    ("curl", &[&["host", "user-agent", "accept", "content-length"]]),
    ("wget", &[&["host", "user-agent", "accept", "accept-encoding", "connection"]]),
    ("python-requests", &[&["host", "user-agent", "accept-encoding", "accept", "connection", "content-length"]]),
    ("python-httpx", &[&["host", "accept", "accept-encoding", "connection", "user-agent", "content-length"]]),
    ("aiohttp", &[&["host", "accept-encoding", "user-agent", "content-length"]]),
    ("python-urllib", &[&["accept-encoding", "content-length", "host", "user-agent", "connection"]]),
    ("node", &[&["host", "connection", "accept-language", "sec-fetch-mode", "user-agent", "content-length"]]),
    ("go", &[&["host", "user-agent", "content-length", "accept-encoding"]]),
    ("java", &[&["content-length", "host", "user-agent"]]),
    ("anthropic-sdk-python", &[SDK_BUILT, STAINLESS_ORDER]),
    ("openai-sdk-python", &[SDK_BUILT, STAINLESS_ORDER]),
    ("anthropic-sdk-js", &[SDK_BUILT, STAINLESS_ORDER]),
    ("openai-sdk-js", &[SDK_BUILT, STAINLESS_ORDER]),
];

/// Headers the Stainless SDKs build in this order, whatever HTTP backend sends them.
const SDK_BUILT: &[&str] = &["accept", "user-agent", "x-stainless-lang"];
/// The SDKs' platform headers, always in this order.
const STAINLESS_ORDER: &[&str] = &STAINLESS;

/// Classifies the claimed client and fires `client.*` signals. Returns the family name.
pub fn check(req: &Request, fired: &mut Fired) -> &'static str {
    let ua = req.header("user-agent").filter(|v| !v.trim_ascii().is_empty());
    let fam = family(ua);
    if fam == "none" {
        fired.fire(Signal::ClientNoUserAgent);
    }
    let scripted = SCRIPTED.contains(&fam);
    if scripted {
        fired.fire(Signal::ClientScripted);
    }
    if browser_mismatch(req, fam) {
        fired.fire(Signal::ClientUaMismatch);
    }
    let sdk_lang = sdk_language(fam);
    if sdk_mismatch(req, ua, sdk_lang, scripted) {
        fired.fire(Signal::ClientSdkMismatch);
    }
    let lang = sdk_lang.or(if is_browser(fam) { Some("js") } else { None });
    if lang_mismatch(req, lang) {
        fired.fire(Signal::ClientLangMismatch);
    }
    if req.order_known && order_violated(req, fam) {
        fired.fire(Signal::ClientOrderMismatch);
    }
    fam
}

/// The client family a User-Agent value claims (`none` when absent).
pub fn family(ua: Option<&[u8]>) -> &'static str {
    let Some(ua) = ua else { return "none" };
    const PREFIX: &[(&str, &str)] = &[
        ("anthropic/python", "anthropic-sdk-python"),
        ("anthropic/js", "anthropic-sdk-js"),
        ("openai/python", "openai-sdk-python"),
        ("openai/js", "openai-sdk-js"),
        ("curl/", "curl"),
        ("wget/", "wget"),
        ("python-requests/", "python-requests"),
        ("python-httpx/", "python-httpx"),
        ("python-urllib/", "python-urllib"),
        ("go-http-client/", "go"),
        ("okhttp/", "okhttp"),
        ("java-http-client/", "java"),
        ("java/", "java"),
        ("apache-httpclient/", "java"),
        ("node-fetch", "node"),
        ("undici", "node"),
        ("axios/", "node"),
    ];
    let ua = ua.trim_ascii();
    if let Some((_, f)) = PREFIX.iter().find(|(p, _)| starts_with_ci(ua, p)) {
        return f;
    }
    if crate::util::eq_ci(ua, b"node") {
        return "node";
    }
    if contains_ci(ua, "aiohttp/") {
        return "aiohttp";
    }
    if !contains_ci(ua, "mozilla/") {
        return "other";
    }
    // iOS browsers are all WebKit underneath: they send what Safari sends.
    if contains_ci(ua, "crios/") || contains_ci(ua, "fxios/") || contains_ci(ua, "edgios/") {
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
    }
}

fn is_browser(fam: &str) -> bool {
    matches!(fam, "chrome" | "edge" | "firefox" | "safari")
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
    if !is_browser(fam) {
        return false;
    }
    let sec_fetch = req.headers.iter().any(|h| starts_with_ci(h.name, "sec-fetch-"));
    let chromium = matches!(fam, "chrome" | "edge");
    !sec_fetch || !req.has("accept-language") || chromium != req.has("sec-ch-ua")
}

fn sdk_mismatch(req: &Request, ua: Option<&[u8]>, sdk_lang: Option<&str>, scripted: bool) -> bool {
    let stainless = || req.headers.iter().any(|h| starts_with_ci(h.name, "x-stainless-"));
    if sdk_lang.is_none() {
        return scripted && stainless();
    }
    if !STAINLESS.iter().all(|h| req.has(h)) {
        return true;
    }
    // `Anthropic/Python 0.40.0` names the same version as `x-stainless-package-version`.
    let ua_version = ua.and_then(|u| u.trim_ascii().rsplit(|&b| b == b' ').next());
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
    let py_runtime = ["cpython", "pypy", "ironpython", "jython", "graalpy"].iter().any(|r| crate::util::eq_ci(runtime, r.as_bytes()));
    let js_runtime = ["node", "deno", "bun", "edge", "workerd", "vercel-edge"].iter().any(|r| crate::util::eq_ci(runtime, r.as_bytes()))
        || starts_with_ci(runtime, "browser");
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

/// True when a chain of the family's [`ORDER`] rules is broken by `req`.
pub fn order_violated(req: &Request, fam: &str) -> bool {
    let fam = if fam == "edge" { "chrome" } else { fam };
    let Some((_, chains)) = ORDER.iter().find(|(f, _)| *f == fam) else { return false };
    chains.iter().any(|chain| {
        let mut last = None;
        for name in chain.iter() {
            if let Some(pos) = req.headers.iter().position(|h| h.is(name)) {
                if last.is_some_and(|l| pos < l) {
                    return true;
                }
                last = Some(pos);
            }
        }
        false
    })
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
