--- Proto3 JSON values (as lua-cjson parsed them) -> message tables, guided by the schema.
-- Both the json_name and the proto name of a field are accepted; null leaves a field unset
-- (google.protobuf.Value excepted); 64-bit integers come as strings or as numbers below 2^53;
-- enums as names or numbers; bytes as base64 (either alphabet). Errors name the JSON path.
local core = require "cloudops.core"
local types = require "cloudops.json.types"
local base64 = require "cloudops.json.base64"
local writer = require "cloudops.json.writer"
local nearest = require "cloudops.nearest"

local type, tostring, tonumber, pairs, ipairs, pcall, error, next =
  type, tostring, tonumber, pairs, ipairs, pcall, error, next
local match, find, gsub, format, sub = string.match, string.find, string.gsub, string.format, string.sub
local floor, huge = math.floor, math.huge
local math_type, tointeger = math.type, math.tointeger -- nil on LuaJIT
local null, empty_array = core.null, core.empty_array
local WKT = types.WKT

local decode = {}

local function fail(path, message)
  error({ json_error = path .. ": " .. message }, 0)
end

local function describe_json(v)
  if v == null then return "null" end
  if v == empty_array then return "an array" end
  local t = type(v)
  if t == "table" then return (v[1] ~= nil) and "an array" or "an object" end
  if t == "string" then return format("string %q", #v > 40 and sub(v, 1, 40) .. "..." or v) end
  if t == "number" then return "number " .. writer.double(v) end
  if t == "boolean" then return "boolean " .. tostring(v) end
  return t
end

local function is_object(v)
  return type(v) == "table" and (v[1] == nil or next(v) == nil)
end

local function is_array(v)
  return v == empty_array or (type(v) == "table" and (next(v) == nil or v[1] ~= nil))
end

local INT32 = { int32 = true, sint32 = true, sfixed32 = true, uint32 = true, fixed32 = true }
local INT64 = { int64 = true, sint64 = true, sfixed64 = true, uint64 = true, fixed64 = true }
local TWO53 = 9007199254740992

-- An integral number as a Lua integer where the Lua has them (cjson gives floats).
local function as_integer(d)
  if tointeger then return tointeger(d) end
  return d
end

-- An integer field's value from a JSON number or decimal string.
local function integer(v, path)
  local t = type(v)
  if t == "number" then
    if v ~= floor(v) or v ~= v or v == huge or v == -huge then
      fail(path, "expected an integer, got " .. describe_json(v))
    end
    -- A JSON number this large was rounded by the parser already: refuse it rather than send
    -- a value nobody wrote. protobuf's printers quote 64-bit integers, which avoids this.
    if v >= TWO53 or v <= -TWO53 then
      fail(path, "integer " .. format("%.0f", v) .. " is beyond 2^53 as a JSON number; quote it (\"" ..
        format("%.0f", v) .. "\")")
    end
    return as_integer(v)
  elseif t == "string" then
    if not match(v, "^%-?%d+$") then fail(path, "expected an integer, got " .. describe_json(v)) end
    local n = tonumber(v)
    if math_type then
      -- Lua 5.4 reads a decimal that fits 64 bits as an integer, exactly; a larger one (a
      -- uint64 above 2^63, or out of range) goes to the core as text, which decides.
      if math_type(n) == "integer" then return n end
      return v
    end
    -- LuaJIT: doubles up to 2^53, the decimal string beyond (docs/reference.md "Messages as
    -- tables").
    if n < TWO53 and n > -TWO53 then return n end
    return v
  end
  fail(path, "expected an integer, got " .. describe_json(v))
end

local FLOAT_WORDS = { NaN = 0 / 0, Infinity = huge, ["-Infinity"] = -huge }

local function floating(v, path)
  if type(v) == "number" then return v end
  if type(v) == "string" then
    local w = FLOAT_WORDS[v]
    if w then return w end
    if match(v, "^%-?%d+%.?%d*[eE]?[%-+]?%d*$") or match(v, "^%-?%.%d+") then
      local n = tonumber(v)
      if n then return n + 0.0 end
    end
  end
  fail(path, "expected a number, got " .. describe_json(v))
end

-- The field names of a message a key may be (proto and json names), for "did you mean".
local function field_names(m)
  local names = {}
  for _, f in ipairs(m.fields) do
    names[#names + 1] = f.name
    if f.json_name and f.json_name ~= f.name then names[#names + 1] = f.json_name end
  end
  return names
end

local message -- forward

-- One value for field f (an element, for repeated and map fields).
local function value(f, v, path)
  local ty = f.type
  if ty == "message" then return message(f.type_name, v, path)
  elseif ty == "string" then
    if type(v) ~= "string" then fail(path, "expected a string, got " .. describe_json(v)) end
    return v
  elseif ty == "enum" then
    local e = types.enum(f.type_name)
    if type(v) == "string" then
      if e.by_name[v] == nil then
        fail(path, "'" .. v .. "' is not a value of " .. e.name .. nearest.hint(v, e.names))
      end
      return v
    elseif type(v) == "number" then
      return integer(v, path)
    elseif v == null and e.name == "google.protobuf.NullValue" then
      return e.zero
    end
    fail(path, "expected an enum name of " .. e.name .. ", got " .. describe_json(v))
  elseif ty == "bool" then
    if type(v) ~= "boolean" then fail(path, "expected true or false, got " .. describe_json(v)) end
    return v
  elseif INT32[ty] or INT64[ty] then return integer(v, path)
  elseif ty == "double" or ty == "float" then return floating(v, path)
  elseif ty == "bytes" then
    if type(v) ~= "string" then fail(path, "expected base64 text, got " .. describe_json(v)) end
    local bytes, err = base64.decode(v)
    if not bytes then fail(path, err) end
    return bytes
  end
  error("cloudops.json: unsupported field type " .. tostring(ty) .. " at " .. path)
end

-- A map key from its JSON (string) form.
local function map_key(f, k, path)
  local kt = f.key_type
  if kt == "string" then return k end
  if kt == "bool" then
    if k == "true" then return true elseif k == "false" then return false end
    fail(path, "map key '" .. k .. "' is not true or false")
  end
  return integer(k, path .. "[" .. k .. "]")
end

-- A Struct/Value/ListValue from JSON: the plain value as it is (null and [] already mapped).
local function plain(kind, v, path)
  if kind == "struct" and not is_object(v) then fail(path, "expected an object, got " .. describe_json(v)) end
  if kind == "list" and not is_array(v) then fail(path, "expected an array, got " .. describe_json(v)) end
  if kind == "list" and type(v) == "table" and next(v) == nil then return empty_array end
  return v
end

local function any(v, path)
  if not is_object(v) then fail(path, "expected an object, got " .. describe_json(v)) end
  if next(v) == nil then return {} end
  local url = v["@type"]
  if type(url) ~= "string" then fail(path, "an Any needs \"@type\"") end
  local m = types.message(match(url, "[^/]*$"))
  if not m then fail(path, "Any of type '" .. url .. "', which this schema does not have") end
  local inner
  if WKT[m.name] then
    inner = message(m.name, v.value, path .. ".value")
  else
    local rest = {}
    for k, x in pairs(v) do if k ~= "@type" then rest[k] = x end end
    inner = message(m.name, rest, path)
  end
  local ok, bytes = pcall(core.encode, m.name, inner)
  if not ok then fail(path, tostring(bytes)) end
  return { type_url = url, value = bytes }
end

-- A message value: the well-known types' own forms, or an object of fields.
function message(name, v, path)
  local kind = WKT[name]
  if kind == "timestamp" then
    if type(v) ~= "string" then fail(path, "expected RFC 3339 text, got " .. describe_json(v)) end
    local s, n = core.parse_rfc3339(v)
    if not s then fail(path, tostring(n)) end
    return { seconds = s, nanos = n }
  elseif kind == "duration" then
    if type(v) ~= "string" or not find(v, "s$") then
      fail(path, "expected a duration like \"1.5s\", got " .. describe_json(v))
    end
    local s, n = core.parse_duration(v)
    if not s then fail(path, tostring(n)) end
    return { seconds = s, nanos = n }
  elseif kind == "struct" or kind == "value" or kind == "list" then
    return plain(kind, v, path)
  elseif kind == "any" then
    return any(v, path)
  elseif kind == "field_mask" then
    if type(v) ~= "string" then fail(path, "expected a field mask string, got " .. describe_json(v)) end
    local paths = {}
    for p in v:gmatch("[^,]+") do paths[#paths + 1] = (gsub(p, "(%u)", function(c) return "_" .. c:lower() end)) end
    return { paths = paths }
  end
  if not is_object(v) then fail(path, "expected an object, got " .. describe_json(v)) end
  local m = types.message(name)
  local t, seen, oneofs = {}, {}, {}
  for k, x in pairs(v) do
    if type(k) ~= "string" then fail(path, "unexpected array element") end
    local f = m.by_json[k] or m.by_name[k]
    local fpath = path .. "." .. k
    if not f then
      fail(fpath, "no such field in " .. m.name .. nearest.hint(k, field_names(m)))
    end
    if seen[f.name] then
      fail(path, "field " .. f.name .. " given twice ('" .. seen[f.name] .. "' and '" .. k .. "')")
    end
    seen[f.name] = k
    if x == null then
      -- null is the default, except for a google.protobuf.Value (a JSON null) or NullValue.
      if f.label == "singular" and (f.type_name == "google.protobuf.Value" or
                                     f.type_name == "google.protobuf.NullValue") then
        t[f.name] = value(f, x, fpath)
      end
    elseif f.label == "repeated" then
      if not is_array(x) then fail(fpath, "expected an array, got " .. describe_json(x)) end
      local list = {}
      if x ~= empty_array then
        for i, e in ipairs(x) do
          if e == null then fail(fpath .. "[" .. i .. "]", "null is not allowed in a repeated field") end
          list[i] = value(f, e, fpath .. "[" .. i .. "]")
        end
      end
      t[f.name] = list
    elseif f.label == "map" then
      if not is_object(x) then fail(fpath, "expected an object, got " .. describe_json(x)) end
      local map = {}
      for mk, e in pairs(x) do
        local epath = fpath .. "[" .. tostring(mk) .. "]"
        if e == null then fail(epath, "null is not allowed as a map value") end
        map[map_key(f, mk, fpath)] = value(f, e, epath)
      end
      t[f.name] = map
    else
      if f.oneof then
        if oneofs[f.oneof] then
          fail(path, "oneof " .. f.oneof .. " has two members set: " .. oneofs[f.oneof] .. " and " .. f.name)
        end
        oneofs[f.oneof] = f.name
      end
      t[f.name] = value(f, x, fpath)
    end
  end
  return t
end

--- The table of message `type_name` from parsed JSON, or nil, message.
function decode.message(m, v)
  local ok, t = pcall(message, m.name, v, m.short_name)
  if ok then return t end
  if type(t) == "table" and t.json_error then return nil, t.json_error end
  error(t, 0)
end

return decode
