//! A validated policy compiled for the hot path: weights, CIDR sets, allow and block lists,
//! identity settings, the body paths and when to wait for a body, and the route overrides
//! each with its own weights, thresholds and body reading ([`Settings`]). Built once per
//! policy; it holds no state and decides nothing by itself (see [`super::Engine`]).

use std::collections::HashSet;

use crate::policy::{Inspect, Policy};
use crate::proxy::CidrSet;
use crate::score::{Prints, Weights};

/// What scoring and body reading a request gets: the global settings, or a route's merged
/// over them.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Weights, ramps, thresholds and mode.
    pub weights: Weights,
    /// When a verdict waits for the body.
    pub inspect: Inspect,
    /// `body.gray_zone` as `(from, to)`.
    pub gray_zone: (u32, u32),
    /// Largest body prefix read, in bytes (0: bodies are not read).
    pub max_bytes: usize,
    /// Learn from one in this many bodies of heavy accounts (`body.heavy_learn_one_in`).
    pub heavy_learn_one_in: u32,
}

/// One route's match, compiled.
#[derive(Debug, Clone)]
struct RouteMatch {
    /// Exact path, or prefix when `prefix`.
    path: Box<[u8]>,
    prefix: bool,
    /// Methods; any when empty.
    methods: Box<[Box<[u8]>]>,
}

/// A policy compiled into lookup structures.
#[derive(Debug, Clone)]
pub struct Compiled {
    /// Settings of requests no route matches.
    pub global: Settings,
    routes: Vec<(RouteMatch, Settings)>,
    /// Each route's name in outputs (its `name`, else its index).
    route_labels: Vec<Box<str>>,
    pub(super) datacenter: CidrSet,
    pub(super) known_proxy: CidrSet,
    pub(super) tor: CidrSet,
    pub(super) allow_cidrs: CidrSet,
    pub(super) allow_accounts: HashSet<u64>,
    pub(super) allow_fps: HashSet<String>,
    pub(super) block_fps: HashSet<String>,
    pub(super) identity_headers: Vec<String>,
    pub(super) identity_key: u64,
    pub(super) body_exact: Vec<Vec<u8>>,
    pub(super) body_prefix: Vec<Vec<u8>>,
}

impl Compiled {
    /// Compiles a validated policy.
    pub fn new(p: &Policy) -> Self {
        let lower = |v: &[String]| v.iter().map(|s| s.to_ascii_lowercase()).collect::<HashSet<_>>();
        let (body_prefix, body_exact): (Vec<_>, Vec<_>) = p.body.paths.iter().partition(|s| s.ends_with('*'));
        let settings = |weights: Weights, b: crate::policy::BodyRead| Settings {
            weights,
            inspect: b.inspect,
            gray_zone: (b.gray_zone.from, b.gray_zone.to),
            max_bytes: b.max_bytes as usize,
            heavy_learn_one_in: b.heavy_learn_one_in,
        };
        let routes = p
            .routes
            .iter()
            .map(|r| {
                let m = &r.matches;
                let (path, prefix) = match (&m.path, &m.prefix) {
                    (Some(x), _) => (x.as_str(), false),
                    (None, Some(x)) => (x.as_str(), true),
                    // Validation rejects a route with neither: `?` is no request's path (the
                    // query is cut before matching), so this one never matches.
                    (None, None) => ("?", false),
                };
                let matcher = RouteMatch { path: path.as_bytes().into(), prefix, methods: m.method.iter().map(|x| x.as_bytes().into()).collect() };
                (matcher, settings(Weights::for_route(p, r), r.body(p)))
            })
            .collect();
        Compiled {
            global: settings(Weights::new(p), p.body_read()),
            routes,
            route_labels: (0..p.routes.len()).map(|i| crate::policy::route_label(&p.routes, i as u16, &mut [0; 5]).into()).collect(),
            datacenter: CidrSet::new(&p.networks.datacenter),
            known_proxy: CidrSet::new(&p.networks.known_proxy),
            tor: CidrSet::new(&p.networks.tor),
            allow_cidrs: CidrSet::new(&p.allow.cidrs),
            allow_accounts: p.allow.accounts.iter().filter_map(|a| u64::from_str_radix(a, 16).ok()).collect(),
            allow_fps: lower(&p.allow.fingerprints),
            block_fps: lower(&p.block.fingerprints),
            identity_headers: p.identity.headers.iter().map(|h| h.to_ascii_lowercase()).collect(),
            identity_key: crate::identity::derive_key(&p.identity.hash_key),
            body_exact: body_exact.into_iter().map(|s| s.as_bytes().to_vec()).collect(),
            body_prefix: body_prefix.into_iter().map(|s| s.trim_end_matches('*').as_bytes().to_vec()).collect(),
        }
    }

    /// The first route matching `method` and `path` (query ignored): its index, if any.
    /// A linear scan, no allocation.
    pub fn route_for(&self, method: &[u8], path: &[u8]) -> Option<u16> {
        let path = strip_query(path);
        self.routes.iter().position(|(m, _)| m.matches(Some(method), path)).map(|i| i as u16)
    }

    /// The settings of route `route`, or the global ones for `None` (or an index the policy
    /// does not have).
    #[inline]
    pub fn settings(&self, route: Option<u16>) -> &Settings {
        route.and_then(|i| self.routes.get(usize::from(i))).map_or(&self.global, |(_, s)| s)
    }

    /// The name route `i` goes by in outputs: its `name`, else its index.
    pub fn route_label(&self, i: u16) -> Option<&str> {
        self.route_labels.get(usize::from(i)).map(|s| &**s)
    }

    /// True when a request of route `route` to `path` has its body read (its route reads
    /// bodies and the path is on `body.paths`).
    pub fn reads_body(&self, route: Option<u16>, path: &[u8]) -> bool {
        self.settings(route).max_bytes > 0 && self.body_path(path)
    }

    /// True when `path` (query ignored) is on `body.paths`.
    pub fn body_path(&self, path: &[u8]) -> bool {
        let p = strip_query(path);
        self.body_exact.iter().any(|e| e == p) || self.body_prefix.iter().any(|e| p.starts_with(e))
    }

    /// True when a request to `path` with some method reads its body: the settings of the
    /// routes it may fall into (every matching route up to the first one without methods,
    /// then the global settings if none such) are asked.
    pub fn any_method_reads_body(&self, path: &[u8]) -> bool {
        if !self.body_path(path) {
            return false;
        }
        let p = strip_query(path);
        for (m, s) in &self.routes {
            if m.matches(None, p) {
                if s.max_bytes > 0 {
                    return true;
                }
                if m.methods.is_empty() {
                    return false;
                }
            }
        }
        self.global.max_bytes > 0
    }

    /// Largest body prefix any request may need read (the global and every route's).
    pub fn max_body_bytes(&self) -> usize {
        self.routes.iter().map(|(_, s)| s.max_bytes).fold(self.global.max_bytes, usize::max)
    }

    pub(super) fn listed(set: &HashSet<String>, prints: &Prints) -> bool {
        if set.is_empty() {
            return false;
        }
        let hex = format!("{:016x}", prints.hfp);
        set.contains(&hex)
            || [&prints.ja4, &prints.ja3, &prints.ja4h]
                .into_iter()
                .flatten()
                .any(|f| set.contains(&f.to_ascii_lowercase()))
    }
}

impl RouteMatch {
    /// True when the path matches and `method` is one of the methods (`None`: any method,
    /// for questions about every method at once).
    fn matches(&self, method: Option<&[u8]>, path: &[u8]) -> bool {
        let path_ok = if self.prefix { path.starts_with(&self.path) } else { *path == *self.path };
        path_ok && (self.methods.is_empty() || method.is_none_or(|m| self.methods.iter().any(|x| **x == *m)))
    }
}

/// `path` without its query string.
fn strip_query(path: &[u8]) -> &[u8] {
    match path.iter().position(|&b| b == b'?') {
        Some(i) => &path[..i],
        None => path,
    }
}
