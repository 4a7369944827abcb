//! The cluster keys a campaign is grouped by, derived from a request's [`Observation`]:
//! the same keys the state counts distinct accounts on ([`crate::state`]), minus the
//! coarse ones a crowd shares (an ASN, a /24, a JA4, a popular header shape alone).
//!
//! | kind | key | display id |
//! |---|---|---|
//! | `client_env` | client environment ([`crate::fingerprint::env`]) | the environment hash |
//! | `fp_prefix` | header shape x client /24 or /48 | `hfp/prefix-hash` |
//! | `fp_asn` | header shape x ASN | `hfp/AS<n>` |
//! | `template` | one LSH band of the prompt template's SimHash | a template SimHash with the band |
//! | `task` | task anchor ([`crate::prompt::anchor`]) | the anchor hash |
//! | `harness` | agent harness: the tool set and system prompt a body sends ([`crate::prompt`]) | the harness hash |
//!
//! Every id is a hash or an ASN: no API key, address or prompt text reaches a report. A
//! template is keyed by each of its [`BANDS`] 16-bit bands, so near-duplicates (a few bits
//! apart) still meet in one key, as in the state's template table. This module only derives
//! and names keys; counting is in `track`.

use serde::Serialize;

use crate::sketch::{mix64, Seeds};
use crate::state::Observation;

/// LSH bands a template SimHash is split into (16 bits each).
pub const BANDS: usize = 4;
/// Keys one request can carry: one per kind, [`BANDS`] for its template.
pub const MAX_KEYS: usize = 5 + BANDS;

/// What a cluster key is made of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
#[repr(u8)]
pub enum Kind {
    /// Client environment: header shape, JA4 and the installation headers' values.
    #[default]
    ClientEnv,
    /// Header shape from one client /24 (IPv4) or /48 (IPv6) prefix.
    FpPrefix,
    /// Header shape from one ASN.
    FpAsn,
    /// Near-duplicate prompt template (one LSH band of its SimHash).
    Template,
    /// Task anchor: the code identifier the prompt is about.
    Task,
    /// Agent harness: the tool set and system prompt of a tool-use body.
    Harness,
}

impl Kind {
    /// Every kind, in display order.
    pub const ALL: [Kind; 6] = [Kind::ClientEnv, Kind::FpPrefix, Kind::FpAsn, Kind::Template, Kind::Task, Kind::Harness];

    /// Stable name used in reports and log lines.
    pub const fn name(self) -> &'static str {
        match self {
            Kind::ClientEnv => "client_env",
            Kind::FpPrefix => "fp_prefix",
            Kind::FpAsn => "fp_asn",
            Kind::Template => "template",
            Kind::Task => "task",
            Kind::Harness => "harness",
        }
    }

    /// True for keys read from the body (known only once a body prefix was scanned).
    pub const fn from_body(self) -> bool {
        matches!(self, Kind::Template | Kind::Task | Kind::Harness)
    }
}

/// One cluster key of a request: its table key and what a report shows of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Key {
    /// Seeded table key (distinct per kind and band).
    pub hash: u64,
    /// Its kind.
    pub kind: Kind,
    /// First display part: environment, header shape, template SimHash or anchor.
    pub a: u64,
    /// Second display part: prefix hash, ASN, or template band.
    pub b: u64,
}

impl Key {
    /// The readable id of the key (see the module table).
    pub fn id(&self) -> String {
        match self.kind {
            Kind::ClientEnv | Kind::Task | Kind::Harness => format!("{:016x}", self.a),
            Kind::FpPrefix => format!("{:016x}/{:016x}", self.a, self.b),
            Kind::FpAsn => format!("{:016x}/AS{}", self.a, self.b),
            Kind::Template => format!("{:016x}#{}", self.a, self.b),
        }
    }
}

/// The readable form of a key in a report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeyName {
    /// Kind name (`client_env`, `fp_prefix`, `fp_asn`, `template`, `task`, `harness`).
    pub kind: &'static str,
    /// Id (hex hashes; `AS<n>` for an ASN; `#band` after a template SimHash).
    pub id: String,
}

impl From<&Key> for KeyName {
    fn from(k: &Key) -> Self {
        KeyName { kind: k.kind.name(), id: k.id() }
    }
}

/// Hash domain of a kind (and template band), for [`Seeds::hash`].
fn domain(kind: Kind, band: u64) -> u64 {
    0xCB00 + ((kind as u64) << 4) + band
}

/// Appends the keys of `obs` of the kinds `body` selects (header kinds when false, body
/// kinds when true) to `out`; returns how many.
pub fn of(obs: &Observation, seeds: &Seeds, body: bool, out: &mut [Key; MAX_KEYS]) -> usize {
    let mut n = 0;
    let mut push = |kind: Kind, band: u64, value: u64, a: u64, b: u64| {
        if let Some(slot) = out.get_mut(n) {
            *slot = Key { hash: seeds.hash(domain(kind, band), value), kind, a, b };
            n += 1;
        }
    };
    if !body {
        if let Some(env) = obs.env {
            push(Kind::ClientEnv, 0, env, env, 0);
        }
        if let Some(p) = obs.prefix {
            push(Kind::FpPrefix, 0, obs.hfp ^ mix64(p), obs.hfp, p);
        }
        if let Some(asn) = obs.asn {
            push(Kind::FpAsn, 0, obs.hfp ^ mix64(asn as u64 + 1), obs.hfp, asn as u64);
        }
    } else {
        if let Some(t) = obs.template {
            for b in 0..BANDS as u64 {
                push(Kind::Template, b, (t >> (16 * b)) & 0xffff, t, b);
            }
        }
        if let Some(anchor) = obs.anchor {
            push(Kind::Task, 0, anchor, anchor, 0);
        }
        if let Some(h) = obs.harness {
            push(Kind::Harness, 0, h, h, 0);
        }
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(obs: &Observation, body: bool) -> Vec<Key> {
        let mut out = [Key::default(); MAX_KEYS];
        let n = of(obs, &Seeds::new(1), body, &mut out);
        out[..n].to_vec()
    }

    #[test]
    fn header_and_body_keys_are_apart_and_named() {
        let obs = Observation {
            hfp: 0xabc,
            prefix: Some(7),
            asn: Some(4_200_000_001),
            env: Some(9),
            template: Some(0x1111_2222_3333_4444),
            anchor: Some(5),
            harness: Some(11),
            ..Default::default()
        };
        let h = keys(&obs, false);
        assert_eq!(h.iter().map(|k| k.kind).collect::<Vec<_>>(), [Kind::ClientEnv, Kind::FpPrefix, Kind::FpAsn]);
        assert_eq!(h[2].id(), "0000000000000abc/AS4200000001");
        let b = keys(&obs, true);
        assert_eq!(b.len(), BANDS + 2);
        assert_eq!(b[1].id(), "1111222233334444#1");
        assert_eq!((b[BANDS + 1].kind.name(), b[BANDS + 1].id()), ("harness", "000000000000000b".to_string()));
        assert!(b.iter().all(|k| k.kind.from_body()) && h.iter().all(|k| !k.kind.from_body()));
        let mut all: Vec<u64> = h.iter().chain(&b).map(|k| k.hash).collect();
        all.sort();
        all.dedup();
        assert_eq!(all.len(), 3 + BANDS + 2, "kinds and bands never share a table key");
    }

    #[test]
    fn near_duplicate_templates_share_a_band_and_missing_facts_give_no_key() {
        let a = keys(&Observation { template: Some(0x1111_2222_3333_4444), ..Default::default() }, true);
        let b = keys(&Observation { template: Some(0x1111_2222_3333_4445), ..Default::default() }, true);
        assert_eq!(a.iter().zip(&b).filter(|(x, y)| x.hash == y.hash).count(), BANDS - 1);
        assert!(keys(&Observation::default(), false).is_empty());
        assert!(keys(&Observation::default(), true).is_empty());
    }
}
