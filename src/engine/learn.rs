//! Learning from a body in two steps, for hosts that share one engine between threads.
//!
//! [`Engine::learn_body`] reads a body (the prompt scan: walk, normalize, SimHash, markers;
//! most of a learned request's cost) and records its evidence in the state. The reading
//! needs only the policy's prompt settings, not the state, so a host whose threads share
//! one engine behind a lock (the native Envoy filter) reads the body with a
//! [`BodyReader`] cloned out of the engine, outside the lock, and takes the lock only to
//! record the [`BodyFacts`] ([`Engine::learn_facts`]): the lock is then held for the state
//! update alone. Both ways give the same state, counters and campaign tracking.

use crate::prompt::{self, PromptConfig};
use crate::signal::Fired;

use super::{Engine, Learn};

/// A learned body's evidence for the state, as [`BodyReader::facts`] read it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BodyFacts {
    template: Option<u64>,
    anchor: Option<u64>,
    harness: Option<u64>,
    elicitation: bool,
}

/// Reads bodies as the engine it was cloned from does ([`Engine::body_reader`]); `Send` and
/// `Sync`, independent of the engine's state.
#[derive(Debug, Clone)]
pub struct BodyReader {
    prompt: PromptConfig,
}

impl BodyReader {
    /// The evidence of the body prefix `body` of the request `learn` came from (`complete`:
    /// whether it is the whole body); cut at its route's `body.max_bytes`.
    pub fn facts(&self, learn: &Learn, body: &[u8], complete: bool) -> BodyFacts {
        read(&self.prompt, learn, body, complete)
    }
}

/// The prompt scan of `body` as learning uses it.
fn read(prompt: &PromptConfig, learn: &Learn, body: &[u8], complete: bool) -> BodyFacts {
    let (body, complete) = match body.get(..learn.max_bytes) {
        Some(cut) if cut.len() < body.len() => (cut, false),
        _ => (body, complete),
    };
    let view = prompt::scan(body, complete, prompt, &mut Fired::default());
    BodyFacts { template: view.template, anchor: view.anchor, harness: view.harness(), elicitation: view.elicitation }
}

impl Engine {
    /// Learns from the body prefix of a request decided at its headers (its
    /// [`super::Decision::Final`]'s `learn`): its template, task, harness and elicitation go
    /// into the state (and the campaign tracker) for the next requests of its account and
    /// clusters. Decides nothing and counts no request.
    pub fn learn_body(&mut self, learn: &Learn, body: &[u8], complete: bool) {
        let facts = read(&self.policy.prompt, learn, body, complete);
        self.learn_facts(learn, facts);
    }

    /// What [`Engine::learn_body`] reads of bodies, cloned: read a body with it anywhere
    /// (another thread, outside a lock) and hand the facts to [`Engine::learn_facts`].
    pub fn body_reader(&self) -> BodyReader {
        BodyReader { prompt: self.policy.prompt.clone() }
    }

    /// Records a body's evidence read by [`Engine::body_reader`]'s reader: what
    /// [`Engine::learn_body`] records, without reading the body under `&mut self`.
    pub fn learn_facts(&mut self, learn: &Learn, facts: BodyFacts) {
        let mut obs = learn.obs;
        obs.template = facts.template;
        obs.anchor = facts.anchor;
        obs.harness = facts.harness;
        obs.elicitation = facts.elicitation;
        self.counters.learned += 1;
        self.state.learn_weighted(&obs, learn.weight);
        #[cfg(feature = "campaigns")]
        if let Some(t) = self.campaigns.as_deref_mut() {
            t.learn(&obs, learn.flagged);
        }
    }
}
