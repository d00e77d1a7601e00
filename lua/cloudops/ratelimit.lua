--- A client-side token bucket: `rate` requests per second, bursts of at most `burst`.
-- take() reserves a token and returns how long to wait before using it, so that callers that
-- sleep that long send at the allowed rate, in order, without polling (coroutines sharing one
-- bucket each get their own slot).
--
-- The aim is a batch that a server limiting at the same rate and burst never rejects. Two
-- things would make its count differ from ours: it starts refilling a full bucket only when a
-- request reaches it, and later requests may arrive with less latency than earlier ones.
-- settle() moves our refill to after the first request's answer; GUARD covers the rest.
local min = math.min

-- Seconds added to every wait: the server gets rate * GUARD tokens of slack against latency
-- jitter and clock drift. It costs GUARD once per batch, not per request: reservations stay
-- 1/rate apart, only the send times shift.
local GUARD = 0.005

local Bucket = {}
Bucket.__index = Bucket

local ratelimit = { GUARD = GUARD }

--- clock: a function returning monotonic seconds.
function ratelimit.new(rate, burst, clock)
  return setmetatable({ rate = rate, burst = burst, tokens = burst, last = clock(), clock = clock }, Bucket)
end

--- Reserves a token. Returns the seconds to wait before sending (0: send now) and, when the
-- bucket was full, the time of this take, to pass to settle() once the request is answered.
function Bucket:take()
  local now = self.clock()
  local level = self.tokens + (now - self.last) * self.rate
  local full = level >= self.burst
  if full then level = self.burst end
  self.tokens, self.last = level - 1, now
  local anchor = full and now or nil
  if self.tokens >= 0 then return 0, anchor end
  return -self.tokens / self.rate + GUARD, anchor
end

--- After the answer to a request whose token came from a full bucket: the server's bucket
-- was full until that request reached it, at the latest now, so our refill starts now too.
function Bucket:settle(taken_at)
  local now = self.clock()
  self.tokens = self.tokens - (self.last - taken_at) * self.rate
  self.last = now
end

return ratelimit
