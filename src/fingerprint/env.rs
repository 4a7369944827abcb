//! Client-environment fingerprint: the header shape (`hfp`) and TLS JA4 refined by the
//! values of the headers that describe a client's installation — User-Agent, the official
//! SDKs' `x-stainless-*` package, OS, architecture and runtime versions, the browser's
//! client hints and Accept-Language. Legitimate users of one SDK spread over many versions,
//! operating systems and runtimes; a campaign that runs thousands of accounts from one
//! container image pins one environment. Values are hashed, never kept; per-request values
//! (retry counts, timeouts, keys, lengths) are not part of it. Order-free, allocation-free.

use crate::request::Request;

/// Headers whose values describe the client's installation (lower case), besides the
/// SDKs' `x-stainless-*` set ([`super::claims::STAINLESS`]).
pub const ENV_HEADERS: &[&str] = &["user-agent", "accept-language", "sec-ch-ua", "sec-ch-ua-platform", "sec-ch-ua-mobile"];

/// Index of an installation header (distinct per header), if `h` is one.
fn env_index(h: &crate::request::Header) -> Option<usize> {
    let stainless = super::claims::STAINLESS.iter().position(|n| h.is(n));
    ENV_HEADERS.iter().position(|n| h.is(n)).or(stainless.map(|i| i + ENV_HEADERS.len()))
}

/// Installation headers a request needs for an environment fingerprint. A bare
/// User-Agent (curl, python-requests, Go) names a version that thousands of legitimate
/// users share, and so do a browser's User-Agent, client hints and language (one Chrome
/// release on one platform and locale): too coarse to hold one account's cluster against
/// another. The official SDKs name package, runtime, OS and architecture (seven headers).
pub const MIN_ENV_HEADERS: usize = 6;

/// The environment fingerprint of `req` given its header-shape fingerprint; `None` when
/// the request names fewer than [`MIN_ENV_HEADERS`] installation details.
pub fn client_env(req: &Request, hfp: u64) -> Option<u64> {
    let mut acc: u64 = 0;
    let mut n = 0;
    for h in &req.headers {
        if let Some(i) = env_index(h) {
            n += 1;
            // Summed, so the order of the headers (already in `hfp`) does not matter here.
            acc = acc.wrapping_add(xxhash_rust::xxh3::xxh3_64_with_seed(h.value, i as u64 + 1));
        }
    }
    if n < MIN_ENV_HEADERS {
        return None;
    }
    let ja4 = req.peer.ja4.map_or(0, |j| xxhash_rust::xxh3::xxh3_64(j.as_bytes()));
    Some(crate::sketch::mix64(hfp ^ crate::sketch::mix64(acc ^ crate::sketch::mix64(ja4))))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::Header;

    fn req<'a>(h: &'a [(&'a str, &'a str)]) -> Request<'a> {
        let mut r = Request::new();
        r.headers = h.iter().map(|(n, v)| Header::new(*n, *v)).collect();
        r
    }

    #[test]
    fn installation_values_count_per_request_values_do_not() {
        let sdk = [("X-Stainless-Lang", "python"), ("X-Stainless-Arch", "x64"), ("X-Stainless-Runtime", "CPython"), ("X-Stainless-Runtime-Version", "3.12.4")];
        let with = |extra: &[(&'static str, &'static str)]| -> Vec<(&'static str, &'static str)> { sdk.iter().chain(extra).copied().collect() };
        let a = with(&[("User-Agent", "Anthropic/Python 0.40.0"), ("X-Stainless-OS", "Linux"), ("x-stainless-retry-count", "0"), ("x-api-key", "k1")]);
        let b = with(&[("User-Agent", "Anthropic/Python 0.40.0"), ("X-Stainless-OS", "Linux"), ("x-stainless-retry-count", "1"), ("x-api-key", "k2")]);
        let c = with(&[("User-Agent", "Anthropic/Python 0.40.0"), ("X-Stainless-OS", "MacOS"), ("x-stainless-retry-count", "0"), ("x-api-key", "k1")]);
        let (ea, eb, ec) = (client_env(&req(&a), 7), client_env(&req(&b), 7), client_env(&req(&c), 7));
        assert_eq!(ea, eb);
        assert_ne!(ea, ec);
        assert_ne!(ea, client_env(&req(&a), 8), "the header shape is part of it");
        let mut tls = req(&a);
        tls.peer.ja4 = Some("t13d1516h2_8daaf6152771_d8a2da3f94cd");
        assert_ne!(ea, client_env(&tls, 7), "so is the JA4");
    }

    #[test]
    fn swapping_two_values_between_headers_changes_it() {
        let a = [("x-stainless-os", "Linux"), ("x-stainless-arch", "x64"), ("user-agent", "a"), ("x-stainless-lang", "js"), ("x-stainless-runtime", "node"), ("x-stainless-runtime-version", "v22")];
        let b = [("x-stainless-os", "x64"), ("x-stainless-arch", "Linux"), ("user-agent", "a"), ("x-stainless-lang", "js"), ("x-stainless-runtime", "node"), ("x-stainless-runtime-version", "v22")];
        assert_ne!(client_env(&req(&a), 1), client_env(&req(&b), 1));
    }

    #[test]
    fn a_bare_user_agent_or_a_browser_is_too_coarse() {
        assert_eq!(client_env(&req(&[("User-Agent", "python-requests/2.32.3"), ("Accept", "*/*")]), 1), None);
        let chrome = [("sec-ch-ua", "\"Chromium\";v=\"156\""), ("sec-ch-ua-mobile", "?0"), ("sec-ch-ua-platform", "\"Windows\""), ("User-Agent", "Mozilla/5.0"), ("Accept-Language", "en-US")];
        assert_eq!(client_env(&req(&chrome), 1), None);
    }
}
