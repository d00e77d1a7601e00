-- What the OpenResty specs share: finding nginx and lua-nginx-module, starting nginx from
-- examples/openresty/nginx.conf on a free port of 127.0.0.1 and stopping it by its pid, and
-- a small HTTP/1.0 client (luasocket) that can hold several requests in flight.
local helpers = require "helpers"
local core = require "cloudops.core"
local socket = require "socket"

local S = {}

-- Absolute: nginx resolves relative paths from its own prefix or working directory.
local ROOT = helpers.ROOT
if ROOT:sub(1, 1) ~= "/" then
  ROOT = helpers.run("cd " .. helpers.sh_quote(ROOT) .. " && pwd"):gsub("%s+$", "") .. "/"
end
local q = helpers.sh_quote

local function exists(path)
  local f = io.open(path, "rb")
  if f then f:close() return true end
  return false
end

-- nginx: $CLOUDOPS_NGINX, the PATH, or the sbin directories a non-root PATH may lack.
local function find_nginx()
  local env = os.getenv("CLOUDOPS_NGINX")
  if env and env ~= "" then return exists(env) and env or nil end
  local out, ok = helpers.run("command -v nginx 2>/dev/null")
  if ok and out:match("%S") then return (out:gsub("%s+$", "")) end
  for _, p in ipairs { "/usr/sbin/nginx", "/usr/local/sbin/nginx", "/usr/local/openresty/nginx/sbin/nginx" } do
    if exists(p) then return p end
  end
  return nil
end

local MODULE_DIRS = { "/usr/lib/nginx/modules", "/usr/share/nginx/modules", "/usr/lib64/nginx/modules",
                      "/usr/local/lib/nginx/modules", "/usr/local/nginx/modules" }

-- The main-context lines that give nginx lua-nginx-module: none when it is built in
-- (OpenResty), else load_module lines with absolute paths, the devel kit first when it is
-- there (Debian's module needs it). nil, reason when there is no module.
local function module_lines(nginx)
  local v = helpers.run(q(nginx) .. " -V 2>&1")
  if v:find("lua-nginx-module", 1, true) or v:find("ngx_lua", 1, true) then return "" end
  for _, dir in ipairs(MODULE_DIRS) do
    local lua = dir .. "/ngx_http_lua_module.so"
    if exists(lua) then
      local ndk = dir .. "/ndk_http_module.so"
      return (exists(ndk) and ("load_module " .. ndk .. ";\n") or "") .. "load_module " .. lua .. ";"
    end
  end
  return nil, "lua-nginx-module is not installed (Debian: apt-get install libnginx-mod-http-lua)"
end

--- nginx's path and the load_module lines, or nil, why (what to install).
function S.find()
  local nginx = find_nginx()
  if not nginx then return nil, "nginx is not installed (Debian: apt-get install nginx libnginx-mod-http-lua)" end
  local lines, why = module_lines(nginx)
  if not lines then return nil, why end
  return { nginx = nginx, modules = lines }
end

--- The LuaJIT build of the core, which nginx's Lua (LuaJIT 2.1) loads.
S.LUAJIT_CORE = ROOT .. "build/luajit/lua/cloudops/core.so"

function S.free_port()
  local s = assert(socket.bind("127.0.0.1", 0))
  local _, port = s:getsockname()
  s:close()
  return tonumber(port)
end

-- Fills the {{name}} placeholders of the lines that are not comments (nginx's #, Lua's --);
-- one left unfilled is an error.
function S.render(template, values)
  local out = {}
  for line in (template .. "\n"):gmatch("([^\n]*)\n") do
    if not line:find("^%s*#") and not line:find("^%s*%-%-") then
      line = line:gsub("{{([%w_]+)}}", function(name)
        local v = values[name]
        if v == nil then error("no value for the placeholder {{" .. name .. "}}", 4) end
        return tostring(v)
      end)
    end
    out[#out + 1] = line
  end
  return table.concat(out, "\n")
end

local alive = helpers.alive

-- The pids of pid's children (nginx's workers), from /proc.
local function children(pid)
  local out = helpers.run("for f in /proc/[0-9]*/stat; do cat \"$f\" 2>/dev/null; echo; done")
  local kids = {}
  for line in out:gmatch("[^\n]+") do
    local cpid, ppid = line:match("^(%d+) %b() %a (%d+)")
    if ppid == tostring(pid) then kids[#kids + 1] = cpid end
  end
  return kids
end
S.children = children

--- The number of threads of a process (gRPC starts threads when it initialises).
function S.threads(pid)
  local status = helpers.read_file("/proc/" .. pid .. "/status") or ""
  return tonumber(status:match("Threads:%s*(%d+)"))
end

--- Starts nginx with examples/openresty/nginx.conf. opts: endpoint, api_key, workers,
-- threads, rate_limit (Lua text). Returns { pid, port, dir, stop(), log() (the error log),
-- workers() } once /health answers; raises (with nginx's own words) if it does not start.
function S.start_nginx(env, opts)
  local dir = helpers.tmpdir()
  -- The workers run as nobody when the master is root: they must reach the prefix.
  os.execute("chmod 755 " .. q(dir) .. " && mkdir -p " .. q(dir .. "/logs"))
  local port = S.free_port()
  local root_user = helpers.run("id -u"):match("^0%s*$") ~= nil
  local conf = S.render(helpers.read_file(ROOT .. "examples/openresty/nginx.conf"), {
    -- As root, nginx would run its workers as nobody, who may not read a checkout under /root.
    main = env.modules .. (root_user and "\nuser root;" or ""),
    workers = opts.workers or 1,
    threads = opts.threads or 4,
    port = port,
    lua_path = ROOT .. "lua/?.lua;" .. ROOT .. "lua/?/init.lua;" .. ROOT .. "examples/openresty/?.lua;;",
    lua_cpath = ROOT .. "build/luajit/lua/?.so;;",
    endpoint = opts.endpoint,
    insecure = "true",
    rate_limit = opts.rate_limit or "false",
  })
  helpers.write_file(dir .. "/nginx.conf", conf)
  local cmd = "TEMPORAL_CLOUD_API_KEY=" .. q(opts.api_key) .. " " .. q(env.nginx) .. " -p " .. q(dir .. "/") ..
    " -c " .. q(dir .. "/nginx.conf") .. " -e " .. q(dir .. "/logs/startup.log")
  local pid = helpers.run("sh -c " .. q(cmd .. " > " .. q(dir .. "/logs/stdout.log") .. " 2>&1 & echo $!")):match("%d+")
  assert(pid, "could not start nginx")
  local h = { pid = pid, port = port, dir = dir }
  function h.log()
    return (helpers.read_file(dir .. "/logs/startup.log") or "") .. (helpers.read_file(dir .. "/logs/stdout.log") or "")
      .. (helpers.read_file(dir .. "/logs/error.log") or "")
  end
  function h.workers() return children(pid) end
  local stopped = false
  -- Fast shutdown (TERM) of the master, which stops its workers; KILL for all if it hangs.
  function h.stop()
    if stopped then return end
    stopped = true
    local kids = children(pid)
    os.execute("kill -TERM " .. pid .. " 2>/dev/null")
    local deadline = core.now() + 5
    while alive(pid) and core.now() < deadline do core.sleep(0.02) end
    if alive(pid) then
      for _, k in ipairs(kids) do os.execute("kill -KILL " .. k .. " 2>/dev/null") end
      os.execute("kill -KILL " .. pid .. " 2>/dev/null")
    end
  end
  local deadline = core.now() + 15
  while true do
    local ok, status = pcall(S.request, port, "GET", "/health", nil, 1)
    if ok and status == 200 and #children(pid) >= (opts.workers or 1) then return h end
    if not alive(pid) or core.now() > deadline then
      h.stop()
      error("nginx did not start:\n" .. conf .. "\n" .. h.log(), 2)
    end
    core.sleep(0.05)
  end
end

-- ---- HTTP/1.0 ----------------------------------------------------------------------------

--- Connects and sends a request; returns the socket, to pass to S.receive.
function S.send(port, method, path, body, timeout)
  local c = assert(socket.tcp())
  c:settimeout(timeout or 30)
  assert(c:connect("127.0.0.1", port))
  local head = method .. " " .. path .. " HTTP/1.0\r\nHost: 127.0.0.1\r\n"
  if body then
    head = head .. "Content-Type: application/json\r\nContent-Length: " .. #body .. "\r\n"
  end
  assert(c:send(head .. "\r\n" .. (body or "")))
  return c
end

--- Reads the whole answer (HTTP/1.0: until nginx closes): status, headers (lowercase
-- names), body.
function S.receive(c)
  local chunks = {}
  while true do
    local data, err, partial = c:receive(8192)
    local got = data or partial
    if got and #got > 0 then chunks[#chunks + 1] = got end
    if not data then
      if err ~= "closed" then c:close() error("HTTP receive: " .. tostring(err)) end
      break
    end
  end
  c:close()
  local text = table.concat(chunks)
  local head, body = text:match("^(.-)\r\n\r\n(.*)$")
  assert(head, "not an HTTP answer: " .. text)
  local status = tonumber(head:match("^HTTP/%d%.%d (%d+)"))
  local headers = {}
  for name, value in head:gmatch("\r\n([^:\r\n]+):%s*([^\r\n]*)") do headers[name:lower()] = value end
  return status, headers, body
end

--- One request: status, headers, body.
function S.request(port, method, path, body, timeout)
  return S.receive(S.send(port, method, path, body, timeout))
end

S.log_counts = helpers.log_counts

-- ---- ngx.run_worker_thread, faked -----------------------------------------------------------

local SENTINELS = { [core.null] = true, [core.empty_array] = true }

--- A copy as lua-nginx-module makes one (ngx_http_lua_worker_thread.c): plain values only.
local function copy(v, depth)
  local t = type(v)
  if t == "table" then
    if depth > 100 then error("too deep", 0) end
    local out = {}
    for k, x in pairs(v) do out[copy(k, depth + 1)] = copy(x, depth + 1) end
    return out
  elseif t == "function" or (t == "userdata" and not SENTINELS[v]) or t == "thread" then
    error("unsupported Lua type: " .. t, 0)
  end
  return v
end

local function copy_all(...)
  local n, out = select("#", ...), {}
  for i = 1, n do out[i] = copy((select(i, ...)), 1) end
  return out, n
end

local unpack = table.unpack or unpack
S.copy = copy

--- A fake ngx with run_worker_thread (and timer.at, run at once); `hops` records each task,
-- `refuse` makes the next n hops fail with that message. tasks: functions by name that run
-- instead of the module's (a fake pool thread), given the copied arguments.
function S.fake_ngx(tasks)
  local ngx = { hops = {}, refuse = {}, timer = {} }
  function ngx.timer.at(_, fn) fn(false) return true end
  function ngx.run_worker_thread(pool, module, fname, ...)
    ngx.hops[#ngx.hops + 1] = { pool = pool, module = module, fname = fname }
    if #ngx.refuse > 0 then return false, table.remove(ngx.refuse, 1) end
    local okc, args, n = pcall(copy_all, ...)
    if not okc then return false, args .. " in the argument" end
    local fn = (tasks and tasks[fname]) or require(module)[fname]
    if type(fn) ~= "function" then return false, "invalid function" end
    local res = { pcall(fn, unpack(args, 1, n)) }
    if not res[1] then return false, type(res[2]) == "string" and res[2] or "" end
    local out, m = copy_all(unpack(res, 2, table.maxn and table.maxn(res) or #res))
    return true, unpack(out, 1, m)
  end
  return ngx
end

return S
