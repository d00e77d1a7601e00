--- The rate limit shared by every client of one identity, on any host: two buckets in Redis,
-- the identity's and the account's, taken together by one atomic step of the script
-- (cloudops.redis.script). Same interface as the client's other limiters:
--   take() -> seconds to wait before sending, anchor or nil (for settle)
--   settle(anchor)           after the answer to a request whose token came from a full bucket
--   exhausted(delay or nil)  the server answered RESOURCE_EXHAUSTED (delay: its RetryInfo)
--   succeeded()              an OK answer
--   learn(client, opts, key)  once, before the first take (needs_identity): the identity
--                            the buckets are keyed by; or start(identity, sent) when known
-- The identity's bucket starts at its ceiling (the `rate` given, else the identity's documented
-- limit), each RESOURCE_EXHAUSTED halves it for every host (at most once per GAP seconds, so
-- that hosts refused together cut it once), never below 1/s, and OK answers bring it back.
--
-- The identity is learnt once per API key for every host: the first client of a key asks the
-- service (GetCurrentIdentity, GetAccount) while the others wait for its answer in Redis,
-- books those requests in the buckets, then publishes the identity under a digest of the key
-- (never the key), where the others, and later clients, read it without a request. So hosts
-- starting together send two requests between them, booked before anyone takes a token.
local dict_bucket = require "cloudops.limit.dict_bucket"
local identity = require "cloudops.identity"
local sleep = require "cloudops.sleep"
local new_uuid = require "cloudops.uuid"
local codes = require "cloudops.codes"

local setmetatable, tostring, error, type, tonumber = setmetatable, tostring, error, type, tonumber
local floor, max, min, byte = math.floor, math.max, math.min, string.byte

-- As the nginx bucket's: several processes reach the server over several connections.
local GUARD = dict_bucket.GUARD
-- Hosts refused in the same second lower the rate once.
local GAP = 1
-- How long one client may hold the right to ask the identity (then another asks), and how
-- long an identity is kept in Redis (a key's principal never changes).
local ASK_LOCK, KEEP_IDENTITY = 10, 86400
-- Pauses while another client asks: short, at most this.
local FIRST_PAUSE, MAX_PAUSE = 0.01, 0.1
-- What the service answers for a key that will not do: the user's call gets that answer.
local REFUSED = { [codes.UNAUTHENTICATED] = true, [codes.PERMISSION_DENIED] = true }

local Bucket = {}
Bucket.__index = Bucket

local bucket = { GUARD = GUARD, GAP = GAP }

--- shared: cloudops.redis's object (the store and the keys); rate, burst: the identity's
-- ceiling and burst (nil: its documented rate, burst = rate); limits: { user =, service_account
-- =, account = }.
function bucket.new(shared, rate, burst, limits)
  return setmetatable({ shared = shared, rate = rate, burst = burst, limits = limits,
                        ceiling = nil, current = nil, needs_identity = true, identity = nil }, Bucket)
end

-- 32 bits of FNV-1a over s, from `h`, in arithmetic exact on doubles (Lua 5.4 and LuaJIT alike).
local function fnv32(s, h)
  for i = 1, #s do
    local b, lo, x, bit = byte(s, i), h % 256, 0, 1
    for _ = 1, 8 do
      if (lo % 2) ~= (b % 2) then x = x + bit end
      lo, b, bit = floor(lo / 2), floor(b / 2), bit * 2
    end
    h = h - h % 256 + x
    -- h * 16777619 mod 2^32, as h * 2^24 + h * 403 without leaving 2^53
    h = ((h % 256) * 16777216 + h * 403) % 4294967296
  end
  return h
end

--- A 64-bit digest of an API key, as 16 hex digits: names the key's identity in Redis. The
-- key holds far more than 64 bits, so the digest does not give it back.
function bucket.digest(key)
  local basis = 2166136261
  return string.format("%08x%08x", fnv32(key, basis), fnv32(key, fnv32("cloudops", basis)))
end

--- Keys the buckets by the identity (and its account): see cloudops.redis. sent: requests
-- this client made before it knew the identity (GetCurrentIdentity, GetAccount), booked now
-- so that the shared bucket counts them too.
function Bucket:start(id, sent)
  self.shared:start(id)
  local ceiling = self.rate or self.limits[id and id.kind or ""]
  if type(ceiling) ~= "number" then
    error("cloudops.redis: no rate for an identity of kind " .. tostring(id and id.kind) ..
      " (give rate_limit.rate)", 2)
  end
  self.identity, self.needs_identity = id, nil
  self.ceiling = ceiling
  self.burst_i = self.burst or (ceiling < 1 and 1 or ceiling)
  self.current = ceiling
  for _ = 1, sent or 0 do self:take() end
end

-- The identity of the key as Redis knows it: "known", kind, id, account; "ask" (this client
-- may ask, for ASK_LOCK seconds); "wait", microseconds until the asker's right runs out.
local function whois(self, where, token)
  return self.shared.store:run({ where }, nil, nil, "whois", floor(ASK_LOCK * 1e6), token)
end

--- Learns the identity the buckets are keyed by (see the top of this file), through
-- `client`'s public calls with `opts` (rate_limit = false is added: nothing is keyed yet);
-- key(): the API key, or nil, err. Returns true, or nil, err when the key will not do (the
-- key function failed, or the service refused the key): the user's call returns that.
function Bucket:learn(client, opts, key)
  local k, kerr = key()
  if not k then return nil, kerr end
  local where = "cloudops:{k" .. bucket.digest(k) .. "}:identity"
  local clock, token, pause = self.shared.clock, "ask:" .. new_uuid(), FIRST_PAUSE
  local give_up = clock() + (type(opts.retry) == "table" and opts.retry.max_elapsed or opts.timeout or ASK_LOCK)
  local o = { rate_limit = false, timeout = opts.timeout, retry = opts.retry }
  while true do
    local r = whois(self, where, token)
    if r[1] == "known" then
      self:start({ kind = r[2], id = r[3], account_id = r[4] ~= "" and r[4] or nil }, 0)
      return true
    end
    if r[1] == "ask" or clock() >= give_up then break end
    sleep(min(pause, tonumber(r[2]) / 1e6 + 0.001, max(0, give_up - clock())))
    pause = min(pause * 2, MAX_PAUSE)
  end
  -- whatever the lookup raises (an interrupt, an on_event that raises), the right to ask is
  -- given back: another client must not wait for it
  local ok, id, sent = pcall(identity.of, client, o, true)
  if not ok or not id then self.shared.store:run({ where }, nil, nil, "unlock", token) end
  if not ok then error(id, 0) end
  if not id then
    local err = sent
    if type(err) == "table" and (err.name == "API_KEY" or REFUSED[err.code]) then return nil, err end
    -- the limits go on without it, under an id of their own (the server's refusals tune them)
    self:start({ kind = "user", id = "unidentified" }, type(err) == "table" and err.attempts or 1)
    return true
  end
  -- booked before the others may read it and take tokens
  self:start(id, sent)
  self.shared.store:run({ where }, nil, nil, "iam", id.kind, id.id, id.account_id or "",
    floor(KEEP_IDENTITY * 1000))
  return true
end

--- Whether a take now would not wait: unknown here without a step in Redis, so yes.
function Bucket.available(_)
  return true
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
