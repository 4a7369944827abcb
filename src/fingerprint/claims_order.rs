//! The client-order rules, derived from the captures in `tests/data/clients.json` (see
//! `claims::order_owned`). Generated: do not edit; after recapturing, run
//! `DG_BLESS=1 cargo test --release --lib order_rules_are_derived_from_the_captures`.

/// Per family, header chains in the relative order one captured stack emits them; a
/// request of that family must fit one chain (only the headers present are compared).
pub const ORDER: &[(&str, &[&[&str]])] = &[
    ("ai-sdk", &[
        &["host", "connection", "user-agent", "accept-language", "sec-fetch-mode", "accept-encoding", "content-length"],
    ]),
    ("aiohttp", &[
        &["host", "accept-encoding", "user-agent", "content-length"],
    ]),
    ("anthropic-sdk-js", &[
        &["user-agent", "x-stainless-lang", "x-stainless-package-version", "x-stainless-os", "x-stainless-arch", "x-stainless-runtime", "x-stainless-runtime-version"],
    ]),
    ("anthropic-sdk-python", &[
        &["user-agent", "x-stainless-lang", "x-stainless-package-version", "x-stainless-os", "x-stainless-arch", "x-stainless-runtime", "x-stainless-runtime-version"],
    ]),
    ("axios", &[
        &["user-agent", "content-length", "host", "connection"],
    ]),
    ("chrome", &[
        &["user-agent", "sec-fetch-site", "sec-fetch-mode", "sec-fetch-dest", "accept-encoding", "accept-language"],
    ]),
    ("curl", &[
        &["host", "user-agent", "content-length"],
    ]),
    ("firefox", &[
        &["user-agent", "accept-language", "accept-encoding", "sec-fetch-dest", "sec-fetch-mode", "sec-fetch-site"],
    ]),
    ("go", &[
        &["host", "user-agent", "content-length", "accept-encoding"],
    ]),
    ("got", &[
        &["user-agent", "content-length", "accept-encoding", "host", "connection"],
    ]),
    ("guzzle", &[
        &["host", "user-agent", "content-length"],
    ]),
    ("httpie", &[
        &["host", "accept-encoding", "connection", "content-length", "user-agent"],
    ]),
    ("java", &[
        &["content-length", "host", "user-agent"],
        &["user-agent", "host", "connection", "content-length"],
    ]),
    ("litellm", &[
        &["host", "accept-encoding", "connection", "user-agent", "content-length"],
    ]),
    ("needle", &[
        &["user-agent", "content-length", "host", "connection"],
    ]),
    ("niquests", &[
        &["host", "user-agent", "accept-encoding", "connection", "content-length"],
    ]),
    ("node", &[
        &["host", "connection", "accept-language", "sec-fetch-mode", "user-agent", "accept-encoding", "content-length"],
    ]),
    ("node-fetch", &[
        &["content-length", "user-agent", "accept-encoding", "host", "connection"],
    ]),
    ("none", &[
        &["host", "content-length"],
        &["content-length", "host"],
    ]),
    ("openai-sdk-js", &[
        &["user-agent", "x-stainless-lang", "x-stainless-package-version", "x-stainless-os", "x-stainless-arch", "x-stainless-runtime", "x-stainless-runtime-version"],
    ]),
    ("openai-sdk-python", &[
        &["user-agent", "x-stainless-lang", "x-stainless-package-version", "x-stainless-os", "x-stainless-arch", "x-stainless-runtime", "x-stainless-runtime-version"],
        &["user-agent", "x-openai-client-user-agent"],
    ]),
    ("pycurl", &[
        &["host", "user-agent", "content-length"],
    ]),
    ("python-httpx", &[
        &["host", "accept-encoding", "connection", "user-agent", "content-length"],
    ]),
    ("python-requests", &[
        &["host", "user-agent", "accept-encoding", "connection", "content-length"],
    ]),
    ("python-urllib", &[
        &["accept-encoding", "content-length", "host", "user-agent", "connection"],
    ]),
    ("python-urllib3", &[
        &["host", "accept-encoding", "content-length", "user-agent"],
    ]),
    ("ruby", &[
        &["accept-encoding", "user-agent", "host", "content-length"],
    ]),
    ("ureq", &[
        &["accept-encoding", "content-length", "user-agent", "host"],
        &["host", "user-agent", "accept-encoding", "content-length"],
    ]),
    ("wget", &[
        &["host", "user-agent", "accept-encoding", "connection", "content-length"],
    ]),
    ("wget2", &[
        &["host", "accept-encoding", "user-agent", "connection", "content-length"],
    ]),
];
