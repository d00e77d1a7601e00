-- The request log: one line per request. The bearer token never appears; the API key
-- is named by its id, which is not a secret.
local time = require "cloudops.time"
local errors = require "cloudops.emulator.errors"

local format, floor, tonumber = string.format, math.floor, tonumber

local M = {}

-- target: nil/false (no log), "-" (stderr), a file path (appended), or function(line).
function M.open(target)
  if not target then return nil end
  if type(target) == "function" then return target end
  local f
  if target == "-" then
    f = io.stderr
  else
    local err
    f, err = io.open(target, "a")
    if not f then error("cannot open request log: " .. tostring(err), 3) end
    f:setvbuf("line")
  end
  return function(line) f:write(line, "\n") end
end

-- RFC 3339 in UTC to the millisecond (whole seconds without a fraction), as the core writes it.
local function stamp(t)
  local s = floor(t)
  return time.to_rfc3339 { seconds = s, nanos = floor((t - s) * 1000) * 1000000 }
end

-- e = { time =, peer =, method =, code =, duration =, identity =, delay =, operation = }
-- (operation: the id of the async operation the request started or replayed, or the one a
-- GetAsyncOperation asked about)
function M.line(e)
  local who, key = "-", "-"
  if e.identity then
    who = (e.identity.kind == "user" and "user:" or "serviceaccount:") .. e.identity.id
    key = e.identity.key.id
  elseif e.had_key then
    key = "<redacted>"
  end
  return format("%s %s %s %s %.1fms principal=%s api_key_id=%s%s%s",
    stamp(e.time), e.peer or "-", e.method, errors.names[e.code] or tostring(e.code),
    (e.duration or 0) * 1000, who, key,
    e.delay and format(" delayed=%.3fs", e.delay) or "",
    e.operation and (" operation=" .. e.operation) or "")
end

-- A line back as { time = text, peer =, method =, code = name, principal =, api_key_id =,
-- delay = seconds or nil, operation = id or nil }, or nil for what is not a log line (for
-- tools that read the log: cloudops rehearse).
function M.parse(line)
  local at, peer, method, code, rest = line:match("^(%S+) (%S+) (%S+) (%S+) %S+ms (.*)$")
  if not at then return nil end
  return {
    time = at, peer = peer, method = method, code = code,
    principal = rest:match("principal=(%S+)"), api_key_id = rest:match("api_key_id=(%S+)"),
    delay = tonumber(rest:match(" delayed=([%d.]+)s") or ""), operation = rest:match(" operation=(%S+)"),
  }
end

return M
