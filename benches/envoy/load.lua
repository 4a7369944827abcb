-- wrk script for benches/envoy_load.sh: realistic API requests, optional pacing, JSON summary.
--   BENCH_KIND=post  POST /v1/messages with the 19 headers the official Anthropic Python SDK
--                    sends (captured, in wire order) and a ~4 KB Messages body.
--   BENCH_KIND=get   GET /v1/models with the same headers (17: no body headers).
--   BENCH_KIND=campaign  POSTs shaped like a distillation campaign mixed into legitimate traffic,
--                    for the default policy (`body.inspect: suspicious`): 60 % legitimate POSTs as
--                    above; 40 % from 2,000 campaign accounts on 16 /24s behind a proxy chain
--                    (`Forwarded` + `X-Real-IP`, header-phase score in the gray zone: held for the
--                    body), in four shapes: a clean prompt (15 %: allowed after the body),
--                    chain-of-thought + logprobs (10 %: tagged), the same with `Proxy-Authorization`
--                    (10 %: throttled), every elicitation marker with it (5 %: denied).
--                    The state's cluster signals push some campaign requests higher still.
--   BENCH_KIND=heavy POSTs as `post` from 200 accounts (BENCH_ACCOUNTS), so that after their
--                    first 20 requests (the warm-up) every account is heavy for the state (over
--                    `state.light_max_requests`): for `body.heavy_learn_one_in`. Each sends about 40-150
--                    requests a second, a day's traffic in seconds: `rate.account` is at full ramp.
-- Traffic shaped like many independent legitimate users, so that the policies under test let
-- it through (a campaign-shaped load is answered 429/403 by the filter itself and measures
-- something else): the bearer token cycles through BENCH_ACCOUNTS accounts (default 100,000),
-- each with its own client address in X-Forwarded-For (its own /24; the bench policies trust
-- one hop), and account i sends prompt i mod 8,192: distinct ~4 KB texts of pseudo-words
-- generated here (seeded), so no prompt template is shared by more than ~12 accounts.
--   BENCH_DELAY_MS=N each connection waits N ms after a response before its next request
--                    (fixed-rate mode: rate ~= connections / (N ms + latency)).
-- done() prints one JSON line: requests, duration, rate, errors, latency percentiles in us.
local kind = os.getenv("BENCH_KIND") or "post"
local accounts = tonumber(os.getenv("BENCH_ACCOUNTS") or "") or (kind == "heavy" and 200 or 100000)
local fmt = string.format

local bodies, nbodies = {}, 8192
local post = kind == "post" or kind == "campaign" or kind == "heavy"
local elicit, full = {}, {}
if post then
  math.randomseed(42)
  local random, char, concat = math.random, string.char, table.concat
  local vocab = {}
  for i = 1, 4000 do
    local w = {}
    for j = 1, random(3, 9) do
      w[j] = char(random(97, 122))
    end
    vocab[i] = concat(w)
  end
  for b = 1, nbodies do
    local words, len = {}, 0
    while len < 3900 do
      local w = vocab[random(1, #vocab)]
      words[#words + 1] = w
      len = len + #w + 1
    end
    local text = concat(words, " ")
    bodies[b] = fmt('{"model":"claude-sonnet-4-5","max_tokens":4096,"temperature":0.2,"system":"You are a helpful assistant.",'
      .. '"messages":[{"role":"user","content":"%s"}]}', text)
    if kind == "campaign" and b <= 1024 then
      elicit[b] = fmt('{"model":"claude-sonnet-4-5","max_tokens":4096,"temperature":0.2,"logprobs":true,'
        .. '"messages":[{"role":"user","content":"Think step-by-step before you answer. %s"}]}', text)
      full[b] = fmt('{"model":"claude-sonnet-4-5","max_tokens":64000,"temperature":1,"logprobs":true,"n":4,'
        .. '"messages":[{"role":"user","content":"Think step-by-step before you answer, then grade the answer '
        .. 'according to the rubric. %s"}]}', text)
    end
  end
end

-- The header list of the official Anthropic Python SDK 2.14.0 as captured on the wire
-- (tests/data/clients.json, anthropic-sdk-python), in its order, with a per-request token.
local head
if post then
  head = "POST /v1/messages HTTP/1.1\r\n"
else
  head = "GET /v1/models HTTP/1.1\r\n"
end
head = head .. "Host: api.example.com\r\n"
  .. "Accept-Encoding: gzip, deflate\r\n"
  .. "Connection: keep-alive\r\n"
  .. "x-stainless-timeout: 600\r\n"
  .. "x-stainless-retry-count: 0\r\n"
  .. "x-stainless-read-timeout: 600\r\n"
  .. "Accept: application/json\r\n"
  .. (post and "Content-Type: application/json\r\n" or "")
  .. "User-Agent: Anthropic/Python 2.14.0\r\n"
  .. "X-Stainless-Lang: python\r\n"
  .. "X-Stainless-Package-Version: 2.14.0\r\n"
  .. "X-Stainless-OS: Linux\r\n"
  .. "X-Stainless-Arch: x64\r\n"
  .. "X-Stainless-Runtime: CPython\r\n"
  .. "X-Stainless-Runtime-Version: 3.11.7\r\n"
local mid = "X-Stainless-Async: false\r\nanthropic-version: 2026-10-21\r\n"

local n = 0
local function legit(a)
  local xff = fmt("X-Forwarded-For: %d.%d.%d.7\r\n", 20 + math.floor(a / 65536), math.floor(a / 256) % 256, a % 256)
  return head .. fmt("Authorization: Bearer sk-ant-api03-%08x-bench\r\n", a) .. mid .. xff
end

-- A campaign request of shape `slot` (12..19 of 20, see the top): account c of 2,000 on 16 /24s.
local function campaign(slot)
  local c = n % 2000
  local ip = fmt("198.18.%d.%d", c % 16, 1 + math.floor(c / 16) % 250)
  local req = head .. fmt("Authorization: Bearer sk-ant-api03-c%07x-camp\r\n", c) .. mid
    .. fmt("X-Forwarded-For: %s\r\nForwarded: for=%s\r\nX-Real-IP: %s\r\n", ip, ip, ip)
  local b = c % 1024 + 1
  local body = bodies[b]
  if slot >= 15 then
    body = elicit[b]
  end
  if slot >= 17 then
    req = req .. "Proxy-Authorization: Basic Y2FtcGFpZ246c2VjcmV0\r\n"
  end
  if slot == 19 then
    body = full[b]
  end
  return req .. "Content-Length: " .. #body .. "\r\n\r\n" .. body
end

function request()
  n = n + 1
  local a = n % accounts
  if kind == "campaign" and n % 20 >= 12 then
    return campaign(n % 20)
  end
  local req = legit(a)
  if post then
    local body = bodies[a % nbodies + 1]
    return req .. "Content-Length: " .. #body .. "\r\n\r\n" .. body
  end
  return req .. "\r\n"
end

local delay_ms = tonumber(os.getenv("BENCH_DELAY_MS") or "")
if delay_ms then
  function delay()
    return delay_ms
  end
end

function done(summary, latency, requests)
  local e = summary.errors
  local secs = summary.duration / 1e6
  io.write(string.format(
    '{"requests":%d,"seconds":%.3f,"rps":%.1f,"connect_err":%d,"read_err":%d,"write_err":%d,"status_err":%d,'
      .. '"timeouts":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,"p999_us":%d,"max_us":%d,"mean_us":%.1f}\n',
    summary.requests, secs, summary.requests / secs, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency:percentile(99.9),
    latency.max, latency.mean))
end
