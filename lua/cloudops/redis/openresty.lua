--- The Redis-shared rate limit for cloudops.openresty: `rate_limit = { redis = "redis://..." }`
-- in openresty.connect's options.
--
-- The pool threads that run the calls have no cosockets, and a wait there would hold a pool
-- thread. So with a Redis limit every attempt is taken in the request: the token comes from
-- Redis over cosockets (resty.redis), its wait is an ngx.sleep, then one attempt crosses to
-- the pool (the proxy's own call with rate_limit and retry off), and the retries are made
-- here too, each with its own token, under the proxy's retry policy. No pool thread is held
-- while waiting, and the request's retries and the helpers' calls take from the same bucket.
--
-- Each worker has its bucket (made at its first call: init_by_lua has no cosockets), keyed by
-- the identity it asks once through the proxy (GetCurrentIdentity, GetAccount), booked after.
--
-- The hook in cloudops.openresty:
--   connect:  local rl, rerr = redis_openresty.configure(opts.rate_limit)
--             if rerr then return bad(rerr) end
--             if rl then config.rate_limit = false end   -- the pool threads do not limit
--             ... proxy._redis = rl or nil
--   invoke:   if self._redis and not (opts and opts.rate_limit == false) then
--               return redis_openresty.call(self, m, req, opts) end
local redis = require "cloudops.redis"
local retry = require "cloudops.retry"
local sleep = require "cloudops.sleep"
local core = require "cloudops.core"
local client = require "cloudops.client"
local errors = require "cloudops.errors"
local codes = require "cloudops.codes"

local type, pairs, tostring = type, pairs, tostring
local now = core.now

-- Seconds a request waits for another request of its worker that is asking the identity.
local IDENTITY_WAIT, IDENTITY_POLL = 30, 0.01

local M = {}

--- The Redis settings of a rate_limit option: nil when it is not a table with `redis`, the
-- settings (a plain table, per proxy), or nil, err for a bad one.
function M.configure(rate_limit)
  if type(rate_limit) ~= "table" or rate_limit.redis == nil then return nil end
  local settings, err = redis.options(rate_limit)
  if not settings then return nil, err end
  return { settings = settings, bucket = nil, asking = false }
end

-- The options of one attempt: the caller's, with the proxy's own limiter and retries off.
local function one_attempt(opts)
  local o = {}
  for k, v in pairs(opts or {}) do o[k] = v end
  o.rate_limit, o.retry = false, false
  return o
end

-- This worker's bucket, keyed by the identity (asked once, by one request at a time).
local function bucket_of(proxy)
  local rl = proxy._redis
  if rl.bucket then return rl.bucket end
  local deadline = now() + IDENTITY_WAIT
  while rl.asking and now() < deadline do sleep(IDENTITY_POLL) end
  if rl.bucket then return rl.bucket end
  rl.asking = true
  local identity, sent = redis.identity(proxy, { rate_limit = false })
  rl.asking = false
  if not identity then return nil, sent end
  local b = redis.new(rl.settings, { on_event = proxy._on_event }):bucket()
  b:start(identity, sent)
  rl.bucket = b
  return b
end

--- One call of method m (resolved) through the proxy, every attempt paced by the shared
-- bucket in the request. Returns what a call returns.
function M.call(proxy, m, req, opts)
  local b, err = bucket_of(proxy)
  if not b then return nil, err end
  -- A mutation's empty async_operation_id is filled here, once, so that every attempt (each a
  -- separate crossing to the pool) sends the same operation.
  req = client.with_operation_id(m, req, proxy._auto_id and not (opts and opts.auto_operation_id == false))
  local policy = opts and opts.retry ~= nil and retry.policy(opts.retry, proxy._retry or nil) or proxy._retry
  local once = one_attempt(opts)
  local started = now()
  local deadline = policy and started + policy.max_elapsed
  local attempt = 0
  while true do
    attempt = attempt + 1
    local wait, anchor = b:take()
    if wait > 0 then
      if deadline and now() + wait >= deadline then
        return nil, err or errors.new("DEADLINE_EXCEEDED", "retry.max_elapsed (" .. policy.max_elapsed ..
          " s) ran out waiting for the shared rate limit", { code = codes.DEADLINE_EXCEEDED, method = m.name,
          attempts = attempt - 1, retryable = false })
      end
      sleep(wait)
    end
    local resp, cerr, info = proxy:call(m.name, req, once)
    if anchor then b:settle(anchor) end
    if resp then
      b:succeeded()
      info.attempts, info.duration = attempt, now() - started
      return resp, nil, info
    end
    err = cerr
    err.attempts = attempt
    if err.name == "RESOURCE_EXHAUSTED" then
      b:exhausted(retry.delay({ max = 0, initial = 0, multiplier = 1 }, 1, err))
    end
    err.retryable = policy and err.code and retry.retryable(err.code, m, req) or false
    if not err.retryable or attempt >= policy.max_attempts then return nil, err end
    local delay = retry.delay(policy, attempt, err)
    if now() + delay >= deadline then return nil, err end
    sleep(delay)
  end
end

return M
