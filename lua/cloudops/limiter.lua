--- The limiters of a client, from connect's options (API.md "Loading and connecting"): the rate
-- limit's bucket and the operation slots of max_operations.
local ratelimit = require "cloudops.ratelimit"
local shared_limit = require "cloudops.shared_limit"
local slots = require "cloudops.slots"
local LIMITS = require "cloudops.limits"
local core = require "cloudops.core"

local type, pairs, tostring, require = type, pairs, tostring, require
local floor, huge = math.floor, math.huge
local now = core.now

local limiter = {}

--- The bucket for a rate_limit option: a bucket, false, or nil, err. "auto" (the default)
-- starts at the identity's documented rate and follows the server's refusals; with `shared`,
-- the bucket lives in that lua_shared_dict, one for every nginx worker (cloudops.shared_limit);
-- with `redis`, in Redis, one for every host of the identity (cloudops.redis).
function limiter.bucket(opt, on_event)
  if opt == false then return false end
  if opt == nil or opt == true or opt == "auto" then return ratelimit.auto(now, LIMITS) end
  if type(opt) == "table" and opt.redis ~= nil then
    -- loaded only then: it needs lua-socket, which a client without Redis does not
    local redis = require "cloudops.redis"
    local settings, err = redis.options(opt)
    if not settings then return nil, err end
    local shared = redis.new(settings, { on_event = on_event, limits = LIMITS })
    local b = shared:bucket()
    b.needs_identity, b.wants_account, b.shared = true, true, shared
    return b
  end
  local rate, burst, shared = opt, nil, nil
  if type(opt) == "table" then
    for k in pairs(opt) do
      if k ~= "rate" and k ~= "burst" and k ~= "shared" then
        return nil, "unknown rate_limit setting '" .. tostring(k) .. "'"
      end
    end
    shared = opt.shared
    if shared ~= nil and (type(shared) ~= "string" or shared == "") then
      return nil, "rate_limit.shared must be the name of a lua_shared_dict"
    end
    rate, burst = opt.rate or 10, opt.burst
  end
  if type(rate) ~= "number" or not (rate > 0) or rate == huge then
    return nil, "rate_limit must be \"auto\", a positive rate (requests/s), a table or false"
  end
  -- A rate below 1/s still lets one request through at a time.
  burst = burst or (rate < 1 and 1 or rate)
  if type(burst) ~= "number" or not (burst >= 1) then return nil, "rate_limit.burst must be at least 1" end
  if shared then return shared_limit.new(shared, rate, burst, now) end
  return ratelimit.new(rate, burst, now)
end

--- The operation slots for a max_operations option: slots, false, or nil, err. With a Redis
-- bucket, the account's slots are leases there too, counted across hosts.
function limiter.slots(opt, bucket)
  if opt == false then return false end
  if opt == nil then opt = LIMITS.operations end
  if type(opt) ~= "number" or opt < 1 or opt ~= floor(opt) or opt == huge then
    return nil, "max_operations must be a whole number, at least 1, or false"
  end
  return slots.new(opt, now, bucket and bucket.shared and bucket.shared:slots(opt))
end

return limiter
