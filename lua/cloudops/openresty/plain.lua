--- Plain values, for crossing into and out of ngx.run_worker_thread VMs, which copy nil,
-- booleans, numbers, strings, light userdata (cloudops.null, cloudops.empty_array) and tables
-- of those, and drop metatables (functions and full userdata are refused; an error table
-- raised in the thread arrives as an empty string). So errors travel as plain tables and are
-- rebuilt on the request side, and a client's settings travel as a plain table whose
-- canonical text is the key of the client cached in each thread VM.
local core = require "cloudops.core"
local errors = require "cloudops.errors"

local type, pairs, ipairs, tostring, error = type, pairs, ipairs, tostring, error
local sort, concat = table.sort, table.concat
local format = string.format

-- lua-nginx-module copies at most this many table levels (LUA_COPY_MAX_DEPTH); deeper is
-- refused there, so refuse it here, with a path.
local MAX_DEPTH = 100

local PLAIN = { ["nil"] = true, boolean = true, number = true, string = true }
-- The light userdata that may cross: the core's sentinels (cloudops.null is NULL, as are
-- cjson.null and ngx.null). Pure Lua cannot tell other light userdata from full userdata.
local SENTINELS = { [core.null] = true, [core.empty_array] = true }

local plain = {}

--- true, or nil and a message naming the first value that would not cross (path: its name).
function plain.check(v, path, depth)
  local t = type(v)
  if PLAIN[t] or (t == "userdata" and SENTINELS[v]) then return true end
  if t ~= "table" then
    return nil, path .. ": a " .. t .. " cannot cross into a worker thread (plain values only)"
  end
  depth = (depth or 0) + 1
  if depth > MAX_DEPTH then return nil, path .. ": nested too deeply (or a cycle)" end
  for k, x in pairs(v) do
    local kt = type(k)
    if kt ~= "string" and kt ~= "number" and kt ~= "boolean" then
      return nil, path .. ": a " .. kt .. " key cannot cross into a worker thread"
    end
    local ok, err = plain.check(x, path .. "." .. tostring(k), depth)
    if not ok then return nil, err end
  end
  return true
end

-- Keys sorted by type, then value, so that equal tables give equal text.
local function before(a, b)
  local ta, tb = type(a), type(b)
  if ta ~= tb then return ta < tb end
  if ta == "boolean" then return (not a) and b end
  return a < b
end

local function write(v, out)
  local t = type(v)
  if t == "table" then
    local keys = {}
    for k in pairs(v) do keys[#keys + 1] = k end
    sort(keys, before)
    out[#out + 1] = "{"
    for _, k in ipairs(keys) do
      write(k, out)
      out[#out + 1] = "="
      write(v[k], out)
      out[#out + 1] = ";"
    end
    out[#out + 1] = "}"
  elseif t == "string" then
    out[#out + 1] = format("%q", v)
  elseif t == "number" then
    out[#out + 1] = format("%.17g", v)
  else
    out[#out + 1] = tostring(v)
  end
end

--- Canonical text of a plain value: equal for equal contents, whatever the key order.
function plain.key(v)
  local out = {}
  write(v, out)
  return concat(out)
end

--- A plain copy of an error value (its cause too), to return from a worker thread.
function plain.error(e)
  if type(e) ~= "table" then return { name = "UNKNOWN", message = tostring(e) } end
  local t = {}
  for k, v in pairs(e) do t[k] = v end
  if type(t.cause) == "table" then t.cause = plain.error(t.cause) end
  return t
end

--- The error value again (a table with __tostring, docs/reference.md "Errors"), from
-- plain.error's copy.
function plain.rebuild(t)
  if type(t) ~= "table" then error("plain.rebuild expects a table", 2) end
  if type(t.cause) == "table" and t.cause.name then t.cause = plain.rebuild(t.cause) end
  return errors.new(t.name, t.message, t)
end

return plain
