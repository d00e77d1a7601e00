-- Small helpers shared by the emulator modules: copies, comparison, ids, time values.
local floor, random, format, byte = math.floor, math.random, string.format, string.byte
local pairs, type, concat = pairs, type, table.concat
local io_open = io.open

local M = {}

M.copy = require "cloudops.deep_copy"

--- s as one word for sh, single-quoted.
function M.shell_quote(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end

-- Whether v is what proto3 leaves off the wire: nil, false, 0, "", an empty table or an
-- enum's zero value (by the schema's convention, a name ending in _UNSPECIFIED).
local function is_default(v)
  if v == nil or v == false or v == 0 or v == "" then return true end
  if type(v) == "string" then return v:find("_UNSPECIFIED$") ~= nil end
  if type(v) == "table" then
    for _, x in pairs(v) do if not is_default(x) then return false end end
    return true
  end
  return false
end

-- Compares two messages as the wire would carry them: a field at its default is the same
-- as one left out, so a table decoded from a request equals the one stored from it. The
-- emulator's one deep comparison: the model holds nothing but messages.
local function same(a, b)
  if is_default(a) and is_default(b) then return true end
  if type(a) ~= "table" or type(b) ~= "table" then return a == b end
  for k, v in pairs(a) do if not same(v, b[k]) then return false end end
  for k, v in pairs(b) do if a[k] == nil and not is_default(v) then return false end end
  return true
end
M.same = same

-- Random bytes from the OS when we can read it (tokens must not be guessable);
-- math.random otherwise. The core's random_bytes is used when the caller passes it.
function M.random_bytes(n, source)
  if source then return source(n) end
  local f = io_open("/dev/urandom", "rb")
  if f then
    local s = f:read(n)
    f:close()
    if s and #s == n then return s end
  end
  local t = {}
  for i = 1, n do t[i] = string.char(random(0, 255)) end
  return concat(t)
end

function M.hex(s)
  return (s:gsub(".", function(c) return format("%02x", byte(c)) end))
end

function M.unhex(h)
  if #h % 2 ~= 0 or h:find("[^0-9a-fA-F]") then return nil end
  return (h:gsub("..", function(x) return string.char(tonumber(x, 16)) end))
end

-- Seeds math.random once from the OS, so ids differ between runs.
do
  local s = M.random_bytes(4)
  local seed = 0
  for i = 1, #s do seed = seed * 256 + byte(s, i) end
  math.randomseed(seed)
end

-- Lowercase hex id of n characters: ids need not be secret, only unique.
function M.id(n)
  local t = {}
  for i = 1, n or 32 do t[i] = format("%x", random(0, 15)) end
  return concat(t)
end

-- google.protobuf.Timestamp / Duration tables from seconds (a float).
function M.ts(t)
  local s = floor(t)
  local nanos = floor((t - s) * 1e9 + 0.5)
  if nanos >= 1000000000 then s, nanos = s + 1, nanos - 1000000000 end
  return { seconds = s, nanos = nanos }
end
M.duration = M.ts

function M.to_seconds(ts)
  if ts == nil then return nil end
  return (tonumber(ts.seconds) or 0) + (tonumber(ts.nanos) or 0) / 1e9
end

return M
