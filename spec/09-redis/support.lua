-- What the Redis specs share: a real Redis (Debian's redis-server) on 127.0.0.1, started and
-- stopped by the spec, and the emulator keys of one service account.
local helpers = require "helpers"
local core = require "cloudops.core"
local socket = require "socket"

local S = {}

local function exists(path)
  local f = io.open(path, "rb")
  if f then f:close() return true end
  return false
end

--- redis-server's path, or nil, why.
function S.find()
  for _, p in ipairs { os.getenv("CLOUDOPS_REDIS_SERVER") or "", "/usr/bin/redis-server",
                       "/usr/local/bin/redis-server" } do
    if p ~= "" and exists(p) then return p end
  end
  return nil, "redis-server is not installed (Debian: apt-get install redis-server)"
end

-- A port that was free a moment ago (redis-server cannot take port 0 and say which it got).
local function free_port()
  local s = assert(socket.bind("127.0.0.1", 0))
  local _, port = s:getsockname()
  s:close()
  return tonumber(port)
end

--- Starts redis-server on a free port of 127.0.0.1, nothing saved to disk. Another process
-- may take the port between our check and redis' bind: then redis exits, and we try another.
-- Returns { port, url, pid, stop(signal), alive() }. port: reuse that port (a restart).
function S.start_redis(port)
  local server = assert(S.find())
  for _ = 1, 5 do
    local p = port or free_port()
    local cmd = helpers.sh_quote(server) .. " --port " .. p .. " --bind 127.0.0.1 --save '' --appendonly no" ..
      " --daemonize no --protected-mode yes --loglevel notice"
    local ok, proc = pcall(helpers.spawn, cmd, "Ready to accept connections", 10)
    if ok then
      proc.port, proc.url = p, "redis://127.0.0.1:" .. p
      return proc
    end
    if port then error(proc) end
  end
  error("redis-server did not start on any of 5 free ports")
end

--- A Redis for the tests of the enclosing describe block: started once, emptied before each
-- test, started again on its port when a test killed it, stopped at the end. Returns the
-- table holding `r` (the server, as start_redis's) and `admin` (a raw connection); restart()
-- starts it again on the same port. busted's hooks are the spec file's, not this module's:
-- pass them in.
function S.redis_for_tests(lazy_setup, lazy_teardown, before_each)
  local fx = {}
  function fx.restart()
    fx.r = S.start_redis(fx.r and fx.r.port)
    fx.admin = S.connect(fx.r.port)
  end
  lazy_setup(fx.restart)
  lazy_teardown(function()
    if fx.admin then fx.admin:close() end
    if fx.r then fx.r.stop() end
    helpers.cleanup()
  end)
  before_each(function()
    if not fx.r.alive() then fx.restart() end
    assert(fx.admin:command("FLUSHALL") == "OK")
  end)
  return fx
end

--- A raw connection for the specs' own looks at Redis (cloudops.redis.resp).
function S.connect(port)
  return assert(require("cloudops.redis.resp").connect("127.0.0.1", port, 2))
end

--- Waits until pred() is true, polling (bounded: `timeout` seconds); returns pred's last value.
function S.until_true(pred, timeout)
  local deadline = core.now() + (timeout or 10)
  while true do
    local v = pred()
    if v or core.now() > deadline then return v end
    core.sleep(0.02)
  end
end

return S
