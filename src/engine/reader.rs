//! Reading a request apart from the state, for hosts that share one engine between threads.
//!
//! [`Engine::inspect_headers`], [`Engine::learn_body`] and [`Engine::inspect_body`] read the
//! request (the headers' claims, prints and proxy checks; a body's prompt scan: walk,
//! normalize, SimHash, markers, most of a body's cost) and then work on the state. The reading
//! needs only the policy, so a host whose threads share one engine behind a lock (the native
//! Envoy filter) reads with a [`Reader`] cloned out of the engine, outside the lock, and takes
//! the lock only for the state work: [`Engine::decide_headers`] for [`ReadHeaders`],
//! [`Engine::learn_facts`] for a learned body's [`BodyFacts`], [`Engine::decide_body`] for a
//! held request's [`ReadHeld`]. Both ways give the same state, verdicts, counters and campaign
//! tracking.

use crate::policy::Policy;
use crate::prompt::{self, PromptConfig};
use crate::request::Request;
use crate::score::Verdict;
use crate::signal::{Fired, Levels};

use super::tier::{read_headers, ReadHeaders, ReadHeld};
use super::{Compiled, Decision, Engine, Held, Learn};

/// A learned body's evidence for the state, as [`Reader::facts`] read it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BodyFacts {
    template: Option<u64>,
    anchor: Option<u64>,
    harness: Option<u64>,
    elicitation: bool,
}

/// The prompt scan of `body`, cut at its route's `body.max_bytes`; its prompt signals fired
/// into `fired`.
fn read(prompt: &PromptConfig, learn: &Learn, body: &[u8], complete: bool, fired: &mut Fired) -> BodyFacts {
    read_view(prompt, learn, body, complete, fired).0
}

/// [`read`], with the prints a held request's verdict carries (template, task, tool set).
fn read_view(prompt: &PromptConfig, learn: &Learn, body: &[u8], complete: bool, fired: &mut Fired) -> (BodyFacts, [Option<u64>; 3]) {
    let (body, complete) = match body.get(..learn.max_bytes) {
        Some(cut) if cut.len() < body.len() => (cut, false),
        _ => (body, complete),
    };
    let view = prompt::scan(body, complete, prompt, fired);
    let facts = BodyFacts { template: view.template, anchor: view.anchor, harness: view.harness(), elicitation: view.elicitation };
    (facts, [view.template, view.task_template, view.tool_set])
}

/// Reads requests as the engine it was cloned from does ([`Engine::reader`]): the header phase
/// up to the state (claims, prints, proxy headers, address and fingerprint lists) and bodies
/// (the prompt scan), for [`Engine::decide_headers`], [`Engine::learn_facts`] and
/// [`Engine::decide_body`]; `Send` and `Sync`, independent of the engine's state.
#[derive(Debug, Clone)]
pub struct Reader {
    compiled: Compiled,
    policy: Policy,
}

impl Reader {
    /// `req`'s headers read (`body_follows` as for [`Engine::inspect_headers`]).
    pub fn headers(&self, req: &Request, body_follows: bool) -> ReadHeaders {
        read_headers(&self.compiled, &self.policy, req, body_follows)
    }

    /// The evidence of the body prefix `body` of the request `learn` came from (`complete`:
    /// whether it is the whole body); cut at its route's `body.max_bytes`.
    pub fn facts(&self, learn: &Learn, body: &[u8], complete: bool) -> BodyFacts {
        read(&self.policy.prompt, learn, body, complete, &mut Fired::default())
    }

    /// The body prefix of the request `held` waits for, read: its prompt signals and prints,
    /// for [`Engine::decide_body`].
    pub fn read_held(&self, held: Held, body: &[u8], complete: bool) -> ReadHeld {
        read_held(&self.policy.prompt, held, body, complete)
    }

    /// The policy of the engine it was cloned from.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// [`Engine::body_limit`] of the engine it was cloned from.
    pub fn body_limit(&self) -> usize {
        self.compiled.max_body_bytes()
    }
}

/// A held request's body read into its evidence ([`Reader::read_held`]).
pub(super) fn read_held(prompt: &PromptConfig, mut held: Held, body: &[u8], complete: bool) -> ReadHeld {
    let (facts, [template, task, tool_set]) = read_view(prompt, &held.learn, body, complete, &mut held.fired);
    (held.prints.template, held.prints.task, held.prints.tool_set) = (template, task, tool_set);
    held.learn.obs = facts.observed(held.learn.obs);
    ReadHeld { held }
}

impl BodyFacts {
    /// `obs` with what the body showed.
    fn observed(self, mut obs: crate::state::Observation) -> crate::state::Observation {
        obs.template = self.template;
        obs.anchor = self.anchor;
        obs.harness = self.harness;
        obs.elicitation = self.elicitation;
        obs
    }
}

impl Engine {
    /// Learns from the body prefix of a request decided at its headers (its
    /// [`super::Decision::Final`]'s `learn`): its template, task, harness and elicitation go
    /// into the state (and the campaign tracker) for the next requests of its account and
    /// clusters. Decides nothing and counts no request.
    pub fn learn_body(&mut self, learn: &Learn, body: &[u8], complete: bool) {
        let facts = read(&self.policy.prompt, learn, body, complete, &mut Fired::default());
        self.learn_facts(learn, facts);
    }

    /// What the engine reads of a request before its state, cloned: read requests with it
    /// anywhere (another thread, outside a lock) and hand the results to
    /// [`Engine::decide_headers`], [`Engine::learn_facts`] or [`Engine::decide_body`].
    pub fn reader(&self) -> Reader {
        Reader { compiled: self.compiled.clone(), policy: self.policy.clone() }
    }

    /// The header phase's state work and decision on a request read by
    /// [`Engine::reader`]: what [`Engine::inspect_headers`] does after reading.
    pub fn decide_headers(&mut self, read: ReadHeaders) -> Decision {
        self.decide_read_headers(read, &mut Levels::default())
    }

    /// Finishes a held request on its body read by [`Engine::reader`]
    /// ([`Reader::read_held`]): what [`Engine::inspect_body`] does after reading the body.
    pub fn decide_body(&mut self, read: ReadHeld) -> Verdict {
        self.decide_read(read, &mut Levels::default())
    }

    /// Records a body's evidence read by [`Engine::reader`]: what
    /// [`Engine::learn_body`] records, without reading the body under `&mut self`.
    pub fn learn_facts(&mut self, learn: &Learn, facts: BodyFacts) {
        let obs = facts.observed(learn.obs);
        self.counters.learned += 1;
        self.state.learn_weighted(&obs, learn.weight);
        #[cfg(feature = "campaigns")]
        if let Some(t) = self.campaigns.as_deref_mut() {
            t.learn(&obs, learn.flagged);
        }
    }
}
