#!lua name=distill_guard
--[[
distill-guard fleet sync: the one Redis function the nodes call (Redis >= 7.0 Functions).

  redis-cli FUNCTION LOAD REPLACE "$(cat fleet/distill_guard.lua)"

Redis keeps functions in its RDB / AOF files; a Redis without persistence loses them on a
restart, so load this again whenever the store starts (fleet/store.sh does).

FCALL distill_guard_sync 2 <log key> <publisher key>
      <node> <publisher> <seq> <cursor> <retention ms> <max entries> <max bytes> <store 0|1> <batch>

One call per node per tick (src/fleet/protocol.rs builds it, through webdis as
PUT /FCALL/.../<store>.raw with the batch as the body):
 1. with store = 1, appends <batch> to the log stream (fields n = node, p = publisher, b = batch)
    unless <publisher> already stored a <seq> this high (a retried call stores nothing twice);
 2. trims log entries older than <retention ms> (and beyond MAX_LOG entries);
 3. returns the entries after <cursor> written by other nodes (a node never reads its own,
    whichever of its publishers wrote them), at most <max entries> entries and about <max bytes>
    bytes, packed into one bulk string (little-endian; src/fleet/protocol.rs reads it):
      "DGFR" | version u8 (1) | flags u8 | cursor_len u8 | next cursor | count u32 |
      count x (node_len u8 | node | len u32 | batch)
    Flags: 1 stored, 2 gap (entries after the cursor were trimmed unread, or one was larger
    than <max bytes> and was skipped), 4 reset (the log restarted below the cursor; it is read
    from its start).
The batches are opaque here: nodes validate everything they read. Keys carry the {namespace}
hash tag, so both live in one Redis Cluster slot.

FCALL distill_guard_campaigns 2 <times key> <snapshots key> <node> <ttl ms> <store 0|1> <read 0|1> <snapshot>

The fleet's campaign report (src/fleet/campaigns.rs builds the call and reads the reply):
 1. with store = 1, keeps <snapshot> as <node>'s latest campaign tracker snapshot, stored now;
 2. forgets the snapshots whose <ttl ms> (the storing call's) ran out; the hashes expire with
    the last of them;
 3. with read = 1, returns every node's latest snapshot (node names in byte order), packed:
      "DGCS" | version u8 (1) | count u32 | count x (node_len u8 | node | stored_s u32 | len u32 | snapshot)
    (read = 0: the header with count 0, so a node does not read back the fleet's snapshots).
Nodes store; `distill-guard campaigns --fleet` reads and merges. Snapshots are opaque here.
]]

local MAX_BATCH = 16 * 1024 * 1024
local MAX_ENTRIES = 100000
local MAX_REPLY = 64 * 1024 * 1024
local MAX_RETENTION = 86400000
local MAX_LOG = 1000000
local PUBLISHER_TTL = 86400000

local function id_of(s)
  local ms, seq = string.match(s or '', '^(%d+)%-(%d+)$')
  if not ms or #ms > 15 or #seq > 15 then return nil end
  return { tonumber(ms), tonumber(seq) }
end

local function less(a, b)
  return a[1] < b[1] or (a[1] == b[1] and a[2] < b[2])
end

local function name_ok(s)
  return type(s) == 'string' and #s >= 1 and #s <= 64 and string.match(s, '^[%w_%-]+$') ~= nil
end

local function int_in(s, lo, hi)
  local n = tonumber(s)
  if n == nil or n ~= math.floor(n) or n < lo or n > hi then return nil end
  return n
end

-- field -> value of a stream entry's flat field list
local function fields(list)
  local f = {}
  for i = 1, #list - 1, 2 do f[list[i]] = list[i + 1] end
  return f
end

-- The reply: one bulk string (see the header).
local function pack(cursor, flags, parts)
  return 'DGFR' .. string.char(1, flags, #cursor) .. cursor .. struct.pack('<I4', #parts) .. table.concat(parts)
end

local function sync(keys, args)
  if #keys ~= 2 or #args ~= 9 then
    return redis.error_reply('ERR distill_guard_sync: expects 2 keys and 9 arguments')
  end
  local log, pubkey = keys[1], keys[2]
  local node, publisher, cursor, batch = args[1], args[2], args[4], args[9]
  local seq = int_in(args[3], 0, 2 ^ 53)
  local retention = int_in(args[5], 1000, MAX_RETENTION)
  local max_entries = int_in(args[6], 1, MAX_ENTRIES)
  local max_bytes = int_in(args[7], 1, MAX_REPLY)
  local c = id_of(cursor)
  if not (name_ok(node) and name_ok(publisher) and seq and retention and max_entries and max_bytes and c)
      or (args[8] ~= '0' and args[8] ~= '1') then
    return redis.error_reply('ERR distill_guard_sync: invalid argument')
  end
  if #batch > MAX_BATCH then
    return redis.error_reply('ERR distill_guard_sync: batch larger than ' .. MAX_BATCH .. ' bytes')
  end

  local flags = 0
  if args[8] == '1' then
    local last = tonumber(redis.call('GET', pubkey) or '0') or 0
    if seq > last then
      redis.call('XADD', log, 'MAXLEN', '~', MAX_LOG, '*', 'n', node, 'p', publisher, 'b', batch)
      redis.call('SET', pubkey, tostring(seq), 'PX', PUBLISHER_TTL)
      flags = flags + 1
    end
  end

  local t = redis.call('TIME')
  local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  local at_start = c[1] == 0 and c[2] == 0
  if redis.call('EXISTS', log) == 0 then
    if not at_start then flags = flags + 4 end
    return pack('0-0', flags, {})
  end
  redis.call('XTRIM', log, 'MINID', '~', tostring(math.max(0, now - retention)) .. '-0')
  -- The log goes away when no node has called for a whole retention.
  redis.call('PEXPIRE', log, retention)

  local info = fields(redis.call('XINFO', 'STREAM', log))
  local newest = id_of(info['last-generated-id'])
  local deleted = id_of(info['max-deleted-entry-id'])
  if not at_start then
    if newest and less(newest, c) then
      flags = flags + 4
      cursor = '0-0'
    elseif deleted and less(c, deleted) then
      flags = flags + 2
    end
  end

  local parts = {}
  local bytes = 0
  local skipped = false
  local next_cursor = cursor
  for _, e in ipairs(redis.call('XRANGE', log, '(' .. cursor, '+', 'COUNT', max_entries)) do
    local f = fields(e[2])
    local b = f['b'] or ''
    if f['n'] ~= node then
      if #b > max_bytes then
        skipped = true
      else
        if bytes + #b > max_bytes then break end
        bytes = bytes + #b
        local n = string.sub(f['n'] or '?', 1, 255)
        parts[#parts + 1] = string.char(#n) .. n .. struct.pack('<I4', #b) .. b
      end
    end
    next_cursor = e[1]
  end
  if skipped and flags % 4 < 2 then flags = flags + 2 end
  return pack(next_cursor, flags, parts)
end

local MAX_SNAPSHOT = 64 * 1024 * 1024

local function campaigns(keys, args)
  -- A read sends an empty body, which the bridge may leave out (4 arguments).
  if #keys ~= 2 or (#args ~= 5 and not (#args == 4 and args[3] == '0')) then
    return redis.error_reply('ERR distill_guard_campaigns: expects 2 keys and 5 arguments')
  end
  local times, snaps = keys[1], keys[2]
  local node, snapshot = args[1], args[5] or ''
  local ttl = int_in(args[2], 1000, MAX_RETENTION)
  if not (name_ok(node) and ttl) or (args[3] ~= '0' and args[3] ~= '1') or (args[4] ~= '0' and args[4] ~= '1') then
    return redis.error_reply('ERR distill_guard_campaigns: invalid argument')
  end
  if #snapshot > MAX_SNAPSHOT then
    return redis.error_reply('ERR distill_guard_campaigns: snapshot larger than ' .. MAX_SNAPSHOT .. ' bytes')
  end
  local t = redis.call('TIME')
  local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  if args[3] == '1' then
    redis.call('HSET', times, node, tostring(now) .. ':' .. tostring(now + ttl))
    redis.call('HSET', snaps, node, snapshot)
  end
  -- Each snapshot lives for the ttl its node stored it with (a reader's ttl prunes nothing).
  local fresh = {}
  local last = 0
  local all = redis.call('HGETALL', times)
  for i = 1, #all - 1, 2 do
    local at, expires = string.match(all[i + 1], '^(%d+):(%d+)$')
    at, expires = tonumber(at) or 0, tonumber(expires) or 0
    if expires < now then
      redis.call('HDEL', times, all[i])
      redis.call('HDEL', snaps, all[i])
    else
      fresh[#fresh + 1] = { all[i], at }
      last = math.max(last, expires)
    end
  end
  if last > now then
    redis.call('PEXPIRE', times, last - now)
    redis.call('PEXPIRE', snaps, last - now)
  end
  local parts = {}
  if args[4] == '1' then
    table.sort(fresh, function(a, b) return a[1] < b[1] end)
    for _, f in ipairs(fresh) do
      local b = redis.call('HGET', snaps, f[1])
      if b then
        parts[#parts + 1] = string.char(#f[1]) .. f[1] .. struct.pack('<I4I4', math.floor(f[2] / 1000), #b) .. b
      end
    end
  end
  return 'DGCS' .. string.char(1) .. struct.pack('<I4', #parts) .. table.concat(parts)
end

redis.register_function('distill_guard_sync', sync)
redis.register_function('distill_guard_campaigns', campaigns)
