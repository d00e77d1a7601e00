--- The rate limit shared by every client of one identity, on any host: two buckets in Redis,
-- the identity's and the account's, taken together by one atomic step of the script
-- (cloudops.redis.script). Same interface as the client's other limiters:
--   take() -> seconds to wait before sending, anchor or nil (for settle)
--   settle(anchor)           after the answer to a request whose token came from a full bucket
--   exhausted(delay or nil)  the server answered RESOURCE_EXHAUSTED (delay: its RetryInfo)
--   succeeded()              an OK answer
--   start(identity)          once, before the first take: { kind =, id =, account_id = }
-- The identity's bucket starts at its ceiling (the `rate` given, else the identity's documented
-- limit), each RESOURCE_EXHAUSTED halves it for every host (at most once per GAP seconds, so
-- that hosts refused together cut it once), never below 1/s, and OK answers bring it back.
local shared_limit = require "cloudops.shared_limit"

local setmetatable, tostring, error, type, tonumber = setmetatable, tostring, error, type, tonumber
local floor, max = math.floor, math.max

-- As the nginx bucket's: several processes reach the server over several connections.
local GUARD = shared_limit.GUARD
-- Hosts refused in the same second lower the rate once.
local GAP = 1

local Bucket = {}
Bucket.__index = Bucket

local bucket = { GUARD = GUARD, GAP = GAP }

--- shared: cloudops.redis's object (the store and the keys); rate, burst: the identity's
-- ceiling and burst (nil: its documented rate, burst = rate); limits: { user =, service_account
-- =, account = }.
function bucket.new(shared, rate, burst, limits)
  return setmetatable({ shared = shared, rate = rate, burst = burst, limits = limits,
                        ceiling = nil, current = nil }, Bucket)
end

--- Keys the buckets by the identity (and its account): see cloudops.redis. sent: requests
-- this client made before it knew the identity (GetCurrentIdentity, GetAccount), booked now
-- so that the shared bucket counts them too.
function Bucket:start(identity, sent)
  self.shared:start(identity)
  local ceiling = self.rate or self.limits[identity and identity.kind or ""]
  if type(ceiling) ~= "number" then
    error("cloudops.redis: no rate for an identity of kind " .. tostring(identity and identity.kind) ..
      " (give rate_limit.rate)", 2)
  end
  self.ceiling = ceiling
  self.burst_i = self.burst or (ceiling < 1 and 1 or ceiling)
  self.current = ceiling
  for _ = 1, sent or 0 do self:take() end
end

function Bucket:_keys()
  local k = self.shared.keys
  if not k or not self.ceiling then error("cloudops.redis: bucket:start(identity) must come before take()", 3) end
  return k
end

-- The shared bucket's rate, carried over to the local one when Redis goes away; the local one
-- starts empty (the other hosts may have just used the burst), so it paces from the start.
function Bucket:_carry(mem)
  local key, rate = self.shared.keys.identity, self.current
  local burst = max(1, self.burst_i * rate / self.ceiling)
  mem:hset(key, "rate", string.format("%.17g", rate))
  mem:hset(key, "tat", string.format("%.0f", (self.shared.clock() + (burst - 1) / rate) * 1e6))
end

function Bucket:take()
  local k = self:_keys()
  local limits = self.limits
  local account = limits.account or 0
  local r = self.shared.store:run(k.both, function(mem) self:_carry(mem) end, nil,
    "take", self.ceiling, self.burst_i, account, account)
  self.current = r[4] / 1000
  local wait = r[1] / 1e6
  if wait > 0 then wait = wait + GUARD end
  local anchor = nil
  if r[3] ~= 0 then anchor = { at = r[2], mask = r[3], where = self.shared.store:up() } end
  return wait, anchor
end

function Bucket:settle(anchor)
  local store = self.shared.store
  -- Times of Redis and of this process do not mix: an anchor from the other side is dropped.
  if not anchor or anchor.where ~= store:up() then return end
  store:run(self:_keys().both, nil, nil, "settle", anchor.at, anchor.mask)
end

function Bucket:exhausted(delay)
  local k = self:_keys()
  local d = tonumber(delay) or 0
  local r = self.shared.store:run(k.identity_only, function(mem) self:_carry(mem) end, nil,
    "exhausted", self.ceiling, self.burst_i, floor(d * 1e6), GAP * 1e6)
  self.current = r / 1000
end

--- An OK answer: a step in Redis only while the rate is below its ceiling.
function Bucket:succeeded()
  if not self.current or self.current >= self.ceiling then return end
  local r = self.shared.store:run(self:_keys().identity_only, nil, nil, "succeeded", self.ceiling)
  self.current = r / 1000
end

--- The rate the identity's bucket runs at now (requests/s), as last seen.
function Bucket:current_rate()
  return self.current
end

function Bucket:__tostring()
  return "cloudops redis rate limit (" .. self.shared.store.url .. ", " .. tostring(self.current) .. "/s)"
end

return bucket
