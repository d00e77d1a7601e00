-- Token buckets like the service's: one per principal (users and service accounts have
-- different rates) and one for the whole account. A request takes a token from both or
-- from neither; when either is empty the answer is RESOURCE_EXHAUSTED with the time until
-- the next token, which the server sends as google.rpc.RetryInfo. The buckets are
-- cloudops.limit.gcra's, as the client's limits are: refusing what does not conform instead
-- of reserving it.
local gcra = require "cloudops.limit.gcra"
local documented = require "cloudops.limit.documented"

local format, min = string.format, math.min
local shape, reserve, wait_of = gcra.shape, gcra.reserve, gcra.wait

local M = {}
M.__index = M

-- The documented defaults, requests per second: 40 per user, 80 per service account, 160
-- per account (settings rather than constants: they were raised from 10/20/40 in late 2025).
M.defaults = { user = documented.user, service_account = documented.service_account, account = documented.account }

-- limits: { user =, service_account =, account =, burst = { ... } } or false (no limits).
function M.new(limits)
  local self = setmetatable({ tat = {}, enabled = limits ~= false, shapes = {} }, M)
  limits = limits or {}
  local burst = limits.burst or {}
  for _, kind in ipairs { "user", "service_account", "account" } do
    local rate = limits[kind] or M.defaults[kind]
    if rate and rate > 0 then
      local interval, tau = shape(rate, burst[kind] or rate, 1)
      self.shapes[kind] = { interval = interval, tau = tau }
    end
  end
  return self
end

-- kind: "user" or "service_account"; id: the principal's id. Returns true, or
-- false, message, seconds until a token is back: at most one interval, since only conforming
-- requests are booked (min() drops the rounding of the sums).
function M:take(kind, id, now)
  if not self.enabled then return true end
  -- Times from the first request on: a clock counting from 1970 would round the sums of
  -- intervals that GCRA keeps.
  self.epoch = self.epoch or now
  now = now - self.epoch
  local tat, p, a = self.tat, self.shapes[kind], self.shapes.account
  local pkey = kind .. ":" .. id
  if p then
    local wait = min(p.interval, wait_of(tat[pkey] or now, now, p.interval, p.tau))
    if wait > 0 then
      return false, format("rate limit exceeded for principal type=%s, id=%s, please retry later",
        kind == "user" and "user" or "serviceaccount", id), wait
    end
  end
  if a then
    local wait = min(a.interval, wait_of(tat.account or now, now, a.interval, a.tau))
    if wait > 0 then return false, "rate limit exceeded for account, please retry later", wait end
  end
  if p then tat[pkey] = select(2, reserve(tat[pkey] or now, now, p.interval, p.tau)) end
  if a then tat.account = select(2, reserve(tat.account or now, now, a.interval, a.tau)) end
  return true
end

return M
