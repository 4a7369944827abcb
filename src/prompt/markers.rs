//! Elicitation markers: phrases that ask for a written-out chain of thought (`prompt.cot`) or
//! for grading against a rubric (`prompt.rubric`), in English, Chinese, Russian and Spanish.
//!
//! Phrases are matched on the normalized token stream ([`super::normalize`]), so case,
//! punctuation, hyphens (`step-by-step`) and numbers (`score from 1 to 10` = `score from 0 to
//! 0`) do not matter, matches are whole tokens (`rubric` never matches inside `rubrics-card`),
//! and text inside quotes or code is not searched. A word ending in `*` in a phrase matches any
//! token it begins (Russian and Spanish inflections). The phrase list is normalized once into
//! a table keyed by the first four bytes of the first token; each text token costs one bit
//! test, the few that pass it a compare with the phrases' first words, and phrases do not
//! start with stop words, so few tokens are left to match whole phrases.
//!
//! Each marker is a weak signal alone: ordinary users ask for step-by-step reasoning too.
//! It deliberately does not detect intent beyond these phrases.

use std::sync::OnceLock;

use super::normalize::normalize;

/// Markers found in one text.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Markers {
    /// Chain-of-thought / reasoning-trace elicitation.
    pub cot: bool,
    /// Grading against a rubric or criteria.
    pub rubric: bool,
}

impl Markers {
    /// The markers of either.
    pub fn or(self, o: Markers) -> Markers {
        Markers { cot: self.cot || o.cot, rubric: self.rubric || o.rubric }
    }
}

/// Phrases that elicit a written-out chain of thought or reasoning trace.
pub const COT: &[&str] = &[
    // English
    "think step by step", "thinking step by step", "reason step by step", "reasoning step by step",
    "solve it step by step", "solve this step by step", "solve the problem step by step",
    "work it out step by step", "work this out step by step", "work through it step by step",
    "step by step way", "step by step reasoning", "step by step thinking", "step by step thought",
    "show your reasoning", "show your work", "show your thinking", "show your thought process",
    "show all your reasoning", "show me your reasoning", "explain your reasoning", "explain your thinking",
    "explain your thought process", "describe your reasoning", "articulate your reasoning",
    "articulate the reasoning", "internal reasoning", "inner monologue", "reasoning trace", "reasoning traces",
    "chain of thought", "chains of thought", "thought process step by step", "reasoning process",
    "write out your reasoning", "write down your reasoning", "walk through your reasoning",
    "walk me through your reasoning", "reasoning before answering", "reasoning before you answer",
    "reasoning before giving", "think out loud", "think aloud", "thinking tags", "think tags",
    "problem step by step",
    // Chinese
    "逐步思考", "逐步推理", "逐步分析", "逐步解答", "一步一步", "一步步", "分步思考", "推理过程",
    "思考过程", "思维过程", "思维链", "思路过程", "详细推理", "展示你的推理", "写出推理", "解题过程", "解题步骤",
    // Russian
    "пошагов*", "шаг за шагом", "рассуждай*", "ход рассужден*", "ход мысл*", "цепочк* рассужден*",
    "сво* рассужден*", "покажи* рассужден*", "объясни* рассужден*", "опиши* рассужден*", "подумай* пошагово",
    "процесс рассужден*", "процесс мышлени*",
    // Spanish
    "paso a paso", "tu razonamiento", "su razonamiento", "proceso de razonamiento",
    "cadena de pensamiento", "proceso de pensamiento", "razona", "razonen", "razonando", "muestra tu trabajo", "explica tu proceso",
];

/// Phrases that ask the model to grade a response against a rubric or criteria.
pub const RUBRIC: &[&str] = &[
    // English
    "grade the following response", "grade the following answer", "grade the response", "grade the answer",
    "grade this response", "grade this answer", "grade the student", "score the following response",
    "score the response", "score the answer", "score this response", "rate the following response",
    "rate the response", "rate the answer", "rate this response", "rate the quality of the response",
    "evaluate the following response", "evaluate the response", "evaluate the answer", "evaluate this response",
    "evaluate the quality of the response", "against these criteria", "against the following criteria",
    "against the criteria", "against the rubric", "according to the rubric", "according to the following rubric",
    "based on the rubric", "based on the following rubric", "using the rubric", "using the following rubric",
    "following rubric", "rubric below", "grading rubric", "scoring rubric", "evaluation rubric",
    "grading criteria", "scoring criteria", "evaluation criteria", "score from 1 to 10",
    "scale of 1 to 10", "scale from 1 to 10", "impartial judge", "response is better",
    "compare the two responses", "assign a score",
    // Chinese
    "评分标准", "评分细则", "评估标准", "评价标准", "打分标准", "请打分", "进行评分", "给出评分", "给出分数",
    "评价以下回答", "评估以下回答", "哪个回答更好", "按照以下标准", "根据以下标准",
    // Russian
    "критери* оценк*", "оцени* ответ*", "оцени* качество ответ*", "поставь* оценк*",
    "шкале от 1 до 10", "какой ответ лучше",
    // Spanish
    "rúbrica", "criterios de evaluación", "califica la respuesta",
    "calificar la respuesta", "evalúa la respuesta", "evaluar la respuesta", "puntúa la respuesta",
    "escala de 1 a 10", "escala del 1 al 10", "puntuación del 1 al 10", "calificación del 1 al 10", "qué respuesta es mejor",
];

struct Needle {
    key: u32,
    /// Tokens, with whether each matches as a prefix.
    words: Vec<(Vec<u8>, bool)>,
    rubric: bool,
}

/// Buckets of needles by a hash of their first token's first four bytes.
struct Table {
    bits: [u64; BUCKETS / 64],
    /// Needles sorted by bucket; bucket `b` is `needles[start[b]..start[b + 1]]`.
    start: Vec<u16>,
    needles: Vec<Needle>,
}

const BUCKETS: usize = 4096;

/// Bytes of a token in its key: four tell most words apart (`this` from `think`, `process`
/// from `problem`); every phrase whose first word is a stem (`сво*`) has at least four bytes
/// of it, so a key never cuts a stem short.
const KEY_BYTES: usize = 4;

/// The first [`KEY_BYTES`] bytes of a token (zero-padded), the needle key.
#[inline(always)]
fn key_of(tok: &[u8]) -> u32 {
    let b = |k: usize| tok.get(k).copied().unwrap_or(0) as u32;
    // Spelled out: an iterator fold is a call per token at opt-level "z".
    const _: () = assert!(KEY_BYTES == 4);
    b(0) | b(1) << 8 | b(2) << 16 | b(3) << 24
}

#[inline(always)]
fn bucket(key: u32) -> usize {
    (key.wrapping_mul(0x9E37_79B1) >> 20) as usize // 12 bits
}

fn table() -> &'static Table {
    static T: OnceLock<Table> = OnceLock::new();
    T.get_or_init(|| {
        let (mut out, mut starts) = (Vec::new(), Vec::new());
        let mut needles = Vec::new();
        for (list, rubric) in [(COT, false), (RUBRIC, true)] {
            for phrase in list {
                let mut words = Vec::new();
                for w in phrase.split(' ') {
                    let stem = w.ends_with('*');
                    normalize(w.trim_end_matches('*').as_bytes(), &mut out, &mut starts);
                    let toks: Vec<&[u8]> = out.split(|&b| b == b' ').filter(|t| !t.is_empty()).collect();
                    let last = toks.len().saturating_sub(1);
                    words.extend(toks.iter().enumerate().map(|(k, t)| (t.to_vec(), stem && k == last)));
                }
                if let Some((first, _)) = words.first() {
                    needles.push(Needle { key: key_of(first), words, rubric });
                }
            }
        }
        crate::util::insertion_sort_by(&mut needles, |a, b| bucket(a.key).cmp(&bucket(b.key)));
        let mut bits = [0u64; BUCKETS / 64];
        let mut start = vec![0u16; BUCKETS + 1];
        for n in &needles {
            let b = bucket(n.key);
            bits[b / 64] |= 1 << (b % 64);
            start[b + 1] += 1;
        }
        for b in 0..BUCKETS {
            start[b + 1] += start[b];
        }
        Table { bits, start, needles }
    })
}

/// Token `k` of a normalized text.
#[inline]
fn token<'a>(norm: &'a [u8], starts: &[u32], k: usize) -> &'a [u8] {
    let s = starts.get(k).map_or(norm.len(), |&s| s as usize);
    let e = starts.get(k + 1).map_or(norm.len(), |&e| (e as usize).saturating_sub(1));
    norm.get(s..e).unwrap_or(&[])
}

/// Streaming marker search: [`Scan::token`] notes tokens that start a phrase's first word
/// (one bit test each, a word compare for the few that pass it); [`Scan::finish`] checks the
/// rest of the phrase for those only.
pub struct Scan {
    t: &'static Table,
    cands: [u32; 32],
    n: usize,
    overflow: bool,
}

impl Default for Scan {
    fn default() -> Self {
        Scan { t: table(), cands: [0; 32], n: 0, overflow: false }
    }
}

impl Scan {
    /// Notes token `k` if a phrase starts with its word.
    #[inline(always)]
    pub fn token(&mut self, k: usize, tok: &[u8]) {
        let key = key_of(tok);
        let b = bucket(key);
        if self.t.bits[b / 64] & (1 << (b % 64)) != 0 && first_word(self.t, b, key, tok) {
            match self.cands.get_mut(self.n) {
                Some(slot) => {
                    *slot = k as u32;
                    self.n += 1;
                }
                None => self.overflow = true,
            }
        }
    }

    /// Checks the noted tokens of the finished text (all tokens if too many were noted).
    pub fn finish(&self, norm: &[u8], starts: &[u32]) -> Markers {
        if self.overflow {
            return find(norm, starts);
        }
        let mut m = Markers::default();
        for &k in self.cands.get(..self.n).unwrap_or(&[]) {
            check(self.t, norm, starts, k as usize, &mut m);
        }
        m
    }
}

impl super::normalize::Sink for Scan {
    #[inline]
    fn token(&mut self, k: usize, tok: &[u8]) {
        Scan::token(self, k, tok);
    }
}

/// Whether a phrase in bucket `b` starts with the word `tok` (whose key is `key`): the
/// tokens that share a bucket or the first four bytes with a phrase (`showed`, `rather`)
/// stop here, so few are left for [`Scan::finish`].
#[inline(never)]
fn first_word(t: &Table, b: usize, key: u32, tok: &[u8]) -> bool {
    let range = t.start.get(b).map_or(0, |&s| s as usize)..t.start.get(b + 1).map_or(0, |&e| e as usize);
    t.needles.get(range).unwrap_or(&[]).iter().any(|n| {
        n.key == key && n.words.first().is_some_and(|(word, stem)| if *stem { tok.starts_with(word) } else { tok == word.as_slice() })
    })
}

/// Checks the phrases that may start at token `k`.
fn check(t: &Table, norm: &[u8], starts: &[u32], k: usize, m: &mut Markers) {
    let key = key_of(token(norm, starts, k));
    let b = bucket(key);
    if t.bits[b / 64] & (1 << (b % 64)) == 0 {
        return;
    }
    let range = t.start[b] as usize..t.start[b + 1] as usize;
    for n in t.needles.get(range).unwrap_or(&[]) {
        if n.key != key || (n.rubric && m.rubric) || (!n.rubric && m.cot) {
            continue;
        }
        let hit = k + n.words.len() <= starts.len()
            && n.words.iter().enumerate().all(|(j, (word, stem))| {
                let tok = token(norm, starts, k + j);
                if *stem {
                    tok.starts_with(word)
                } else {
                    tok == word.as_slice()
                }
            });
        if hit {
            if n.rubric {
                m.rubric = true;
            } else {
                m.cot = true;
            }
        }
    }
}

/// Finds markers in a normalized text (tokens start at `starts`).
pub fn find(norm: &[u8], starts: &[u32]) -> Markers {
    let t = table();
    let mut m = Markers::default();
    for k in 0..starts.len() {
        check(t, norm, starts, k, &mut m);
        if m.cot && m.rubric {
            break;
        }
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    fn markers(s: &str) -> Markers {
        let (mut out, mut starts) = (Vec::new(), Vec::new());
        normalize(s.as_bytes(), &mut out, &mut starts);
        find(&out, &starts)
    }

    fn cot(s: &str) -> bool {
        markers(s).cot
    }

    fn rubric(s: &str) -> bool {
        markers(s).rubric
    }

    #[test]
    fn every_phrase_matches_itself() {
        for p in COT {
            assert!(cot(&p.replace('*', "")), "{p}");
        }
        for p in RUBRIC {
            assert!(rubric(&p.replace('*', "")), "{p}");
        }
    }

    #[test]
    fn stems_are_longer_than_the_key() {
        for n in &table().needles {
            if let Some((first, true)) = n.words.first() {
                assert!(first.len() >= KEY_BYTES, "{:?}", String::from_utf8_lossy(first));
            }
        }
    }

    #[test]
    fn cot_in_four_languages() {
        assert!(cot("Solve for x. Think step-by-step before you answer."));
        assert!(cot("Please articulate the internal reasoning behind each choice."));
        assert!(cot("Write out your chain of thought, then give the final answer."));
        assert!(cot("Explain your thought process step by step before answering."));
        assert!(cot("SHOW YOUR REASONING."));
        assert!(cot("请一步一步地解决这个问题，并写出推理过程。"));
        assert!(cot("请逐步思考"));
        assert!(cot("Реши задачу пошагово и покажи свои рассуждения."));
        assert!(cot("Рассуждайте шаг за шагом."));
        assert!(cot("Resuelve el problema paso a paso y explica tu razonamiento."));
        assert!(cot("Razona antes de responder."));
    }

    #[test]
    fn rubric_in_four_languages() {
        assert!(rubric("Grade the following response. Score from 1 to 10 according to the rubric."));
        assert!(rubric("Evaluate the answer against these criteria: accuracy, clarity."));
        assert!(rubric("On a scale of 1 to 5, rate the response."));
        assert!(rubric("请根据评分标准给下面的回答打分。"));
        assert!(rubric("Оцените ответ по критериям оценки ниже."));
        assert!(rubric("Evalúa la respuesta según la rúbrica."));
    }

    #[test]
    fn ordinary_prompts_do_not_fire() {
        for p in [
            "Fix this step function: it should advance the simulation by one step.",
            "Why does my CSS class .rubric-card not apply? <div class=\"rubric-card\">",
            "Write a Python function that returns the nth Fibonacci number.",
            "Refactor stepByStep() and step_by_step_helper into one module.",
            "What does `think step by step` do in my_prompt.txt?",
            "Summarize this article in three bullet points.",
            "The rubrics folder holds our grading templates for teachers.",
            "Переведи этот текст на английский.",
            "Escribe un poema sobre el mar.",
            "把这段代码改成异步的。",
        ] {
            assert_eq!(markers(p), Markers::default(), "{p}");
        }
    }
}
