//! Campaign prompt templates: a few dozen fixed skeletons (role line, task family, output
//! requirements, the operator's chain-of-thought elicitation phrase) that the campaign
//! fills with different code and tasks; coding, agentic (tool-use) and grader (rubric)
//! families, as distillation campaigns aimed at coding and agentic skills use.
//!
//! It does not decide which account sends what; `campaign` does.

use super::corpus::{self, LANGS};
use super::prompts::Prompt;
use super::rng::Rng;

/// Chain-of-thought elicitation phrasings (one per template, fixed by the operator).
pub const ELICITATIONS: &[&str] = &[
    "Imagine and articulate the internal reasoning behind a completed response and write it out step by step.",
    "Before the final answer, write out your complete internal reasoning process in full detail inside <thinking> tags, step by step.",
    "Reconstruct and articulate, step by step, the full chain of thought an expert would follow to arrive at this solution, then give the solution.",
    "Explain your reasoning process in exhaustive detail, including every intermediate step and consideration, before answering.",
    "Write out the hidden reasoning that leads to the answer, step by step, as if thinking aloud, and only then give the final answer.",
    "First produce a detailed step-by-step reasoning trace showing how you would solve this, then produce the final code.",
];

const ROLES: &[&str] = &[
    "You are a senior {lang} engineer.",
    "You are an expert software developer with 20 years of experience in {lang}.",
    "Act as a world-class {lang} programmer.",
    "You are a meticulous code reviewer and {lang} expert.",
    "You are a helpful, precise programming assistant specialised in {lang}.",
    "You are a staff engineer at a large tech company. You write production-quality {lang}.",
];

const REQUIREMENTS: &[&str] = &[
    "Return only the final code in a single code block.",
    "Explain your changes briefly after the code.",
    "Follow best practices, include docstrings and handle all edge cases.",
    "Your answer must be complete and runnable; do not omit any part of the code.",
    "Format the answer as: 1) analysis 2) solution 3) complexity.",
];

const GOALS: &[&str] = &[
    "reduce its time complexity", "make it thread-safe", "add input validation and error handling", "use idiomatic iterators",
    "remove the global state", "support streaming input", "add caching of repeated lookups", "make it fully typed",
];

/// Kind of a template.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// Refactor the given code.
    Refactor,
    /// Implement a function from a specification.
    Implement,
    /// Write tests for the given code.
    Tests,
    /// Find and fix a bug.
    Debug,
    /// Solve an algorithmic problem.
    Algorithm,
    /// An agent resolving an issue with tools.
    Agentic,
}

/// One fixed skeleton.
#[derive(Debug, Clone)]
pub struct Template {
    family: Family,
    lang: usize,
    role: usize,
    req: usize,
    elicit: usize,
}

/// Builds `count` templates; about `agentic_share` of them are agentic.
pub fn build(r: &mut Rng, count: u32, agentic_share: f64) -> Vec<Template> {
    let code_langs = [0usize, 1, 2, 3, 4, 5];
    (0..count)
        .map(|i| {
            let agentic = ((i as f64 + 0.5) / count as f64) < agentic_share;
            let family = if agentic {
                Family::Agentic
            } else {
                [Family::Refactor, Family::Implement, Family::Tests, Family::Debug, Family::Algorithm][i as usize % 5]
            };
            Template {
                family,
                lang: *r.pick(&code_langs).unwrap_or(&0),
                role: r.index(ROLES.len()),
                req: r.index(REQUIREMENTS.len()),
                elicit: r.index(ELICITATIONS.len()),
            }
        })
        .collect()
}

/// What a campaign request asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// The task alone.
    Task,
    /// The task with chain-of-thought elicitation.
    Elicit,
    /// The model as a grader of a candidate answer against a rubric.
    Grade,
}

/// Fills template `t` for one request.
pub fn fill(r: &mut Rng, t: &Template, purpose: Purpose) -> Prompt {
    let (lang, fence) = LANGS.get(t.lang).copied().unwrap_or(("Python", "python"));
    let role = ROLES.get(t.role).copied().unwrap_or("").replace("{lang}", lang);
    let req = REQUIREMENTS.get(t.req).copied().unwrap_or("");
    let code = { let n = r.range(8, 30) as usize; corpus::code(r, fence, n) };
    let mut p = Prompt { max_tokens: 16_000, temperature: Some(1.0), ..Prompt::default() };
    let task = match t.family {
        Family::Refactor => {
            let goal = r.pick(GOALS).copied().unwrap_or("");
            format!("Task: Refactor the following {lang} function to {goal}.\n\n```{fence}\n{code}\n```")
        }
        Family::Implement => format!(
            "Implement `{}` in {lang}. Specification:\n- It takes a list of {}s and returns them {} by {}.\n- It must run in O(n log n).\n- Invalid {}s raise an error.",
            corpus::fn_name(r), corpus::noun(r), corpus::verb(r), corpus::noun(r), corpus::noun(r)
        ),
        Family::Tests => format!("Write comprehensive unit tests for this {lang} code, covering edge cases:\n\n```{fence}\n{code}\n```"),
        Family::Debug => format!(
            "The following {lang} code fails with `{}`. Find the root cause and fix it.\n\n```{fence}\n{code}\n```",
            corpus::error_message(r, fence)
        ),
        Family::Algorithm => format!(
            "Problem: Given an array of {} {}s and an integer k, return the number of contiguous subarrays whose {} is at most k. Constraints: 1 <= n <= {}. Provide an optimal {lang} solution and analyze its complexity.",
            r.range(2, 9) * 10, corpus::noun(r), corpus::noun(r), r.range(1, 9) * 100_000
        ),
        Family::Agentic => {
            p.tools = true;
            p.system = Some(format!("You are an autonomous software engineering agent. You can call tools to read files, write files, search the code and run tests. Work in {lang}. Think carefully and verify your changes with the test suite."));
            let turns = r.below(3) as usize;
            for _ in 0..turns {
                p.history.push(format!("Tool result for read_file(src/{}.{fence}):\n```{fence}\n{}\n```", corpus::noun(r), corpus::code(r, fence, 6)));
                p.history.push(format!("I will inspect `{}` next.", corpus::fn_name(r)));
            }
            format!(
                "Repository: {}-{}\nIssue #{}: `{}` returns wrong results when the {} list is empty.\n\nResolve the issue. Plan first, then use the tools.",
                corpus::noun(r), corpus::noun(r), r.range(100, 9999), corpus::fn_name(r), corpus::noun(r)
            )
        }
    };
    p.user = match purpose {
        Purpose::Task => format!("{role}\n\n{task}\n\n{req}"),
        Purpose::Elicit => {
            let e = ELICITATIONS.get(t.elicit).copied().unwrap_or("");
            format!("{role}\n\n{task}\n\n{e}\n\n{req}")
        }
        Purpose::Grade => {
            p.tools = false;
            p.system = None;
            p.history.clear();
            p.max_tokens = 2048;
            p.temperature = Some(0.0);
            let answer = { let n = r.range(6, 20) as usize; corpus::code(r, fence, n) };
            format!(
                "You are an expert grader. Evaluate the candidate response against the rubric.\n\nRubric:\n1. Correctness (0-4): does the code solve the task for all inputs?\n2. Efficiency (0-3): is the complexity optimal?\n3. Clarity (0-3): is the code idiomatic and readable?\n\nTask:\n{task}\n\nCandidate response:\n```{fence}\n{answer}\n```\n\nReturn a JSON object {{\"scores\": {{\"correctness\": int, \"efficiency\": int, \"clarity\": int}}, \"total\": int, \"justification\": string}}."
            )
        }
    };
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_keep_their_skeleton_and_vary_the_fill() {
        let mut r = Rng::new(12);
        let ts = build(&mut r, 30, 0.3);
        assert_eq!(ts.iter().filter(|t| t.family == Family::Agentic).count(), 9);
        let a = fill(&mut r, &ts[10], Purpose::Elicit);
        let b = fill(&mut r, &ts[10], Purpose::Elicit);
        assert_ne!(a.user, b.user);
        let head = |s: &str| s.lines().next().unwrap_or("").to_string();
        assert_eq!(head(&a.user), head(&b.user));
        assert!(ELICITATIONS.iter().any(|e| a.user.contains(e)));
        let g = fill(&mut r, &ts[0], Purpose::Grade);
        assert!(g.user.contains("Rubric:") && !g.tools);
        assert!(fill(&mut r, &ts[0], Purpose::Task).tools);
    }
}
