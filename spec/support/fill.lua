--- Deterministic "every field filled" tables for every message type of the schema, built from
-- cloudops.core's describe(). spec/support/crosscheck.py implements the same algorithm
-- independently over Python descriptors: keep the two in step (the rules are below, in both).
--
-- The fill of a message at depth d (the root is at depth 0), field by field, where N is the
-- field's number and i the element index (0 for a singular field, 1 and 2 for the two elements
-- of a repeated field or the two entries of a map):
--   oneof        only the member with the lowest field number is set
--   message      the fill of its type at depth d + 1, left unset when d + 1 > 3 (a repeated or
--                map field of messages is then an empty table)
--   int32 etc.   N*1000 + i, negated when N is odd (not in google.* messages)
--   int64 etc.   8589934592 (2^33) + N*1000 + i, negated when N is odd (not in google.*)
--   uint32       4294967295 - N*1000 - i
--   uint64       1099511627776 (2^40) + N*1000 + i
--   double       N + 0.5 + i/4          float   N + 0.25 + i/8
--   bool         true
--   string       <field name>-<i>-ünï漢🙂
--   bytes        "\0\255\128" .. <field name> .. "-" .. i
--   enum         the value with the largest number (by name)
--   map keys     string: "key<i>-ключ"; integers: N*10 + i
--   Struct       STRUCT(N), Value: STRUCT(N) as a value, ListValue: LIST(N) (the root: N = 0)
--     STRUCT(n) = { str = "s<n>-é", num = n + 0.5, yes = true, no = false, none = null,
--                   list = LIST(n), obj = { inner = "x<n>" }, empty_obj = {} }
--     LIST(n)   = { "a<n>", n + 0.25, true, null, { k = "ü" }, empty_array }
local fill = {}

fill.MAX_DEPTH = 3

local ROOT = (debug.getinfo(1, "S").source:match("^@(.*)spec/support/fill%.lua$") or "./")
if ROOT == "" then ROOT = "./" end

local function read_file(path)
  local f = assert(io.open(path, "rb"), "cannot read " .. path .. " (run make)")
  local s = f:read("*a")
  f:close()
  return s
end

--- Every message full name the build registered (build/gen/registry.c, co_message_extra[]),
-- in the file's (sorted) order.
function fill.registry_names()
  local src = read_file(ROOT .. "build/gen/registry.c")
  local block = assert(src:match("co_message_extra%[%] = {(.-)\n};"), "co_message_extra[] not found in registry.c")
  local names = {}
  for name in block:gmatch('\n  { "([^"]+)"') do names[#names + 1] = name end
  return names
end

--- Every message type built in: core.messages() where the core has it, else the registry's list.
function fill.message_names()
  local core = require "cloudops.core"
  if core.messages then return core.messages() end
  return fill.registry_names()
end

--- A filler bound to a core module: filler:message(type_name) returns a fresh table.
function fill.new(core)
  local null, empty_array = core.null, core.empty_array
  local described, enum_cache = {}, {}

  local function describe(name)
    local d = described[name]
    if not d then
      d = assert(core.describe(name), "describe does not know " .. name)
      table.sort(d.fields, function(a, b) return a.number < b.number end)
      described[name] = d
    end
    return d
  end

  -- The name of the enum's value with the largest number.
  local function enum_value(type_name)
    local v = enum_cache[type_name]
    if v then return v end
    local d = core.describe(type_name)
    assert(d and d.kind == "enum", "describe does not know the enum " .. type_name)
    local best
    for _, value in ipairs(d.values) do
      if not best or value.number > best.number then best = value end
    end
    enum_cache[type_name] = best.name
    return best.name
  end

  local function list_form(n)
    return { "a" .. n, n + 0.25, true, null, { k = "ü" }, empty_array }
  end
  local function struct_form(n)
    return { str = "s" .. n .. "-é", num = n + 0.5, yes = true, no = false, none = null,
             list = list_form(n), obj = { inner = "x" .. n }, empty_obj = {} }
  end

  local message

  local function scalar(msg_name, f, ftype, type_name, i, depth)
    local N = f.number
    local google = msg_name:find("^google%.") ~= nil
    if ftype == "int32" or ftype == "sint32" or ftype == "sfixed32" then
      local v = N * 1000 + i
      if N % 2 == 1 and not google then v = -v end
      return v
    elseif ftype == "int64" or ftype == "sint64" or ftype == "sfixed64" then
      local v = 8589934592 + N * 1000 + i
      if N % 2 == 1 and not google then v = -v end
      return v
    elseif ftype == "uint32" or ftype == "fixed32" then
      return 4294967295 - N * 1000 - i
    elseif ftype == "uint64" or ftype == "fixed64" then
      return 1099511627776 + N * 1000 + i
    elseif ftype == "double" then
      return N + 0.5 + i / 4
    elseif ftype == "float" then
      return N + 0.25 + i / 8
    elseif ftype == "bool" then
      return true
    elseif ftype == "string" then
      return f.name .. "-" .. i .. "-ünï漢🙂"
    elseif ftype == "bytes" then
      return "\0\255\128" .. f.name .. "-" .. i
    elseif ftype == "enum" then
      return enum_value(type_name)
    elseif ftype == "message" then
      if depth + 1 > fill.MAX_DEPTH then return nil end
      if type_name == "google.protobuf.Struct" or type_name == "google.protobuf.Value" then
        return struct_form(N + i)
      elseif type_name == "google.protobuf.ListValue" then
        return list_form(N + i)
      end
      return message(type_name, depth + 1)
    end
    error("fill: unsupported field type " .. tostring(ftype) .. " of " .. msg_name .. "." .. f.name)
  end

  local function map_key(f, i)
    local kt = f.key_type
    if kt == "string" then return "key" .. i .. "-ключ" end
    if kt:find("int") or kt:find("fixed") then return f.number * 10 + i end
    error("fill: unsupported map key type " .. kt)
  end

  function message(name, depth)
    if name == "google.protobuf.Struct" or name == "google.protobuf.Value" then return struct_form(0) end
    if name == "google.protobuf.ListValue" then return list_form(0) end
    local d = describe(name)
    local t, oneof_done = {}, {}
    for _, f in ipairs(d.fields) do
      if f.label == "repeated" then
        local list = {}
        for i = 1, 2 do list[#list + 1] = scalar(name, f, f.type, f.type_name, i, depth) end
        t[f.name] = list
      elseif f.label == "map" then
        local map = {}
        for i = 1, 2 do
          local v = scalar(name, f, f.type, f.type_name, i, depth)
          if v ~= nil then map[map_key(f, i)] = v end
        end
        t[f.name] = map
      elseif f.oneof then
        if not oneof_done[f.oneof] then -- fields are sorted by number: this is the lowest
          oneof_done[f.oneof] = true
          t[f.name] = scalar(name, f, f.type, f.type_name, 0, depth)
        end
      else
        t[f.name] = scalar(name, f, f.type, f.type_name, 0, depth)
      end
    end
    return t
  end

  local filler = {}
  function filler:message(name) return message(name, 0) end
  return filler
end

--- Hex text of a byte string, and back.
function fill.hex(s)
  return (s:gsub(".", function(c) return string.format("%02x", c:byte()) end))
end

function fill.unhex(h)
  return (h:gsub("%x%x", function(x) return string.char(tonumber(x, 16)) end))
end

return fill
