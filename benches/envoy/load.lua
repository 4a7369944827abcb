-- wrk script for benches/envoy_load.sh: realistic API requests, optional pacing, JSON summary.
--   BENCH_KIND=post  POST /v1/messages with the 19 headers the official Anthropic Python SDK
--                    sends (captured, in wire order) and the ~4 KB body in BENCH_BODY; the
--                    bearer token cycles through 25,000 accounts.
--   BENCH_KIND=get   GET /v1/models with the same headers (17: no body headers).
--   BENCH_DELAY_MS=N each connection waits N ms after a response before its next request
--                    (fixed-rate mode: rate ~= connections / (N ms + latency)).
-- done() prints one JSON line: requests, duration, rate, errors, latency percentiles in us.
local kind = os.getenv("BENCH_KIND") or "post"
local body = ""
if kind == "post" then
  local f = assert(io.open(assert(os.getenv("BENCH_BODY"), "BENCH_BODY not set"), "rb"))
  body = f:read("*a")
  f:close()
end

-- The header list of the official Anthropic Python SDK 2.14.0 as captured on the wire
-- (tests/data/clients.json, anthropic-sdk-python), in its order, with a per-request token.
local head
if kind == "post" then
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
  .. (kind == "post" and "Content-Type: application/json\r\n" or "")
  .. "User-Agent: Anthropic/Python 2.14.0\r\n"
  .. "X-Stainless-Lang: python\r\n"
  .. "X-Stainless-Package-Version: 2.14.0\r\n"
  .. "X-Stainless-OS: Linux\r\n"
  .. "X-Stainless-Arch: x64\r\n"
  .. "X-Stainless-Runtime: CPython\r\n"
  .. "X-Stainless-Runtime-Version: 3.11.7\r\n"
local tail = "X-Stainless-Async: false\r\nanthropic-version: 2026-10-21\r\n"
  .. ((kind == "post") and ("Content-Length: " .. #body .. "\r\n\r\n" .. body) or "\r\n")

local n = 0
function request()
  n = n + 1
  return head .. string.format("Authorization: Bearer sk-ant-api03-%08x-bench\r\n", n % 25000) .. tail
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
