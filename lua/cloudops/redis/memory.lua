--- The shared limits' script run in this process, on an in-memory stand-in for the Redis
-- commands it uses: the local bucket (and operation slots) that calls go on with while Redis
-- cannot be reached. Running the very script that Redis runs keeps one algorithm, so the
-- fallback paces, lowers and recovers exactly as the shared bucket does, for this process.
-- Same interface as cloudops.redis.endpoint: run(keys, step, ...) -> reply.
local SCRIPT = require "cloudops.redis.script"

local type, tonumber, tostring, setmetatable, load, error, pairs, next, ipairs =
  type, tonumber, tostring, setmetatable, load, error, pairs, next, ipairs
local floor, sort, upper = math.floor, table.sort, string.upper

local Memory = {}
Memory.__index = Memory

local memory = {}

-- ---- the commands ---------------------------------------------------------------------------

local C = {}

function C.TIME(self)
  local us = floor(self.clock() * 1e6)
  return { tostring(floor(us / 1e6)), tostring(us % 1000000) }
end

-- The value at key, or nil when absent or expired.
local function get(self, key)
  local e = self.data[key]
  if e and e.expires and e.expires <= self.clock() then
    self.data[key] = nil
    return nil
  end
  return e
end

local function hash(self, key)
  local e = get(self, key)
  if not e then
    e = { hash = {} }
    self.data[key] = e
  end
  return e.hash
end

function C.HMGET(self, key, ...)
  local e, out = get(self, key), {}
  for i, f in ipairs({ ... }) do out[i] = e and e.hash and e.hash[f] or false end
  return out
end

function C.HGET(self, key, field)
  local e = get(self, key)
  return e and e.hash and e.hash[field] or false
end

function C.HSET(self, key, ...)
  local h, args = hash(self, key), { ... }
  for i = 1, #args, 2 do h[args[i]] = tostring(args[i + 1]) end
  return #args / 2
end

function C.PEXPIRE(self, key, ms)
  local e = get(self, key)
  if not e then return 0 end
  e.expires = self.clock() + tonumber(ms) / 1000
  return 1
end

local function zset(self, key)
  local e = get(self, key)
  if not e then
    e = { zset = {} }
    self.data[key] = e
  end
  return e.zset
end

local function score(s)
  if s == "-inf" then return -math.huge end
  if s == "+inf" then return math.huge end
  return tonumber(s)
end

function C.ZADD(self, key, ...)
  local z, args, i, xx, added = zset(self, key), { ... }, 1, false, 0
  if upper(args[1]) == "XX" then xx, i = true, 2 end
  for j = i, #args, 2 do
    local m = args[j + 1]
    if not (xx and z[m] == nil) then
      if z[m] == nil then added = added + 1 end
      z[m] = score(args[j])
    end
  end
  return added
end

function C.ZREM(self, key, member)
  local z = zset(self, key)
  if z[member] == nil then return 0 end
  z[member] = nil
  return 1
end

function C.ZREMRANGEBYSCORE(self, key, lo, hi)
  local z, n = zset(self, key), 0
  lo, hi = score(lo), score(hi)
  for m, s in pairs(z) do
    if s >= lo and s <= hi then z[m], n = nil, n + 1 end
  end
  return n
end

function C.ZCARD(self, key)
  local n = 0
  for _ in next, zset(self, key) do n = n + 1 end
  return n
end

-- Only what the script asks: ZRANGE key start stop WITHSCORES.
function C.ZRANGE(self, key, start, stop)
  local z, list = zset(self, key), {}
  for m, s in pairs(z) do list[#list + 1] = { m, s } end
  sort(list, function(a, b) if a[2] ~= b[2] then return a[2] < b[2] end return a[1] < b[1] end)
  local out = {}
  for i = tonumber(start) + 1, math.min(#list, tonumber(stop) + 1) do
    out[#out + 1] = list[i][1]
    out[#out + 1] = string.format("%.0f", list[i][2])
  end
  return out
end

-- ---- running the script ---------------------------------------------------------------------

-- Redis turns a Lua number reply into an integer (truncated) and an array into a list.
local function reply(v)
  if type(v) == "number" then return v >= 0 and floor(v) or -floor(-v) end
  if type(v) == "table" and v.err == nil then
    local out = {}
    for i = 1, #v do out[i] = reply(v[i]) end
    return out
  end
  return v
end

--- A fresh store. clock: seconds (monotonic is enough: one process only).
function memory.new(clock)
  local self = setmetatable({ data = {}, clock = clock }, Memory)
  local env
  env = {
    math = math, string = string, table = table, tonumber = tonumber, tostring = tostring,
    type = type, ipairs = ipairs,
    redis = {
      call = function(cmd, ...)
        local f = C[upper(cmd)]
        if not f then error("cloudops.redis.memory: no command " .. tostring(cmd)) end
        return f(self, ...)
      end,
      error_reply = function(msg) return { err = msg } end,
    },
  }
  self.env = env
  self.fn = assert(load(SCRIPT, "=cloudops.redis.script", "t", env))
  return self
end

--- Runs one step of the script: its reply (the script's values as Redis would return them),
-- or nil, err when the script answers an error.
function Memory:run(keys, ...)
  self.env.KEYS, self.env.ARGV = keys, { ... }
  for i, a in ipairs(self.env.ARGV) do self.env.ARGV[i] = tostring(a) end
  local v = reply(self.fn())
  if type(v) == "table" and v.err then return nil, v.err end
  return v
end

--- Sets a hash field (to carry the shared bucket's rate over to the local one).
function Memory:hset(key, field, value)
  C.HSET(self, key, field, value)
end

function Memory.close(_) end

return memory
