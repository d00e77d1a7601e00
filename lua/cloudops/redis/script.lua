--- The one script the shared limits run in Redis (EVALSHA; Redis' Lua 5.1), its first
-- argument naming the step. One script, so one SCRIPT LOAD per connection, whatever the steps.
-- It starts with the text of cloudops.limit.gcra, the arithmetic every limit of the project
-- shares (a script cannot require a module).
--
-- Rate buckets: GCRA in its reserve-and-wait form. A bucket is a hash holding `tat` (the
-- theoretical arrival time: when everything reserved so far will have been sent at `rate`),
-- `rate` (requests/s, lowered on RESOURCE_EXHAUSTED, never above the ceiling the client passes)
-- and `cut` (when it was last lowered). Where go-redis/redis_rate and redis-cell reject a
-- request that cannot go now, `take` reserves the earliest time allowed by both the
-- identity's and the account's buckets, books it in both, and returns how long that is from
-- now: the caller sleeps that long. Times are Redis' own (TIME), in microseconds, so hosts'
-- clocks never meet; they are stored as integers (%.0f: Redis' tostring keeps only 14 digits).
--
-- Operation slots: a sorted set of leases (member: a slot token, then the operation id; score:
-- when the lease expires). Expired leases are dropped before counting, so the slots of a host
-- that died come back once their leases run out.
--
-- Every key of one account shares the hash tag {account}, so a Redis Cluster keeps them in one
-- slot, which a multi-key script needs.
local gcra = require "cloudops.limit.gcra"

return gcra.SOURCE .. [[
local op = ARGV[1]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local fmt = string.format
-- A lowered rate outlives its idle bucket by this long (ms), so that a pause does not forget it.
local KEEP_MS = 60000

local function load(key, ceiling)
  local v = redis.call('HMGET', key, 'tat', 'rate', 'cut')
  local rate = tonumber(v[2]) or ceiling
  if rate > ceiling then rate = ceiling end
  return tonumber(v[1]) or now, rate, tonumber(v[3]) or 0
end

local function store(key, tat, rate, cut)
  redis.call('HSET', key, 'tat', fmt('%.0f', tat), 'rate', fmt('%.17g', rate), 'cut', fmt('%.0f', cut))
  local ttl = tat - now
  if ttl < 0 then ttl = 0 end
  redis.call('PEXPIRE', key, math.floor(ttl / 1000) + KEEP_MS)
end

-- Interval and tolerance (us) at `rate`: a lowered rate lowers the burst in proportion.
local function shape(rate, ceiling, burst)
  local b = burst * rate / ceiling
  if b < 1 then b = 1 end
  return gcra_shape(rate, b, 1000000)
end

if op == 'take' then
  -- KEYS: identity bucket, account bucket; ARGV: ceiling and burst of each (account 0: none)
  local ci, bi, ca, ba = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
  local tat_i, rate_i, cut_i = load(KEYS[1], ci)
  local int_i, tau_i = shape(rate_i, ci, bi)
  -- the earliest time both allow: each bucket's own, then the later of the two
  local s = gcra_reserve(tat_i, now, int_i, tau_i)
  local full = 0
  if tat_i <= now then full = 1 end
  if ca > 0 then
    local tat_a, rate_a, cut_a = load(KEYS[2], ca)
    local int_a, tau_a = shape(rate_a, ca, ba)
    s = math.max(s, (gcra_reserve(tat_a, now, int_a, tau_a)))
    if tat_a <= now then full = full + 2 end
    local _, after_a = gcra_reserve(tat_a, s, int_a, tau_a)
    store(KEYS[2], after_a, rate_a, cut_a)
  end
  local _, after_i = gcra_reserve(tat_i, s, int_i, tau_i)
  store(KEYS[1], after_i, rate_i, cut_i)
  -- wait (us), Redis' time (us, as text: past 2^53 no, but past a Lua integer reply's
  -- precision in some clients), which buckets were full (1: identity, 2: account), rate (mHz)
  return { math.ceil(s - now), fmt('%.0f', now), full, math.floor(rate_i * 1000) }
elseif op == 'settle' then
  -- The buckets that were full at `anchor` stayed full until the first request reached the
  -- server: start their refill now.
  local anchor, mask = tonumber(ARGV[2]), tonumber(ARGV[3])
  local delta = now - anchor
  if delta > 0 then
    for i = 1, 2 do
      local bit = (i == 1) and (mask % 2 == 1) or (mask >= 2)
      local tat = bit and tonumber(redis.call('HGET', KEYS[i], 'tat'))
      if tat then
        tat = gcra_settle(tat, now, anchor)
        redis.call('HSET', KEYS[i], 'tat', fmt('%.0f', tat))
        redis.call('PEXPIRE', KEYS[i], math.floor((tat - now) / 1000) + KEEP_MS)
      end
    end
  end
  return 1
elseif op == 'exhausted' then
  -- The server refused for the rate: its bucket is empty (and stays so for `delay` us, its
  -- RetryInfo), and the rate is lowered, at most once per `gap` us whatever the hosts told.
  local ci, bi, delay, gap = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
  local tat, rate, cut = load(KEYS[1], ci)
  if now - cut >= gap then
    -- half, or under what the RetryInfo says the server allows, as the client's own bucket
    local allowed = nil
    if delay > 0 then allowed = 1000000 / delay end
    rate = gcra_lowered(rate, allowed, math.min(1, ci))
    cut = now
  end
  local _, tau = shape(rate, ci, bi)
  store(KEYS[1], gcra_hold(tat, now, delay, tau), rate, cut)
  return math.floor(rate * 1000)
elseif op == 'succeeded' then
  -- Climbs back by max(1, 5% of the rate) per second of answers at that rate.
  local ci = tonumber(ARGV[2])
  local rate = tonumber(redis.call('HGET', KEYS[1], 'rate'))
  if not rate or rate >= ci then return math.floor(ci * 1000) end
  rate = math.min(ci, rate + math.max(1, rate * 0.05) / rate)
  redis.call('HSET', KEYS[1], 'rate', fmt('%.17g', rate))
  return math.floor(rate * 1000)
elseif op == 'acquire' then
  -- KEYS: the leases; ARGV: max, lease (us), member. 1, or 0 and the us until a lease expires.
  local max, lease = tonumber(ARGV[2]), tonumber(ARGV[3])
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', fmt('%.0f', now))
  if redis.call('ZCARD', KEYS[1]) < max then
    redis.call('ZADD', KEYS[1], fmt('%.0f', now + lease), ARGV[4])
    redis.call('PEXPIRE', KEYS[1], math.ceil(lease / 1000))
    return { 1, 0 }
  end
  local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  return { 0, math.ceil(tonumber(first[2]) - now) }
elseif op == 'started' then
  -- The slot's lease becomes the operation's (kept even if the slot's lease had run out:
  -- the operation is real).
  local lease = tonumber(ARGV[2])
  redis.call('ZREM', KEYS[1], ARGV[3])
  redis.call('ZADD', KEYS[1], fmt('%.0f', now + lease), ARGV[4])
  redis.call('PEXPIRE', KEYS[1], math.ceil(lease / 1000))
  return 1
elseif op == 'renew' then
  -- This host is alive: its leases (ARGV[3..]) run `lease` us from now.
  local lease = tonumber(ARGV[2])
  for i = 3, #ARGV do
    redis.call('ZADD', KEYS[1], 'XX', fmt('%.0f', now + lease), ARGV[i])
  end
  redis.call('PEXPIRE', KEYS[1], math.ceil(lease / 1000))
  return 1
elseif op == 'whois' then
  -- KEYS: an API key's identity (by a digest of the key); ARGV: how long (us) an asker may
  -- hold the right to ask, and the asker's token. The identity when known; else the right to
  -- ask it, when nobody else holds it; else how long (us) until the holder's right runs out.
  local v = redis.call('HMGET', KEYS[1], 'kind', 'id', 'account', 'lock', 'owner')
  if v[1] then return { 'known', v[1], v[2], v[3] or '' } end
  local lock = tonumber(v[4])
  if lock and lock > now and v[5] ~= ARGV[3] then return { 'wait', fmt('%.0f', lock - now) } end
  redis.call('HSET', KEYS[1], 'lock', fmt('%.0f', now + tonumber(ARGV[2])), 'owner', ARGV[3])
  redis.call('PEXPIRE', KEYS[1], math.ceil(tonumber(ARGV[2]) / 1000))
  return { 'ask' }
elseif op == 'iam' then
  -- The identity the asker learnt (ARGV: kind, id, account id or '', how long to keep it, ms).
  redis.call('HSET', KEYS[1], 'kind', ARGV[2], 'id', ARGV[3], 'account', ARGV[4], 'lock', '0')
  redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[5]))
  return 1
elseif op == 'unlock' then
  -- The asker (ARGV[2]) learnt nothing: another may ask at once.
  if redis.call('HGET', KEYS[1], 'owner') == ARGV[2] then redis.call('HSET', KEYS[1], 'lock', '0') end
  return 1
elseif op == 'ended' then
  return redis.call('ZREM', KEYS[1], ARGV[2])
elseif op == 'count' then
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', fmt('%.0f', now))
  return redis.call('ZCARD', KEYS[1])
end
return redis.error_reply('cloudops: unknown step ' .. tostring(op))
]]
