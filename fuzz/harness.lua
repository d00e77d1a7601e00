--- Properties the fuzzers check (fuzz/lua_fuzzer.c runs them under libFuzzer + ASan/UBSan):
--   decode(bytes): decoding arbitrary bytes as any message type never raises (nil, err for
--     malformed input), and a decoded table encodes again to bytes that decode to the same
--     table (unknown fields included).
--   encode(bytes): encoding an arbitrary Lua value built from the bytes as any request either
--     raises a clear error (a string naming a path) or gives bytes that decode.
local core = require "cloudops.core"

local byte, sub = string.byte, string.sub
local pcall, type, tostring = pcall, type, tostring

local types = core.messages()
local requests = {}
for _, name in ipairs(core.methods()) do requests[#requests + 1] = core.method(name).input end

local described = {}
local function describe(name)
  local d = described[name]
  if not d then d = core.describe(name); described[name] = d end
  return d
end

local harness = {}

local function check(cond, fmt, ...)
  if not cond then error(string.format(fmt, ...), 0) end
end

-- Where a and b differ (NaN equals NaN), or nil.
local function difference(a, b, path)
  if type(a) ~= type(b) then return path end
  if type(a) ~= "table" then return (a ~= b and (a == a or b == b)) and path or nil end
  for k, v in pairs(a) do
    local d = difference(v, b[k], path .. "." .. tostring(k))
    if d then return d end
  end
  for k in pairs(b) do
    if a[k] == nil then return path .. "." .. tostring(k) end
  end
  return nil
end

-- Encodes t as type_name when it can; what encodes must decode, and the table it decodes to
-- must be the one `expected` when given.
local function encodes_and_decodes(type_name, t, expected)
  local ok, bytes = pcall(core.encode, type_name, t)
  if not ok then
    check(type(bytes) == "string" and #bytes > 0, "encode raised a non-string error for %s", type_name)
    check(expected == nil, "%s: a decoded table does not encode: %s", type_name, tostring(bytes))
    return
  end
  local back, err = core.decode(type_name, bytes)
  check(back ~= nil, "%s: our own encoding does not decode: %s", type_name, tostring(err))
  if expected ~= nil then
    local d = difference(expected, back, type_name)
    check(d == nil, "%s: decoding, encoding and decoding again changed %s", type_name, tostring(d))
  end
end

function harness.decode(data)
  if #data < 2 then return end
  local name = types[(byte(data, 1) * 256 + byte(data, 2)) % #types + 1]
  local ok, t, err = pcall(core.decode, name, sub(data, 3))
  check(ok, "decode raised for %s: %s", name, tostring(t))
  if t == nil then
    check(type(err) == "string", "decode failed without a message")
    return
  end
  check(type(t) == "table" or name:match("^google%.protobuf%.") , "decode gave %s", type(t))
  encodes_and_decodes(name, t, t)
end

-- A reader over the fuzzer's bytes; past the end it reads zeros.
local function reader(data)
  local pos = 0
  local r = {}
  function r.byte()
    pos = pos + 1
    return byte(data, pos) or 0
  end
  function r.str()
    local n = r.byte() % 24
    local s = sub(data, pos + 1, pos + n)
    pos = pos + n
    return s
  end
  function r.done() return pos >= #data end
  return r
end

local build_any

local SPECIALS = { 0, -1, 1, 2147483647, -2147483648, 4294967295, 4294967296, 9007199254740993,
                   math.maxinteger or 2 ^ 63, math.mininteger or -2 ^ 63, 0.5, -0.0, 1 / 0, -1 / 0, 0 / 0, 1e300 }

local function build_scalar(r)
  local k = r.byte() % 8
  if k == 0 then return SPECIALS[r.byte() % #SPECIALS + 1]
  elseif k == 1 then return r.byte() - 128
  elseif k == 2 then return r.str()
  elseif k == 3 then return r.byte() % 2 == 0
  elseif k == 4 then return core.null
  elseif k == 5 then return core.empty_array
  elseif k == 6 then return tostring(r.byte() * 1000003) -- a decimal string
  else return r.byte() / 7 end
end

-- A value meant for field f (plausible most of the time, anything otherwise).
local function build_field(r, f, depth)
  if r.byte() % 5 == 0 then return build_any(r, depth) end
  local function one()
    if f.type == "message" then return build_any(r, depth, f.type_name)
    elseif f.type == "enum" then
      local values = describe(f.type_name).values
      return r.byte() % 3 == 0 and (r.byte() - 10) or values[r.byte() % #values + 1].name
    elseif f.type == "string" or f.type == "bytes" then return r.str()
    elseif f.type == "bool" then return r.byte() % 2 == 0
    else return build_scalar(r) end
  end
  if f.label == "repeated" then
    local t = {}
    for i = 1, r.byte() % 4 do t[i] = one() end
    if r.byte() % 9 == 0 then t[#t + 2] = one() end -- a hole
    return t
  elseif f.label == "map" then
    local t = {}
    for _ = 1, r.byte() % 4 do
      local k = (f.key_type == "string") and r.str() or (r.byte() - 5)
      t[k] = one()
    end
    return t
  end
  return one()
end

function build_any(r, depth, type_name)
  if depth > 12 or r.done() then return build_scalar(r) end
  local k = r.byte() % 6
  if type_name and k < 4 then
    local d = describe(type_name)
    local t = {}
    for _ = 1, r.byte() % 6 do
      local f = d.fields[r.byte() % math.max(#d.fields, 1) + 1]
      local k = r.byte() % 16
      if f and k > 1 then
        t[f.name] = build_field(r, f, depth + 1)
      elseif k == 1 then
        t._unknown = r.str() -- the wire bytes of unknown fields, or not
      else
        t[r.str()] = build_scalar(r) -- a key that is probably no field
      end
    end
    return t
  elseif k == 4 then
    local t = {}
    for i = 1, r.byte() % 5 do t[i] = build_any(r, depth + 1) end
    return t
  elseif k == 5 then
    local t = {}
    for _ = 1, r.byte() % 4 do t[r.str()] = build_any(r, depth + 1) end
    return t
  end
  return build_scalar(r)
end

function harness.encode(data)
  if #data < 1 then return end
  local r = reader(data)
  local name = requests[r.byte() % #requests + 1]
  local value = r.byte() % 8 == 0 and build_scalar(r) or build_any(r, 0, name)
  encodes_and_decodes(name, value)
end

return harness
