--- google.protobuf.Any ({ type_url =, value = }) packed and unpacked with the schema built in:
-- one place for what cloudops.pack_any/unpack_any, error details and the pretty-printer need.
local core = require "cloudops.core"

local pcall, type = pcall, type

local any = { TYPE_PREFIX = "type.googleapis.com/" }

--- The message type an Any's type_url names (what follows its last '/'); "" for none.
function any.type_name(type_url)
  return type(type_url) == "string" and type_url:match("[^/]*$") or ""
end

--- type_name, value (a table but for google.protobuf.Value and ListValue); or nil, err for an
-- Any without a type, a type this schema does not know or bytes that do not decode.
function any.unpack(a)
  local name = any.type_name(a.type_url)
  if name == "" then return nil, "the Any names no message type (type_url " .. tostring(a.type_url) .. ")" end
  if a.value ~= nil and type(a.value) ~= "string" then return nil, "the Any's value is not a string" end
  local ok, t, err = pcall(core.decode, name, a.value or "")
  if not ok then return nil, t end
  if not t then return nil, err end
  return name, t
end

--- An Any holding tbl encoded as type_name; raises as core.encode does.
function any.pack(type_name, tbl)
  local bytes = core.encode(type_name, tbl)
  return { type_url = any.TYPE_PREFIX .. core.describe(type_name).name, value = bytes }
end

return any
