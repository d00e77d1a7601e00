--- Schema facts the JSON mapping needs, looked up once per type from cloudops.core's
-- describe(): fields in field-number order (the order protobuf's printers use), lookup by
-- proto name and by json_name, and enum values both ways.
local core = require "cloudops.core"

local ipairs, sort, error, tostring = ipairs, table.sort, error, tostring
local describe = core.describe

local types = {}

local messages, enums = {}, {}

local function by_number(a, b) return a.number < b.number end

--- The message `name` (full, or short where unique): { name, short_name, fields (sorted),
-- by_name, by_json }, or nil, err.
function types.message(name)
  local m = messages[name]
  if m then return m end
  local d, err = describe(name)
  if not d then return nil, err or ("unknown message " .. tostring(name)) end
  if d.kind ~= "message" then return nil, tostring(name) .. " is not a message (" .. tostring(d.kind) .. ")" end
  m = messages[d.name]
  if not m then
    local fields, by_name, by_json = {}, {}, {}
    for i, f in ipairs(d.fields) do
      fields[i] = f
      by_name[f.name] = f
      by_json[f.json_name or f.name] = f
    end
    sort(fields, by_number)
    m = { name = d.name, short_name = d.short_name, fields = fields, by_name = by_name, by_json = by_json }
    messages[d.name] = m
  end
  messages[name] = m
  return m
end

--- The enum `name` (full): { name, by_name = { NAME = number }, by_number = { [n] = NAME },
-- names (in schema order), zero = the name of value 0 }. Raises for an unknown enum (the schema is built in).
function types.enum(name)
  local e = enums[name]
  if e then return e end
  local d = describe(name)
  if not (d and d.kind == "enum") then error("cloudops.json: unknown enum " .. tostring(name)) end
  e = { name = d.name, by_name = {}, by_number = {}, names = {} }
  for i, v in ipairs(d.values) do
    e.by_name[v.name] = v.number
    e.names[i] = v.name
    -- An alias keeps the first name, as protobuf's printers do.
    if e.by_number[v.number] == nil then e.by_number[v.number] = v.name end
  end
  e.zero = e.by_number[0]
  enums[name] = e
  return e
end

-- The well-known types with a JSON form of their own (the proto3 JSON mapping).
types.WKT = {
  ["google.protobuf.Timestamp"] = "timestamp",
  ["google.protobuf.Duration"] = "duration",
  ["google.protobuf.Struct"] = "struct",
  ["google.protobuf.Value"] = "value",
  ["google.protobuf.ListValue"] = "list",
  ["google.protobuf.Any"] = "any",
  ["google.protobuf.FieldMask"] = "field_mask",
}

types.TYPE_PREFIX = require("cloudops.any").TYPE_PREFIX

return types
