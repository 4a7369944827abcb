// Builds distill-guard's request record from a Fetch API Request, and reads a bounded body
// prefix without taking the body away from the origin.
//
// The Fetch `Headers` object iterates sorted, lowercased and merged, so header order is not
// observable here: the engine is told so (inspectFetch marks `order_known = false`).
// Nothing here logs header values or bodies.

// Headers Cloudflare adds in front of a Worker: not sent by the client, so they are left out
// of the fingerprint. X-Forwarded-For is kept (Cloudflare appends one hop: set the policy's
// proxy.trusted_hops to 1 there).
export const CLOUDFLARE_HEADERS = [
  'cf-connecting-ip', 'cf-connecting-ipv6', 'cf-ipcountry', 'cf-ray', 'cf-visitor', 'cf-worker',
  'cf-ew-via', 'cdn-loop', 'x-real-ip', 'x-forwarded-proto',
];

const HTTP_VERSION = /^HTTP\/(1\.0|1\.1|2|3)$/;
const IP_LIKE = /^[0-9a-fA-F:.]{2,45}$/;

// Which header names to leave out and which header carries the client IP.
// env.DROP_HEADERS / env.CLIENT_IP_HEADER override the defaults (Cloudflare's when request.cf exists).
export function hostSettings(env, onCloudflare) {
  const list = (s) => String(s).split(',').map((x) => x.trim().toLowerCase()).filter(Boolean);
  const drop = env.DROP_HEADERS != null ? list(env.DROP_HEADERS) : onCloudflare ? CLOUDFLARE_HEADERS : [];
  const ipHeader = env.CLIENT_IP_HEADER != null ? String(env.CLIENT_IP_HEADER).toLowerCase()
    : onCloudflare ? 'cf-connecting-ip' : '';
  return { drop: new Set(drop), ipHeader };
}

// The traffic record (src/traffic.rs format, without body) for a request.
export function buildRecord(request, url, settings, nowMs) {
  const headers = [];
  for (const [name, value] of request.headers) {
    if (!settings.drop.has(name) && name !== settings.ipHeader) headers.push([name, value]);
  }
  const record = { ts_ms: nowMs, method: request.method, path: url.pathname + url.search, headers };
  const peer = {};
  const ip = settings.ipHeader ? request.headers.get(settings.ipHeader) : null;
  if (ip && IP_LIKE.test(ip.trim())) peer.ip = ip.trim();
  const cf = request.cf;
  if (cf) {
    if (HTTP_VERSION.test(cf.httpProtocol ?? '')) record.version = cf.httpProtocol;
    const bm = cf.botManagement ?? {};
    if (typeof bm.ja4 === 'string' && bm.ja4) peer.ja4 = bm.ja4;
    if (typeof bm.ja3Hash === 'string' && bm.ja3Hash) peer.ja3 = bm.ja3Hash;
    if (Number.isInteger(cf.asn) && cf.asn >= 0) peer.asn = cf.asn;
    if (typeof cf.country === 'string' && cf.country) peer.country = cf.country;
    // Kept in the record for captures; the core has no signal for these yet.
    record.cf = { bot_score: bm.score, tcp_rtt_ms: cf.clientTcpRtt, tls_version: cf.tlsVersion };
  }
  if (Object.keys(peer).length) record.peer = peer;
  return record;
}

// Reads chunks of `body` until more than `limit` bytes arrived or it ended.
// Returns { prefix: Uint8Array, done, forward } where `forward` is what to send upstream:
// the bytes when the whole body was read, else a stream replaying the read chunks and then
// the rest (wrapped in a FixedLengthStream when the length is known, so the origin still gets
// Content-Length). At most limit + one chunk is held in memory.
export async function readPrefix(body, limit, contentLength) {
  const reader = body.getReader();
  const chunks = [];
  let size = 0;
  let done = false;
  while (!done && size <= limit) {
    const r = await reader.read();
    if (r.done) done = true;
    else { chunks.push(r.value); size += r.value.byteLength; }
  }
  const prefix = concat(chunks, size);
  if (done) return { prefix, done, forward: prefix, cancel: () => {} };
  const rest = replay(chunks, reader);
  let forward = rest;
  if (contentLength != null && typeof FixedLengthStream === 'function') {
    const fixed = new FixedLengthStream(contentLength);
    rest.pipeTo(fixed.writable).catch(() => {});
    forward = fixed.readable;
  }
  return { prefix, done, forward, cancel: () => reader.cancel().catch(() => {}) };
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
