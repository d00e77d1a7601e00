--- Conversions for google.protobuf.Timestamp and Duration tables ({ seconds =, nanos = }).
-- The text parsing and formatting live in the C core, shared with the message encoder.
local core = require "cloudops.core"

local type, tostring = type, tostring

local time = {}

local function parts(t, what)
  if type(t) ~= "table" then
    error(what .. " must be a table { seconds =, nanos = }, got " .. type(t), 3)
  end
  return t.seconds or 0, t.nanos or 0
end

--- "2024-01-02T03:04:05.5Z" from a Timestamp table; nil, err outside years 1..9999.
function time.to_rfc3339(ts)
  local s, n = parts(ts, "timestamp")
  return core.format_rfc3339(s, n)
end

--- A Timestamp table from RFC 3339 text, or nil, err.
function time.from_rfc3339(text)
  if type(text) ~= "string" then error("expected RFC 3339 text, got " .. type(text), 2) end
  local s, n = core.parse_rfc3339(text)
  if not s then return nil, n end
  return { seconds = s, nanos = n }
end

-- A number of seconds, fractions kept, from a Timestamp or Duration table.
local function seconds_of(t, what)
  local s, n = parts(t, what)
  return s + n / 1e9
end

--- Unix seconds (a number, fractions kept) from a Timestamp table.
function time.to_unix(ts)
  return seconds_of(ts, "timestamp")
end

--- A Timestamp table from Unix seconds (fractions kept to the nanosecond).
function time.from_unix(seconds)
  if type(seconds) ~= "number" then error("expected a number of seconds, got " .. type(seconds), 2) end
  local s, n = core.timestamp_from_unix(seconds)
  if not s then error("seconds out of the Timestamp range (years 1 to 9999): " .. tostring(seconds), 2) end
  return { seconds = s, nanos = n }
end

--- A Duration table from "1.5s" text or a number of seconds, or nil, err.
function time.duration(text_or_seconds)
  local t = type(text_or_seconds)
  if t ~= "string" and t ~= "number" then
    error("expected duration text (\"1.5s\") or seconds, got " .. t, 2)
  end
  local s, n = core.parse_duration(text_or_seconds)
  if not s then return nil, n end
  return { seconds = s, nanos = n }
end

--- Seconds (a number) from a Duration table.
function time.to_seconds(d)
  return seconds_of(d, "duration")
end

--- The current time as a Timestamp table.
function time.now()
  return time.from_unix(core.time())
end

return time
