--- The client's token bucket: `rate` requests per second, bursts of at most `burst`, in the
-- GCRA form of cloudops.limit.gcra (one number, `tat`). take() reserves a token and returns how
-- long to wait before using it, so that callers that sleep that long send at the allowed rate,
-- in order, without polling (tasks sharing one bucket each get their own slot).
--
-- The aim is a batch that a server limiting at the same rate and burst never refuses. Two
-- things would make its count differ from ours: it starts refilling a full bucket only when a
-- request reaches it, and later requests may arrive with less latency than earlier ones.
-- settle() moves our refill to after the first request's answer; GUARD covers the rest.
--
-- An "auto" bucket (docs/reference.md "Limits that follow the service") starts at the lowest
-- documented rate of an identity (a user's), full, and follows the server:
--   * it wants the identity (identity_due) once it is busy enough for the rate to matter
--     (half its burst used) or the server refused; the client then learns it off the path of
--     its calls (cloudops.identity) and start() raises the rate to that identity's documented
--     one (a service account's is twice a user's);
--   * a RESOURCE_EXHAUSTED answer holds every sender back for its RetryInfo delay and lowers
--     the rate, once per refusal burst (the calls in flight when the server started refusing
--     are one signal): to half, or to just under what the server allows if that is lower. A
--     RetryInfo delay d tells it: a token bucket at rate r never asks to wait more than 1/r,
--     so the server allows at most 1/d (without one: what it accepted in the last second).
--     That estimate is the ceiling the rate climbs back to; never below MIN_RATE;
--   * after successes the rate climbs back: quickly (GROWTH of the starting rate per second) up
--     to just under that ceiling; above it only after QUIET seconds without a refusal, slowly
--     (to find a limit that was raised); the ceiling is forgotten after FORGET seconds.
local gcra = require "cloudops.limit.gcra"

local min, max = math.min, math.max
local reserve, hold, settle, level, at_level, shape, lowered =
  gcra.reserve, gcra.hold, gcra.settle, gcra.level, gcra.at_level, gcra.shape, gcra.lowered

-- Seconds added to every wait: the server gets rate * GUARD tokens of slack against latency
-- jitter and clock drift. It costs GUARD once per batch, not per request: reservations stay
-- 1/rate apart, only the send times shift.
local GUARD = 0.005
-- Waits shorter than this are rounding noise of the arithmetic, not waits.
local EPSILON = 1e-9
local MIN_RATE = 1
-- One refusal burst: refusals within this many seconds of a cut (or within its RetryInfo
-- delay, if longer) are one signal; also the span over which accepted answers are counted.
local WINDOW = 1
-- Climbing back, per second, as a fraction of the starting rate: up to the ceiling, and above it.
local GROWTH, PROBE = 0.05, 0.005
-- How close under the ceiling the quick climb stops.
local UNDER = 0.95
-- Seconds without a refusal after which the rate probes above the ceiling, and after which
-- the ceiling is forgotten.
local QUIET, FORGET = 10, 30
-- An auto bucket wants the identity once fewer than this fraction of its burst is left.
local BUSY = 0.5

local Bucket = {}
Bucket.__index = Bucket

local bucket = { GUARD = GUARD, MIN_RATE = MIN_RATE, WINDOW = WINDOW, GROWTH = GROWTH, BUSY = BUSY }

local function reshape(self, rate, burst)
  self.rate, self.burst = rate, burst
  self.interval, self.tau = shape(rate, burst, 1)
end

--- clock: a function returning monotonic seconds.
function bucket.new(rate, burst, clock)
  local self = setmetatable({ clock = clock, tat = clock() }, Bucket)
  reshape(self, rate, burst)
  return self
end

--- A bucket that follows the service (rate_limit = "auto"). documented: the documented rates
-- by identity kind (cloudops.limit.documented); it starts at the user's, the lowest.
function bucket.auto(clock, documented)
  local rate = documented.user
  local self = bucket.new(rate, rate, clock)
  local now = clock()
  self.auto, self.documented, self.initial = true, documented, rate
  self.unidentified = true
  self.hold_until, self.grown_at, self.cut_at = now, now, nil
  self.ceiling = nil
  self.accepted, self.acc_head, self.acc_n = {}, 1, 0
  return self
end

--- Sets an auto bucket to the documented rate of identity.kind (cloudops.identity learnt it).
-- A higher rate than the one it started at brings the extra burst with it: the server's bucket
-- for that identity started full at that burst.
function Bucket:start(identity)
  self.unidentified, self.identity_due = nil, nil
  local rate = self.documented[identity and identity.kind] or self.documented.user
  if rate <= self.initial then return end
  local now = self.clock()
  local extra = rate - self.initial
  self.initial = rate
  if self.ceiling then return end -- lowered by the server: its limit, not the documented one
  local lvl = level(self.tat, now, self.interval, self.burst) + extra
  reshape(self, rate, rate)
  self.tat = at_level(lvl, now, self.interval, self.burst)
end

--- An auto bucket whose identity could not be learnt keeps the user's rate.
function Bucket:unknown_identity()
  self.unidentified, self.identity_due = nil, nil
end

--- Reserves a token. Returns the seconds to wait before sending (0: send now) and, when the
-- bucket was full, the time of this take, to pass to settle() once the request is answered.
function Bucket:take()
  local now = self.clock()
  local tat = self.tat
  local s, after = reserve(tat, now, self.interval, self.tau)
  self.tat = after
  if self.unidentified and after - now > (1 - BUSY) * self.burst * self.interval then
    self.identity_due = true
  end
  local anchor = tat <= now and now or nil
  local wait = s - now
  if wait <= EPSILON then return 0, anchor end
  return wait + GUARD, anchor
end

--- Whether a take now would not wait (a token is there).
function Bucket:available()
  return self.tat - self.tau <= self.clock()
end

--- The rate in use, requests/s.
function Bucket:current_rate()
  return self.rate
end

--- Gives back the token of the last take, which was not used (its wait was past the call's
-- deadline).
function Bucket:refund()
  self.tat = self.tat - self.interval
end

--- After the answer to a request whose token came from a full bucket: the server's bucket
-- was full until that request reached it, at the latest now, so our refill starts now too.
function Bucket:settle(taken_at)
  self.tat = settle(self.tat, self.clock(), taken_at)
end

-- The times of the answers accepted in the last WINDOW, in a ring of RING entries (more than
-- any documented rate sends in a WINDOW): auto buckets count them.
local RING = 1024

local function forget_old(self, now)
  local acc, head, n = self.accepted, self.acc_head, self.acc_n
  while n > 0 and acc[head] <= now - WINDOW do
    head, n = head % RING + 1, n - 1
  end
  self.acc_head, self.acc_n = head, n
end

-- Answers accepted in the last WINDOW, per second.
local function accepted_rate(self, now)
  forget_old(self, now)
  return self.acc_n / WINDOW
end

local function note_accepted(self, now)
  forget_old(self, now)
  local n = self.acc_n
  if n == RING then return end
  self.accepted[(self.acc_head + n - 1) % RING + 1] = now
  self.acc_n = n + 1
end

-- A new rate and burst, the level of tokens kept.
local function set_rate(self, rate, burst, now)
  local lvl = level(self.tat, now, self.interval, self.burst)
  reshape(self, rate, burst)
  self.tat = at_level(lvl, now, self.interval, burst)
end

-- What the server allows at most, as far as one refusal tells: 1/d for a RetryInfo delay d (a
-- token bucket at rate r never asks to wait more than 1/r); without one, what it accepted in
-- the last second, or half the rate if that is more (nothing better to go on).
local function estimate(self, now, delay)
  if delay > 0 then return 1 / delay end
  return max(accepted_rate(self, now), self.rate / 2)
end

--- The server refused a request for its rate (RESOURCE_EXHAUSTED); delay: its RetryInfo, in
-- seconds (already kept within the caller's bounds), or nil. Nothing is sent before the delay
-- has passed; an auto bucket also slows down: once per refusal burst to half its rate, or to
-- just under what the server allows if that is lower; within a burst, further down when a
-- later refusal tells of a lower limit.
function Bucket:exhausted(delay)
  local now = self.clock()
  delay = delay or 0
  if self.auto then
    if self.unidentified then self.identity_due = true end
    local est = max(MIN_RATE, estimate(self, now, delay))
    local rate
    if now >= self.hold_until then
      rate = lowered(self.rate, est, MIN_RATE)
      self.hold_until = now + max(WINDOW, delay)
      self.ceiling = est
    elseif est < self.ceiling then
      rate = min(self.rate, est * UNDER)
      self.ceiling = est
    end
    if rate then
      rate = max(MIN_RATE, rate)
      set_rate(self, rate, max(1, min(self.burst, rate)), now)
      self.grown_at, self.cut_at = self.hold_until, now
    end
  end
  self.tat = hold(self.tat, now, delay, self.tau)
end

--- An answer that was not refused: an auto bucket counts it and climbs back: quickly to just
-- under the ceiling the last refusals set, and above it only after QUIET seconds without a
-- refusal, slowly (a limit raised on the service's side is found again).
function Bucket:succeeded()
  if not self.auto then return end
  local now = self.clock()
  note_accepted(self, now)
  if self.rate >= self.initial or now <= self.grown_at then return end
  local since = self.cut_at and now - self.cut_at or FORGET
  if self.ceiling and since > FORGET then self.ceiling = nil end
  local dt, rate = now - self.grown_at, self.rate
  local target = self.ceiling and self.ceiling * UNDER or self.initial
  if rate < target then
    rate = min(target, rate + dt * GROWTH * self.initial)
  elseif since > QUIET then
    rate = rate + dt * PROBE * self.initial
  end
  rate = min(self.initial, rate)
  self.grown_at = now
  if rate ~= self.rate then set_rate(self, rate, max(1, rate), now) end
end

function Bucket:__tostring()
  return ("cloudops rate limit (%s%.3g/s)"):format(self.auto and "auto, " or "", self.rate)
end

return bucket
