--- The retry policy (docs/reference.md "Calls"): which failures are retried and how long to
-- wait before the next attempt (exponential backoff with full jitter, capped, at least the
-- server's own hint, itself kept within the policy's `max`).
local core = require "cloudops.core"
local codes = require "cloudops.codes"
local diagnosis = require "cloudops.diagnosis"

local min, tonumber, tostring, type, pairs, ipairs =
  math.min, tonumber, tostring, type, pairs, ipairs
local byte = string.byte

-- A uniform number in [0, 1) from the OS: math.random is unseeded on LuaJIT, and workers
-- jittering alike would retry in step.
local function random()
  local a, b, c, d = byte(core.random_bytes(4), 1, 4)
  return (((a * 256 + b) * 256 + c) * 256 + d) / 4294967296
end

local retry = {}

retry.DEFAULTS = { max_attempts = 8, initial = 0.5, max = 30, multiplier = 2, max_elapsed = 120 }

--- Validates a `retry` option; returns the policy (defaults filled), false, or nil, err.
function retry.policy(opt, base)
  if opt == false then return false end
  if opt == nil or opt == true then return base or retry.DEFAULTS end
  if type(opt) ~= "table" then return nil, "retry must be a table or false" end
  local p = {}
  for k, v in pairs(base or retry.DEFAULTS) do p[k] = v end
  for k, v in pairs(opt) do
    if retry.DEFAULTS[k] == nil then return nil, "unknown retry setting '" .. tostring(k) .. "'" end
    if type(v) ~= "number" or not (v >= 0) then return nil, "retry." .. k .. " must be a non-negative number" end
    p[k] = v
  end
  if p.max_attempts < 1 or p.max_attempts % 1 ~= 0 then
    return nil, "retry.max_attempts must be a whole number, at least 1"
  end
  if p.multiplier < 1 then return nil, "retry.multiplier must be at least 1" end
  -- A zero budget would fail every call before its first attempt.
  if p.max_elapsed <= 0 then return nil, "retry.max_elapsed must be positive" end
  return p
end

--- Whether a failure with this code (and message) may be retried for this method and request.
-- A connection that cannot succeed (cloudops.diagnosis: a plaintext server, a refused port, a
-- name that does not resolve) is not retried: it would only fail again, for a minute.
function retry.retryable(code, method, req, message)
  if message and diagnosis.cause(code, message) then return false end
  if code == codes.RESOURCE_EXHAUSTED or code == codes.UNAVAILABLE
     or (code == codes.DEADLINE_EXCEEDED and not method.mutation) then
    -- A mutation is sent again only when its async_operation_id makes it idempotent.
    return not method.mutation or (type(req) == "table" and (req.async_operation_id or "") ~= "")
  end
  return false
end

-- The raw hint: RetryInfo's delay, or retry-after's number, or nil.
local function raw_hint(err)
  for _, d in ipairs(err.details or {}) do
    if d["@type"] == "google.rpc.RetryInfo" and type(d.retry_delay) == "table" then
      return (tonumber(d.retry_delay.seconds) or 0) + (tonumber(d.retry_delay.nanos) or 0) / 1e9
    end
  end
  local ra = (err.trailers and err.trailers["retry-after"]) or (err.headers and err.headers["retry-after"])
  return type(ra) == "string" and tonumber(ra) or nil
end

--- The server's delay hint in seconds (google.rpc.RetryInfo in the details, or retry-after),
-- or nil, kept within [0, cap]: a negative or NaN hint is no hint, an absurd one (100,000 s,
-- 1e999) is `cap`, and the hint as sent is the second value. A server's word never holds a
-- client longer than its own policy allows.
function retry.hint(err, cap)
  local h = raw_hint(err)
  if h == nil or h ~= h or h < 0 then return nil end
  if cap and h > cap then return cap, h end
  return h
end

--- Seconds to wait after failed attempt number `attempt` (1-based): full jitter over the
-- exponential backoff, at least `hint` (the server's, already within bounds).
function retry.backoff(policy, attempt, hint)
  local cap = min(policy.max, policy.initial * policy.multiplier ^ (attempt - 1))
  local d = random() * cap
  if hint and hint > d then d = hint end
  return d
end

--- Whether a RESOURCE_EXHAUSTED refusal is for the account's async operations in flight (the
-- service says so in its message), not for the rate.
function retry.operation_limit(err)
  if err.code ~= codes.RESOURCE_EXHAUSTED or type(err.message) ~= "string" then return false end
  local m = err.message:lower()
  return m:find("operation", 1, true) ~= nil and
    (m:find("in flight", 1, true) or m:find("limit", 1, true) or m:find("too many", 1, true)
     or m:find("concurrent", 1, true)) ~= nil
end

return retry
