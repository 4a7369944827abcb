//! Prompt view: a bounded scan of LLM API request bodies (Anthropic Messages, OpenAI Chat
//! Completions and Responses), template fingerprints, and elicitation markers. (stub)

use serde::{Deserialize, Serialize};

use crate::policy::Errors;
use crate::signal::Fired;

/// Prompt-view settings (`prompt` in a policy).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PromptConfig {
    /// `max_tokens` at or above which, with a fixed temperature, `prompt.long_output` fires.
    pub long_output_tokens: u32,
}

impl Default for PromptConfig {
    fn default() -> Self {
        PromptConfig { long_output_tokens: 32_000 }
    }
}

impl PromptConfig {
    /// Records every invalid setting under `path`.
    pub fn validate(&self, path: &str, e: &mut Errors) {
        e.range(&format!("{path}.long_output_tokens"), self.long_output_tokens, 1, 10_000_000);
    }
}

/// What the scan found in one body.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PromptView {
    /// SimHash of the normalized latest user turn.
    pub template: Option<u64>,
    /// Exact hash of the normalized skeleton of the latest user turn.
    pub skeleton: Option<u64>,
    /// True when any elicitation marker (CoT, rubric, logprobs, n>1) was present.
    pub elicitation: bool,
}

/// Scans a body prefix (`complete` false when it was cut) and fires `prompt.*` signals.
pub fn scan(_body: &[u8], _complete: bool, _cfg: &PromptConfig, _fired: &mut Fired) -> PromptView {
    PromptView::default()
}
