--- cloudops.json: the proto3 JSON mapping of messages (docs/reference.md "cloudops.json").
--
--   local json = require "cloudops.json"
--   local text = json.encode("GetNamespacesResponse", resp)              -- or nil, err
--   local req, err = json.decode("CreateNamespaceRequest", '{"spec": {"name": "dev"}}')
--
-- encode writes what protobuf's MessageToJson writes for the same message (lowerCamelCase
-- json names, fields at their default left out, 64-bit integers as strings, enums as names,
-- Timestamp as RFC 3339, Duration as "1.500s", bytes as base64, Struct/Value/ListValue as
-- plain JSON, Any as {"@type": ..., fields}). decode accepts that and the other spellings the
-- mapping allows, and returns the table cloudops.decode would give for the same message.
local core = require "cloudops.core"
local types = require "cloudops.json.types"
local writer = require "cloudops.json.writer"
local reader = require "cloudops.json.reader"
local encoder = require "cloudops.json.encode"
local decoder = require "cloudops.json.decode"

local type, pairs, pcall, error, tostring = type, pairs, pcall, error, tostring

local json = {}

local ENCODE_OPTIONS = { indent = true, proto_names = true }

local function message_type(fn, type_name)
  if type(type_name) ~= "string" then
    error("cloudops.json." .. fn .. " expects a message type name, got " .. type(type_name), 3)
  end
  local m, err = types.message(type_name)
  if not m then error("cloudops.json." .. fn .. ": " .. tostring(err), 3) end
  return m
end

--- JSON text of message `type_name`'s table `tbl`, or nil, err when the message has no JSON
-- form (an Any of a type the schema lacks, a Timestamp outside years 1..9999, a NaN in a
-- Struct). Raises, as cloudops.encode does, when tbl does not fit the schema.
-- opts: indent (true: 2 spaces, a number of spaces, or a string; default compact),
-- proto_names (true: the proto field names instead of the lowerCamelCase json names).
function json.encode(type_name, tbl, opts)
  local m = message_type("encode", type_name)
  local ctx = { proto_names = false }
  if opts ~= nil then
    if type(opts) ~= "table" then error("cloudops.json.encode: options must be a table", 2) end
    for k in pairs(opts) do
      if not ENCODE_OPTIONS[k] then error("cloudops.json.encode: unknown option '" .. tostring(k) .. "'", 2) end
    end
    ctx.indent = writer.indent_of(opts.indent)
    ctx.proto_names = opts.proto_names and true or false
  end
  return encoder.message(m.name, tbl, ctx, 2)
end

--- The table of message `type_name` from JSON text (as cloudops.decode would return it), or
-- nil, err for text that is not JSON or does not fit the message (the err names the path).
function json.decode(type_name, text)
  local m = message_type("decode", type_name)
  if type(text) ~= "string" then error("cloudops.json.decode expects JSON text, got " .. type(text), 2) end
  local v, err = reader.decode(text)
  if v == nil then return nil, err end
  local t, terr = decoder.message(m, v)
  if not t then return nil, terr end
  -- The core checks what JSON cannot (ranges, UTF-8) and gives the one decoded form.
  local ok, bytes = pcall(core.encode, m.name, t)
  if not ok then return nil, tostring(bytes) end
  return core.decode(m.name, bytes)
end

--- JSON text of any plain Lua value (not schema-driven): objects with sorted keys,
-- cloudops.null as null, cloudops.empty_array as []. For tools printing describe() tables.
-- Returns nil, err for what JSON cannot hold (functions, NaN). opts: indent.
function json.encode_value(v, opts)
  local indent = writer.indent_of(opts and opts.indent)
  local ok, text = pcall(writer.plain, v, 0, indent)
  if ok then return text end
  if type(text) == "table" and text.json_error then return nil, text.json_error end
  error(text, 0)
end

--- The Lua value of any JSON text (not schema-driven; null is cloudops.null, [] is
-- cloudops.empty_array), or nil, err.
function json.decode_value(text)
  if type(text) ~= "string" then error("cloudops.json.decode_value expects JSON text, got " .. type(text), 2) end
  return reader.decode(text)
end

return json
