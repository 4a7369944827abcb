-- wrk script for benches/envoy_memory.sh: requests that each look new to the filter's state.
-- Every request draws a random account (x-api-key from 2^31), a random client address in
-- X-Forwarded-For (the policy trusts 1 hop, so that address is the client), a random header
-- shape (one of 8 User-Agents, a random subset of optional headers in a random order, and one
-- of 4,096 extra header names) and a Messages body whose prompt has random words (templates).
-- Seeded: BENCH_SEED (default 1).
math.randomseed(tonumber(os.getenv("BENCH_SEED") or "1"))
local random, fmt, concat = math.random, string.format, table.concat

local agents = { "Anthropic/Python 0.40.0", "Anthropic/JS 0.32.1", "OpenAI/Python 1.55.0", "OpenAI/JS 4.73.0",
  "python-requests/2.32.3", "python-httpx/0.28.1", "curl/8.5.0", "Go-http-client/1.1",
  "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36" }
local optional = { "Accept: application/json", "Accept-Encoding: gzip, deflate", "Accept-Language: en-US,en;q=0.9",
  "X-Stainless-Lang: python", "X-Stainless-OS: Linux", "X-Stainless-Arch: x64", "X-Stainless-Runtime: CPython",
  "X-Stainless-Package-Version: 0.40.0", "anthropic-version: 2023-06-01", "Sec-Fetch-Mode: cors", "Cache-Control: no-cache",
  "Origin: https://app.example.com" }
local words = { "summarize", "translate", "explain", "grade", "rewrite", "classify", "answer", "list", "compare", "solve",
  "the", "following", "text", "question", "code", "step", "by", "essay", "table", "proof" }

function request()
  local hs = { "Host: api.example.com", "Content-Type: application/json" }
  for _, h in ipairs(optional) do
    if random() < 0.5 then
      table.insert(hs, random(1, #hs + 1), h)
    end
  end
  hs[#hs + 1] = "User-Agent: " .. agents[random(1, #agents)]
  hs[#hs + 1] = fmt("X-Trace-%03x: 1", random(0, 4095))
  hs[#hs + 1] = fmt("x-api-key: sk-ant-api03-%08x", random(0, 2147483647))
  hs[#hs + 1] = fmt("X-Forwarded-For: %d.%d.%d.%d", random(1, 223), random(0, 255), random(0, 255), random(1, 254))
  local prompt = {}
  for i = 1, random(8, 40) do
    prompt[i] = words[random(1, #words)]
  end
  local body = fmt('{"model":"claude-sonnet-4-5","max_tokens":%d,"messages":[{"role":"user","content":"%s %d"}]}',
    random(16, 8192), concat(prompt, " "), random(0, 1e6))
  return "POST /v1/messages HTTP/1.1\r\n" .. concat(hs, "\r\n") .. "\r\nContent-Length: " .. #body .. "\r\n\r\n" .. body
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(fmt('{"requests":%d,"seconds":%.3f,"status_err":%d,"other_err":%d}\n', summary.requests,
    summary.duration / 1e6, e.status, e.connect + e.read + e.write + e.timeout))
end
