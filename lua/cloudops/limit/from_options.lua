--- The limiters a client's options ask for (docs/reference.md "The client"): the bucket of
-- rate_limit and the operation slots of max_operations.
--   rate_limit = "auto" (default)        cloudops.limit.bucket.auto: follows the service
--   rate_limit = N or { rate =, burst = } cloudops.limit.bucket: a fixed rate
--   rate_limit = { shared = "dict", ... } cloudops.limit.dict_bucket: every nginx worker's
--   rate_limit = { redis = "redis://..." } cloudops.redis: every host of the identity's
--   max_operations = N (default 10)       cloudops.limit.slots (with Redis: leases there too)
local bucket = require "cloudops.limit.bucket"
local dict_bucket = require "cloudops.limit.dict_bucket"
local slots = require "cloudops.limit.slots"
local documented = require "cloudops.limit.documented"

local type, pairs, tostring, require = type, pairs, tostring, require
local floor, huge = math.floor, math.huge

local from_options = {}

--- The bucket for a rate_limit option: a bucket, false, or nil, err. clock: monotonic seconds
-- (the client's); on_event: the client's, for Redis' availability events.
function from_options.bucket(opt, on_event, clock)
  if opt == false then return false end
  if opt == nil or opt == true or opt == "auto" then return bucket.auto(clock, documented) end
  if type(opt) == "table" and opt.redis ~= nil then
    -- loaded only then: it needs lua-socket, which a client without Redis does not
    local redis = require "cloudops.redis"
    local settings, err = redis.options(opt)
    if not settings then return nil, err end
    return redis.new(settings, { on_event = on_event, limits = documented }):bucket()
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
  if type(burst) ~= "number" or not (burst >= 1) or burst == huge then
    return nil, "rate_limit.burst must be at least 1"
  end
  if shared then return dict_bucket.new(shared, rate, burst) end
  return bucket.new(rate, burst, clock)
end

--- The operation slots for a max_operations option: slots, false, or nil, err. With a Redis
-- bucket, the account's slots are leases there too, counted across hosts.
function from_options.slots(opt, limiter, clock)
  if opt == false then return false end
  if opt == nil then opt = documented.operations end
  if type(opt) ~= "number" or opt < 1 or opt ~= floor(opt) or opt == huge then
    return nil, "max_operations must be a whole number, at least 1, or false"
  end
  return slots.new(opt, clock, limiter and limiter.shared and limiter.shared:slots(opt))
end

return from_options
