--- Properties the fuzzers check (fuzz/lua_fuzzer.c runs them under libFuzzer + ASan/UBSan):
--   decode(bytes): decoding arbitrary bytes as any message type never raises (nil, err for
--     malformed input), and a decoded table encodes again to bytes that decode to the same
--     table (unknown fields included).
--   encode(bytes): encoding an arbitrary Lua value built from the bytes as any request either
--     raises a clear error (a string naming a path) or gives bytes that decode.
--   unknown(bytes): a message heavy with unknown fields, made by a generator the bytes drive
--     (unknown fields of every wire type, keys longer than they need be, between known fields,
--     at every level, in messages given many times over, stretches repeated up to 2048 times:
--     answers up to 1 MB), decodes without raising, keeps them through an encode, and takes
--     memory linear in its size (issue 17): the Lua heap a decode allocates, garbage included,
--     is at most 4 x the answer's bytes + 2 KB per message given + 64 KB more than the same
--     answer without its unknown fields takes.
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
      local which = r.byte() % 16
      if f and which > 1 then
        t[f.name] = build_field(r, f, depth + 1)
      elseif which == 1 then
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

-- ---- unknown fields ---------------------------------------------------------------------------

local char, concat = string.char, table.concat

local function varint(n)
  local out = {}
  repeat
    local b = n % 128
    n = (n - b) / 128
    out[#out + 1] = char(n > 0 and b + 128 or b)
  until n == 0
  return concat(out)
end

-- A key, sometimes written longer than it need be (a varint padded to 5 bytes, still valid).
local function key(r, number, wire)
  local k = number * 8 + wire
  if r.byte() % 8 ~= 0 or k >= 2 ^ 28 then return varint(k) end
  local out = {}
  for i = 1, 4 do
    out[i] = char(k % 128 + 128)
    k = (k - k % 128) / 128
  end
  out[5] = char(k)
  return concat(out)
end

local function ld(s) return varint(#s) .. s end

local SCALAR_WIRE = { int32 = 0, int64 = 0, uint32 = 0, uint64 = 0, sint32 = 0, sint64 = 0, bool = 0, enum = 0,
                      fixed32 = 5, sfixed32 = 5, float = 5, fixed64 = 1, sfixed64 = 1, double = 1,
                      string = 2, bytes = 2 }

-- One value of wire type `wire`, of the reader's choosing (valid for any scalar field of it).
local function wire_value(r, wire)
  if wire == 0 then return varint(r.byte() % 2) end
  if wire == 1 then return ("\0"):rep(8) end
  if wire == 5 then return ("\0"):rep(4) end
  return ld(("u"):rep(r.byte() % 24))
end

local MAX_BYTES = 1024 * 1024

-- A message of type `name`, both with and without its unknown fields:
-- returns with, without, and how many messages it gives (itself and those inside).
local function gen_message(r, name, depth)
  local d = describe(name)
  local top = 0
  for _, f in ipairs(d.fields or {}) do
    if f.number > top then top = f.number end
  end
  local with, without, messages = {}, {}, 1
  local size = 0
  for _ = 1, r.byte() % 8 + 1 do
    if r.done() then break end
    local k = r.byte() % 4
    local piece_with, piece_without, piece_messages = "", "", 0
    if k == 0 or not d.fields or #d.fields == 0 then -- an unknown field
      local number = top + 1 + r.byte()
      local wire = ({ 0, 1, 2, 5 })[r.byte() % 4 + 1]
      piece_with = key(r, number, wire) .. wire_value(r, wire)
    else -- a known field (a message one may carry unknown fields of its own)
      local f = d.fields[r.byte() % #d.fields + 1]
      if f.type == "message" and f.label ~= "map" and depth < 6 then
        local w, wo, m = gen_message(r, f.type_name, depth + 1)
        piece_with, piece_without, piece_messages = key(r, f.number, 2) .. ld(w), varint(f.number * 8 + 2) .. ld(wo), m
      elseif f.label ~= "map" and SCALAR_WIRE[f.type] then
        local wire = SCALAR_WIRE[f.type]
        local v = f.type == "string" and ld("s") or wire_value(r, wire)
        piece_with, piece_without = varint(f.number * 8 + wire) .. v, varint(f.number * 8 + wire) .. v
      end
    end
    -- the piece over and over: an answer made large from a short input
    local times = r.byte() % 3 == 0 and 2 ^ (r.byte() % 12) or 1
    if size + #piece_with * times > MAX_BYTES then times = 1 end
    with[#with + 1] = piece_with:rep(times)
    without[#without + 1] = piece_without:rep(times)
    messages = messages + piece_messages * times
    size = size + #piece_with * times
  end
  return concat(with), concat(without), messages
end

-- The Lua heap a decode allocates, garbage included (the collector stopped), in bytes.
local function heap_of_decode(name, bytes)
  collectgarbage("collect")
  collectgarbage("stop")
  local before = collectgarbage("count")
  local ok, t, err = pcall(core.decode, name, bytes)
  local grown = (collectgarbage("count") - before) * 1024
  collectgarbage("restart")
  return grown, ok, t, err
end

function harness.unknown(data)
  if #data < 2 then return end
  local r = reader(data)
  local name = types[(r.byte() * 256 + r.byte()) % #types + 1]
  if name:match("^google%.protobuf%.") then return end -- plain values: no unknown fields kept
  local with, without, messages = gen_message(r, name, 0)
  local grown, ok, t, err = heap_of_decode(name, with)
  check(ok, "decode raised for %s (%d bytes): %s", name, #with, tostring(t))
  if t == nil then
    check(type(err) == "string", "decode failed without a message")
    return
  end
  local base = heap_of_decode(name, without)
  local bound = 4 * #with + 2048 * messages + 65536
  check(grown - base <= bound, "%s: %d bytes (%d messages) took %d bytes of heap, %d more than without their " ..
        "unknown fields, past the bound of %d", name, #with, messages, grown, grown - base, bound)
  encodes_and_decodes(name, t, t)
end

return harness
