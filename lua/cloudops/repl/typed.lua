--- Which message type a REPL value is, so that results print with their schema (Timestamps as
-- text, Anys unpacked): a weak table from result tables to type names, filled by a wrapper of
-- the client whose methods tag what they return.
local schema = require "cloudops.schema"
local cloudops_core = require "cloudops.core"

local type, setmetatable, select, tostring, ipairs, pairs = type, setmetatable, select, tostring, ipairs, pairs
local unpack = table.unpack or unpack

local typed = {}

local types = setmetatable({}, { __mode = "k" })
local infos = setmetatable({}, { __mode = "k" })

local fields_of = {}
local function message_fields(type_name)
  local f = fields_of[type_name]
  if f == nil then
    local d = cloudops_core.describe(type_name)
    f = {}
    for _, x in ipairs(d and d.kind == "message" and d.fields or {}) do
      if x.type == "message" then f[#f + 1] = x end
    end
    fields_of[type_name] = f
  end
  return f
end

--- Records that table v is a message of type_name, and so are the messages inside it (so
-- that `pp(resp.users[1])` knows a User). Non-tables are ignored.
function typed.tag(v, type_name)
  if type(v) ~= "table" or not type_name or types[v] then return v end
  types[v] = type_name
  -- Struct & co hold plain values; Timestamp, Duration, Any are tagged but hold no messages.
  if type_name:find("^google%.protobuf%.") then return v end
  for _, f in ipairs(message_fields(type_name)) do
    local x = v[f.name]
    if type(x) == "table" then
      if f.label == "singular" then
        typed.tag(x, f.type_name)
      else
        for _, e in pairs(x) do typed.tag(e, f.type_name) end
      end
    end
  end
  return v
end

--- Whether v is the `info` table a successful call returned (the REPL does not print it).
function typed.is_info(v)
  return infos[v] ~= nil
end

--- The message type recorded for v, or nil.
function typed.type_of(v)
  return type(v) == "table" and types[v] or nil
end

local function pack(...) return { n = select("#", ...), ... } end

-- Calls fn; a raised error (a bad request, an unknown method) is raised again at the REPL
-- line that made the call, not in this wrapper.
local function call(fn, ...)
  local r = pack(pcall(fn, ...))
  if not r[1] then
    local msg = r[2]
    if type(msg) == "string" then msg = msg:gsub("^[^\n]-typed%.lua:%d+: ", "") end
    error(msg, 3)
  end
  return { n = r.n - 1, unpack(r, 2, r.n) }
end

-- The type of the items `paginate` yields for a method: the element type of its items field.
local function items_type(m)
  for _, f in ipairs(cloudops_core.describe(m.output).fields) do
    if f.name == m.items then return f.type_name end
  end
end

local ASYNC_OPERATION = "temporal.api.cloud.operation.v1.AsyncOperation"

-- The wrapper of one client method: calls it on the real client, tags the results. Called
-- with a dot (`client.get_account{}`), it is called as the script's client would be, and
-- raises as it does.
local function wrapper(proxy, client, name, fn)
  local function target(self) if self == proxy then return client end return self end
  local m = schema.method(name)
  if m then
    return function(self, ...)
      local r = call(fn, target(self), ...)
      typed.tag(r[1], m.output)
      if type(r[3]) == "table" then infos[r[3]] = true end
      return unpack(r, 1, r.n)
    end
  elseif name == "call" or name == "pages" then
    return function(self, method, ...)
      local mm = type(method) == "string" and schema.method(method)
      if name == "call" then
        local r = call(fn, target(self), method, ...)
        typed.tag(r[1], mm and mm.output)
        if type(r[3]) == "table" then infos[r[3]] = true end
        return unpack(r, 1, r.n)
      end
      local it = call(fn, target(self), method, ...)[1]
      return function()
        local r = pack(it())
        typed.tag(r[1], mm and mm.output)
        return unpack(r, 1, r.n)
      end
    end
  elseif name == "paginate" then
    return function(self, method, ...)
      local mm = type(method) == "string" and schema.method(method)
      local ty = mm and mm.items and items_type(mm)
      local it = call(fn, target(self), method, ...)[1]
      return function()
        local r = pack(it())
        typed.tag(r[1], ty)
        return unpack(r, 1, r.n)
      end
    end
  elseif name == "wait" then
    return function(self, ...)
      local r = call(fn, target(self), ...)
      typed.tag(r[1], ASYNC_OPERATION)
      if type(r[2]) == "table" then typed.tag(r[2].operation, ASYNC_OPERATION) end
      return unpack(r, 1, r.n)
    end
  elseif name == "update" then
    return function(self, kind, ...)
      local k = type(kind) == "string" and schema.kind(kind)
      local r = call(fn, target(self), kind, ...)
      typed.tag(r[1], k and k.update.output)
      return unpack(r, 1, r.n)
    end
  end
  return function(self, ...) return fn(target(self), ...) end
end

--- A stand-in for `client` whose methods tag their results; anything else is the client's.
-- Its metatable's __keys lists the method names, for completion.
function typed.wrap(client)
  local proxy = {}
  local cache = {}
  setmetatable(proxy, {
    __index = function(_, k)
      local v = client[k]
      if type(v) ~= "function" then return v end
      local w = cache[k]
      if not w then
        w = wrapper(proxy, client, k, v)
        cache[k] = w
      end
      return w
    end,
    __tostring = function() return tostring(client) end,
    __keys = function()
      local names = { "call", "paginate", "pages", "wait", "update", "close" }
      for _, m in ipairs(schema.methods()) do names[#names + 1] = m.snake end
      return names
    end,
    __client = client,
  })
  return proxy
end

return typed
