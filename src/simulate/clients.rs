//! Client stacks: the REAL header shapes captured in `tests/data/clients.json` (names, order,
//! case and fixed values exactly as the client sent them: every captured stack's POST),
//! turned into per-account personas (browser platform and version, package version,
//! runtime and OS, Accept-Language) with slots for the host, API key and body length, plus
//! a plausible (not captured) JA4 per TLS stack and the family each stack claims.
//!
//! Campaign disguises are built here too: a browser User-Agent on a script stack, a
//! browser's header set replayed by python-requests, or full impersonation (browser
//! headers and browser TLS). It does not choose which account uses which stack.

use std::sync::OnceLock;

use serde::Deserialize;

use super::net::COUNTRIES;
use super::rng::Rng;

/// Captured client shapes, embedded at build time (also available in Wasm).
pub const CLIENTS_JSON: &str = include_str!("../../tests/data/clients.json");

/// TLS stacks, each with one plausible JA4 ([`ja4_of`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tls {
    Chrome,
    Firefox,
    /// libcurl over OpenSSL: curl, pycurl, PHP's curl extension and Guzzle on it.
    Curl,
    /// GNU Wget and Wget2 (GnuTLS).
    Gnutls,
    /// CPython's ssl with ALPN `http/1.1` (requests, httpx, urllib3, the Python SDKs).
    PythonH1,
    /// CPython's ssl without ALPN (aiohttp, urllib).
    PythonNoAlpn,
    /// CPython's ssl offering h2 (niquests).
    PythonH2,
    /// Node's tls (every Node stack).
    Node,
    /// Go's crypto/tls.
    Go,
    /// The JDK's JSSE.
    Java,
    /// Ruby's openssl without ALPN.
    Ruby,
    /// OpenSSL through native-tls (reqwest's default).
    NativeTls,
    /// rustls (ureq).
    Rustls,
}

/// One client stack: (id, the capture it replays, family, kind, TLS stack, versions: the
/// captured version token first, then alternatives swapped in per account).
type Stack = (&'static str, &'static str, &'static str, Kind, Tls, &'static [&'static str]);

const STACKS: &[Stack] = &[
    ("chrome", "chromium-post", "chrome", Kind::Browser, Tls::Chrome, &[]),
    ("chrome-android", "chromium-post", "chrome", Kind::Browser, Tls::Chrome, &[]),
    ("edge", "chromium-post", "edge", Kind::Browser, Tls::Chrome, &[]),
    ("firefox", "firefox-esr-post", "firefox", Kind::Browser, Tls::Firefox, &[]),
    ("anthropic-python", "anthropic-python-post", "anthropic-sdk-python", Kind::Sdk, Tls::PythonH1, &["2.16.0", "2.14.0", "2.12.0", "2.9.0", "1.17.0"]),
    ("anthropic-node", "anthropic-node-post", "anthropic-sdk-js", Kind::Sdk, Tls::Node, &["1.16.0", "1.14.0", "1.11.0"]),
    ("openai-python", "openai-python-post", "openai-sdk-python", Kind::Sdk, Tls::PythonH1, &["3.57.0", "3.55.1", "3.52.0", "2.54.0"]),
    ("openai-node", "openai-node-post", "openai-sdk-js", Kind::Sdk, Tls::Node, &["6.49.0", "6.47.2", "6.44.0"]),
    ("curl", "curl-post", "curl", Kind::Script, Tls::Curl, &["7.88.1", "8.5.0", "8.11.1", "8.14.1"]),
    ("python-requests", "python-requests-post", "python-requests", Kind::Script, Tls::PythonH1, &["2.34.2", "2.32.3", "2.31.0"]),
    ("python-httpx", "python-httpx-post", "python-httpx", Kind::Script, Tls::PythonH1, &["0.29.0", "0.28.1", "0.27.2"]),
    ("aiohttp", "aiohttp-post", "aiohttp", Kind::Script, Tls::PythonNoAlpn, &["3.14.5", "3.12.15"]),
    ("python-urllib", "python-urllib-post", "python-urllib", Kind::Script, Tls::PythonNoAlpn, &[]),
    ("node-fetch", "node-fetch-builtin-post", "node", Kind::Script, Tls::Node, &[]),
    ("go", "go-net-http-post", "go", Kind::Script, Tls::Go, &[]),
    ("wget", "wget-post", "wget", Kind::Script, Tls::Gnutls, &["1.21.3", "1.24.5"]),
    ("wget2", "wget2-post", "wget2", Kind::Script, Tls::Gnutls, &[]),
    ("python-httpx-async", "python-httpx-async-post", "python-httpx", Kind::Script, Tls::PythonH1, &["0.29.0", "0.28.1"]),
    ("python-urllib3", "python-urllib3-post", "python-urllib3", Kind::Script, Tls::PythonH1, &["2.8.0", "2.3.0", "2.2.3"]),
    ("pycurl", "pycurl-post", "pycurl", Kind::Script, Tls::Curl, &[]),
    ("niquests", "niquests-post", "niquests", Kind::Script, Tls::PythonH2, &["3.21.2", "3.14.1"]),
    ("httpie", "httpie-post", "httpie", Kind::Script, Tls::PythonH1, &[]),
    ("openai-python-1", "openai-python-1-post", "openai-sdk-python", Kind::Sdk, Tls::PythonH1, &["1.30.5"]),
    ("openai-python-0", "openai-python-0-post", "openai-sdk-python", Kind::Sdk, Tls::PythonH1, &[]),
    ("anthropic-python-0.34", "anthropic-python-0.34-post", "anthropic-sdk-python", Kind::Sdk, Tls::PythonH1, &["0.34.2"]),
    ("anthropic-python-0.2", "anthropic-python-0.2-post", "python-requests", Kind::Sdk, Tls::PythonH1, &[]),
    ("litellm", "litellm-post", "openai-sdk-python", Kind::Sdk, Tls::PythonH1, &[]),
    ("litellm-anthropic", "litellm-anthropic-post", "litellm", Kind::Script, Tls::PythonH1, &[]),
    ("langchain-openai", "langchain-openai-post", "openai-sdk-python", Kind::Sdk, Tls::PythonH1, &[]),
    ("node-undici-request", "undici-request-post", "none", Kind::Script, Tls::Node, &[]),
    ("node-http", "node-http-post", "none", Kind::Script, Tls::Node, &[]),
    ("axios", "axios-post", "axios", Kind::Script, Tls::Node, &["1.21.1", "1.13.2", "1.7.9"]),
    ("axios-0", "axios-0-post", "axios", Kind::Script, Tls::Node, &["0.27.2", "0.26.1"]),
    ("node-fetch-2", "node-fetch-2-post", "node-fetch", Kind::Script, Tls::Node, &[]),
    ("got", "got-post", "got", Kind::Script, Tls::Node, &[]),
    ("superagent", "superagent-post", "none", Kind::Script, Tls::Node, &[]),
    ("needle", "needle-post", "needle", Kind::Script, Tls::Node, &["3.5.0", "3.3.1"]),
    ("openai-node-4", "openai-node-4-post", "openai-sdk-js", Kind::Sdk, Tls::Node, &["4.104.0", "4.87.3"]),
    ("openai-node-3", "openai-node-3-post", "openai-sdk-js", Kind::Sdk, Tls::Node, &[]),
    ("anthropic-node-0", "anthropic-node-0-post", "anthropic-sdk-js", Kind::Sdk, Tls::Node, &["0.24.3"]),
    ("vercel-ai", "vercel-ai-post", "ai-sdk", Kind::Script, Tls::Node, &[]),
    ("java-httpclient", "java-httpclient-post", "java", Kind::Script, Tls::Java, &[]),
    ("java-urlconnection", "java-urlconnection-post", "java", Kind::Script, Tls::Java, &[]),
    ("ruby", "ruby-net-http-post", "ruby", Kind::Script, Tls::Ruby, &[]),
    ("php-curl", "php-curl-post", "none", Kind::Script, Tls::Curl, &[]),
    ("guzzle", "php-guzzle-post", "guzzle", Kind::Script, Tls::Curl, &[]),
    ("reqwest", "reqwest-post", "none", Kind::Script, Tls::NativeTls, &[]),
    ("ureq", "ureq-post", "ureq", Kind::Script, Tls::Rustls, &[]),
    ("ureq-2", "ureq-2-post", "ureq", Kind::Script, Tls::Rustls, &[]),
];

/// Stack ids a scenario may name (see `STACKS` for the capture each is built from).
pub const STACK_IDS: &[&str] = &{
    let mut ids = [""; STACKS.len()];
    let mut i = 0;
    while i < STACKS.len() {
        ids[i] = STACKS[i].0;
        i += 1;
    }
    ids
};

/// Index of a stack id in [`STACK_IDS`].
pub fn stack_index(id: &str) -> Option<usize> {
    STACK_IDS.iter().position(|s| *s == id)
}

/// Broad kind of a client stack.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A web browser calling the API with `fetch()`.
    Browser,
    /// An official SDK, or a wrapper sending through one.
    Sdk,
    /// A script, CLI or HTTP library (curl, python-requests, axios, ...).
    Script,
}

/// Kind of the stack at `index`.
pub fn kind(index: usize) -> Kind {
    STACKS.get(index).map_or(Kind::Script, |s| s.3)
}

/// The client family (`x-distill-client`) the stack at `index` claims, for per-family reports.
pub fn stack_family(index: usize) -> &'static str {
    STACKS.get(index).map_or("other", |s| s.2)
}

/// Request body format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api {
    /// Anthropic Messages (`/v1/messages`).
    Anthropic,
    /// OpenAI Chat Completions (`/v1/chat/completions`).
    OpenAi,
}

/// How a campaign disguises its client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Spoof {
    /// The stack as it is.
    None,
    /// A browser User-Agent over the stack's own headers and TLS.
    BrowserUa,
    /// A browser's full header set replayed by python-requests (python TLS, requests order).
    BrowserReplay,
    /// Browser headers in browser order over browser TLS (curl-impersonate style).
    Impersonate,
}

impl Spoof {
    /// Parses a scenario's `spoof` value (unknown text is `None`).
    pub fn parse(s: &str) -> Spoof {
        match s {
            "browser_ua" => Spoof::BrowserUa,
            "browser_replay" => Spoof::BrowserReplay,
            "impersonate" => Spoof::Impersonate,
            _ => Spoof::None,
        }
    }
}

/// A header value: fixed text or a slot filled per request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Val {
    /// Fixed text.
    Text(String),
    /// The API host.
    Host,
    /// The API key.
    Key,
    /// `Bearer ` and the API key.
    Bearer,
    /// The body length.
    Len,
}

/// One account's client: headers with slots, path, body format and TLS fingerprint.
#[derive(Debug, Clone)]
pub struct Persona {
    /// Headers in wire order.
    pub headers: Vec<(String, Val)>,
    /// Request path.
    pub path: String,
    /// Body format.
    pub api: Api,
    /// JA4 of the TLS stack.
    pub ja4: &'static str,
    /// What it is.
    pub kind: Kind,
    /// The client family its User-Agent claims (`x-distill-client`).
    pub family: &'static str,
}

#[derive(Deserialize)]
struct File {
    clients: Vec<Capture>,
}

#[derive(Deserialize)]
struct Capture {
    name: String,
    #[serde(default)]
    path: String,
    #[serde(default)]
    version: String,
    headers: Vec<(String, String)>,
}

/// One capture as used here: request path, headers in wire order, client version text.
pub type Shape = (String, Vec<(String, String)>, String);

/// The captured shapes (in [`STACK_IDS`] order), parsed once; an error names what is missing.
pub fn captures() -> Result<&'static [Shape], String> {
    static CELL: OnceLock<Result<Vec<Shape>, String>> = OnceLock::new();
    CELL.get_or_init(|| {
        let file: File = serde_json::from_str(CLIENTS_JSON).map_err(|e| format!("tests/data/clients.json: {e}"))?;
        STACKS
            .iter()
            .map(|&(_, want, ..)| {
                let c = file.clients.iter().find(|c| c.name == *want).ok_or_else(|| format!("tests/data/clients.json: no capture named {want:?}"))?;
                Ok((c.path.clone(), c.headers.clone(), c.version.clone()))
            })
            .collect()
    })
    .as_deref()
    .map_err(Clone::clone)
}

/// Plausible JA4 (TLS ClientHello) per TLS stack, NOT captured: browsers, OpenSSL via
/// Python (ALPN `http/1.1`, none, or h2), libcurl, GnuTLS, Node, Go, the JDK, Ruby,
/// native-tls and rustls differ; one stack always gives one JA4.
fn ja4_of(index: usize) -> &'static str {
    match STACKS.get(index).map_or(Tls::Go, |s| s.4) {
        Tls::Chrome => "t13d1516h2_8daaf6152771_d8a2da3f94cd",
        Tls::Firefox => "t13d1717h2_5b57614c22b0_3cbfd9057e0d",
        Tls::Curl => "t13d3112h2_e8f1e7e78f70_6bebaf5329ac",
        Tls::Gnutls => "t13d2013h2_7f2a4e0c8b51_0fd3c8a9e1b2",
        Tls::PythonH1 => "t13d1812h1_c866b44c5a26_e30f4b1b1d2c",
        Tls::PythonNoAlpn => "t13d181100_c866b44c5a26_e30f4b1b1d2c",
        Tls::PythonH2 => "t13d1813h2_c866b44c5a26_e30f4b1b1d2c",
        Tls::Node => "t13d5911h1_a33745022dd6_1f22a2ca17c4",
        Tls::Go => "t13d1412h2_f57a46bbacb6_7d1b3c4a2e85",
        Tls::Java => "t13d4113h1_9dc949149365_e7c285222651",
        Tls::Ruby => "t13d301000_b1ff8ab2d16f_4c5d6e7f8a9b",
        Tls::NativeTls => "t13d301100_b1ff8ab2d16f_4c5d6e7f8a9b",
        Tls::Rustls => "t13d0910h2_f91f431d341e_8a3b7c2d1e0f",
    }
}

/// Version alternatives of the stack at `index`: the captured version token first.
fn versions(index: usize) -> &'static [&'static str] {
    STACKS.get(index).map_or(&[], |s| s.5)
}

const PY_RUNTIMES: &[&str] = &["3.11.7", "3.10.14", "3.12.8", "3.13.1"];
const NODE_RUNTIMES: &[&str] = &["v20.20.2", "v22.21.0", "v24.11.1"];
/// The Node version the captures were taken with.
const CAPTURED_NODE: &str = "v20.20.2";
const OSES: &[(&str, &str)] = &[("Linux", "x64"), ("MacOS", "arm64"), ("MacOS", "x64"), ("Windows", "x64"), ("Linux", "arm64")];

/// Accept-Language of a browser user in `country`.
fn accept_language(country: u16) -> &'static str {
    match COUNTRIES.get(country as usize).map_or("US", |c| c.code) {
        "DE" => "de-DE,de;q=0.9,en-US;q=0.8,en;q=0.7",
        "FR" => "fr-FR,fr;q=0.9,en-US;q=0.8,en;q=0.7",
        "BR" => "pt-BR,pt;q=0.9,en-US;q=0.8,en;q=0.7",
        "JP" => "ja,en-US;q=0.9,en;q=0.8",
        "KR" => "ko-KR,ko;q=0.9,en-US;q=0.8,en;q=0.7",
        "ES" | "MX" => "es-ES,es;q=0.9,en;q=0.8",
        "GB" | "AU" | "SG" | "NG" => "en-GB,en-US;q=0.9,en;q=0.8",
        "NL" => "nl-NL,nl;q=0.9,en-US;q=0.8,en;q=0.7",
        "PL" => "pl-PL,pl;q=0.9,en-US;q=0.8,en;q=0.7",
        "IT" => "it-IT,it;q=0.9,en-US;q=0.8,en;q=0.7",
        "TR" => "tr-TR,tr;q=0.9,en-US;q=0.8,en;q=0.7",
        _ => "en-US,en;q=0.9",
    }
}

/// Browser identity strings: (User-Agent, sec-ch-ua, platform, mobile).
fn browser_ids(index: usize, rng: &mut Rng) -> (String, String, &'static str, &'static str) {
    let v = *rng.pick(&[154u32, 155, 156, 156, 156]).unwrap_or(&156);
    if index == 3 {
        let fv = v - 6;
        let plat = *rng.pick(&["Windows NT 10.0; Win64; x64", "Macintosh; Intel Mac OS X 10.15", "X11; Linux x86_64"]).unwrap_or(&"X11; Linux x86_64");
        return (format!("Mozilla/5.0 ({plat}; rv:{fv}.0) Gecko/20100101 Firefox/{fv}.0"), String::new(), "", "");
    }
    let (os, plat) = match (index, rng.below(10)) {
        (1, _) => ("Linux; Android 10; K", "\"Android\""),
        (_, 0..=5) => ("Windows NT 10.0; Win64; x64", "\"Windows\""),
        (_, 6..=8) => ("Macintosh; Intel Mac OS X 10_15_7", "\"macOS\""),
        _ => ("X11; Linux x86_64", "\"Linux\""),
    };
    let mobile = if index == 1 { "Mobile " } else { "" };
    let (brand, suffix) = if index == 2 { ("Microsoft Edge", format!(" Edg/{v}.0.0.0")) } else { ("Google Chrome", String::new()) };
    let ua = format!("Mozilla/5.0 ({os}) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{v}.0.0.0 {mobile}Safari/537.36{suffix}");
    let ch = format!("\"Not:A-Brand\";v=\"8\", \"{brand}\";v=\"{v}\", \"Chromium\";v=\"{v}\"");
    (ua, ch, plat, if index == 1 { "?1" } else { "?0" })
}

/// Builds a persona for stack `index` (see [`STACK_IDS`]) in `country`, disguised by `spoof`.
pub fn persona(index: usize, spoof: Spoof, country: u16, console: &str, rng: &mut Rng) -> Result<Persona, String> {
    let caps = captures()?;
    let (path, raw, _) = caps.get(index).ok_or("stack index out of range")?;
    let kind = kind(index);
    let mut headers: Vec<(String, Val)> = raw.iter().map(|(n, v)| (n.clone(), Val::Text(v.clone()))).collect();
    let (ua, ch, plat, mobile) = browser_ids(if spoof == Spoof::None { index } else { 0 }, rng);
    let lang = accept_language(country);
    let version = rng.pick(versions(index)).copied();
    let captured_token = versions(index).first().copied().unwrap_or("");
    let py = *rng.pick(PY_RUNTIMES).unwrap_or(&"3.11.7");
    let node = *rng.pick(NODE_RUNTIMES).unwrap_or(&"v20.20.2");
    let (os, arch) = *rng.pick(OSES).unwrap_or(&("Linux", "x64"));
    for (name, val) in headers.iter_mut() {
        let Val::Text(text) = val else { continue };
        let lower = name.to_ascii_lowercase();
        *val = match lower.as_str() {
            "host" => Val::Host,
            "x-api-key" => Val::Key,
            "authorization" => Val::Bearer,
            "content-length" => Val::Len,
            "origin" => Val::Text(console.to_string()),
            "referer" => Val::Text(format!("{console}/workbench")),
            "sec-fetch-site" => Val::Text("same-site".into()),
            "user-agent" if kind == Kind::Browser => Val::Text(ua.clone()),
            "sec-ch-ua" => Val::Text(ch.clone()),
            "sec-ch-ua-platform" => Val::Text(plat.into()),
            "sec-ch-ua-mobile" => Val::Text(mobile.into()),
            "accept-language" if kind == Kind::Browser => Val::Text(lang.into()),
            "x-stainless-os" => Val::Text(os.into()),
            "x-stainless-arch" => Val::Text(arch.into()),
            "x-stainless-runtime-version" => Val::Text(if text.starts_with('v') { node.into() } else { py.into() }),
            _ => {
                let mut t = std::mem::take(text);
                if let Some(v) = version.filter(|_| !captured_token.is_empty() && t.contains(captured_token)) {
                    t = t.replace(captured_token, v);
                }
                // Node stacks name the runtime in their User-Agent (needle, the AI SDK).
                if t.contains(CAPTURED_NODE) {
                    t = t.replace(CAPTURED_NODE, node);
                }
                Val::Text(t)
            }
        };
    }
    if kind == Kind::Browser {
        // The SDK's opt-in header for browser calls, among the page's other fetch() headers.
        let at = headers.iter().position(|(n, _)| n.eq_ignore_ascii_case("anthropic-version")).map_or(headers.len(), |i| i + 1);
        headers.insert(at, ("anthropic-dangerous-direct-browser-access".into(), Val::Text("true".into())));
    }
    let api = if path.contains("chat/completions") { Api::OpenAi } else { Api::Anthropic };
    let mut p = Persona { headers, path: path.clone(), api, ja4: ja4_of(index), kind, family: stack_family(index) };
    match spoof {
        Spoof::None => {}
        Spoof::BrowserUa => {
            for (n, v) in p.headers.iter_mut() {
                if n.eq_ignore_ascii_case("user-agent") {
                    *v = Val::Text(ua.clone());
                    p.family = "chrome";
                }
            }
        }
        Spoof::Impersonate => {
            let mut b = persona(0, Spoof::None, country, console, rng)?;
            b.kind = kind;
            p = b;
        }
        Spoof::BrowserReplay => {
            let b = persona(0, Spoof::None, country, console, rng)?;
            p = replay_with_requests(&b, &persona(9, Spoof::None, country, console, rng)?);
            p.kind = kind;
        }
    }
    Ok(p)
}

/// A browser's headers passed to python-requests: requests' defaults keep their places
/// (values overridden), the rest follow in browser order, `Content-Length` last.
fn replay_with_requests(browser: &Persona, requests: &Persona) -> Persona {
    let mut out: Vec<(String, Val)> = Vec::new();
    let skip = |n: &str| ["host", "connection", "content-length"].iter().any(|s| n.eq_ignore_ascii_case(s));
    for (n, v) in requests.headers.iter().take_while(|(n, _)| !n.eq_ignore_ascii_case("x-api-key")) {
        let over = browser.headers.iter().find(|(bn, _)| bn.eq_ignore_ascii_case(n) && !skip(bn));
        out.push((n.clone(), over.map_or_else(|| v.clone(), |(_, bv)| bv.clone())));
    }
    for (n, v) in &browser.headers {
        if !skip(n) && !out.iter().any(|(o, _)| o.eq_ignore_ascii_case(n)) {
            out.push((n.clone(), v.clone()));
        }
    }
    out.push(("Content-Length".into(), Val::Len));
    Persona { headers: out, path: browser.path.clone(), api: browser.api, ja4: requests.ja4, kind: Kind::Script, family: browser.family }
}

#[cfg(test)]
#[path = "clients_tests.rs"]
mod tests;
