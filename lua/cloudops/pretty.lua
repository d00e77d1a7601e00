--- cloudops.pretty: readable text of Lua values, for the REPL and for people reading
-- responses: nested tables indented (short ones kept on one line), keys sorted, and, where
-- the message type is known, Timestamps as RFC 3339 text, Durations as "1.5s", bytes escaped
-- and Anys unpacked. The output is Lua a request can be pasted from: time text is accepted
-- where a Timestamp or Duration is expected.
--
--   print(pretty.format(resp, { type = "GetNamespacesResponse" }))
--   pretty.print(value, ...)          -- each value, untyped
local core = require "cloudops.core"
local any = require "cloudops.any"
local shortest = require("cloudops.json.writer").double -- the shortest text that reads back the same

local type, tostring, tonumber, pairs, ipairs, next, getmetatable, pcall, select =
  type, tostring, tonumber, pairs, ipairs, next, getmetatable, pcall, select
local format, gsub, rep, match, find, byte =
  string.format, string.gsub, string.rep, string.match, string.find, string.byte
local concat, sort = table.concat, table.sort
local huge, floor = math.huge, math.floor
local math_type = math.type -- nil on LuaJIT
local null, empty_array = core.null, core.empty_array

local pretty = {}

local KEYWORDS = {}
for w in ("and break do else elseif end false for function goto if in local nil not or repeat " ..
          "return then true until while"):gmatch("%a+") do KEYWORDS[w] = true end

-- ---- scalars -----------------------------------------------------------------------------------

-- Whether s is valid UTF-8 (utf8.len where the Lua has it; LuaJIT has not).
local valid_utf8
if utf8 and utf8.len then
  local len = utf8.len
  valid_utf8 = function(s) return len(s) ~= nil end
else
  valid_utf8 = function(s)
    if not find(s, "[\128-\255]") then return true end
    local i, n = 1, #s
    while i <= n do
      local c = byte(s, i)
      local extra = c < 0x80 and 0 or (c >= 0xC2 and c <= 0xDF) and 1 or (c >= 0xE0 and c <= 0xEF) and 2
                    or (c >= 0xF0 and c <= 0xF4) and 3 or nil
      if not extra then return false end
      for j = i + 1, i + extra do
        local d = byte(s, j)
        if not d or d < 0x80 or d > 0xBF then return false end
      end
      i = i + 1 + extra
    end
    return true
  end
end

local ESC = { ['"'] = '\\"', ["\\"] = "\\\\", ["\n"] = "\\n", ["\r"] = "\\r", ["\t"] = "\\t" }

--- A Lua string literal. Valid UTF-8 is kept as is (names, emails in any script); binary
-- (bytes fields, invalid UTF-8) has every byte outside printable ASCII escaped.
function pretty.quote(s, binary)
  if not binary and not valid_utf8(s) then binary = true end
  local pattern = binary and '[%z\1-\31"\\\127-\255]' or '[%z\1-\31"\\\127]'
  return '"' .. gsub(s, pattern, function(c)
    return ESC[c] or format("\\x%02x", byte(c))
  end) .. '"'
end
local quote = pretty.quote

local function number_text(v)
  if v ~= v then return "0/0" end
  if v == huge then return "math.huge" end
  if v == -huge then return "-math.huge" end
  if math_type and math_type(v) == "integer" then return format("%d", v) end
  if v == floor(v) and v > -1e15 and v < 1e15 then
    -- a float that is a whole number: Lua 5.4 shows it as such (1.0), LuaJIT has no integers
    return math_type and format("%.1f", v) or format("%.0f", v)
  end
  return shortest(v)
end

local function key_text(k)
  if type(k) == "string" and match(k, "^[%a_][%w_]*$") and not KEYWORDS[k] then return k end
  if type(k) == "string" then return "[" .. quote(k) .. "]" end
  return "[" .. (type(k) == "number" and number_text(k) or tostring(k)) .. "]"
end

-- ---- time ----------------------------------------------------------------------------------------

local function only_time_keys(t)
  for k, v in pairs(t) do
    if (k ~= "seconds" and k ~= "nanos") or (type(v) ~= "number" and type(v) ~= "string") then return false end
  end
  return true -- {} too: a Timestamp or Duration of zero decodes to an empty table
end

local function timestamp_text(t)
  local ok, text = pcall(core.format_rfc3339, tonumber(t.seconds) or 0, t.nanos or 0)
  return ok and text or nil
end

-- "1.5s": the proto3 JSON form with the fraction's trailing zeros dropped.
local function duration_text(t)
  local s, n = tonumber(t.seconds) or 0, t.nanos or 0
  if type(n) ~= "number" then return nil end
  local sign = ""
  if s < 0 or n < 0 then sign, s, n = "-", -s, -n end
  local text = sign .. format("%.0f", s)
  if n ~= 0 then text = text .. gsub(format(".%09d", n), "0+$", "") end
  return text .. "s"
end

-- Without a schema type: a { seconds, nanos } table under a key that names a time or a
-- duration (created_time, expiry_time, check_duration, ...).
local function guess_time(key, t)
  if type(key) ~= "string" or not only_time_keys(t) then return nil end
  if find(key, "time$") or find(key, "_at$") or find(key, "^since") then return "google.protobuf.Timestamp" end
  if find(key, "duration$") or find(key, "_ttl$") or find(key, "interval$") then return "google.protobuf.Duration" end
  return nil
end

-- ---- schema --------------------------------------------------------------------------------

local fields_cache = {}
-- field name -> field of a message type, or nil for a type the schema does not know.
local function fields_of(type_name)
  local f = fields_cache[type_name]
  if f == nil then
    local d = core.describe(type_name)
    f = false
    if d and d.kind == "message" then
      f = {}
      for _, x in ipairs(d.fields) do f[x.name] = x end
      fields_cache[type_name] = f
      fields_cache[d.name] = f
    end
    fields_cache[type_name] = f
  end
  return f or nil
end

-- The type of the value under key k of a table typed `type_name`, and whether it is binary:
-- (element type, is_bytes, container kind: nil | "repeated" | "map").
local function field_info(type_name, k)
  local fields = type_name and fields_of(type_name)
  local f = fields and fields[k]
  if not f then return nil end
  local t = f.type == "message" and f.type_name or nil
  return t, f.type == "bytes", (f.label ~= "singular") and f.label or nil
end

-- ---- layout --------------------------------------------------------------------------------

local function sorted_keys(t)
  local n = #t
  local keys = {}
  for k in pairs(t) do
    local in_sequence = type(k) == "number" and k >= 1 and k <= n and k == floor(k)
    if not in_sequence then keys[#keys + 1] = k end
  end
  sort(keys, function(a, b)
    local ta, tb = type(a), type(b)
    if ta ~= tb then return ta < tb end
    if ta == "number" or ta == "string" then return a < b end
    return tostring(a) < tostring(b)
  end)
  return n, keys
end

local render -- forward

-- Renders table t at nesting `level`: on one line if it fits, else one entry per line.
-- ty: its message type (or nil); elem: for a repeated/map field, the type of its elements.
local function table_text(t, level, ctx, ty, container, binary)
  if ctx.seen[t] then return "<cycle>" end
  ctx.seen[t] = true
  local n, keys = sorted_keys(t)
  local parts = {}
  for i = 1, n do
    parts[i] = render(t[i], level + 1, ctx, container and ty or nil, nil, binary, nil)
  end
  for _, k in ipairs(keys) do
    local vty, vbin, vcontainer
    if container == "map" then
      vty, vbin = ty, binary
    else
      vty, vbin, vcontainer = field_info(ty, k)
    end
    local v = t[k]
    -- An empty repeated or map field is left out, as protobuf's printers do: decoded
    -- messages have one for every such field, and they bury what is set.
    if not (vcontainer and type(v) == "table" and next(v) == nil) then
      parts[#parts + 1] = key_text(k) .. " = " .. render(v, level + 1, ctx, vty, vcontainer, vbin, k)
    end
  end
  ctx.seen[t] = nil
  if #parts == 0 then return "{}" end
  local one = "{ " .. concat(parts, ", ") .. " }"
  if not find(one, "\n", 1, true) and #one + #ctx.indent * level <= ctx.width then return one end
  local pad = rep(ctx.indent, level + 1)
  return "{\n" .. pad .. concat(parts, ",\n" .. pad) .. "\n" .. rep(ctx.indent, level) .. "}"
end

-- v at `level`; ty: its message type if known; container: "repeated"/"map" when v is the whole
-- repeated or map field (ty is then its elements' type); binary: a bytes value; key: the key
-- v sits under (for the untyped time guess).
function render(v, level, ctx, ty, container, binary, key)
  local t = type(v)
  if t == "string" then return quote(v, binary) end
  if t == "number" then return number_text(v) end
  if t == "boolean" or t == "nil" then return tostring(v) end
  if v == null then return "null" end
  if v == empty_array then return "empty_array" end
  if t ~= "table" then return tostring(v) end
  local mt = getmetatable(v)
  if mt and mt.__tostring then return tostring(v) end
  if not container then
    ty = ty or guess_time(key, v)
    if ty == "google.protobuf.Timestamp" and only_time_keys(v) then
      local text = timestamp_text(v)
      if text then return quote(text) end
    elseif ty == "google.protobuf.Duration" and only_time_keys(v) then
      local text = duration_text(v)
      if text then return quote(text) end
    elseif ty == "google.protobuf.Any" and type(v.type_url) == "string" and type(v.value) == "string" then
      local inner, decoded = any.unpack(v)
      if inner then
        return "cloudops.pack_any(" .. quote(inner) .. ", " .. render(decoded, level, ctx, inner) .. ")"
      end
    elseif ty and find(ty, "^google%.protobuf%.") then
      ty = nil -- Struct, Value, ListValue: plain values
    end
  end
  return table_text(v, level, ctx, ty, container, binary)
end

--- Readable text of v. opts: type (the message type of v: full or short name), indent
-- (default two spaces), width (the line length short tables are kept within, default 100).
function pretty.format(v, opts)
  opts = opts or {}
  local ctx = { seen = {}, indent = opts.indent or "  ", width = opts.width or 100 }
  local ty = opts.type
  if ty then
    local d = core.describe(ty)
    if d and d.kind == "message" then ty = d.name else ty = nil end
  end
  return render(v, 0, ctx, ty)
end

--- Prints each argument's text on its own line(s).
function pretty.print(...)
  local n = select("#", ...)
  local out = {}
  for i = 1, n do out[i] = pretty.format((select(i, ...))) end
  print(concat(out, "\n"))
end

--- Text describing a message, enum or method of the schema (see cloudops.pretty.schema), or
-- nil, err.
function pretty.describe(name)
  return require("cloudops.pretty.schema").describe(name)
end

return pretty
