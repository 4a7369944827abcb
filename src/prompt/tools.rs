//! The tool-set fingerprint: an order-insensitive 64-bit hash of the tool definitions of a
//! request (`tools`, or the legacy `functions`).
//!
//! Per tool it hashes (seeded xxh3) the tool's `type` when it names a built-in or server tool
//! (anything but `function` and `custom`), its `name`, and the hash of its schema
//! (`input_schema` for Anthropic, `parameters` for OpenAI, also under Chat's `function`): the
//! raw JSON bytes with the whitespace outside strings removed, streamed into the hash in the
//! one pass that skips the schema. The tool hashes are added
//! (wrapping), so the order of the tools does not matter, and the sum and the count are
//! hashed once more. Why these parts: names and schemas are the interface a harness offers
//! the model, the same whatever SDK serialized it (Python's `json.dumps` writes `", "` and
//! `": "`, JavaScript writes no spaces, some clients pretty-print); descriptions are prose
//! that agents reword between releases and some fill in per session (dates, directories), so
//! they are left out (the descriptions of schema properties are part of the schema and count).
//!
//! It deliberately does not decode escapes or reorder schema keys (a serializer that sorts
//! keys gives another print), and keeps a fixed-size accumulator only: no allocation. A
//! tool cut short by the end of the body prefix is neither counted nor hashed. A whole `tools`
//! array seen before (a small cache keyed by its raw bytes) is skipped and hashed, not parsed.

use xxhash_rust::xxh3::{xxh3_64_with_seed, Xxh3};

use super::json::{Lexer, Stop, Str, MAX_DEPTH, R};
use super::scan::Found;

/// Seed of the per-tool hashes and of the final mix (fixed: prints compare across nodes).
pub const TOOL_SEED: u64 = 0x746f_6f6c_7365_7431; // "toolset1"

/// The running sum of the tool hashes of one request.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct ToolSet {
    sum: u64,
    n: u32,
}

impl ToolSet {
    /// The fingerprint of the tools added so far (`None` when there were none).
    pub fn finish(&self) -> Option<u64> {
        let mut b = [0u8; 12];
        b[..8].copy_from_slice(&self.sum.to_le_bytes());
        b[8..].copy_from_slice(&self.n.to_le_bytes());
        (self.n > 0).then(|| xxh3_64_with_seed(&b, TOOL_SEED))
    }

    /// The tools read.
    pub fn count(&self) -> u32 {
        self.n
    }

    fn add(&mut self, other: ToolSet) {
        self.sum = self.sum.wrapping_add(other.sum);
        self.n = self.n.saturating_add(other.n);
    }
}

/// The tool sets of the last few `tools` arrays, keyed by a hash of their raw bytes: a harness
/// sends the same definitions with every request, so each array is parsed once and then only
/// skipped and hashed (the cache only memoizes a pure function).
#[derive(Debug, Default)]
pub(crate) struct ToolCache([(u64, ToolSet); 4]);

/// Walks a `tools` / `functions` value into `f.tool_set`, through `cache` when the value is
/// whole.
pub(crate) fn tools(lx: &mut Lexer<'_>, f: &mut Found, cache: &mut ToolCache) -> R<()> {
    let at = lx.i;
    let key = lx.skip().ok().map(|sp| xxh3_64_with_seed(lx.bytes(sp), TOOL_SEED) | 1);
    let slot = key.map_or(0, |k| (k >> 1) as usize % cache.0.len());
    let cached = cache.0.get(slot).filter(|e| Some(e.0) == key).map(|e| e.1);
    let (part, r) = match cached {
        Some(part) => (part, Ok(())),
        None => {
            lx.i = at;
            let mut part = ToolSet::default();
            let r = walk(lx, &mut part);
            if let (Some(k), Ok(()), Some(e)) = (key, r, cache.0.get_mut(slot)) {
                *e = (k, part);
            }
            (part, r)
        }
    };
    f.tool_set.add(part);
    r
}

/// Parses the tool objects of an array into `set` (the ones read whole).
fn walk(lx: &mut Lexer<'_>, set: &mut ToolSet) -> R<()> {
    lx.objects(|lx| {
        let mut t = Tool::default();
        fields(lx, &mut t, true)?;
        set.add(ToolSet { sum: hash(lx.b, &t), n: 1 });
        Ok(())
    })
}

/// The parts of one tool definition that are hashed.
#[derive(Default)]
struct Tool {
    ty: Option<Str>,
    name: Option<Str>,
    /// The hash of the compacted schema.
    schema: Option<u64>,
}

/// The keys of a tool object whose `{` was consumed; Chat's `function` object (`outer`) is
/// read the same way.
fn fields(lx: &mut Lexer<'_>, t: &mut Tool, outer: bool) -> R<()> {
    let mut kf = true;
    while let Some(k) = lx.key(&mut kf)? {
        let key = lx.bytes(k.span);
        let c = lx.peek()?;
        match key {
            b"type" | b"name" if c == b'"' => {
                let s = Some(lx.string()?);
                if key == b"type" {
                    t.ty = s;
                } else {
                    t.name = s;
                }
            }
            b"input_schema" | b"parameters" => {
                let mut h = Xxh3::with_seed(TOOL_SEED);
                schema(lx, &mut h)?;
                t.schema = Some(h.digest());
            }
            b"function" if outer && c == b'{' => {
                lx.i += 1;
                fields(lx, t, false)?;
            }
            _ => {
                lx.skip()?;
            }
        }
    }
    Ok(())
}

fn hash(body: &[u8], t: &Tool) -> u64 {
    let bytes = |s: Str| body.get(s.span.start..s.span.end).unwrap_or(&[]);
    let mut h = Xxh3::with_seed(TOOL_SEED);
    if let Some(ty) = t.ty.map(bytes).filter(|ty| !matches!(*ty, b"function" | b"custom")) {
        h.update(ty);
    }
    h.update(&[0]);
    h.update(t.name.map_or(&[][..], bytes));
    h.update(&[0]);
    h.update(&t.schema.unwrap_or(0).to_le_bytes());
    h.digest()
}

/// Skips the value at the cursor (as [`Lexer::skip`] does, in the same one pass) and streams
/// its bytes into `h` without the whitespace outside strings: the bytes hashed are those of
/// the value written compactly.
fn schema(lx: &mut Lexer<'_>, h: &mut Xxh3) -> R<()> {
    if !matches!(lx.peek()?, b'{' | b'[') {
        let sp = lx.skip()?;
        h.update(lx.bytes(sp));
        return Ok(());
    }
    let b = lx.b;
    let (mut from, mut depth) = (lx.i, 0u32);
    loop {
        let rest = b.get(lx.i..).unwrap_or(&[]);
        let Some(k) = rest.iter().position(|&c| matches!(c, b'"' | b'{' | b'[' | b'}' | b']' | b' ' | b'\n' | b'\r' | b'\t')) else {
            lx.i = b.len();
            return Err(Stop::Eof);
        };
        lx.i += k;
        match rest.get(k) {
            Some(b'"') => {
                lx.string()?;
            }
            Some(b'{' | b'[') => {
                depth += 1;
                if depth > MAX_DEPTH {
                    return Err(Stop::Deep);
                }
                lx.i += 1;
            }
            Some(b'}' | b']') => {
                lx.i += 1;
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    break;
                }
            }
            _ => {
                h.update(b.get(from..lx.i).unwrap_or(&[]));
                lx.peek()?; // past the whitespace
                from = lx.i;
            }
        }
    }
    h.update(b.get(from..lx.i).unwrap_or(&[]));
    Ok(())
}
