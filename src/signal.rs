//! The catalogue of signals: every reason code the engine can emit, with its policy key,
//! default weight, default ramp and one-line meaning.
//!
//! Reason codes are stable API: hosts put them in headers and logs, policies weight them.
//! A signal fires with a strength in `0.0..=1.0`; its score contribution is
//! `weight * strength`. Graded signals (those with a ramp) turn a measured level `x` into a
//! strength `clamp((x - from) / (full - from), 0, 1)`; boolean signals fire with 1.0.

/// Which part of the engine produces a signal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// Proxy artifacts in headers and client-IP lists.
    Proxy,
    /// Client claims contradicted by the request shape.
    Client,
    /// Fingerprint lists.
    Fingerprint,
    /// Markers in the prompt body.
    Prompt,
    /// Cross-request state (clusters, accounts, rates).
    State,
}

macro_rules! signals {
    ($( $variant:ident = $code:literal, $key:literal, $family:ident, $weight:literal, $ramp:expr, $doc:literal; )*) => {
        /// A reason code the engine can emit.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[repr(u8)]
        pub enum Signal { $( #[doc = $doc] $variant, )* }

        impl Signal {
            /// Every signal, in catalogue order (the order of [`Signal::index`]).
            pub const ALL: &'static [Signal] = &[ $( Signal::$variant, )* ];
            /// Number of signals.
            pub const COUNT: usize = Self::ALL.len();

            /// Stable reason code, e.g. `proxy.via`.
            pub const fn code(self) -> &'static str { match self { $( Signal::$variant => $code, )* } }
            /// Key under `signals` in a policy, e.g. `proxy_via`.
            pub const fn key(self) -> &'static str { match self { $( Signal::$variant => $key, )* } }
            /// Which part of the engine emits it.
            pub const fn family(self) -> Family { match self { $( Signal::$variant => Family::$family, )* } }
            /// Default weight (0..=100) in the built-in policy.
            pub const fn default_weight(self) -> u8 { match self { $( Signal::$variant => $weight, )* } }
            /// Default `(from, full)` ramp for graded signals; `None` for boolean ones.
            pub const fn default_ramp(self) -> Option<(f64, f64)> { match self { $( Signal::$variant => $ramp, )* } }
            /// One-line meaning, for docs and the tuning page.
            pub const fn description(self) -> &'static str { match self { $( Signal::$variant => $doc, )* } }
        }
    };
}

signals! {
    ProxyVia = "proxy.via", "proxy_via", Proxy, 10, None,
        "A `Via` header: the request passed through a proxy that announces itself.";
    ProxyForwarded = "proxy.forwarded", "proxy_forwarded", Proxy, 8, None,
        "A `Forwarded` (RFC 7239) header from an upstream proxy.";
    ProxyXffHops = "proxy.xff_hops", "proxy_xff_hops", Proxy, 6, None,
        "`X-Forwarded-For` carries more hops than the policy's `proxy.trusted_hops`.";
    ProxyClientIpHeader = "proxy.client_ip_header", "proxy_client_ip_header", Proxy, 10, None,
        "A client-IP header set by a proxy: `X-Real-IP`, `Client-IP`, `True-Client-IP`, `X-Cluster-Client-IP`, `X-Originating-IP`, `X-ProxyUser-IP`, `X-Remote-IP`, `X-Remote-Addr`.";
    ProxyConnection = "proxy.connection_header", "proxy_connection_header", Proxy, 20, None,
        "`Proxy-Connection`: sent by clients configured for a forward proxy, never by direct clients.";
    ProxyAuthorization = "proxy.authorization", "proxy_authorization", Proxy, 30, None,
        "`Proxy-Authorization` leaked through to the origin: credentials for a (commercial) proxy.";
    ProxyVendorHeader = "proxy.vendor_header", "proxy_vendor_header", Proxy, 10, None,
        "A header specific to proxy software: `X-Proxy-ID`, `X-Tinyproxy`, `X-BlueCoat-Via`, `X-Forwarded-Server`, ...";
    IpDatacenter = "ip.datacenter", "ip_datacenter", Proxy, 15, None,
        "The client IP is in the policy's `networks.datacenter` list.";
    IpKnownProxy = "ip.known_proxy", "ip_known_proxy", Proxy, 40, None,
        "The client IP is in the policy's `networks.known_proxy` list (commercial proxy exits).";
    IpTor = "ip.tor", "ip_tor", Proxy, 40, None,
        "The client IP is in the policy's `networks.tor` list.";
    ClientNoUserAgent = "client.no_user_agent", "client_no_user_agent", Client, 20, None,
        "A `User-Agent` header that is present but blank (stacks without a User-Agent, such as PHP's curl extension or Node's `http` module, omit the header: that is `client.scripted`).";
    ClientUaMismatch = "client.ua_mismatch", "client_ua_mismatch", Client, 35, None,
        "A browser User-Agent without the headers that browser always sends (`sec-fetch-*`, `sec-ch-ua` for Chromium).";
    ClientSdkMismatch = "client.sdk_mismatch", "client_sdk_mismatch", Client, 35, None,
        "An official SDK User-Agent without the headers that SDK version always sends (the `x-stainless-*` set; a pre-Stainless major's own marker and no `x-stainless-*`) or naming another package version, or `x-stainless-*` headers under a script's User-Agent.";
    ClientLangMismatch = "client.lang_mismatch", "client_lang_mismatch", Client, 35, None,
        "`x-stainless-lang` disagrees with the language of the SDK the User-Agent names.";
    ClientOrderMismatch = "client.order_mismatch", "client_order_mismatch", Client, 25, None,
        "The headers the claimed stack sets itself come in an order no real capture of that User-Agent family shows (no verdict for families without captures).";
    ClientScripted = "client.scripted", "client_scripted", Client, 3, None,
        "A script, CLI or HTTP library (curl, python-requests, axios, Go, ...), or no User-Agent at all: it fires on every request of such a client, so alone it tells no campaign from a customer (`filters/default.json` weighs it 0).";
    FpListed = "fp.listed", "fp_listed", Fingerprint, 60, None,
        "The header-shape fingerprint, JA4, JA3 or JA4H is on the policy's `block.fingerprints` list.";
    PromptCot = "prompt.cot", "prompt_cot", Prompt, 8, None,
        "The user's text (the latest turn or the task) asks for a written-out chain of thought or reasoning trace.";
    PromptRubric = "prompt.rubric", "prompt_rubric", Prompt, 6, None,
        "The user's text asks the model to grade a response against a rubric.";
    PromptSystemElicitation = "prompt.system_elicitation", "prompt_system_elicitation", Prompt, 2, None,
        "The system prompt asks for the reasoning or for rubric grading: a harness's instruction (popular coding agents ask the model to think before acting too), weak evidence.";
    PromptLogprobs = "prompt.logprobs", "prompt_logprobs", Prompt, 8, None,
        "`logprobs` / `top_logprobs` requested (soft-label distillation).";
    PromptMultiN = "prompt.multi_n", "prompt_multi_n", Prompt, 5, None,
        "`n > 1` completions per request.";
    PromptLongOutput = "prompt.long_output", "prompt_long_output", Prompt, 3, None,
        "Unusually large `max_tokens` with a fixed temperature.";
    ClusterAccountsPerFp = "cluster.accounts_per_fp", "cluster_accounts_per_fp", State, 0, Some((30.0, 300.0)),
        "Distinct accounts seen with this header-shape fingerprint (per window). Read per `state.population_reference` active accounts when the window holds more.";
    ClusterAccountsPerJa4 = "cluster.accounts_per_ja4", "cluster_accounts_per_ja4", State, 0, Some((50.0, 500.0)),
        "Distinct accounts seen with this TLS JA4 (per window). Read per `state.population_reference` active accounts when the window holds more.";
    ClusterAccountsPerPrefix = "cluster.accounts_per_prefix", "cluster_accounts_per_prefix", State, 5, Some((20.0, 200.0)),
        "Distinct accounts seen from this client /24 (IPv4) or /48 (IPv6) prefix.";
    ClusterAccountsPerAsn = "cluster.accounts_per_asn", "cluster_accounts_per_asn", State, 0, Some((200.0, 2000.0)),
        "Distinct accounts seen from this ASN. Read per `state.population_reference` active accounts when the window holds more. Unweighted by default (built-in and `filters/default.json`): a big network operator holds thousands of a large API's users.";
    ClusterAccountsPerTemplate = "cluster.accounts_per_template", "cluster_accounts_per_template", State, 10, Some((20.0, 200.0)),
        "Distinct accounts sending near-duplicates of this prompt template.";
    ClusterAccountsPerFpPrefix = "cluster.accounts_per_fp_prefix", "cluster_accounts_per_fp_prefix", State, 10, Some((10.0, 60.0)),
        "Distinct accounts seen with this header-shape fingerprint from this client /24 or /48 prefix.";
    ClusterLightAccountsPerFpAsn = "cluster.light_accounts_per_fp_asn", "cluster_light_accounts_per_fp_asn", State, 0, Some((40.0, 300.0)),
        "Distinct light accounts (at most `state.light_max_requests` requests in `state.account_window_s`) seen with this header-shape fingerprint from this ASN. Read per `state.population_reference` active accounts when the window holds more. Unweighted by default (built-in and `filters/default.json`): an official SDK on a big network operator holds thousands of a large API's users.";
    AccountIpChurn = "account.ip_churn", "account_ip_churn", State, 20, Some((4.0, 24.0)),
        "Distinct client prefixes used by this account (rotating proxy pools); not read for an account on one or two network operators (a carrier NAT changes a phone's address, not its ASN), nor for one that reuses its addresses (under one request in five from a new prefix, once it has 3: a fleet of servers); read once the account has requests older than the rate slot.";
    AccountIpRotation = "account.ip_rotation", "account_ip_rotation", State, 15, Some((0.4, 0.9)),
        "Share of this account's requests (after its first, once it has 3 and some older than the rate slot, `state.rate_slot_s`) sent from a client prefix it had not used in the window: per-request proxy rotation. (A new key on a fleet of servers reaches the API from all of them in its first seconds.)";
    AccountAsnRotation = "account.asn_rotation", "account_asn_rotation", State, 25, Some((0.4, 0.9)),
        "Share of this account's requests (after its first, from its second on, once some are older than the rate slot) sent from an ASN (network operator) it had not used in the window: residential proxy pools hop networks, people keep to their home, office and phone.";
    ClusterAsnRotationShare = "cluster.asn_rotation_share", "cluster_asn_rotation_share", State, 20, Some((0.2, 0.5)),
        "For a light account not known to keep to its networks (3 requests, under 20 % from a new ASN): share of the requests in its client-environment cluster (header shape, JA4, and the values of User-Agent, SDK / runtime / OS versions, client hints, Accept-Language) over `state.account_window_s` that came from an ASN new to their account: many accounts on one pinned client environment hopping through a proxy pool. Fires on an account's first request. Without an ASN (no geo database) a network is the client's prefix (/24, IPv6 /48): requests from a prefix new to their account, and an account keeps to its networks when under 20 % of its requests come from a new prefix.";
    AccountElicitationShare = "account.elicitation_share", "account_elicitation_share", State, 10, Some((0.3, 0.9)),
        "Share of this account's requests that carry elicitation markers.";
    ClusterElicitationShare = "cluster.elicitation_share", "cluster_elicitation_share", State, 15, Some((0.2, 0.7)),
        "For a light account: share of light accounts' requests carrying elicitation markers in its (fingerprint, prefix) or prompt-template cluster (the larger; clusters of at least `state.min_cluster_accounts` accounts and `state.min_requests` requests).";
    ClusterSynchrony = "cluster.synchrony", "cluster_synchrony", State, 15, Some((5.0, 30.0)),
        "Distinct accounts sending this template within the same short time bucket.";
    AccountTaskBreadth = "account.task_breadth", "account_task_breadth", State, 10, Some((5.0, 20.0)),
        "Distinct shared tasks this account worked on over `state.account_window_s`: a task is the code identifier a prompt is about (its *anchor*), shared once at least `state.shared_task_accounts` accounts sent it; when every one of its last four tasks is shared now, at least that many (a slow swarm sends its first tasks before other accounts have). A campaign account works through a benchmark's tasks one after another; a person's code is their own. Weak alone: an evaluation team runs benchmarks too.";
    AccountSwarmShare = "account.swarm_share", "account_swarm_share", State, 30, Some((0.5, 1.0)),
        "For a broad account (`state.broad_tasks` shared tasks or more): share of its last four shared tasks that a swarm works now: tasks of at least `state.swarm_accounts` accounts over the account window, 60 % of them broad. A popular identifier is used by many people, few of them busy; an evaluation account running a benchmark is one account; a swarm's task is sent almost only by accounts that work through many shared tasks.";
    ClusterSwarm = "cluster.swarm", "cluster_swarm", State, 15, Some((0.5, 0.9)),
        "For a new account (under 3 requests): share of broad accounts among the accounts on this request's task (at least `state.swarm_accounts` of them) over the account window: its first task is one a swarm works through. Needs the body (held requests).";
    ClusterHarnessRepeat = "cluster.harness_repeat", "cluster_harness_repeat", State, 40, Some((0.4, 0.7)),
        "Share of the task work in this request's agent harness (the tool set and system prompt its body sends, else its account's latest) over `state.long_window_s` that repeats another account's task: of the (account, task) pairs its accounts began, those whose task another account of the harness had sent. Measured from 10 accounts and `state.min_requests` pairs, and held only against an account whose own tasks repeat others' (two repeats, at least half of its tasks; over 40 % it then has no ordinary history). A popular agent's users work on their own code (a few percent repeat: common identifiers); a harness running a benchmark over many accounts repeats most of its tasks within hours.";
    AccountTaskRepeat = "account.task_repeat", "account_task_repeat", State, 35, Some((0.6, 0.8)),
        "Share of this account's own tasks in agent harnesses (tasks new to it over `state.long_window_s`, from 3 of them) that repeated a task another account of the same harness had sent; for an account whose repeats hold its harness against it (`cluster.harness_repeat`), at least the share of its last four tasks that other accounts work now (its first tasks were new when sent): a campaign running even a popular agent on a benchmark repeats almost all of them; people on their own code rarely (several accounts of one team on one codebase can: list them in `allow.accounts`).";
    AccountFlagHistory = "account.flag_history", "account_flag_history", State, 25, Some((0.2, 0.6)),
        "Share of this account's recent requests (12 h half-life) that were flagged on the evidence of two or more of its own prompt and account signals (`account.ip_rotation` and `account.ip_churn`, both read from its prefixes, count as one): campaign accounts that mix in innocuous prompts.";
    RateAccount = "rate.account", "rate_account", State, 15, Some((30.0, 120.0)),
        "Requests per minute from this account.";
    RatePrefix = "rate.prefix", "rate_prefix", State, 10, Some((300.0, 3000.0)),
        "Requests per minute from this client prefix.";
    RateFp = "rate.fp", "rate_fp", State, 0, Some((3000.0, 30000.0)),
        "Requests per minute with this header-shape fingerprint. Unweighted by default (built-in and `filters/default.json`): at a large API's volume an official SDK's fingerprint is over the ramp on every request (the load bench's traffic is), so it would weigh on its users only; weight it where no public client is that busy. Read per `state.population_reference` active accounts when the window holds more.";
}

impl Signal {
    /// Position in [`Signal::ALL`], for dense per-signal arrays.
    #[inline]
    pub const fn index(self) -> usize {
        self as usize
    }

    /// True for the account's own behaviour: prompt signals and account-level state signals
    /// (`account.*` but `account.flag_history`, `rate.account`), which vary between its
    /// requests. Client shape, proxy headers, lists and cluster signals are not.
    pub fn behaviour(self) -> bool {
        match self.family() {
            Family::Prompt => true,
            Family::State => self != Signal::AccountFlagHistory && (self.code().starts_with("account.") || self == Signal::RateAccount),
            _ => false,
        }
    }

    /// True for the signals of the crowds a request shares (its clusters and their rates):
    /// guilt by association, which never changes the action of an account with an
    /// established, ordinary history ([`Levels::ordinary`]).
    pub fn crowd(self) -> bool {
        self.code().starts_with("cluster.") || matches!(self, Signal::RatePrefix | Signal::RateFp)
    }

    /// The crowd counts that grow with a deployment's user base (a client, a TLS stack, a
    /// network operator: not an address block or a prompt), read per
    /// `state.population_reference` active accounts when the window holds more.
    pub const POPULATION_WIDE: [Signal; 5] = [
        Signal::ClusterAccountsPerFp,
        Signal::ClusterAccountsPerJa4,
        Signal::ClusterAccountsPerAsn,
        Signal::ClusterLightAccountsPerFpAsn,
        Signal::RateFp,
    ];

    /// Looks a signal up by its policy key (`proxy_via`).
    pub fn from_key(key: &str) -> Option<Signal> {
        Self::ALL.iter().copied().find(|s| s.key() == key)
    }

    /// Looks a signal up by its reason code (`proxy.via`).
    pub fn from_code(code: &str) -> Option<Signal> {
        Self::ALL.iter().copied().find(|s| s.code() == code)
    }
}

/// Strengths of the signals that fired for one request (dense, no allocation).
#[derive(Debug, Clone)]
pub struct Fired {
    strength: [f32; Signal::COUNT],
    /// The account's own history is established and ordinary ([`Levels::ordinary`]): the
    /// crowd signals ([`Signal::crowd`]) may not change its action (see
    /// [`crate::score::Weights::score`]).
    pub ordinary: bool,
}

impl Default for Fired {
    fn default() -> Self {
        Fired { strength: [0.0; Signal::COUNT], ordinary: false }
    }
}

impl Fired {
    /// Records `signal` with full strength.
    #[inline]
    pub fn fire(&mut self, signal: Signal) {
        self.set(signal, 1.0);
    }

    /// Records `signal` with `strength` (clamped to 0..=1; keeps the stronger of two firings).
    #[inline]
    pub fn set(&mut self, signal: Signal, strength: f32) {
        let s = if strength.is_nan() { 0.0 } else { strength.clamp(0.0, 1.0) };
        let slot = &mut self.strength[signal.index()];
        if s > *slot {
            *slot = s;
        }
    }

    /// Withdraws `signal` (another signal showed it cannot be trusted for this request).
    #[inline]
    pub fn clear(&mut self, signal: Signal) {
        self.strength[signal.index()] = 0.0;
    }

    /// Strength of `signal` (0 when it did not fire).
    #[inline]
    pub fn get(&self, signal: Signal) -> f32 {
        self.strength[signal.index()]
    }

    /// Signals that fired, with their strengths, in catalogue order.
    pub fn iter(&self) -> impl Iterator<Item = (Signal, f32)> + '_ {
        Signal::ALL
            .iter()
            .map(move |&s| (s, self.strength[s.index()]))
            .filter(|&(_, v)| v > 0.0)
    }
}

/// Maps a measured level to a strength with a `(from, full)` ramp.
#[inline]
pub fn ramp(x: f64, from: f64, full: f64) -> f32 {
    if x <= from {
        0.0
    } else if x >= full || full <= from {
        1.0
    } else {
        ((x - from) / (full - from)) as f32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_keys_are_unique_and_consistent() {
        let mut codes: Vec<_> = Signal::ALL.iter().map(|s| s.code()).collect();
        codes.sort();
        codes.dedup();
        assert_eq!(codes.len(), Signal::COUNT);
        for (i, s) in Signal::ALL.iter().enumerate() {
            assert_eq!(s.index(), i);
            assert_eq!(s.key(), s.code().replace('.', "_"));
            assert_eq!(Signal::from_key(s.key()), Some(*s));
            assert_eq!(Signal::from_code(s.code()), Some(*s));
            assert!(s.default_weight() <= 100);
            assert_eq!(s.family() == Family::State, s.default_ramp().is_some(), "{}", s.code());
        }
    }

    #[test]
    fn fired_keeps_strongest_and_ramp_is_clamped() {
        let mut f = Fired::default();
        f.set(Signal::ProxyVia, 0.4);
        f.set(Signal::ProxyVia, 0.2);
        f.set(Signal::IpTor, f32::NAN);
        assert_eq!(f.get(Signal::ProxyVia), 0.4);
        assert_eq!(f.iter().count(), 1);
        assert_eq!(ramp(5.0, 10.0, 20.0), 0.0);
        assert_eq!(ramp(15.0, 10.0, 20.0), 0.5);
        assert_eq!(ramp(25.0, 10.0, 20.0), 1.0);
    }
}

/// Measured levels of graded signals for one request (dense; unset levels are skipped).
#[derive(Debug, Clone)]
pub struct Levels {
    level: [f64; Signal::COUNT],
    /// The account has an established, ordinary history (enough requests, keeping to its
    /// networks, its own tasks, little elicitation): the crowds it shares do not change its
    /// verdict (see [`Signal::crowd`] and [`Fired::ordinary`]).
    pub ordinary: bool,
    /// The account sent more than `state.light_max_requests` requests in the account window
    /// (what `body.heavy_learn_one_in` samples).
    pub heavy: bool,
    /// The account's latest body named an agent harness (a tool set) the state tracks (its
    /// bodies are not sampled by `body.heavy_learn_one_in`).
    pub agent: bool,
}

impl Default for Levels {
    fn default() -> Self {
        Levels { level: [f64::NAN; Signal::COUNT], ordinary: false, heavy: false, agent: false }
    }
}

impl Levels {
    /// Records the measured level of graded signal `s` (e.g. distinct accounts, a share, a rate).
    #[inline]
    pub fn set(&mut self, s: Signal, level: f64) {
        self.level[s.index()] = level;
    }

    /// Records `level` for `s` unless a larger one was recorded.
    #[inline]
    pub fn raise(&mut self, s: Signal, level: f64) {
        if self.get(s).map_or(true, |v| level > v) {
            self.set(s, level);
        }
    }

    /// The level of `s`, if it was measured.
    #[inline]
    pub fn get(&self, s: Signal) -> Option<f64> {
        let v = self.level[s.index()];
        (!v.is_nan()).then_some(v)
    }

    /// Measured levels in catalogue order.
    pub fn iter(&self) -> impl Iterator<Item = (Signal, f64)> + '_ {
        Signal::ALL.iter().filter_map(move |&s| self.get(s).map(|v| (s, v)))
    }
}
