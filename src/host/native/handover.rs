//! A filter's new configuration (a policy pushed by ECDS, a listener update) takes over its
//! predecessor's cross-request state when both policies' `state` sections are equal, as the
//! Wasm filter does across plugin configurations; with equal fleet settings it also takes
//! over the fleet client (node name, store cursor, deltas not yet published), so the node
//! neither reads the store's log again from its start (which would count the retained deltas
//! twice) nor loses what it had not published. Otherwise the new configuration starts empty,
//! as a new node.
//!
//! Envoy builds the new configuration while the old one still serves requests in flight (it
//! is destroyed once they end): those requests then see the new configuration's empty state,
//! so what they learn is lost, as in the Wasm filter. A configuration whose predecessor is
//! already gone starts empty. Predecessors are found by filter name: configurations that live
//! side by side (two listeners) need names of their own (envoy/README.md).

use std::sync::{Arc, Mutex, Weak};

use super::abi::{self, Level};
use super::background::{Fleet, FleetSlot};
use crate::fleet::FleetConfig;
use crate::Engine;

/// The latest configuration of each filter name: its engine and fleet part.
type Latest = (Vec<u8>, Weak<Mutex<Engine>>, Weak<Mutex<Option<Fleet>>>);
static LATEST: Mutex<Vec<Latest>> = Mutex::new(Vec::new());

/// Gives the new configuration `name` (its `engine`) its predecessor's state when the state
/// sections are equal, and returns the predecessor's fleet part when `fleet` (the new fleet
/// settings, if any) equals its settings; then records the new configuration as the latest.
pub fn take_over(name: &[u8], engine: &Arc<Mutex<Engine>>, fleet: Option<&FleetConfig>, slot: &FleetSlot) -> Option<Fleet> {
    let mut latest = LATEST.lock().unwrap_or_else(|p| p.into_inner());
    let before = latest.iter().position(|(n, ..)| n == name);
    let mut kept_fleet = None;
    if let Some((_, old_engine, old_fleet)) = before.and_then(|i| latest.get(i)) {
        if let (Some(old_engine), Some(old_fleet)) = (old_engine.upgrade(), old_fleet.upgrade()) {
            // The fleet part first, as the background thread does: no round trip in between.
            let mut old_fleet = old_fleet.lock().unwrap_or_else(|p| p.into_inner());
            let mut old = old_engine.lock().unwrap_or_else(|p| p.into_inner());
            let mut new = engine.lock().unwrap_or_else(|p| p.into_inner());
            let kept = old.state().config() == new.state().config();
            if kept {
                std::mem::swap(old.state_mut(), new.state_mut());
                if old_fleet.as_ref().is_some_and(|f| Some(f.config()) == fleet) {
                    kept_fleet = old_fleet.take();
                }
            }
            abi::log(
                Level::Info,
                if kept { "distill-guard (native): new filter configuration: cross-request state kept" } else { "distill-guard (native): new filter configuration: cross-request state started empty (state section changed)" },
            );
            if let Some(f) = &kept_fleet {
                abi::log(Level::Info, &format!("distill-guard (native): fleet sync kept as node {}", f.node()));
            }
        }
    }
    let entry = (name.to_vec(), Arc::downgrade(engine), Arc::downgrade(slot));
    match before {
        Some(i) => latest[i] = entry,
        None => latest.push(entry),
    }
    kept_fleet
}
