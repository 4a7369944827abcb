//! Word banks and small generators shared by legitimate and campaign prompts: identifiers,
//! synthetic source code in several languages, error messages, sentences.
//!
//! Everything is built from the caller's RNG; nothing here knows who is asking.

use super::rng::Rng;

/// Programming languages (display name, fence tag).
pub const LANGS: &[(&str, &str)] = &[
    ("Python", "python"), ("TypeScript", "typescript"), ("JavaScript", "javascript"), ("Go", "go"),
    ("Rust", "rust"), ("Java", "java"), ("C++", "cpp"), ("C#", "csharp"), ("SQL", "sql"), ("Kotlin", "kotlin"),
];

const NOUNS: &[&str] = &[
    "user", "order", "invoice", "token", "session", "record", "event", "item", "node", "edge", "page", "file",
    "cache", "queue", "job", "payment", "account", "message", "batch", "score", "metric", "report", "row", "entry",
    "config", "request", "response", "customer", "product", "ticket", "graph", "matrix", "buffer", "chunk",
];
const VERBS: &[&str] = &[
    "parse", "load", "merge", "filter", "compute", "validate", "normalize", "fetch", "build", "resolve", "sort",
    "group", "count", "flatten", "encode", "decode", "update", "sync", "render", "split", "score", "rank", "dedupe",
];

/// A random noun from the bank.
pub fn noun(r: &mut Rng) -> &'static str {
    r.pick(NOUNS).copied().unwrap_or("item")
}

/// A random verb from the bank.
pub fn verb(r: &mut Rng) -> &'static str {
    r.pick(VERBS).copied().unwrap_or("build")
}

const QUALIFIERS: &[&str] = &[
    "by_id", "for_user", "from_cache", "async", "v2", "in_batch", "all", "safely", "raw", "with_retry", "in_place",
    "fast", "legacy", "internal", "later", "once",
];
const DOMAINS: &[&str] = &[
    "acme", "billing", "ingest", "auth", "search", "geo", "feed", "ledger", "crm", "infra", "media", "chat", "shop",
    "stats", "sched", "notif", "iot", "risk", "kyc", "edu",
];

/// A snake_case function name such as `merge_orders`, `load_user_orders`,
/// `sync_tokens_with_retry` or `billing_parse_invoice`: a few common names most codebases
/// have, and many of a project's own (about 50,000 in all).
pub fn fn_name(r: &mut Rng) -> String {
    let (v, n) = (verb(r), noun(r));
    match r.below(10) {
        0..=2 => format!("{v}_{n}s"),
        3..=5 => format!("{v}_{}_{n}s", noun(r)),
        6 | 7 => format!("{v}_{n}s_{}", r.pick(QUALIFIERS).copied().unwrap_or("all")),
        _ => format!("{}_{v}_{n}", r.pick(DOMAINS).copied().unwrap_or("acme")),
    }
}

fn camel(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut up = false;
    for c in s.chars() {
        if c == '_' {
            up = true;
        } else if up {
            out.push(c.to_ascii_uppercase());
            up = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// Synthetic source code of `lines` statements in language `fence` (a plausible function).
pub fn code(r: &mut Rng, fence: &str, lines: usize) -> String {
    let name = fn_name(r);
    let (a, b) = (noun(r), noun(r));
    let mut body = Vec::with_capacity(lines);
    for i in 0..lines {
        let v = format!("{}{}", noun(r), i % 3);
        let w = noun(r);
        let k = r.range(1, 100);
        let stmt = match (fence, r.below(6)) {
            ("python", 0) => format!("    {v} = [x for x in {a}s if x.{w} > {k}]"),
            ("python", 1) => format!("    if not {b}:\n        raise ValueError(\"missing {b}\")"),
            ("python", 2) => format!("    for idx, {w} in enumerate({a}s):\n        result[{w}.id] = {w}.{v} * {k}"),
            ("python", 3) => format!("    {v} = {}({b}, key=lambda t: t.{w})", verb(r)),
            ("python", _) => format!("    total += len({a}s) // {k}"),
            ("go", 0) => format!("\t{} := make(map[string]int, {k})", camel(&v)),
            ("go", 1) => format!("\tif err != nil {{\n\t\treturn nil, fmt.Errorf(\"{} {b}: %w\", err)\n\t}}", verb(r)),
            ("go", 2) => format!("\tfor _, {w} := range {a}s {{\n\t\tcount += {w}.{}\n\t}}", camel(&v)),
            ("go", _) => format!("\t{} = append({}, {b})", camel(&v), camel(&v)),
            ("rust", 0) => format!("    let {v}: Vec<_> = {a}s.iter().filter(|x| x.{w} > {k}).collect();"),
            ("rust", 1) => format!("    let Some({b}) = {b} else {{ return Err(Error::Missing(\"{b}\")); }};"),
            ("rust", 2) => format!("    for {w} in &{a}s {{\n        map.entry({w}.id).or_default().push({w}.{v});\n    }}"),
            ("rust", _) => format!("    total += {a}s.len() / {k};"),
            ("sql", _) => format!("  LEFT JOIN {w}s {} ON {}.{a}_id = {a}.id AND {}.{v} > {k}", &w[..1], &w[..1], &w[..1]),
            (_, 0) => format!("  const {} = {a}s.filter((x) => x.{w} > {k});", camel(&v)),
            (_, 1) => format!("  if (!{b}) {{\n    throw new Error(\"missing {b}\");\n  }}"),
            (_, 2) => format!("  for (const {w} of {a}s) {{\n    result[{w}.id] = {w}.{} * {k};\n  }}", camel(&v)),
            (_, 3) => format!("  const {} = await {}({b});", camel(&v), camel(&fn_name(r))),
            (_, _) => format!("  total += {a}s.length % {k};"),
        };
        body.push(stmt);
    }
    let body = body.join("\n");
    match fence {
        "python" => format!("def {name}({a}s, {b}=None):\n    result = {{}}\n    total = 0\n{body}\n    return result"),
        "go" => format!("func {}({a}s []{}, {b} string) (map[string]int, error) {{\n\tvar err error\n\tcount := 0\n{body}\n\treturn nil, err\n}}", camel(&name), camel(a)),
        "rust" => format!("pub fn {name}({a}s: &[{}], {b}: Option<&str>) -> Result<usize, Error> {{\n    let mut map = HashMap::new();\n    let mut total = 0;\n{body}\n    Ok(total)\n}}", camel(a)),
        "sql" => format!("SELECT {a}.id, COUNT(*) AS n\nFROM {a}s {a}\n{body}\nGROUP BY {a}.id\nORDER BY n DESC;"),
        _ => format!("async function {}({a}s, {b}) {{\n  const result = {{}};\n  let total = 0;\n{body}\n  return result;\n}}", camel(&name)),
    }
}

/// A realistic-looking error message for language `fence`.
pub fn error_message(r: &mut Rng, fence: &str) -> String {
    let (n, m) = (noun(r), noun(r));
    let line = r.range(3, 400);
    match (fence, r.below(3)) {
        ("python", 0) => format!("TypeError: unsupported operand type(s) for +: 'int' and 'NoneType' (line {line})"),
        ("python", 1) => format!("KeyError: '{n}_{m}'"),
        ("python", _) => format!("AttributeError: '{}' object has no attribute '{m}'", camel(n)),
        ("rust", 0) => format!("error[E0502]: cannot borrow `{n}s` as mutable because it is also borrowed as immutable --> src/{m}.rs:{line}:9"),
        ("rust", _) => format!("error[E0308]: mismatched types: expected `&str`, found `String` --> src/{n}.rs:{line}:21"),
        ("go", _) => format!("panic: runtime error: invalid memory address or nil pointer dereference [{n}.go:{line}]"),
        (_, 0) => format!("TypeError: Cannot read properties of undefined (reading '{m}') at {}.js:{line}", n),
        (_, _) => format!("Uncaught (in promise) Error: {n} {m} not found"),
    }
}

const SUBJECTS: &[&str] = &[
    "our quarterly results", "the new onboarding flow", "a delayed shipment", "the team offsite", "remote work",
    "climate policy", "the history of the printing press", "sourdough baking", "marathon training", "a job offer",
    "the product launch", "a customer complaint", "renewable energy", "the school fundraiser", "a landlord dispute",
    "machine learning in healthcare", "our API pricing change", "a wedding toast", "an apartment search", "chess openings",
];

/// A subject for writing tasks.
pub fn subject(r: &mut Rng) -> &'static str {
    r.pick(SUBJECTS).copied().unwrap_or("the project")
}

const FRAGMENTS: &[&str] = &[
    "The committee met on Tuesday to review the proposal",
    "Revenue grew in most regions while costs stayed flat",
    "Several customers reported slow page loads during the evening peak",
    "The study followed two hundred participants for eighteen months",
    "Our team migrated the billing service to the new cluster",
    "The city council approved the budget after a long debate",
    "Battery prices have fallen steadily over the past decade",
    "The survey shows that most respondents prefer flexible hours",
    "A new version of the library deprecates the old configuration format",
    "Shipping delays were caused by a shortage of containers",
    "The museum will reopen after renovations next spring",
    "Engineers found a memory leak in the image processing pipeline",
];

/// `n` sentences of filler prose (pasted documents, summaries).
pub fn prose(r: &mut Rng, n: usize) -> String {
    let mut out = String::new();
    for i in 0..n {
        if i > 0 {
            out.push(' ');
        }
        out.push_str(r.pick(FRAGMENTS).copied().unwrap_or(""));
        match r.below(4) {
            0 => out.push_str(&format!(", according to the {} team.", noun(r))),
            1 => out.push_str(&format!(" and the {} numbers improved by {}%.", noun(r), r.range(2, 40))),
            _ => out.push('.'),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_has_the_requested_language_shape() {
        let mut r = Rng::new(5);
        assert!(code(&mut r, "python", 6).starts_with("def "));
        assert!(code(&mut r, "go", 6).starts_with("func "));
        assert!(code(&mut r, "rust", 6).starts_with("pub fn "));
        assert!(code(&mut r, "typescript", 6).starts_with("async function "));
        let a = code(&mut r, "python", 8);
        let b = code(&mut r, "python", 8);
        assert_ne!(a, b);
        assert!(prose(&mut r, 5).matches('.').count() >= 5);
    }
}
