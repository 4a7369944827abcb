//! Test doubles for the Envoy adapter's shared-data code (tests only).

use std::collections::HashMap;

use super::apply::Status;
use super::sync::{SharedData, CAS_MISMATCH};

/// Shared data as Envoy keeps it: value and CAS per key, the CAS of a missing key ignored.
#[derive(Default)]
pub struct Store {
    pub map: HashMap<String, (Vec<u8>, u32)>,
    pub next_cas: u32,
    pub fail_get: Option<String>,
    pub fail_set: Option<String>,
    /// Another worker's write slipped in before the next `set` of this key (forces a mismatch).
    pub race_once: Option<String>,
}

impl SharedData for Store {
    fn get(&mut self, key: &str) -> Result<Option<(Vec<u8>, u32)>, Status> {
        if self.fail_get.as_deref().is_some_and(|k| key.starts_with(k)) {
            return Err(Status(10));
        }
        Ok(self.map.get(key).cloned())
    }
    fn set(&mut self, key: &str, value: &[u8], cas: u32) -> Result<(), Status> {
        if self.fail_set.as_deref().is_some_and(|k| key.starts_with(k)) {
            return Err(Status(10));
        }
        if self.race_once.as_deref() == Some(key) {
            self.race_once = None;
            let other = (self.map.get(key).map_or(0, |v| u32::from_le_bytes(v.0[..4].try_into().unwrap())) + 1).to_le_bytes();
            self.next_cas += 1;
            self.map.insert(key.into(), (other.to_vec(), self.next_cas));
        }
        if let Some((_, c)) = self.map.get(key) {
            if cas != 0 && cas != *c {
                return Err(CAS_MISMATCH);
            }
        }
        self.next_cas += 1;
        self.map.insert(key.into(), (value.to_vec(), self.next_cas));
        Ok(())
    }
}

