//! Peer facts a host may not give: Envoy without a geo database has no ASN or country, a
//! listener without TLS fingerprinting no JA4 or JA3. The simulator can leave them out of its
//! records and `quality` remove them before the engine sees a record.

use crate::request::Peer;

/// Peer facts removed from every record before the engine sees it (`quality --without`), or
/// left out of the simulated records (`simulate --without`, the tuning page's network facts).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Without {
    /// Remove the ASN.
    pub asn: bool,
    /// Remove the country.
    pub country: bool,
    /// Remove the TLS JA4 fingerprint.
    pub ja4: bool,
    /// Remove the TLS JA3 fingerprint.
    pub ja3: bool,
}

impl Without {
    /// Names accepted by [`Without::parse`].
    pub const NAMES: &'static str = "asn, country, ja4, ja3";

    /// Parses a comma-separated list of peer fields (`asn,country`); an unknown name is an error.
    pub fn parse(list: &str) -> Result<Without, String> {
        let mut w = Without::default();
        for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            match name {
                "asn" => w.asn = true,
                "country" => w.country = true,
                "ja4" => w.ja4 = true,
                "ja3" => w.ja3 = true,
                _ => return Err(format!("unknown peer field {name:?} (known: {})", Self::NAMES)),
            }
        }
        Ok(w)
    }

    /// Removes the chosen facts from `peer`.
    pub fn apply(self, peer: &mut Peer) {
        if self.asn {
            peer.asn = None;
        }
        if self.country {
            peer.country = None;
        }
        if self.ja4 {
            peer.ja4 = None;
        }
        if self.ja3 {
            peer.ja3 = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_parses_names_and_clears_those_facts() {
        assert_eq!(Without::parse("asn, country").unwrap(), Without { asn: true, country: true, ..Without::default() });
        assert_eq!(Without::parse("").unwrap(), Without::default());
        assert!(Without::parse("asn,ip").unwrap_err().contains("\"ip\""));
        let mut p = Peer { asn: Some(64500), country: Some("DE"), ja4: Some("t13d"), ..Peer::default() };
        Without::parse("asn,country").unwrap().apply(&mut p);
        assert_eq!((p.asn, p.country, p.ja4), (None, None, Some("t13d")));
    }
}
