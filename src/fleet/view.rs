//! What the store holds, merged into one state: the fleet view a node converges to. Used by
//! the CLI (`distill-guard fleet-view`) to check the store against what the filters report.
//!
//! Deliberately not here: reading the store (the caller hands over a store function reply,
//! e.g. fetched through the bridge with a read-only round trip).

use std::collections::BTreeMap;

use super::client::merge_entries;
use super::protocol::{self, printable, Refusal};
use crate::state::State;

/// What [`merge_reply`] found.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Summary {
    /// Store entries (batches) read.
    pub entries: u64,
    /// Deltas merged.
    pub deltas: u64,
    /// Batches or deltas refused.
    pub refused: u64,
    /// Entries per node name.
    pub nodes: BTreeMap<String, u64>,
    /// The merged state's distinct active accounts at `now_ms`.
    pub active_accounts: f64,
}

impl Summary {
    /// One JSON object.
    pub fn to_json(&self) -> String {
        serde_json::json!({
            "entries": self.entries,
            "deltas": self.deltas,
            "refused": self.refused,
            "nodes": self.nodes,
            "active_accounts": (self.active_accounts * 10.0).round() / 10.0,
        })
        .to_string()
    }
}

/// Merges every batch of a store function reply into `state`; `Err` when the reply itself
/// is unusable.
pub fn merge_reply(state: &mut State, reply: &[u8], now_ms: u64) -> Result<Summary, String> {
    let answer = protocol::answer(reply, u32::MAX / 4).map_err(|r| match r {
        Refusal::Store(t) => format!("store error: {t}"),
        Refusal::Malformed(e) => format!("malformed reply: {e}"),
    })?;
    let mut s = Summary::default();
    for (node, _) in &answer.entries {
        s.entries += 1;
        *s.nodes.entry(printable(node, 64)).or_default() += 1;
    }
    (s.deltas, s.refused) = merge_entries(state, &answer.entries, &mut |_, _| {});
    s.active_accounts = state.active_accounts(now_ms);
    Ok(s)
}
