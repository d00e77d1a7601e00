--- Error values: tables with a __tostring, never bare strings (docs/reference.md "Errors").
local core = require "cloudops.core"
local codes = require "cloudops.codes"
local any = require "cloudops.any"
local diagnosis = require "cloudops.diagnosis"

local setmetatable, getmetatable, ipairs, type, pcall = setmetatable, getmetatable, ipairs, type, pcall
local format = string.format

local errors = {}

local Error = {}
Error.__index = Error

function Error:__tostring()
  local where = self.method and (self.method .. ": ") or ""
  local what = self.code and format("%s (%d)", self.name, self.code) or self.name
  local msg = (self.message and self.message ~= "") and (": " .. self.message) or ""
  local attempts = (self.attempts and self.attempts > 1) and format(" [after %d attempts]", self.attempts) or ""
  return where .. what .. msg .. attempts
end

--- Whether v is one of our error values.
function errors.is(v)
  return type(v) == "table" and getmetatable(v) == Error
end

--- An error made on the client side (no gRPC code), e.g. errors.new("API_KEY", "...").
function errors.new(name, message, fields)
  local e = fields or {}
  e.name, e.message = name, message
  return setmetatable(e, Error)
end

local DETAILS_KEY = "grpc-status-details-bin"
-- Whose table is data, not fields: shown under `value`, as proto3 JSON shows them in an Any.
local PLAIN = { ["google.protobuf.Struct"] = true, ["google.protobuf.Value"] = true,
                ["google.protobuf.ListValue"] = true }

-- An Any as a table of its fields plus ["@type"] (as proto3 JSON shows an Any), or
-- { ["@type"] =, value = } for a plain value, and for what does not decode (a type this schema
-- does not know, no type at all, malformed bytes: value is then the bytes, "" for none, which
-- proto3 leaves off the wire).
local function decode_any(a)
  local name, t = any.unpack(a)
  if not name then return { ["@type"] = any.type_name(a.type_url), value = a.value or "" } end
  local full = core.describe(name).name
  if PLAIN[full] then return { ["@type"] = name, value = t } end
  t["@type"] = name
  return t
end

--- The details a server put in grpc-status-details-bin, decoded, or an empty table: whatever
-- the server sent, this never raises (bytes that are no Status give no details).
function errors.details(trailers)
  local bin = type(trailers) == "table" and trailers[DETAILS_KEY]
  if type(bin) ~= "string" then return {} end
  local ok, status = pcall(core.decode, "google.rpc.Status", bin)
  local out = {}
  if not ok or type(status) ~= "table" then return out end
  for i, a in ipairs(status.details) do out[i] = decode_any(a) end
  return out
end

--- The error for a failed RPC.
function errors.from_status(method, code, message, trailers, headers)
  -- A grpc-status outside the 17 codes (a broken server's 99, -1) is UNKNOWN, as gRPC's own
  -- clients take it; the value sent is kept apart, so that code is always one of the codes.
  local raw_code
  if type(code) ~= "number" or type(codes[code]) ~= "string" then code, raw_code = codes.UNKNOWN, code end
  -- A connection that cannot succeed names its likely cause first (cloudops.diagnosis).
  local cause = diagnosis.cause(code, message)
  if cause then message = cause .. " (" .. message .. ")" end
  return setmetatable({
    code = code,
    raw_code = raw_code,
    name = codes[code],
    message = message,
    method = method,
    trailers = trailers,
    headers = headers,
    details = errors.details(trailers),
  }, Error)
end

return errors
