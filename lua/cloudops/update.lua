--- client:update(kind, id, fn) (docs/reference.md "Helpers"): read, change, write with the
-- resource_version read, and on a version conflict (FAILED_PRECONDITION) read again and
-- repeat, at most MAX_TRIES Update attempts in all.
local core = require "cloudops.core"
local codes = require "cloudops.codes"
local errors = require "cloudops.errors"
local schema = require "cloudops.schema"

local type, pairs, ipairs, pcall, error, tostring = type, pairs, ipairs, pcall, error, tostring
local concat, encode, describe = table.concat, core.encode, core.describe

local MAX_TRIES = 5
local NOT_IDS = { spec = true, resource_version = true, async_operation_id = true }

-- What update needs to know of a kind beyond schema.kind: the field of the Get response that
-- holds the resource, and the identifying fields of the Update request. Cached per kind.
local shapes = {}
local function shape(k)
  local s = shapes[k.name]
  if s then return s end
  s = { update_ids = {} }
  for _, f in ipairs(describe(k.get.output).fields) do
    if f.type == "message" and f.label ~= "repeated" then s.resource = f.name end
  end
  for _, f in ipairs(describe(k.update.input).fields) do
    if not NOT_IDS[f.name] then s.update_ids[#s.update_ids + 1] = f.name end
  end
  shapes[k.name] = s
  return s
end

-- The Get request for `id`, or nil, message (docs/reference.md "Helpers": a string for one
-- identifying field, a table for several, nil for "account").
local function get_request(kind, k, id)
  local names = k.id_fields
  local expected = #names == 0 and "nil" or
    (#names == 1 and "a string (" .. names[1] .. ")" or "a table { " .. concat(names, " =, ") .. " = }")
  if id == nil and #names == 0 then return {} end
  if type(id) == "string" and #names == 1 then return { [names[1]] = id } end
  if type(id) == "table" and #names > 0 then
    local known, req = {}, {}
    for _, n in ipairs(names) do known[n] = true end
    for f, v in pairs(id) do
      if not known[f] then
        return nil, "update: '" .. tostring(f) .. "' is not an id field of " .. kind .. " (expected " .. expected .. ")"
      end
      req[f] = v
    end
    return req
  end
  return nil, "update: the id of " .. kind .. " must be " .. expected .. ", got " .. type(id)
end

-- Reads the resource: resource, nil or nil, err.
local function read(self, k, s, get_req)
  local resp, err = self:call(k.get.name, get_req)
  if not resp then return nil, err end
  local res = resp[s.resource]
  if type(res) ~= "table" then
    return nil, errors.new("NOT_FOUND", k.get.name .. " answered without the " .. s.resource,
      { code = codes.NOT_FOUND, method = k.get.name, retryable = false })
  end
  return res
end

local function update_request(s, get_req, res)
  local req = { spec = res.spec, resource_version = res.resource_version }
  for _, f in ipairs(s.update_ids) do req[f] = get_req[f] end
  return req
end

local function conflict(k, last)
  return errors.new("UPDATE_CONFLICT", "the " .. k.name .. " kept changing: resource_version conflict on every try",
    { method = k.update.name, attempts = MAX_TRIES, cause = last, retryable = false })
end

return function(self, kind, id, fn)
  local k = type(kind) == "string" and schema.kind(kind)
  if not k then
    error("update: unknown kind '" .. tostring(kind) .. "' (one of: " .. concat(schema.kinds(), ", ") .. ")", 2)
  end
  if type(fn) ~= "function" then error("update: expected a function to change the resource, got " .. type(fn), 2) end
  local get_req, ierr = get_request(kind, k, id)
  if not get_req then error(ierr, 2) end
  local s = shape(k)
  local res, err = read(self, k, s, get_req)
  if not res then return nil, err end
  for try = 1, MAX_TRIES do
    if fn(res) == false then return false end
    local req = update_request(s, get_req, res)
    -- A spec the function broke is a programming mistake: raise it here, at the caller's line.
    local ok, why = pcall(encode, k.update.input, req)
    if not ok then error(why, 2) end
    local resp, uerr, info = self:call(k.update.name, req)
    if resp then return resp, nil, info end
    if uerr.code ~= codes.FAILED_PRECONDITION then return nil, uerr end
    if try == MAX_TRIES then return nil, conflict(k, uerr) end
    res, err = read(self, k, s, get_req)
    if not res then return nil, err end
    -- Same version as sent: the precondition was something else (being deleted, ...), which
    -- reading again will not cure.
    if res.resource_version == req.resource_version then return nil, uerr end
  end
end
