--- lua-cloudops: a client for the Temporal Cloud Operations API (docs/reference.md).
--   local cloudops = require "cloudops"
--   local client = assert(cloudops.connect{ api_key = os.getenv("TEMPORAL_CLOUD_API_KEY") })
--   local resp, err = client:get_namespaces{ page_size = 10 }
local core = require "cloudops.core"
local client = require "cloudops.client"
local schema = require "cloudops.schema"
local any = require "cloudops.any"

local ipairs, pcall, error, type = ipairs, pcall, error, type

local cloudops = {
  VERSION = client.VERSION,
  API_VERSION = core.API_VERSION,
  codes = require "cloudops.codes",
  time = require "cloudops.time",
  null = core.null,
  empty_array = core.empty_array,
  connect = client.connect,
  map = require "cloudops.map",
  LIMITS = client.LIMITS,
}

--- The wire bytes of a message; raises when tbl does not fit the schema.
function cloudops.encode(type_name, tbl)
  local ok, bytes = pcall(core.encode, type_name, tbl)
  if not ok then error(bytes, 2) end
  return bytes
end

--- The table of a message, or nil, err for malformed bytes.
function cloudops.decode(type_name, bytes)
  local ok, t, err = pcall(core.decode, type_name, bytes)
  if not ok then error(t, 2) end
  return t, err
end

--- The RPC names, in schema order.
function cloudops.methods()
  local names = {}
  for i, m in ipairs(schema.methods()) do names[i] = m.name end
  return names
end

--- A plain table describing a message, enum or method (by full or short name, or a method's
-- snake_case name), or nil, err.
function cloudops.describe(name)
  if type(name) ~= "string" then error("describe expects a name", 2) end
  local m = schema.method(name)
  local d, err = core.describe(m and m.name or name)
  if d and m then
    d.snake_name, d.mutation, d.items = m.snake, m.mutation, m.items
    d.paged = m.items ~= nil
  end
  return d, err
end

--- The type name and decoded table of a google.protobuf.Any, or nil, err.
function cloudops.unpack_any(a)
  if type(a) ~= "table" or type(a.type_url) ~= "string" then
    error("unpack_any expects a table { type_url =, value = }", 2)
  end
  return any.unpack(a)
end

--- A google.protobuf.Any holding tbl encoded as type_name (a full name).
function cloudops.pack_any(type_name, tbl)
  local ok, a = pcall(any.pack, type_name, tbl)
  if not ok then error(a, 2) end
  return a
end

-- Loaded on first use: cloudops.json needs lua-cjson, which a client that never touches JSON
-- should not have to load; the rehearsal modules read much of the schema when loaded.
local LAZY = {
  json = function() return require "cloudops.json" end,
  -- cloudops.snapshot(client, opts), .save(snap, path), .load(path) (docs/reference.md "Rehearsal")
  snapshot = function() return require "cloudops.snapshot" end,
  -- cloudops.diff(before_snap, after_snap) -> changes
  diff = function()
    local changes = require "cloudops.changes"
    return function(before, after, opts)
      if type(before) ~= "table" or type(after) ~= "table" then
        error("cloudops.diff expects two snapshots, got " .. type(before) .. " and " .. type(after), 2)
      end
      return changes.diff(before, after, opts)
    end
  end,
  -- cloudops.rehearse(fn, opts) -> plan, err
  rehearse = function() return require "cloudops.rehearse" end,
  -- cloudops.plan(client, desired, opts) -> plan, err (a desired state: cloudops.desired)
  plan = function() return require("cloudops.plan").plan end,
  -- cloudops.apply(client, desired, opts) -> result, err
  apply = function() return require("cloudops.apply").apply end,
}
setmetatable(cloudops, { __index = function(t, k)
  local load = LAZY[k]
  if load then
    local v = load()
    rawset(t, k, v)
    return v
  end
end })

return cloudops
