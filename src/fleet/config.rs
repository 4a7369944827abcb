//! Fleet settings: the `fleet` object of a host's configuration (`envoy.fleet` next to the
//! policy in Envoy's plugin configuration, the `FLEET_SETTINGS` binding of the edge worker).
//! Validation reports every bad key with its path (`fleet.timeout_ms: ...`).
//!
//! Deliberately not here: anything a host decides for itself (Envoy's tick period, the edge
//! worker's service binding) and the node's identity when the host has one (Envoy's
//! `node.id`); see [`super::client`] for how the settings are used.

use serde_json::Value;

use crate::policy::{Errors, PolicyError, PolicyErrors};

/// Key of the fleet settings in a host configuration document (and the root of their error
/// paths when they stand alone).
pub const KEY: &str = "fleet";

/// Validated fleet settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FleetConfig {
    /// Sync through the store at all (`true` when the section is present).
    pub enabled: bool,
    /// Name shared by the nodes that sync with each other; part of every store key.
    pub namespace: String,
    /// This node's name in the store and the logs; `None`: the host names it.
    pub node_id: Option<String>,
    /// Envoy only: the cluster of the HTTP bridge (webdis) in front of the store (also the
    /// calls' `:authority`).
    pub upstream: String,
    /// Native Envoy filter only: the bridge's address (`IP:port`), which that filter calls
    /// itself from a thread of its own (it has no use of Envoy's clusters); hosts that reach
    /// the bridge their own way refuse it.
    pub bridge: Option<std::net::SocketAddr>,
    /// Longest wait for the bridge's answer, in ms; a later answer counts as a failure.
    pub timeout_ms: u32,
    /// How long the store keeps a published delta, in seconds: a node that falls further
    /// behind (or joins later) never sees it.
    pub retention_s: u32,
    /// Largest payload a node publishes per round trip (its own and its workers' deltas).
    pub max_payload_bytes: u32,
    /// Largest answer a node reads per round trip (other nodes' payloads); more waits for
    /// the next round trip.
    pub max_reply_bytes: u32,
    /// Most store entries (payloads) a node reads per round trip.
    pub max_entries: u32,
    /// Local deltas kept while the store is unreachable; the oldest are dropped beyond it.
    pub max_outbox_bytes: u32,
}

impl Default for FleetConfig {
    fn default() -> Self {
        FleetConfig {
            enabled: true,
            namespace: "default".into(),
            node_id: None,
            upstream: "distill_guard_fleet".into(),
            bridge: None,
            timeout_ms: 500,
            retention_s: 60,
            max_payload_bytes: 1 << 20,
            max_reply_bytes: 8 << 20,
            max_entries: 1000,
            max_outbox_bytes: 8 << 20,
        }
    }
}

/// Numeric settings: key, least and largest value (in [`FleetConfig::number`] order).
const NUMBERS: [(&str, u32, u32); 6] = [
    ("timeout_ms", 1, 10_000),
    ("retention_s", 5, 86_400),
    ("max_payload_bytes", 1 << 10, 16 << 20),
    ("max_reply_bytes", 64 << 10, 64 << 20),
    ("max_entries", 1, 100_000),
    ("max_outbox_bytes", 0, 256 << 20),
];
const NUMBER_KEYS: &str = "timeout_ms, retention_s, max_payload_bytes, max_reply_bytes, max_entries, max_outbox_bytes";

/// True for a name usable in store keys and bridge URLs: 1..=64 of `[A-Za-z0-9_-]`.
pub fn is_name(s: &str) -> bool {
    (1..=64).contains(&s.len()) && s.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b'-')
}

/// `s` made into a [`is_name`] name: other characters become `_`, cut at 64 bytes; `None`
/// when nothing is left.
pub fn sanitize_name(s: &str) -> Option<String> {
    let out: Vec<u8> = s.bytes().take(64).map(|c| if c.is_ascii_alphanumeric() || c == b'-' { c } else { b'_' }).collect();
    (!out.is_empty()).then(|| String::from_utf8(out).unwrap_or_default())
}

impl FleetConfig {
    /// Parses the JSON text of a `fleet` object (errors named under `fleet.`).
    pub fn from_json(text: &str) -> Result<FleetConfig, PolicyErrors> {
        let v: Value = serde_json::from_str(text)
            .map_err(|e| PolicyErrors(vec![PolicyError { path: KEY.into(), message: format!("invalid JSON: {e}") }]))?;
        FleetConfig::from_value(&v, KEY)
    }

    /// Validates a `fleet` object found at `at` (`fleet`, `envoy.fleet`), reporting every
    /// error with its path.
    pub fn from_value(v: &Value, at: &str) -> Result<FleetConfig, PolicyErrors> {
        let mut errs = Errors::default();
        let Value::Object(map) = v else {
            return Err(PolicyErrors(vec![PolicyError { path: at.into(), message: "expected an object".into() }]));
        };
        let mut c = FleetConfig::default();
        for (key, value) in map {
            let path = format!("{at}.{key}");
            if let Some(i) = NUMBERS.iter().position(|(k, ..)| k == key) {
                let (_, lo, hi) = NUMBERS[i];
                match value.as_u64().filter(|n| (u64::from(lo)..=u64::from(hi)).contains(n)) {
                    Some(n) => *c.number(i) = n as u32,
                    None => errs.push(path, format!("expected an integer {lo}..={hi}")),
                }
                continue;
            }
            let text = value.as_str();
            match (key.as_str(), text) {
                ("enabled", _) => match value.as_bool() {
                    Some(b) => c.enabled = b,
                    None => errs.push(path, "expected a boolean"),
                },
                ("namespace" | "node_id", Some(s)) if is_name(s) => {
                    if key == "namespace" {
                        c.namespace = s.into();
                    } else {
                        c.node_id = Some(s.into());
                    }
                }
                ("namespace" | "node_id", _) => errs.push(path, "expected 1..=64 characters of A-Z a-z 0-9 _ -"),
                ("upstream", Some(s)) if (1..=255).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_graphic()) => c.upstream = s.into(),
                ("upstream", _) => errs.push(path, "expected 1..=255 printable ASCII characters without spaces"),
                ("bridge", Some(s)) if s.parse::<std::net::SocketAddr>().is_ok() => c.bridge = s.parse().ok(),
                ("bridge", _) => errs.push(path, "expected an IP address and port (\"127.0.0.1:7379\", \"[::1]:7379\")"),
                _ => errs.push(path, format!("unknown key (known: enabled, namespace, node_id, upstream, bridge, {})", NUMBER_KEYS)),
            }
        }
        if errs.0.is_empty() {
            Ok(c)
        } else {
            Err(PolicyErrors(errs.0))
        }
    }

    /// The numeric setting `NUMBERS[i]`.
    fn number(&mut self, i: usize) -> &mut u32 {
        match i {
            0 => &mut self.timeout_ms,
            1 => &mut self.retention_s,
            2 => &mut self.max_payload_bytes,
            3 => &mut self.max_reply_bytes,
            4 => &mut self.max_entries,
            _ => &mut self.max_outbox_bytes,
        }
    }

    /// Store keys of this namespace: the log of published payloads and, for `publisher`,
    /// the key holding its latest stored sequence number. Both carry the `{namespace}` hash
    /// tag, so a Redis Cluster keeps them in one slot.
    pub fn keys(&self, publisher: &str) -> (String, String) {
        let ns = &self.namespace;
        (format!("distill_guard:{{{ns}}}:log"), format!("distill_guard:{{{ns}}}:pub:{publisher}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_every_error_with_its_path() {
        let c = FleetConfig::from_json("{}").unwrap();
        assert_eq!(c, FleetConfig::default());
        assert!(c.enabled);
        let c = FleetConfig::from_json(r#"{"enabled": false, "namespace": "eu-1", "node_id": "gw_7", "timeout_ms": 250}"#).unwrap();
        assert_eq!((c.enabled, c.namespace.as_str(), c.node_id.as_deref(), c.timeout_ms), (false, "eu-1", Some("gw_7"), 250));
        let errs = FleetConfig::from_json(
            r#"{"enabled": 1, "namespace": "a b", "node_id": "", "timeout_ms": 0, "max_entries": -1,
                "upstream": "has space", "retention_s": 1.5, "colour": "red", "bridge": "localhost:7379"}"#,
        )
        .unwrap_err();
        let paths: Vec<&str> = errs.0.iter().map(|e| e.path.as_str()).collect();
        for p in ["fleet.enabled", "fleet.namespace", "fleet.node_id", "fleet.timeout_ms", "fleet.max_entries", "fleet.upstream", "fleet.retention_s", "fleet.colour", "fleet.bridge"] {
            assert!(paths.contains(&p), "{p} missing in {errs}");
        }
        assert_eq!(errs.0.len(), 9, "{errs}");
        let c = FleetConfig::from_json(r#"{"bridge": "127.0.0.1:7379"}"#).unwrap();
        assert_eq!(c.bridge, Some("127.0.0.1:7379".parse().unwrap()));
        assert!(FleetConfig::from_json("[]").is_err());
        assert!(FleetConfig::from_json("{").unwrap_err().0[0].message.starts_with("invalid JSON"));
    }

    #[test]
    fn names_are_url_and_key_safe() {
        assert!(is_name("node-1_A"));
        for bad in ["", "a.b", "a/b", "a{b}", "ä", &"x".repeat(65)] {
            assert!(!is_name(bad), "{bad}");
        }
        assert_eq!(sanitize_name("gw-1.eu.example").as_deref(), Some("gw-1_eu_example"));
        assert_eq!(sanitize_name(""), None);
        assert_eq!(sanitize_name(&"y".repeat(100)).map(|s| s.len()), Some(64));
        let c = FleetConfig { namespace: "prod".into(), ..FleetConfig::default() };
        assert_eq!(c.keys("ab12"), ("distill_guard:{prod}:log".to_string(), "distill_guard:{prod}:pub:ab12".to_string()));
    }
}
