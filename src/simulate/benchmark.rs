//! A public coding benchmark, generated: [`TASKS`] small programming problems (a function
//! name, typed parameters, a one-sentence specification and worked examples), the same for
//! every seed, as a published benchmark is the same for everyone; and the many natural
//! phrasings one task is asked in: a completion stub, a "should pass these tests" request,
//! a chatty question, a formal task statement, each with varied wording, openers and
//! closers, and, when asked for, one of many ways to ask for the reasoning.
//!
//! Campaigns work through a slice of it; ordinary people paste a task now and then (see
//! `population`). It does not decide who asks what.

use super::rng::Rng;

/// Tasks in the benchmark.
pub const TASKS: usize = 400;

const VERBS: &[(&str, &[&str])] = &[
    ("count", &["count", "compute the number of", "determine how many"]),
    ("find", &["find", "locate", "return the position of"]),
    ("sum", &["sum", "add up", "compute the total of"]),
    ("remove", &["remove", "delete", "strip out"]),
    ("sort", &["sort", "order", "arrange"]),
    ("merge", &["merge", "combine", "join"]),
    ("rotate", &["rotate", "shift cyclically", "rotate"]),
    ("reverse", &["reverse", "invert the order of", "flip"]),
    ("group", &["group", "bucket", "partition"]),
    ("validate", &["validate", "check the validity of", "verify"]),
    ("max", &["find the largest of", "return the maximum among", "select the biggest of"]),
    ("min", &["find the smallest of", "return the minimum among", "pick the least of"]),
    ("encode", &["encode", "compress", "run-length encode"]),
    ("split", &["split", "break up", "divide"]),
    ("flatten", &["flatten", "unnest", "flatten out"]),
];

const OBJECTS: &[(&str, &str, &str)] = &[
    ("vowels", "text", "str"), ("primes", "numbers", "List[int]"), ("duplicates", "items", "List[int]"),
    ("intervals", "intervals", "List[Tuple[int, int]]"), ("digits", "n", "int"), ("words", "sentence", "str"),
    ("pairs", "numbers", "List[int]"), ("subarrays", "numbers", "List[int]"), ("anagrams", "words", "List[str]"),
    ("palindromes", "words", "List[str]"), ("brackets", "expression", "str"), ("rows", "matrix", "List[List[int]]"),
    ("peaks", "heights", "List[int]"), ("gaps", "timestamps", "List[int]"), ("runs", "bits", "str"),
];

const QUALIFIERS: &[(&str, &str)] = &[
    ("", ""), ("with_sum", " whose sum equals k"), ("under_limit", " that stay below a limit k"),
    ("in_window", " inside a sliding window of size k"), ("by_parity", " split by parity"),
    ("after_index", " after index k"), ("of_length", " of length exactly k"),
];

const RETURNS: &[&str] = &["an integer", "a list", "a boolean", "a new list", "a dictionary", "a string"];

/// One benchmark task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Task {
    /// Function name (`count_vowels_with_sum`).
    pub name: String,
    /// Parameter list as written in a signature (`text: str, k: int`).
    pub params: String,
    /// Which verb, object and qualifier (indexes into the vocabularies).
    parts: (usize, usize, usize),
    /// What it returns.
    ret: &'static str,
    /// Worked examples: (call, result).
    pub examples: Vec<(String, String)>,
}

/// Task `i` of the benchmark (`i` modulo [`TASKS`]); the same on every call and seed.
pub fn task(i: usize) -> Task {
    let i = i % TASKS;
    // A fixed permutation of the vocabulary product, so neighbouring tasks differ.
    let combos = VERBS.len() * OBJECTS.len() * QUALIFIERS.len();
    let k = (i * 7919 + 13) % combos;
    let (v, o, q) = (k % VERBS.len(), (k / VERBS.len()) % OBJECTS.len(), k / (VERBS.len() * OBJECTS.len()));
    let (obj, arg, ty) = OBJECTS[o];
    let qual = QUALIFIERS[q].0;
    let mut name = format!("{}_{obj}", VERBS[v].0);
    if !qual.is_empty() {
        name.push('_');
        name.push_str(qual);
    }
    let with_k = !QUALIFIERS[q].1.is_empty();
    let params = if with_k { format!("{arg}: {ty}, k: int") } else { format!("{arg}: {ty}") };
    let mut r = Rng::derive(0xBE7C, i as u64, 0);
    let examples = (0..3)
        .map(|_| {
            let input = match ty {
                "str" => format!("\"{}\"", ["abracadabra", "level", "hello world", "((a)(b))", "1100111", "banana"][r.index(6)]),
                "int" => r.range(10, 99_999).to_string(),
                _ => format!("[{}]", (0..r.range(3, 7)).map(|_| r.range(0, 40).to_string()).collect::<Vec<_>>().join(", ")),
            };
            let call = if with_k { format!("{name}({input}, {})", r.range(1, 9)) } else { format!("{name}({input})") };
            (call, r.range(0, 12).to_string())
        })
        .collect();
    Task { name, params, parts: (v, o, q), ret: RETURNS[(i * 31) % RETURNS.len()], examples }
}

impl Task {
    /// The specification sentence, with the verb in one of its wordings.
    pub fn spec(&self, r: &mut Rng) -> String {
        let (v, o, q) = self.parts;
        let verb = r.pick(VERBS[v].1).copied().unwrap_or(VERBS[v].0);
        let (obj, arg, _) = OBJECTS[o];
        format!("{verb} the {obj} in `{arg}`{} and return {}", QUALIFIERS[q].1, self.ret)
    }
}

const OPENERS: &[&str] = &[
    "", "", "Hi!", "Quick question.", "I'm preparing for interviews.", "Here's a problem I'm working on.",
    "Can you help with this?", "Another one:", "Next task.", "Please solve the following.",
];

const CLOSERS: &[&str] = &[
    "", "", "Thanks!", "Use Python 3.", "Keep it efficient.", "Add a short docstring.", "No external libraries.",
    "Make sure it handles empty input.",
];

/// Ways of asking for the reasoning (many, as people and operators word it differently).
pub const REASONING: &[&str] = &[
    "Explain your reasoning step by step before the code.",
    "Think through the problem step by step first, then write the solution.",
    "Walk me through your thought process in detail before answering.",
    "Show your full chain of thought, then the final code.",
    "Before answering, reason about edge cases step by step and write that reasoning out.",
    "Write out your reasoning in <thinking> tags, then give the answer.",
    "Please explain each step of your reasoning.",
    "Describe your approach step by step, including why it is correct, then implement it.",
];

/// One natural phrasing of `t`; with `reason`, it also asks for the reasoning.
pub fn phrase(t: &Task, r: &mut Rng, reason: bool) -> String {
    let spec = t.spec(r);
    let ex = |r: &mut Rng| -> String {
        let n = r.range(1, t.examples.len() as u64) as usize;
        t.examples.iter().take(n).map(|(c, v)| format!("{c} == {v}")).collect::<Vec<_>>().join("\n")
    };
    let body = match r.below(4) {
        0 => format!(
            "Complete the following function.\n\n```python\ndef {}({}):\n    \"\"\"{}{}.\n    {}\n    \"\"\"\n```",
            t.name,
            t.params,
            spec[..1].to_uppercase(),
            &spec[1..],
            ex(r).lines().map(|l| format!(">>> {l}")).collect::<Vec<_>>().join("\n    ")
        ),
        1 => format!("Write a Python function to {spec}. Your code should pass these tests:\n\n{}", ex(r).lines().map(|l| format!("assert {l}")).collect::<Vec<_>>().join("\n")),
        2 => format!("can you write `{}` in python? it should {spec}. e.g. {}", t.name, ex(r).replace('\n', ", ")),
        _ => format!("Task: implement {}({}).\nSpecification: {spec}.\nExamples:\n{}", t.name, t.params, ex(r)),
    };
    let open = r.pick(OPENERS).copied().unwrap_or("");
    let close = r.pick(CLOSERS).copied().unwrap_or("");
    let mut out = String::with_capacity(body.len() + 200);
    for part in [open, &body, close] {
        if !part.is_empty() {
            if !out.is_empty() {
                out.push_str("\n\n");
            }
            out.push_str(part);
        }
    }
    if reason {
        out.push_str("\n\n");
        out.push_str(r.pick(REASONING).copied().unwrap_or(REASONING[0]));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tasks_are_fixed_and_distinct() {
        assert_eq!(task(5), task(5));
        assert_eq!(task(5), task(5 + TASKS));
        let names: std::collections::HashSet<String> = (0..TASKS).map(|i| task(i).name).collect();
        assert_eq!(names.len(), TASKS);
    }

    #[test]
    fn phrasings_vary_but_name_the_task() {
        let t = task(17);
        let mut r = Rng::new(3);
        let all: std::collections::HashSet<String> = (0..50).map(|_| phrase(&t, &mut r, false)).collect();
        assert!(all.len() > 30, "{}", all.len());
        assert!(all.iter().all(|p| p.contains(&t.name)));
        assert!(phrase(&t, &mut r, true).contains("step") || REASONING.iter().any(|x| phrase(&t, &mut r, true).contains(x)));
    }
}
