--- Message tables -> proto3 JSON text. The table given is first run through the C core
-- (encode, then decode): that checks it against the schema (raising with the path, as
-- cloudops.encode does) and turns every accepted input form (enum numbers, RFC 3339 text,
-- seconds) into the one decoded form, so the JSON is exactly that of the message's bytes, as
-- protobuf's MessageToJson prints them: json_name keys, fields at their default value left
-- out (oneof members excepted), 64-bit integers as strings, enums as names.
local core = require "cloudops.core"
local types = require "cloudops.json.types"
local writer = require "cloudops.json.writer"
local base64 = require "cloudops.json.base64"

local type, tostring, tonumber, pairs, ipairs, pcall, error, next =
  type, tostring, tonumber, pairs, ipairs, pcall, error, next
local format, match, gsub, upper = string.format, string.match, string.gsub, string.upper
local floor = math.floor
local sort, concat = table.sort, table.concat
local quote, integer, double, float, plain = writer.quote, writer.integer, writer.double, writer.float, writer.plain
local object, array, finite = writer.object, writer.array, writer.finite
local WKT = types.WKT

local encode = {}

-- Failures that are not programming mistakes (an Any of a type this schema lacks, a time out
-- of RFC 3339's range) travel as { json_error = message } to the pcall in encode.message.
local function fail(path, message)
  error({ json_error = path .. ": " .. message }, 0)
end

local INT32 = { int32 = true, sint32 = true, sfixed32 = true, uint32 = true, fixed32 = true }
local INT64 = { int64 = true, sint64 = true, sfixed64 = true, uint64 = true, fixed64 = true }
local UNSIGNED64 = { uint64 = true, fixed64 = true }

-- Duration text as protobuf prints it: "1s", "1.500s", "0.000001500s", "-2.250s".
local function duration_text(d)
  local s, n = tonumber(d.seconds) or 0, d.nanos or 0
  local sign = ""
  if s < 0 or n < 0 then sign, s, n = "-", -s, -n end
  local frac = ""
  if n % 1000000000 ~= 0 then
    if n % 1000000 == 0 then frac = format(".%03d", floor(n / 1000000))
    elseif n % 1000 == 0 then frac = format(".%06d", floor(n / 1000))
    else frac = format(".%09d", n) end
  end
  return sign .. integer(s) .. frac .. "s"
end
encode.duration_text = duration_text

-- A proto field name in lowerCamelCase (FieldMask paths).
local function camel(name)
  return (gsub(name, "_(%l)", upper))
end

local message -- forward

-- Whether a singular, non-oneof field holds its default (MessageToJson leaves those out).
local function is_default(f, v)
  local ty = f.type
  if ty == "message" then return false end
  if ty == "enum" then return v == 0 or v == types.enum(f.type_name).zero end
  if ty == "string" or ty == "bytes" then return v == "" end
  if ty == "bool" then return v == false end
  return v == 0 or v == "0"
end

-- One value of field f (an element, for repeated and map fields).
local function value(f, v, level, ctx, path)
  local ty = f.type
  if ty == "message" then return message(f.type_name, v, level, ctx, path)
  elseif ty == "string" then return quote(v)
  elseif ty == "enum" then
    if f.type_name == "google.protobuf.NullValue" then return "null" end
    if type(v) == "number" then return integer(v) end -- a number this schema does not name
    return quote(v)
  elseif ty == "bool" then return v and "true" or "false"
  elseif INT64[ty] then return '"' .. integer(v, UNSIGNED64[ty]) .. '"'
  elseif INT32[ty] then return integer(v)
  elseif ty == "bytes" then return quote(base64.encode(v))
  elseif ty == "double" or ty == "float" then
    if v ~= v then return '"NaN"' end
    if not finite(v) then return v > 0 and '"Infinity"' or '"-Infinity"' end
    return ty == "float" and float(v) or double(v)
  end
  error("cloudops.json: unsupported field type " .. tostring(ty) .. " at " .. path)
end

local function key_less(a, b) return a < b end

-- The keys and rendered values of a regular message's fields, in field-number order.
local function fields(m, t, level, ctx, path, keys, values)
  local n = #keys
  for _, f in ipairs(m.fields) do
    local v = t[f.name]
    if v ~= nil then
      local fpath = path .. "." .. f.name
      local text
      if f.label == "repeated" then
        if v ~= core.empty_array and #v > 0 then
          local items = {}
          for i = 1, #v do items[i] = value(f, v[i], level + 2, ctx, fpath .. "[" .. i .. "]") end
          text = array(items, level + 1, ctx.indent)
        end
      elseif f.label == "map" then
        if next(v) ~= nil then
          local mkeys, names, items = {}, {}, {}
          for k in pairs(v) do mkeys[#mkeys + 1] = k end
          sort(mkeys, key_less)
          for i, k in ipairs(mkeys) do
            names[i] = type(k) == "boolean" and tostring(k) or (type(k) == "number" and integer(k)) or k
            items[i] = value(f, v[k], level + 2, ctx, fpath .. "[" .. tostring(k) .. "]")
          end
          text = object(names, items, level + 1, ctx.indent)
        end
      elseif f.oneof or not is_default(f, v) then
        text = value(f, v, level + 1, ctx, fpath)
      end
      if text then
        n = n + 1
        keys[n] = ctx.proto_names and f.name or (f.json_name or f.name)
        values[n] = text
      end
    end
  end
  return keys, values
end

local function any(t, level, ctx, path)
  local url, bytes = t.type_url or "", t.value or ""
  if url == "" and bytes == "" then return "{}" end
  local type_name = match(url, "[^/]*$")
  local m = types.message(type_name)
  if not m then fail(path, "Any of type '" .. url .. "', which this schema does not have") end
  local ok, inner, err = pcall(core.decode, m.name, bytes)
  if not (ok and inner) then
    fail(path, "Any of type " .. m.name .. " holds malformed bytes: " .. tostring(err or inner))
  end
  if WKT[m.name] then
    return object({ "@type", "value" }, { quote(url), message(m.name, inner, level + 1, ctx, path .. ".value") },
                  level, ctx.indent)
  end
  local keys, values = fields(m, inner, level, ctx, path, { "@type" }, { quote(url) })
  return object(keys, values, level, ctx.indent)
end

-- A message value: the well-known types' own forms, or an object of its fields.
function message(name, t, level, ctx, path)
  local kind = WKT[name]
  if kind == "timestamp" then
    local text, err = core.format_rfc3339(t.seconds or 0, t.nanos or 0)
    if not text then fail(path, tostring(err)) end
    return quote(text)
  elseif kind == "duration" then return quote(duration_text(t))
  elseif kind == "struct" or kind == "value" or kind == "list" then
    return plain(t, level, ctx.indent, path)
  elseif kind == "any" then return any(t, level, ctx, path)
  elseif kind == "field_mask" then
    local paths = {}
    for i, p in ipairs(t.paths or {}) do paths[i] = camel(p) end
    return quote(concat(paths, ","))
  end
  local m = types.message(name)
  local keys, values = fields(m, t, level, ctx, path, {}, {})
  return object(keys, values, level, ctx.indent)
end

--- The JSON text of message `type_name`'s table t, or nil, err for what JSON cannot hold.
-- Raises, at stack level errlevel (counted from the caller), when t does not fit the schema.
-- ctx: { indent = string or nil, proto_names = boolean }.
function encode.message(type_name, t, ctx, errlevel)
  local m, merr = types.message(type_name)
  if not m then error("cloudops.json.encode: " .. tostring(merr), errlevel + 1) end
  local ok, bytes = pcall(core.encode, m.name, t)
  if not ok then error(bytes, errlevel + 1) end
  local canonical = core.decode(m.name, bytes)
  local done, text = pcall(message, m.name, canonical, 0, ctx, m.short_name)
  if done then return text end
  if type(text) == "table" and text.json_error then return nil, text.json_error end
  error(text, 0)
end

return encode
