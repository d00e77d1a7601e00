--- Error values: tables with a __tostring, never bare strings (API.md "Errors").
local core = require "cloudops.core"
local codes = require "cloudops.codes"
local any = require "cloudops.any"
local diagnosis = require "cloudops.diagnosis"

local setmetatable, getmetatable, ipairs, type = setmetatable, getmetatable, ipairs, type
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
-- An Any as a table of its fields plus ["@type"] (as proto3 JSON shows an Any), or
-- { ["@type"] =, value = bytes } for a type this schema does not know.
local function decode_any(a)
  local name, t = any.unpack(a)
  if not name then name, t = any.type_name(a.type_url or ""), { value = a.value } end
  t["@type"] = name
  return t
end

--- The details a server put in grpc-status-details-bin, decoded, or an empty table.
function errors.details(trailers)
  local bin = trailers and trailers[DETAILS_KEY]
  if not bin then return {} end
  local status = core.decode("google.rpc.Status", bin)
  local out = {}
  for i, any in ipairs(status and status.details or {}) do out[i] = decode_any(any) end
  return out
end

--- The error for a failed RPC.
function errors.from_status(method, code, message, trailers, headers)
  -- A connection that cannot succeed names its likely cause first (cloudops.diagnosis).
  local cause = diagnosis.cause(code, message)
  if cause then message = cause .. " (" .. message .. ")" end
  return setmetatable({
    code = code,
    name = codes[code] or "UNKNOWN",
    message = message,
    method = method,
    trailers = trailers,
    headers = headers,
    details = errors.details(trailers),
  }, Error)
end

return errors
