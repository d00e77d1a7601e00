--- JSON text: strings, numbers, arrays and objects, compact or indented. Written here rather
-- than with cjson.encode because the mapping needs things cjson 2.1 cannot do: keys in
-- field-number (or sorted) order, doubles that parse back to the same bits (cjson stops at
-- 14 digits), floats printed as their shortest float32 form, and no escaped "/".
local core = require "cloudops.core"

local type, tostring, tonumber, pairs, ipairs, error = type, tostring, tonumber, pairs, ipairs, error
local format, gsub, rep, sub = string.format, string.gsub, string.rep, string.sub
local concat, sort = table.concat, table.sort
local floor, huge = math.floor, math.huge
local math_type = math.type                      -- nil on LuaJIT: every number is a double
local spack, sunpack = string.pack, string.unpack -- nil on LuaJIT
local frexp, ldexp = math.frexp, math.ldexp
local null, empty_array = core.null, core.empty_array

local writer = {}

-- ---- strings ---------------------------------------------------------------------------------

local ESCAPES = { ['"'] = '\\"', ["\\"] = "\\\\", ["\b"] = "\\b", ["\f"] = "\\f", ["\n"] = "\\n",
                  ["\r"] = "\\r", ["\t"] = "\\t" }
for c = 0, 31 do
  local ch = string.char(c)
  ESCAPES[ch] = ESCAPES[ch] or format("\\u%04x", c)
end
ESCAPES["\127"] = "\\u007f"

--- A JSON string literal. UTF-8 is written as is (the schema's strings are valid UTF-8).
function writer.quote(s)
  return '"' .. gsub(s, '[%c"\\]', ESCAPES) .. '"'
end
local quote = writer.quote

-- ---- numbers ---------------------------------------------------------------------------------

local function finite(v) return v == v and v ~= huge and v ~= -huge end
writer.finite = finite

-- The decimal text of v + 2^64 for a negative Lua 5.4 integer that holds a uint64 above 2^63
-- (two's complement): the hex digits carried into decimal digits, no 64-bit division needed.
local function unsigned_text(v)
  local hex, digits = format("%x", v), { 0 }
  for i = 1, #hex do
    local carry = tonumber(sub(hex, i, i), 16)
    for j = 1, #digits do
      local x = digits[j] * 16 + carry
      digits[j], carry = x % 10, floor(x / 10)
    end
    while carry > 0 do
      digits[#digits + 1], carry = carry % 10, floor(carry / 10)
    end
  end
  local out = {}
  for j = #digits, 1, -1 do out[#out + 1] = digits[j] end
  return concat(out)
end

--- The decimal text of an integer value: a Lua integer, an integral double (LuaJIT), or the
-- decimal string LuaJIT uses beyond 2^53. `unsigned`: a negative integer is a uint64 > 2^63.
function writer.integer(v, unsigned)
  if type(v) == "string" then return v end
  if math_type and math_type(v) == "integer" then
    if unsigned and v < 0 then return unsigned_text(v) end
    return format("%d", v)
  end
  return format("%.0f", v)
end

--- The shortest text that reads back as the same double (what Python's repr() prints).
function writer.double(v)
  if math_type and math_type(v) == "integer" then return format("%d", v) end
  for p = 15, 16 do
    local s = format("%." .. p .. "g", v)
    if tonumber(s) == v then return s end
  end
  return format("%.17g", v)
end

-- The nearest float32 of a double (round half to even), for the shortest float form below.
local to_float32
if spack then
  to_float32 = function(v) return (sunpack("f", spack("f", v))) end
else
  local function round_even(x)
    local r = floor(x + 0.5)
    if r - x == 0.5 and r % 2 == 1 then r = r - 1 end
    return r
  end
  local MIN_NORMAL = ldexp(1, -126)
  to_float32 = function(v)
    if v == 0 or not finite(v) then return v end
    local a = v < 0 and -v or v
    local r
    if a < MIN_NORMAL then
      r = ldexp(round_even(ldexp(a, 149)), -149) -- subnormal: a fixed step of 2^-149
    else
      local m, e = frexp(a)
      r = ldexp(round_even(m * 16777216), e - 24) -- 24 significant bits
    end
    return v < 0 and -r or r
  end
end

--- The shortest text that reads back as the same float32 (protobuf's ToShortestFloat), for
-- `float` fields, whose decoded doubles carry float32 noise (0.1f is 0.10000000149011612).
function writer.float(v)
  for p = 6, 9 do
    local s = format("%." .. p .. "g", v)
    local d = tonumber(s)
    if to_float32(d) == v then return writer.double(d) end
  end
  return writer.double(v)
end

-- ---- containers ------------------------------------------------------------------------------

--- "[...]" from rendered element texts, at nesting `level` (indent: a string, or nil: compact).
function writer.array(items, level, indent)
  if #items == 0 then return "[]" end
  if not indent then return "[" .. concat(items, ",") .. "]" end
  local pad = "\n" .. rep(indent, level + 1)
  return "[" .. pad .. concat(items, "," .. pad) .. "\n" .. rep(indent, level) .. "]"
end

--- "{...}" from keys (plain strings) and rendered value texts, in the order given.
function writer.object(keys, values, level, indent)
  local n = #keys
  if n == 0 then return "{}" end
  local parts = {}
  local sep = indent and ": " or ":"
  for i = 1, n do parts[i] = quote(keys[i]) .. sep .. values[i] end
  if not indent then return "{" .. concat(parts, ",") .. "}" end
  local pad = "\n" .. rep(indent, level + 1)
  return "{" .. pad .. concat(parts, "," .. pad) .. "\n" .. rep(indent, level) .. "}"
end

-- Whether t is a non-empty sequence 1..n and nothing else (a JSON array).
local function is_array(t)
  local n = #t
  if n == 0 then return false end
  local count = 0
  for _ in pairs(t) do count = count + 1 end
  return count == n
end
writer.is_array = is_array

local function key_order(a, b)
  local ta, tb = type(a), type(b)
  if ta ~= tb then return ta < tb end
  return a < b
end

--- Any plain Lua value as JSON (google.protobuf.Value's form, and tools' output): nil and
-- cloudops.null are null, cloudops.empty_array is [], a sequence is an array, any other
-- table an object with sorted keys. Raises for what JSON cannot hold (functions, NaN).
function writer.plain(v, level, indent, path)
  level, path = level or 0, path or "value"
  local t = type(v)
  if v == nil or v == null then return "null"
  elseif v == empty_array then return "[]"
  elseif t == "boolean" then return v and "true" or "false"
  elseif t == "string" then return quote(v)
  elseif t == "number" then
    if not finite(v) then error({ json_error = path .. ": " .. tostring(v) .. " has no JSON form" }) end
    return writer.double(v)
  elseif t == "table" then
    if is_array(v) then
      local items = {}
      for i = 1, #v do items[i] = writer.plain(v[i], level + 1, indent, path .. "[" .. i .. "]") end
      return writer.array(items, level, indent)
    end
    local keys = {}
    for k in pairs(v) do keys[#keys + 1] = k end
    sort(keys, key_order)
    local names, values = {}, {}
    for i, k in ipairs(keys) do
      names[i] = tostring(k)
      values[i] = writer.plain(v[k], level + 1, indent, path .. "." .. tostring(k))
    end
    return writer.object(names, values, level, indent)
  end
  error({ json_error = path .. ": a " .. t .. " has no JSON form" })
end

--- The indent string for an `indent` option: a number of spaces, a string, true (2 spaces),
-- or nil/false (compact).
function writer.indent_of(opt)
  if opt == nil or opt == false then return nil end
  if opt == true then return "  " end
  if type(opt) == "number" then return rep(" ", opt) end
  if type(opt) == "string" then return opt end
  error("indent must be a number of spaces, a string or a boolean", 3)
end

return writer
