--- The arithmetic every rate limit of the project shares: a token bucket in its GCRA form
-- (the "generic cell rate algorithm", or virtual scheduling), one number per bucket.
--
-- A bucket of `burst` tokens refilled at `rate` per second is kept as `tat`, the theoretical
-- arrival time: when everything sent or reserved so far will have leaked out. With interval
-- T = 1/rate and tolerance tau = (burst - 1) * T, a request conforms at time s >= tat - tau,
-- and sending it moves tat to max(tat, s) + T. The bucket is full when tat <= now, and holds
-- burst - (tat - now) / T tokens otherwise (negative: a debt, reservations made ahead).
--
-- Four limits use it, each where it lives and with its own storage and policy:
--   * the client's bucket (cloudops.limit.bucket): reserves, and the caller waits;
--   * the nginx bucket in a lua_shared_dict (cloudops.limit.dict_bucket): the same, under a lock;
--   * the Redis script (cloudops.redis.script): the same, atomically in Redis, in microseconds
--     on Redis' clock, in Redis' own Lua 5.1;
--   * the emulator (cloudops.emulator.ratelimit): refuses what does not conform, with the time
--     until it would (the RetryInfo it sends).
-- The Redis script cannot require a module, so the functions are kept as source text in the
-- subset of Lua that 5.1, 5.4 and LuaJIT share; the script starts with this text, and this
-- module loads the same text. One text, so the four cannot drift apart.
--
-- Every function takes times in one unit of the caller's choosing (seconds here, microseconds
-- in Redis): `unit` is how many of them make a second.
local SOURCE = [[
local gcra_max = math.max
-- Sums of intervals round: a request this close to conforming (a ten-thousandth of an
-- interval) conforms, so that `burst` requests at one instant all pass. (Keep times small, from
-- a recent epoch: at 1.7e9 s a double holds microseconds only.)
local GCRA_SLACK = 1e-4

-- Interval and tolerance, in `unit`s, of a bucket of `burst` at `rate` per second.
local function gcra_shape(rate, burst, unit)
  local interval = unit / rate
  return interval, (burst - 1) * interval
end

-- The earliest time a request may be sent, and tat once it is booked for that time.
local function gcra_reserve(tat, now, interval, tau)
  local s = tat - tau
  if s - now <= interval * GCRA_SLACK then s = now end
  return s, gcra_max(tat, s) + interval
end

-- How long, from now, until a request would conform (0: it does now).
local function gcra_wait(tat, now, interval, tau)
  local w = tat - tau - now
  if w <= interval * GCRA_SLACK then return 0 end
  return w
end

-- tat when nothing may be sent before now + delay: the server said so (its RetryInfo).
local function gcra_hold(tat, now, delay, tau)
  return gcra_max(tat, now + delay + tau)
end

-- tat after a request booked from a full bucket at `taken_at` was answered at `now`: the
-- server's bucket stayed full until that request reached it, so no refill counts before now.
local function gcra_settle(tat, now, taken_at)
  if now > taken_at then return tat + (now - taken_at) end
  return tat
end

-- The rate after a refusal burst: half, or just under what the server allows (`allowed`,
-- requests/s, nil when unknown) if that is lower; never below `floor`.
local function gcra_lowered(rate, allowed, floor)
  local r = rate / 2
  if allowed and allowed * 0.95 < r then r = allowed * 0.95 end
  if r < floor then r = floor end
  return r
end

-- Tokens the bucket holds at `now` (up to burst; below 0 when reserved ahead).
local function gcra_level(tat, now, interval, burst)
  if tat <= now then return burst end
  return burst - (tat - now) / interval
end

-- tat holding `level` tokens at `now` (a bucket whose rate or burst just changed).
local function gcra_at_level(level, now, interval, burst)
  if level >= burst then return now end
  return now + (burst - level) * interval
end
]]

local chunk = assert(load(SOURCE .. [[
return { shape = gcra_shape, reserve = gcra_reserve, wait = gcra_wait, hold = gcra_hold,
         settle = gcra_settle, level = gcra_level, at_level = gcra_at_level, lowered = gcra_lowered }
]], "=cloudops.limit.gcra"))

local gcra = chunk()
gcra.SOURCE = SOURCE
return gcra
