--- Limits shared across hosts through Redis (docs/reference.md "Limits shared across hosts
-- (Redis)"):
-- `rate_limit = { redis = "redis://host:port" [, rate =, burst =, timeout =, account =] }`.
--
--   local redis = require "cloudops.redis"
--   local settings = assert(redis.options(opts.rate_limit))      -- nil, err for a bad table
--   local shared = redis.new(settings, { on_event = f, limits = cloudops.LIMITS })
--   local bucket = shared:bucket()          -- take/settle/exhausted/succeeded/start
--   local slots = shared:slots(10)          -- acquire/started/ended/renew (max_operations)
--   bucket:start{ kind = "service_account", id = "...", account_id = "..." }
--
-- Keys: every key of one account shares the hash tag {<account id>} (a Redis Cluster keeps a
-- script's keys in one slot): cloudops:{A}:rate:<kind>:<id> (the identity's bucket),
-- cloudops:{A}:rate:account (the account's), cloudops:{A}:ops (the operation leases). Without
-- an account id (a key that may not call GetAccount) the tag is "account": one account per
-- Redis database, or give `account` in the rate_limit table.
local store = require "cloudops.redis.store"
local endpoint = require "cloudops.redis.endpoint"
local bucket = require "cloudops.redis.bucket"
local slots = require "cloudops.redis.slots"
local core = require "cloudops.core"
local identity = require "cloudops.identity"

local type, pairs, tostring, setmetatable, error = type, pairs, tostring, setmetatable, error

local LIMITS = require "cloudops.limit.documented"
-- Seconds a Redis step may take (connect, send, receive each): a local network's round trip
-- is well under a millisecond, so this only bounds a Redis that is gone or stuck.
local TIMEOUT = 0.1

local SETTINGS = { redis = true, rate = true, burst = true, timeout = true, account = true }

local Shared = {}
Shared.__index = Shared

local redis = { LIMITS = LIMITS, TIMEOUT = TIMEOUT }

--- Checks a rate_limit table with a `redis` URL: the settings, or nil, err (a message that
-- says what to write instead).
function redis.options(t)
  if type(t) ~= "table" then return nil, "rate_limit must be a table here" end
  for k in pairs(t) do
    if not SETTINGS[k] then return nil, "unknown rate_limit setting '" .. tostring(k) .. "'" end
  end
  local where, err = endpoint.parse(t.redis)
  if not where then return nil, err end
  local rate, burst, timeout = t.rate, t.burst, t.timeout
  if rate ~= nil and rate ~= "auto" and (type(rate) ~= "number" or not (rate > 0)) then
    return nil, "rate_limit.rate must be a positive number (requests/s) or \"auto\""
  end
  if rate == "auto" then rate = nil end
  if burst ~= nil and (type(burst) ~= "number" or not (burst >= 1)) then
    return nil, "rate_limit.burst must be at least 1"
  end
  if timeout ~= nil and (type(timeout) ~= "number" or not (timeout > 0)) then
    return nil, "rate_limit.timeout must be a positive number of seconds (for each Redis step)"
  end
  if t.account ~= nil and (type(t.account) ~= "string" or t.account == "") then
    return nil, "rate_limit.account must be the account id (a string)"
  end
  return { where = where, rate = rate, burst = burst, timeout = timeout or TIMEOUT,
           account = t.account }
end

--- The identity the limits are keyed by, asked through `client` (its public methods):
-- GetCurrentIdentity, then GetAccount for the account id (cloudops.identity). Returns the
-- identity { kind =, id =, account_id = } and the number of requests sent (for
-- bucket:start), or nil, err. opts: call options for both requests (e.g. { rate_limit = false }).
function redis.identity(client, opts)
  return identity.of(client, opts, true)
end

--- The Redis side of one client: settings from redis.options; env: { on_event =, limits =,
-- clock = (seconds, default the core's monotonic clock), retry = (seconds before Redis is
-- tried again after a failure, doubling; default 1), endpoint = (specs) }.
function redis.new(settings, env)
  env = env or {}
  local clock = env.clock or core.now
  return setmetatable({
    settings = settings, limits = env.limits or LIMITS, clock = clock, keys = nil,
    store = store.new{ where = settings.where, timeout = settings.timeout, clock = clock,
                       on_event = env.on_event, retry = env.retry, endpoint = env.endpoint },
  }, Shared)
end

-- A hash tag may not hold braces: Redis would take the tag to end at the first '}'.
local function tag_of(s)
  return (tostring(s):gsub("[{}]", "_"))
end

--- Keys the limits by the identity ({ kind =, id =, account_id = }); called by the bucket's
-- and the slots' start (once is enough; the same identity again changes nothing).
function Shared:start(who)
  if type(who) ~= "table" or type(who.id) ~= "string" or who.id == "" then
    error("cloudops.redis: start expects the identity { kind =, id =, account_id = }", 3)
  end
  local prefix = "cloudops:{" .. tag_of(self.settings.account or who.account_id or "account") .. "}:"
  local id = prefix .. "rate:" .. tag_of(who.kind or "identity") .. ":" .. tag_of(who.id)
  local acct = prefix .. "rate:account"
  self.keys = { identity = id, account = acct, ops = prefix .. "ops",
                both = { id, acct }, identity_only = { id }, ops_only = { prefix .. "ops" } }
end

--- The keys, or those of an identity not yet known (slots used before any start).
function Shared:keys_or_default()
  local k = self.keys
  if k then return { ops = k.ops_only } end
  local prefix = "cloudops:{" .. tag_of(self.settings.account or "account") .. "}:"
  return { ops = { prefix .. "ops" } }
end

--- The identity's bucket (and the account's), shared by every host.
function Shared:bucket()
  return bucket.new(self, self.settings.rate, self.settings.burst, self.limits)
end

--- The account's operation slots: at most `max` in flight across hosts.
function Shared:slots(max, lease)
  return slots.new(self, max or self.limits.operations or LIMITS.operations, lease)
end

function Shared:close()
  self.store:close()
end

redis.Shared = Shared
return redis
