-- Token buckets like the service's: one per principal (users and service accounts have
-- different rates) and one for the whole account. A request takes a token from both or
-- from neither; when either is empty the answer is RESOURCE_EXHAUSTED with the time until
-- the next token, which the server sends as google.rpc.RetryInfo.
local format, min = string.format, math.min

local M = {}
M.__index = M

-- The documented defaults, requests per second: 40 per user, 80 per service account, 160
-- per account (docs.temporal.io/cloud/operation-api, "Rate limits"; raised from 10/20/40 in
-- late 2025, hence settings rather than constants).
M.defaults = { user = 40, service_account = 80, account = 160 }

-- limits: { user =, service_account =, account =, burst = { ... } } or false (no limits).
function M.new(limits)
  local self = setmetatable({ buckets = {}, enabled = limits ~= false }, M)
  limits = limits or {}
  self.rates = {
    user = limits.user or M.defaults.user,
    service_account = limits.service_account or M.defaults.service_account,
    account = limits.account or M.defaults.account,
  }
  local burst = limits.burst or {}
  self.bursts = {
    user = burst.user or self.rates.user,
    service_account = burst.service_account or self.rates.service_account,
    account = burst.account or self.rates.account,
  }
  return self
end

local function refill(self, name, kind, now)
  local b = self.buckets[name]
  local rate, burst = self.rates[kind], self.bursts[kind]
  if b == nil then
    b = { tokens = burst, t = now }
    self.buckets[name] = b
  else
    b.tokens = min(burst, b.tokens + (now - b.t) * rate)
    b.t = now
  end
  return b, rate
end

-- kind: "user" or "service_account"; id: the principal's id. Returns true, or
-- false, message, seconds until a token is back.
function M:take(kind, id, now)
  if not self.enabled then return true end
  local rates = self.rates
  local p, prate = nil, rates[kind]
  if prate and prate > 0 then p = refill(self, kind .. ":" .. id, kind, now) end
  local a, arate = nil, rates.account
  if arate and arate > 0 then a = refill(self, "account", "account", now) end
  if p and p.tokens < 1 then
    local wait = (1 - p.tokens) / prate
    return false, format("rate limit exceeded for principal type=%s, id=%s, please retry later",
      kind == "user" and "user" or "serviceaccount", id), wait
  end
  if a and a.tokens < 1 then
    local wait = (1 - a.tokens) / arate
    return false, "rate limit exceeded for account, please retry later", wait
  end
  if p then p.tokens = p.tokens - 1 end
  if a then a.tokens = a.tokens - 1 end
  return true
end

return M
