//! Reading a body apart from the state, for hosts that share one engine between threads.
//!
//! [`Engine::inspect_headers`], [`Engine::learn_body`] and [`Engine::inspect_body`] read the
//! request (the headers' claims, prints and proxy checks; a body's prompt scan: walk,
//! normalize, SimHash, markers, most of a body's cost) and then work on the state. The reading
//! needs only the policy, so a host whose threads share one engine behind a lock (the native
//! Envoy filter) reads with a [`HeaderReader`] and a [`BodyReader`] cloned out of the engine,
//! outside the lock, and takes the lock only for the state work: [`Engine::decide_headers`]
//! for [`ReadHeaders`], [`Engine::learn_facts`] for a learned body's [`BodyFacts`],
//! [`Engine::decide_body`] for a held request's [`ReadHeld`]. Both ways give the same state,
//! verdicts, counters and campaign tracking.

use crate::prompt::{self, PromptConfig};
use crate::signal::{Fired, Levels};
use crate::score::Verdict;

use super::tier::{read_headers, ReadHeaders, ReadHeld};
use super::{Compiled, Decision, Engine, Held, Learn};
use crate::policy::Policy;
use crate::request::Request;

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
        read(&self.prompt, learn, body, complete, &mut Fired::default())
    }

    /// The body prefix of the request `held` waits for, read: its prompt signals and prints,
    /// for [`Engine::decide_body`].
    pub fn read_held(&self, held: Held, body: &[u8], complete: bool) -> ReadHeld {
        read_held(&self.prompt, held, body, complete)
    }
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

/// Reads requests' headers as the engine it was cloned from does ([`Engine::header_reader`]):
/// the header phase up to the state (claims, prints, proxy headers, address and fingerprint
/// lists), for [`Engine::decide_headers`]; `Send` and `Sync`, independent of the engine's state.
#[derive(Debug, Clone)]
pub struct HeaderReader {
    compiled: Compiled,
    policy: Policy,
}

impl HeaderReader {
    /// `req`'s headers read (`body_follows` as for [`Engine::inspect_headers`]).
    pub fn read(&self, req: &Request, body_follows: bool) -> ReadHeaders {
        read_headers(&self.compiled, &self.policy, req, body_follows)
    }

    /// The policy of the engine it was cloned from.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }
}

/// A held request's body read into its evidence ([`BodyReader::read_held`]).
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

    /// What [`Engine::inspect_headers`] reads of a request before the state, cloned: read
    /// headers with it anywhere (another thread, outside a lock) and hand the result to
    /// [`Engine::decide_headers`].
    pub fn header_reader(&self) -> HeaderReader {
        HeaderReader { compiled: self.compiled.clone(), policy: self.policy.clone() }
    }

    /// The header phase's state work and decision on a request read by
    /// [`Engine::header_reader`]'s reader: what [`Engine::inspect_headers`] does after reading.
    pub fn decide_headers(&mut self, read: ReadHeaders) -> Decision {
        self.decide_read_headers(read, &mut Levels::default())
    }

    /// Finishes a held request on its body read by [`Engine::body_reader`]'s reader
    /// ([`BodyReader::read_held`]): what [`Engine::inspect_body`] does after reading the body.
    pub fn decide_body(&mut self, read: ReadHeld) -> Verdict {
        self.decide_read(read, &mut Levels::default())
    }

    /// What [`Engine::learn_body`] reads of bodies, cloned: read a body with it anywhere
    /// (another thread, outside a lock) and hand the facts to [`Engine::learn_facts`].
    pub fn body_reader(&self) -> BodyReader {
        BodyReader { prompt: self.policy.prompt.clone() }
    }

    /// Records a body's evidence read by [`Engine::body_reader`]'s reader: what
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
