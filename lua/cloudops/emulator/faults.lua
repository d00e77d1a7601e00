-- Injected faults, for tests of clients: an error before the handler runs (nothing
-- applied) or after it (the mutation is applied, the client still sees the error, as
-- when a connection drops after the server committed), a delay of the answer, and a
-- planned end state for the operation a mutation starts.
--
-- A rule: { method = "CreateNamespace" or "*", code = "UNAVAILABLE", when = "before" |
--   "after", message =, delay = seconds, operation = "STATE_FAILED" | "STATE_REJECTED" |
--   "STATE_CANCELLED", reason = failure text, times = n (default 1; math.huge: always),
--   skip = n (let the first n matching calls through) }.
local errors = require "cloudops.emulator.errors"

local M = {}
M.__index = M

local OUTCOMES = { STATE_FAILED = true, STATE_REJECTED = true, STATE_CANCELLED = true }

local function check(rule)
  if type(rule) ~= "table" then error("fault rule must be a table", 3) end
  local r = {}
  for k, v in pairs(rule) do r[k] = v end
  r.method = r.method or "*"
  r.when = r.when or "before"
  if r.when ~= "before" and r.when ~= "after" then
    error("fault rule: when must be 'before' or 'after', got " .. tostring(r.when), 3)
  end
  if r.code ~= nil then r.code = errors.code(r.code) end
  if r.operation ~= nil then
    local o = tostring(r.operation):upper()
    if not o:find("^STATE_") then o = "STATE_" .. o end
    if not OUTCOMES[o] then error("fault rule: bad operation outcome " .. tostring(r.operation), 3) end
    r.operation = o
  end
  if r.delay ~= nil and (type(r.delay) ~= "number" or r.delay < 0) then
    error("fault rule: delay must be a number of seconds", 3)
  end
  if r.code == nil and r.delay == nil and r.operation == nil then
    error("fault rule needs a code, a delay or an operation outcome", 3)
  end
  r.times = r.times or 1
  r.skip = r.skip or 0
  return r
end

function M.new(rules)
  local self = setmetatable({ rules = {} }, M)
  for _, r in ipairs(rules or {}) do self:add(r) end
  return self
end

function M:add(rule)
  local r = check(rule)
  self.rules[#self.rules + 1] = r
  return r
end

function M:clear() self.rules = {} end

-- Consumes and returns the rules matching this call: the error rule for the phase, and
-- the delay and operation-outcome rules (which apply whatever the phase).
-- An outcome-only rule waits for a mutation: reads have no operation to end.
function M:match(method, phase, is_mutation)
  local hit
  for i = 1, #self.rules do
    local r = self.rules[i]
    local only_outcome = r.code == nil and r.delay == nil
    if r.times > 0 and (r.method == "*" or r.method == method)
      and (r.when == phase or (phase == "before" and r.code == nil))
      and (is_mutation or not only_outcome) then
      if r.skip > 0 then
        r.skip = r.skip - 1
      else
        r.times = r.times - 1
        hit = hit or {}
        if r.code ~= nil and hit.code == nil then
          hit.code, hit.message = r.code, r.message
        end
        if r.delay then hit.delay = (hit.delay or 0) + r.delay end
        if r.operation and not hit.operation then
          hit.operation, hit.reason = r.operation, r.reason
        end
      end
    end
  end
  return hit
end

return M
