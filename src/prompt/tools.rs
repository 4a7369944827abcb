//! The tool-set fingerprint: an order-insensitive 64-bit hash of the tool definitions of a
//! request (`tools`, or the legacy `functions`).
//!
//! Per tool it hashes (seeded xxh3, streamed) the tool's `type` when it names a built-in or
//! server tool (anything but `function` and `custom`), its `name`, and its schema
//! (`input_schema` for Anthropic, `parameters` for OpenAI, also under Chat's `function`) as
//! raw JSON bytes with the whitespace outside strings removed. The tool hashes are added
//! (wrapping), so the order of the tools does not matter, and the sum and the count are
//! hashed once more. Why these parts: names and schemas are the interface a harness offers
//! the model, the same whatever SDK serialized it (Python's `json.dumps` writes `", "` and
//! `": "`, JavaScript writes no spaces, some clients pretty-print); descriptions are prose
//! that agents reword between releases and some fill in per session (dates, directories), so
//! they are left out (the descriptions of schema properties are part of the schema and count).
//!
//! It deliberately does not decode escapes or reorder schema keys (a serializer that sorts
//! keys gives another print), and keeps a fixed-size accumulator only: no allocation. A
//! tool cut short by the end of the body prefix is neither counted nor hashed.

use xxhash_rust::xxh3::{xxh3_64_with_seed, Xxh3};

use super::json::{Lexer, Span, Str, R};
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
}

/// The parts of one tool definition that are hashed.
#[derive(Default)]
struct Tool {
    ty: Option<Str>,
    name: Option<Str>,
    schema: Option<Span>,
}

/// Walks a `tools` / `functions` value into `f` (`tools` counts the tool objects read whole).
pub(crate) fn tools(lx: &mut Lexer<'_>, f: &mut Found) -> R<()> {
    lx.objects(|lx| {
        let mut t = Tool::default();
        fields(lx, &mut t, true)?;
        let h = hash(lx.b, &t);
        f.tool_set.sum = f.tool_set.sum.wrapping_add(h);
        f.tool_set.n = f.tool_set.n.saturating_add(1);
        f.tools = f.tool_set.n;
        Ok(())
    })
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
            b"input_schema" | b"parameters" => t.schema = Some(lx.skip()?),
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
    let bytes = |s: Span| body.get(s.start..s.end).unwrap_or(&[]);
    let mut h = Xxh3::with_seed(TOOL_SEED);
    if let Some(ty) = t.ty.map(|s| bytes(s.span)).filter(|ty| !matches!(*ty, b"function" | b"custom")) {
        h.update(ty);
    }
    h.update(&[0]);
    if let Some(name) = t.name {
        h.update(bytes(name.span));
    }
    h.update(&[0]);
    if let Some(schema) = t.schema {
        compact(bytes(schema), &mut h);
    }
    h.digest()
}

/// Streams `json` into `h` without the whitespace outside strings (the bytes hashed are
/// those of the value written compactly, whatever the chunks).
fn compact(json: &[u8], h: &mut Xxh3) {
    let mut lx = Lexer::new(json);
    let mut from = 0;
    while let Some(&c) = json.get(lx.i) {
        match c {
            b'"' => {
                if lx.string_partial().is_err() {
                    break;
                }
            }
            b' ' | b'\n' | b'\r' | b'\t' => {
                h.update(json.get(from..lx.i).unwrap_or(&[]));
                let _ = lx.peek(); // skips the whitespace run
                from = lx.i;
            }
            _ => lx.i += 1,
        }
    }
    h.update(json.get(from..).unwrap_or(&[]));
}
