--- One Redis server, by its URL, for the shared limits: runs the script's steps (EVALSHA,
-- loading the script again on NOSCRIPT) over whichever connection the calling code may use:
--   * nginx, in a phase with cosockets (rewrite, access, content, timer): resty.redis
--     (Debian's lua-nginx-redis installs it as nginx.redis), a pooled connection per step,
--     so that light threads never share one and a wait never blocks the event loop;
--   * anywhere else (Lua 5.4 and LuaJIT scripts, ngx.run_worker_thread's pool threads, which
--     have no cosockets): cloudops.redis.resp over lua-socket, one connection kept.
-- Every step is bounded by `timeout` seconds (connect, send and receive each). Failures are
-- returned (nil, err text), never raised.
local resp = require "cloudops.redis.resp"
local SCRIPT = require "cloudops.redis.script"

local type, tostring, tonumber, setmetatable, rawget, pcall, require, select, unpack =
  type, tostring, tonumber, setmetatable, rawget, pcall, require, select, table.unpack or unpack
local find = string.find

local DEFAULT_PORT = 6379
-- The phases where lua-nginx-module gives cosockets.
local COSOCKET_PHASES = { rewrite = true, access = true, content = true, timer = true,
                          ssl_cert = true, ssl_session_fetch = true, preread = true }
-- Pooled cosocket connections: idle time (ms) and pool size per worker.
local KEEPALIVE_MS, POOL_SIZE = 60000, 32

local Endpoint = {}
Endpoint.__index = Endpoint

local endpoint = {}

--- Parses redis://[[user]:password@]host[:port][/db]. Returns a table or nil, err.
function endpoint.parse(url)
  if type(url) ~= "string" then return nil, "rate_limit.redis must be a redis://host:port URL" end
  local rest = url:match("^redis://(.+)$")
  if not rest then return nil, "rate_limit.redis must be a redis://host:port URL, got '" .. url .. "'" end
  local auth, hostpart = rest:match("^(.*)@([^@]*)$")
  hostpart = hostpart or rest
  local user, password
  if auth then
    user, password = auth:match("^([^:]*):(.*)$")
    if not user then user, password = "", auth end
    if user == "" then user = nil end
  end
  local host, port, db = hostpart:match("^%[([^%]]+)%]:?(%d*)/?(%d*)$")
  if not host then host, port, db = hostpart:match("^([^:/]+):?(%d*)/?(%d*)$") end
  if not host then return nil, "rate_limit.redis: cannot read host:port in '" .. url .. "'" end
  return { host = host, port = tonumber(port) or DEFAULT_PORT, db = tonumber(db),
           user = user, password = password, url = url }
end

--- A Redis endpoint: where (a parsed URL) and the timeout of each step (seconds).
function endpoint.new(where, timeout)
  return setmetatable({ where = where, timeout = timeout, conn = nil, sha = nil }, Endpoint)
end

-- Whether this code runs where nginx gives cosockets.
local function cosockets()
  local ngx = rawget(_G, "ngx")
  return type(ngx) == "table" and type(ngx.socket) == "table" and ngx.socket.tcp ~= nil
    and ngx.get_phase ~= nil and COSOCKET_PHASES[ngx.get_phase()] == true
end

-- resty.redis as OpenResty ships it, or as Debian's lua-nginx-redis does (nginx.redis).
local resty_redis
local function resty()
  if resty_redis == nil then
    local ok, m = pcall(require, "resty.redis")
    if not ok then ok, m = pcall(require, "nginx.redis") end
    resty_redis = ok and m or false
  end
  return resty_redis
end

-- AUTH and SELECT on a fresh connection, through `send(...)`: true or nil, err.
local function prepare(where, send)
  if where.password then
    local ok, err
    if where.user then ok, err = send("AUTH", where.user, where.password)
    else ok, err = send("AUTH", where.password) end
    if not ok then return nil, err end
  end
  if where.db then
    local ok, err = send("SELECT", where.db)
    if not ok then return nil, err end
  end
  return true
end

-- Error replies as text, transport failures as text too: the caller only needs to tell
-- NOSCRIPT apart.
local function text(err)
  if type(err) == "table" then return err.message end
  return err
end

-- ---- lua-socket ---------------------------------------------------------------------------

function Endpoint:_socket_conn()
  local c = self.conn
  if c and c.sock then return c end
  local w = self.where
  local err
  c, err = resp.connect(w.host, w.port, self.timeout)
  if not c then return nil, err end
  local ok, perr = prepare(w, function(...) return c:command(...) end)
  if not ok then
    c:close()
    return nil, "redis: " .. tostring(text(perr))
  end
  self.conn = c
  return c
end

-- One command over the kept connection: reply, or nil, err (text), redis_error (boolean).
function Endpoint:_socket_command(...)
  local c, err = self:_socket_conn()
  if not c then return nil, err, false end
  local v, rerr = c:command(...)
  if v == nil then return nil, text(rerr), type(rerr) == "table" end
  return v
end

-- ---- cosockets ----------------------------------------------------------------------------

function Endpoint:_cosocket_command(...)
  local R = resty()
  if not R then return nil, "no resty.redis (Debian: apt-get install lua-nginx-redis)", false end
  local r, err = R:new()
  if not r then return nil, "resty.redis: " .. tostring(err), false end
  r:set_timeout(self.timeout * 1000)
  local w = self.where
  local ok, cerr = r:connect(w.host, w.port)
  if not ok then return nil, "connect " .. w.host .. ":" .. w.port .. ": " .. tostring(cerr), false end
  if (r:get_reused_times() or 0) == 0 then
    local pok, perr = prepare(w, function(...)
      local v, e = r[(...):lower()](r, select(2, ...))
      if not v then return nil, e end
      return v
    end)
    if not pok then
      r:close()
      return nil, "redis: " .. tostring(perr), false
    end
  end
  local args = { ... }
  local v, rerr = r[args[1]:lower()](r, unpack(args, 2))
  -- resty.redis: false, message for an error reply (the connection stays good); nil, err for
  -- a failed connection (closed by resty.redis on a timeout).
  if v == nil then
    r:close()
    return nil, tostring(rerr), false
  end
  r:set_keepalive(KEEPALIVE_MS, POOL_SIZE)
  if v == false and rerr then return nil, tostring(rerr), true end
  return v
end

-- ---- steps --------------------------------------------------------------------------------

function Endpoint:command(...)
  if cosockets() then return self:_cosocket_command(...) end
  return self:_socket_command(...)
end

--- Runs one step of the script: its reply, or nil, err (text). keys: a list; the step's
-- arguments follow.
function Endpoint:run(keys, ...)
  local nkeys = #keys
  local args = { "EVALSHA", false, nkeys }
  for i = 1, nkeys do args[3 + i] = keys[i] end
  local n = 3 + nkeys
  for i = 1, select("#", ...) do args[n + i] = (select(i, ...)) end
  for _ = 1, 2 do
    if not self.sha then
      local sha, err = self:command("SCRIPT", "LOAD", SCRIPT)
      if not sha then return nil, err end
      self.sha = sha
    end
    args[2] = self.sha
    local v, err, refused = self:command(unpack(args, 1, n + select("#", ...)))
    if v ~= nil then return v end
    -- Redis restarted or was flushed: load the script again, once.
    if not (refused and find(err, "NOSCRIPT", 1, true)) then return nil, err end
    self.sha = nil
  end
  return nil, "redis: the script could not be loaded"
end

function Endpoint:close()
  local c = self.conn
  if c then
    self.conn = nil
    c:close()
  end
end

function Endpoint:__tostring()
  return "redis endpoint " .. self.where.host .. ":" .. self.where.port
end

return endpoint
