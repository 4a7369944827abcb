// Builds distill-guard's request head from a Fetch API Request (the text format of
// src/host/packed.rs: one line per field, then header name / value lines), and reads a bounded
// body prefix without taking the body away from the origin (a held request's, before it is
// forwarded; or a teed branch's, for learning, while the other branch streams to the origin).
//
// The Fetch `Headers` object iterates sorted, lowercased and merged, so header order is not
// observable here: the engine is told so (inspectRequest marks `order_known = false`).
// No field can hold a newline: Fetch forbids them in names, values and URLs, and the
// `request.cf` values are checked. Nothing here logs header values or bodies.

// Headers Cloudflare adds in front of a Worker: not sent by the client, so they are left out
// of the fingerprint. X-Forwarded-For is kept (Cloudflare appends one hop: set the policy's
// proxy.trusted_hops to 1 there).
export const CLOUDFLARE_HEADERS = [
  'cf-connecting-ip', 'cf-connecting-ipv6', 'cf-ipcountry', 'cf-ray', 'cf-visitor', 'cf-worker',
  'cf-ew-via', 'cdn-loop', 'x-real-ip', 'x-forwarded-proto',
];

const HTTP_VERSION = /^HTTP\/(1\.0|1\.1|2|3)$/;
const IP_LIKE = /^[0-9a-fA-F:.]{2,45}$/;
const PRINTABLE = /^[\x21-\x7e]{1,256}$/;

// Which header names to leave out, which header carries the client IP, and how a body the engine
// learns from is read. env.DROP_HEADERS / env.CLIENT_IP_HEADER override the defaults (Cloudflare's
// when request.cf exists); env.BODY_LEARN is "tee" (the default: the request goes on at once, a
// branch of its body is read in ctx.waitUntil()) or "buffer" (its body prefix is read first, learned
// from, and forwarded as read: cheaper in CPU, the request waits for its body); anything else is
// warned about and read as "tee".
export function hostSettings(env, onCloudflare) {
  const list = (s) => String(s).split(',').map((x) => x.trim().toLowerCase()).filter(Boolean);
  const drop = env.DROP_HEADERS != null ? list(env.DROP_HEADERS) : onCloudflare ? CLOUDFLARE_HEADERS : [];
  const ipHeader = env.CLIENT_IP_HEADER != null ? String(env.CLIENT_IP_HEADER).toLowerCase()
    : onCloudflare ? 'cf-connecting-ip' : '';
  const learn = String(env.BODY_LEARN ?? 'tee').trim().toLowerCase();
  if (learn !== 'tee' && learn !== 'buffer') console.warn(`distill-guard: BODY_LEARN must be "tee" or "buffer", got ${JSON.stringify(String(env.BODY_LEARN))}: using "tee"`);
  return { drop: new Set(drop), ipHeader, onCloudflare, bufferBodies: learn === 'buffer' };
}

const printable = (v) => (typeof v === 'string' && PRINTABLE.test(v) ? v : '');

// The request head for Engine.inspectRequest: method, URL, HTTP version, client IP, JA4, JA3,
// country and the reference-id `token` (empty fields when unknown), then the headers.
export function requestHead(request, settings, token) {
  let ip = '';
  if (settings.ipHeader) {
    const v = (request.headers.get(settings.ipHeader) ?? '').trim();
    if (IP_LIKE.test(v)) ip = v;
  }
  let version = '', ja4 = '', ja3 = '', country = '';
  const cf = request.cf;
  if (cf) {
    if (HTTP_VERSION.test(cf.httpProtocol ?? '')) version = cf.httpProtocol;
    const bm = cf.botManagement ?? {};
    ja4 = printable(bm.ja4);
    ja3 = printable(bm.ja3Hash);
    country = printable(cf.country);
  }
  let head = `${request.method}\n${request.url}\n${version}\n${ip}\n${ja4}\n${ja3}\n${country}\n${token}`;
  const { drop, ipHeader } = settings;
  // forEach: one call into the runtime for all headers (a for-of loop costs twice as much in workerd).
  request.headers.forEach((value, name) => {
    if (!drop.has(name) && name !== ipHeader) head += `\n${name}\n${value}`;
  });
  return head;
}

// The client's AS number from request.cf, or -1.
export function peerAsn(request) {
  const asn = request.cf?.asn;
  return Number.isInteger(asn) && asn >= 0 ? asn : -1;
}

// Reads at most `limit` bytes of the request body (plus one chunk) without taking it from the
// origin. Returns { prefix: Uint8Array, done, forward, cancel } where `forward` is what to send
// upstream: the bytes themselves when the whole body was read (one copy: into Wasm), else a
// stream replaying the read chunks and then the rest (wrapped in a FixedLengthStream when the
// length is known, so the origin still gets Content-Length).
export async function readBody(request, limit) {
  if (request.body === null) return { prefix: new Uint8Array(0), done: true, forward: null, cancel: () => {} };
  const known = contentLength(request);
  if (known != null && known <= limit) {
    // Small enough: one read of the whole body, no chunk bookkeeping.
    const prefix = new Uint8Array(await request.arrayBuffer());
    return { prefix, done: true, forward: prefix, cancel: () => {} };
  }
  return readPrefix(request.body, limit, known);
}

// Reads chunks of `body` until more than `limit` bytes arrived or it ended (see readBody).
export async function readPrefix(body, limit, length) {
  const reader = body.getReader();
  const { chunks, size, done } = await gather(reader, limit);
  const prefix = concat(chunks, size);
  if (done) return { prefix, done, forward: prefix, cancel: () => {} };
  const rest = replay(chunks, reader);
  let forward = rest;
  if (length != null && typeof FixedLengthStream === 'function') {
    const fixed = new FixedLengthStream(length);
    rest.pipeTo(fixed.writable).catch(() => {});
    forward = fixed.readable;
  }
  return { prefix, done, forward, cancel: () => reader.cancel().catch(() => {}) };
}

// The request's Content-Length when it is a plain decimal number, else null.
export function contentLength(request) {
  const len = request.headers.get('content-length');
  return /^\d{1,15}$/.test(len ?? '') ? Number(len) : null;
}

// The prefix of a body stream only this worker reads (a teed branch, for learning): at most
// `limit` bytes plus one chunk, and the stream cancelled if it went on. Returns { prefix, done }.
// A body whose Content-Length (`length`, or null) is within the limit is read whole in one call:
// a reader loop costs workerd ~10-17 us more per 4 KB POST (BENCHMARKS.md, "Reading the teed branch whole").
export async function takePrefix(stream, limit, length = null) {
  if (length != null && length <= limit) return { prefix: new Uint8Array(await new Response(stream).arrayBuffer()), done: true };
  const reader = stream.getReader();
  const { chunks, size, done } = await gather(reader, limit);
  if (!done) reader.cancel().catch(() => {});
  return { prefix: concat(chunks, size), done };
}

async function gather(reader, limit) {
  const chunks = [];
  let size = 0;
  let done = false;
  while (!done && size <= limit) {
    const r = await reader.read();
    if (r.done) done = true;
    else { chunks.push(r.value); size += r.value.byteLength; }
  }
  return { chunks, size, done };
}

function concat(chunks, size) {
  if (chunks.length === 1) return chunks[0];
  const out = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) { out.set(c, at); at += c.byteLength; }
  return out;
}

// A stream that yields `chunks` first, then whatever `reader` still has.
function replay(chunks, reader) {
  let i = 0;
  return new ReadableStream({
    async pull(ctrl) {
      if (i < chunks.length) { ctrl.enqueue(chunks[i]); chunks[i++] = null; return; }
      const r = await reader.read();
      if (r.done) ctrl.close();
      else ctrl.enqueue(r.value);
    },
    cancel(reason) { return reader.cancel(reason); },
  });
}
