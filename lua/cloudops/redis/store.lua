--- Where the shared limits' script runs: in Redis while it answers, else in this process
-- (cloudops.redis.memory), so that calls go on at the same rate when Redis is down or slow.
-- No step waits on Redis longer than the endpoint's timeout, and while Redis is down it is
-- not asked at all until the next try (after RETRY_FIRST seconds, doubling up to RETRY_MAX).
-- on_event hears each change: { name = "REDIS_UNAVAILABLE", redis = <url without password>,
-- message = <why>, retry = <seconds to the next try> }, then { name = "REDIS_AVAILABLE",
-- redis = } once a try succeeds.
local endpoint = require "cloudops.redis.endpoint"
local memory = require "cloudops.redis.memory"

local setmetatable, tostring, min = setmetatable, tostring, math.min

local RETRY_FIRST, RETRY_MAX = 1, 30

local Store = {}
Store.__index = Store

local store = { RETRY_FIRST = RETRY_FIRST, RETRY_MAX = RETRY_MAX }

-- The URL as events show it: never the password.
local function shown(where)
  return "redis://" .. where.host .. ":" .. where.port .. (where.db and ("/" .. where.db) or "")
end

--- o: { where = endpoint.parse's table, timeout = seconds per Redis step, clock = seconds,
-- on_event = function(ev) or nil, retry = seconds to the first try again (default
-- RETRY_FIRST), endpoint = an endpoint-like object (specs; default a real one) }.
function store.new(o)
  return setmetatable({
    ep = o.endpoint or endpoint.new(o.where, o.timeout), url = shown(o.where), clock = o.clock,
    on_event = o.on_event, memory = memory.new(o.clock), first = o.retry or RETRY_FIRST,
    retry_at = nil, backoff = nil,
  }, Store)
end

function Store:_emit(ev)
  local f = self.on_event
  if f then f(ev) end
end

--- Whether the last step went to Redis (false while the local fallback is in use).
function Store:up()
  return self.retry_at == nil
end

--- Runs a step of the script; returns its reply and "redis" or "local" (where it ran).
-- on_down(memory) is called when Redis has just become unreachable, before the step runs
-- locally (to carry state over); on_up() when it answers again.
function Store:run(keys, on_down, on_up, ...)
  local now = self.clock()
  if self.retry_at and now < self.retry_at then
    return self.memory:run(keys, ...), "local"
  end
  local v, err = self.ep:run(keys, ...)
  if v ~= nil then
    if self.retry_at then
      self.retry_at, self.backoff = nil, nil
      self:_emit({ name = "REDIS_AVAILABLE", redis = self.url })
      if on_up then on_up() end
    end
    return v, "redis"
  end
  local first = self.retry_at == nil
  self.backoff = self.backoff and min(self.backoff * 2, RETRY_MAX) or self.first
  self.retry_at = self.clock() + self.backoff
  self.ep:close()
  if first then
    if on_down then on_down(self.memory) end
    self:_emit({ name = "REDIS_UNAVAILABLE", redis = self.url, message = tostring(err), retry = self.backoff })
  end
  return self.memory:run(keys, ...), "local"
end

function Store:close()
  self.ep:close()
end

return store
