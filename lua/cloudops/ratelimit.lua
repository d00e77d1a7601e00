--- A client-side token bucket: `rate` requests per second, bursts of at most `burst`.
-- take() reserves a token and returns how long to wait before using it, so that callers that
-- sleep that long send at the allowed rate, in order, without polling (tasks sharing one
-- bucket each get their own slot).
--
-- The aim is a batch that a server limiting at the same rate and burst never rejects. Two
-- things would make its count differ from ours: it starts refilling a full bucket only when a
-- request reaches it, and later requests may arrive with less latency than earlier ones.
-- settle() moves our refill to after the first request's answer; GUARD covers the rest.
--
-- An "auto" bucket (API.md: rate_limit = "auto") starts at the documented rate of the
-- client's identity, once start() is given it, and follows the server: each
-- RESOURCE_EXHAUSTED answer halves the rate (once per WINDOW, however many calls in flight
-- were refused together; never below MIN_RATE) and a RetryInfo delay holds every sender back
-- that long; after successes the rate climbs back linearly, to where it started at most.
local min, max = math.min, math.max

-- Seconds added to every wait: the server gets rate * GUARD tokens of slack against latency
-- jitter and clock drift. It costs GUARD once per batch, not per request: reservations stay
-- 1/rate apart, only the send times shift.
local GUARD = 0.005
local MIN_RATE = 1
-- At most one halving per this many seconds (or per RetryInfo delay, if longer): the calls in
-- flight when the server started refusing are refused together, and are one signal.
local WINDOW = 1
-- After a decrease, the rate grows by this fraction of the starting rate per second.
local GROWTH = 0.05

local Bucket = {}
Bucket.__index = Bucket

local ratelimit = { GUARD = GUARD, MIN_RATE = MIN_RATE, WINDOW = WINDOW, GROWTH = GROWTH }

--- clock: a function returning monotonic seconds.
function ratelimit.new(rate, burst, clock)
  return setmetatable({ rate = rate, burst = burst, tokens = burst, last = clock(), clock = clock }, Bucket)
end

--- A bucket whose rate comes from the identity: needs_identity until start(identity) is
-- called. limits: the documented rates by identity kind (cloudops.LIMITS).
function ratelimit.auto(clock, limits)
  local b = ratelimit.new(MIN_RATE, 1, clock)
  b.auto, b.needs_identity, b.limits = true, true, limits
  return b
end

--- Starts an auto bucket at the documented rate of identity.kind, full but for the `sent`
-- requests made to learn the identity.
function Bucket:start(identity, sent)
  local now = self.clock()
  local rate = self.limits[identity.kind] or self.limits.user
  self.needs_identity = nil
  self.initial, self.rate, self.burst, self.tokens, self.last = rate, rate, rate, rate - (sent or 0), now
  self.hold_until, self.grown_at = now, now
end

-- Brings the level up to now at the current rate (before the rate changes).
local function refill(self, now)
  local level = self.tokens + (now - self.last) * self.rate
  if level > self.burst then level = self.burst end
  self.tokens, self.last = level, now
  return level
end

--- Reserves a token. Returns the seconds to wait before sending (0: send now) and, when the
-- bucket was full, the time of this take, to pass to settle() once the request is answered.
function Bucket:take()
  local now = self.clock()
  local full = refill(self, now) >= self.burst
  self.tokens = self.tokens - 1
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

--- The server refused a request for its rate (RESOURCE_EXHAUSTED); delay: its RetryInfo, in
-- seconds, or nil. Nothing is sent before the delay has passed; an auto bucket also slows.
function Bucket:exhausted(delay)
  local now = self.clock()
  refill(self, now)
  if self.auto and self.initial and now >= self.hold_until then
    self.rate = max(MIN_RATE, self.rate / 2)
    self.burst = max(1, min(self.burst, self.rate))
    self.hold_until = now + max(WINDOW, delay or 0)
    self.grown_at = self.hold_until
  end
  local debt = (delay or 0) * self.rate
  if self.tokens > -debt then self.tokens = min(self.tokens, 0) - debt end
end

--- An answer that was not refused: an auto bucket climbs back towards its starting rate.
function Bucket:succeeded()
  if not self.auto or not self.initial or self.rate >= self.initial then return end
  local now = self.clock()
  if now <= self.grown_at then return end
  refill(self, now)
  self.rate = min(self.initial, self.rate + (now - self.grown_at) * GROWTH * self.initial)
  self.burst = max(1, self.rate)
  self.grown_at = now
end

function Bucket:__tostring()
  if self.needs_identity then return "cloudops rate limit (auto, before the first call)" end
  return ("cloudops rate limit (%s%.3g/s)"):format(self.auto and "auto, " or "", self.rate)
end

return ratelimit
