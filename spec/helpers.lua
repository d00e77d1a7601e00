--- Shared spec helpers: paths, child processes (servers the specs start and stop), temporary
-- files and TLS material.
local helpers = {}

local ROOT = (debug.getinfo(1, "S").source:match("^@(.*)spec/helpers%.lua$") or "./")
if ROOT == "" then ROOT = "./" end
helpers.ROOT = ROOT
helpers.LUA = os.getenv("CLOUDOPS_SPEC_LUA") or (jit and "luajit" or "lua5.4")
helpers.CORE_CPATH = os.getenv("CLOUDOPS_CORE_CPATH") or (ROOT .. (jit and "build/luajit/lua/?.so" or "build/lua/?.so"))
package.path = ROOT .. "lua/?.lua;" .. ROOT .. "lua/?/init.lua;" .. ROOT .. "spec/?.lua;" .. package.path
package.cpath = helpers.CORE_CPATH .. ";" .. package.cpath

local function sh_quote(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end
helpers.sh_quote = sh_quote

--- Runs a shell command; returns its stdout, whether it succeeded, and its exit status.
-- (The status is echoed by the shell: LuaJIT's io.popen close does not report it.)
function helpers.run(cmd)
  local p = assert(io.popen("( " .. cmd .. "\n); echo \"__exit:$?\"", "r"))
  local out = p:read("*a")
  p:close()
  local body, code = out:match("^(.-)__exit:(%d+)%s*$")
  code = tonumber(code)
  return body or out, code == 0, code
end

--- A fresh temporary directory, removed by helpers.cleanup().
local tmpdirs = {}
function helpers.tmpdir()
  local dir = helpers.run("mktemp -d /tmp/cloudops-spec.XXXXXX"):gsub("%s+$", "")
  tmpdirs[#tmpdirs + 1] = dir
  return dir
end

function helpers.cleanup()
  for _, d in ipairs(tmpdirs) do os.execute("rm -rf " .. sh_quote(d)) end
  tmpdirs = {}
end

--- What an emulator request log holds: the count of each code name, and of each method.
function helpers.log_counts(path)
  local by_code, by_method = {}, {}
  for line in (helpers.read_file(path) or ""):gmatch("[^\n]+") do
    local method, code = line:match("^%S+ %S+ (%S+) (%S+) ")
    if method then
      by_method[method] = (by_method[method] or 0) + 1
      by_code[code] = (by_code[code] or 0) + 1
    end
  end
  return by_code, by_method
end

-- The first element of list whose field (a dotted path: "spec.name") equals value, or nil.
function helpers.find_by(list, field, value)
  for _, x in ipairs(list) do
    local v = x
    for part in field:gmatch("[^.]+") do v = v and v[part] end
    if v == value then return x end
  end
end

function helpers.read_file(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local s = f:read("*a")
  f:close()
  return s
end

function helpers.write_file(path, text)
  local f = assert(io.open(path, "wb"))
  f:write(text)
  f:close()
end

local function now()
  return require("cloudops.core").now()
end

--- Whether fn() becomes true within `timeout` seconds (polled every 20 ms): for a spec that
-- must see something happen before it goes on, instead of sleeping and hoping.
function helpers.eventually(fn, timeout)
  local deadline = now() + (timeout or 5)
  while not fn() do
    if now() > deadline then return false end
    require("cloudops.core").sleep(0.02)
  end
  return true
end

--- Writes a Lua script that finds the tree's modules, the specs' support modules (spec/?.lua)
-- and the core under `cpath` (default the one the specs load) from any directory; returns its
-- path and the directory it is in.
function helpers.script(body, cpath)
  local root = helpers.run("cd " .. sh_quote(ROOT) .. " && pwd"):gsub("%s+$", "") .. "/"
  cpath = cpath or helpers.CORE_CPATH
  if cpath:sub(1, 1) ~= "/" then cpath = root .. cpath:gsub("^%./", "") end
  local dir = helpers.tmpdir()
  local path = dir .. "/script.lua"
  helpers.write_file(path, table.concat({
    "package.path = " .. string.format("%q", root .. "lua/?.lua;" .. root .. "lua/?/init.lua;" .. root ..
      "spec/?.lua;") .. " .. package.path",
    "package.cpath = " .. string.format("%q", cpath .. ";") .. " .. package.cpath",
    body,
  }, "\n"))
  return path, dir
end

--- Whether process pid runs (a zombie, dead but not yet reaped, counts as gone).
function helpers.alive(pid)
  local f = io.open("/proc/" .. tostring(pid) .. "/stat", "r")
  if not f then return false end
  local stat = f:read("*l")
  f:close()
  local state = stat and stat:match("^%d+ %b() (%a)")
  return state ~= nil and state ~= "Z"
end

--- Starts `cmd` in the background with output to a log file; waits (up to `timeout` seconds)
-- for a line matching `ready` in that log. Returns { pid =, log =, match = <captures>,
-- stop = function }. stop() kills by pid and waits for the process to go.
function helpers.spawn(cmd, ready, timeout)
  local dir = helpers.tmpdir()
  local log = dir .. "/out.log"
  local pid = helpers.run("sh -c " .. sh_quote(cmd .. " > " .. sh_quote(log) .. " 2>&1 & echo $!")):match("%d+")
  assert(pid, "could not start: " .. cmd)
  local proc = { pid = pid, log = log }
  function proc.alive() return helpers.alive(pid) end
  function proc.stop(signal)
    if not proc.alive() then return end
    os.execute("kill -" .. (signal or "TERM") .. " " .. pid .. " 2>/dev/null")
    local deadline = now() + 5
    while proc.alive() and now() < deadline do require("cloudops.core").sleep(0.02) end
    if proc.alive() then os.execute("kill -KILL " .. pid .. " 2>/dev/null") end
  end
  local deadline = now() + (timeout or 15)
  while true do
    local text = helpers.read_file(log) or ""
    local caps = { text:match(ready) }
    if caps[1] then
      proc.match = caps
      return proc
    end
    if not proc.alive() or now() > deadline then
      proc.stop("KILL")
      error("process did not become ready: " .. cmd .. "\n" .. text)
    end
    require("cloudops.core").sleep(0.02)
  end
end

--- Starts spec/support/test_server.lua (see there) and returns { endpoint, port, requests_log,
-- stop }. opts: tls = { cert = path, key = path }, port (default: a free one), no_echo.
function helpers.test_server(opts)
  opts = opts or {}
  local dir = helpers.tmpdir()
  local reqlog = dir .. "/requests.log"
  local args = { "--log", reqlog, "--port", tostring(opts.port or 0) }
  if opts.tls then
    args[#args + 1] = "--tls-cert " .. sh_quote(opts.tls.cert) .. " --tls-key " .. sh_quote(opts.tls.key)
  end
  if opts.no_echo then args[#args + 1] = "--no-echo" end
  local cmd = helpers.LUA .. " " .. sh_quote(ROOT .. "spec/support/test_server.lua") .. " " .. table.concat(args, " ")
  local proc = helpers.spawn(cmd, "listening on 127%.0%.0%.1:(%d+)")
  local port = tonumber(proc.match[1])
  return {
    port = port,
    endpoint = "127.0.0.1:" .. port,
    stop = proc.stop,
    proc = proc,
    requests = function() return helpers.read_file(reqlog) or "" end,
  }
end

--- A test server for the enclosing describe block: started in its lazy_setup, stopped (and the
-- temporary files removed) in its lazy_teardown. Returns a table that holds the server's
-- fields (endpoint, port, requests, ...) once the block runs.
function helpers.block_test_server(opts)
  local box = {}
  local busted = require "busted" -- its API: the spec files' globals are not this module's
  busted.lazy_setup(function()
    for k, v in pairs(helpers.test_server(opts)) do box[k] = v end
  end)
  busted.lazy_teardown(function()
    if box.stop then box.stop() end
    helpers.cleanup()
  end)
  return box
end

--- The calls a spawned emulator's request log (its `log` file) holds, on the emulator's own
-- clock: { method =, at = seconds when it was served, held = seconds its answer was held back
-- (nil: none) }, in the log's order. What a spec checks of the emulator's timing, without
-- asserting the time the spec itself took.
function helpers.served(log_path)
  local reqlog = require "cloudops.emulator.reqlog"
  local ctime = require "cloudops.time"
  local calls = {}
  for line in (helpers.read_file(log_path) or ""):gmatch("[^\n]+") do
    local e = assert(reqlog.parse(line), line)
    calls[#calls + 1] = { method = e.method, at = ctime.to_unix(assert(ctime.from_rfc3339(e.time))),
                          held = e.delay }
  end
  return calls
end

--- Whether every call of `method` in an emulator's request log was served before the first
-- answer held back among them went out: all of them in flight at once.
function helpers.all_in_flight(log_path, method)
  local last_served, first_out, n = -math.huge, math.huge, 0
  for _, e in ipairs(helpers.served(log_path)) do
    if e.method == method then
      n = n + 1
      if e.at > last_served then last_served = e.at end
      if e.at + (e.held or 0) < first_out then first_out = e.at + (e.held or 0) end
    end
  end
  return n > 0 and last_served < first_out, n,
    ("the last %s was served %.3f s after the first answer went out"):format(method, last_served - first_out)
end

--- cloudops.connect(opts), with the client's own pauses recorded: those of its call path
-- (rate limit, operation slots, retries' backoff; client.new's `sleep`, which specs may give),
-- each still taken as usual (a task's own pause inside cloudops.map). Returns the client and
-- { count =, total =, longest = } (seconds, as the client asked for them): what the client
-- decided to wait, whatever the load of the machine made of it.
function helpers.connect_recording_pauses(opts)
  local client = require "cloudops.client"
  local grpc_transport = require "cloudops.client.grpc_transport"
  local sleep = require "cloudops.sleep"
  local paused = { count = 0, total = 0, longest = 0 }
  local c = assert(client.new(opts, grpc_transport.new, { sleep = function(s)
    paused.count = paused.count + 1
    paused.total = paused.total + s
    if s > paused.longest then paused.longest = s end
    return sleep(s)
  end }))
  return c, paused
end

--- Makes a CA and a server certificate for 127.0.0.1/localhost with openssl, plus a second,
-- unrelated CA. Returns paths: { ca, cert, key, other_ca, client_cert, client_key }.
function helpers.make_certs()
  local d = helpers.tmpdir()
  local q = sh_quote
  local script = table.concat({
    "set -e", "cd " .. q(d),
    "openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 -subj /CN=spec-ca 2>/dev/null",
    "openssl req -x509 -newkey rsa:2048 -nodes -keyout other.key -out other.pem -days 2 -subj /CN=other-ca 2>/dev/null",
    "openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj /CN=localhost 2>/dev/null",
    "printf 'subjectAltName=DNS:localhost,DNS:cloudops.test,IP:127.0.0.1\\n' > san.ext",
    "openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem -days 2"
      .. " -extfile san.ext 2>/dev/null",
    "openssl req -newkey rsa:2048 -nodes -keyout client.key -out client.csr -subj /CN=client 2>/dev/null",
    "openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out client.pem -days 2 2>/dev/null",
  }, "\n")
  local _, ok = helpers.run("sh -c " .. q(script))
  assert(ok, "openssl failed")
  return { ca = d .. "/ca.pem", cert = d .. "/server.pem", key = d .. "/server.key",
           other_ca = d .. "/other.pem", client_cert = d .. "/client.pem", client_key = d .. "/client.key" }
end

--- A TLS test server and a plaintext one: s.start() (for lazy_setup) fills s.certs,
-- s.tls_server and s.plain_server; s.stop() (for lazy_teardown) stops them.
function helpers.tls_and_plain_servers()
  local s = {}
  function s.start()
    s.certs = helpers.make_certs()
    s.tls_server = helpers.test_server{ tls = { cert = s.certs.cert, key = s.certs.key } }
    s.plain_server = helpers.test_server()
  end
  function s.stop()
    if s.tls_server then s.tls_server.stop() end
    if s.plain_server then s.plain_server.stop() end
    helpers.cleanup()
  end
  return s
end

--- Protobuf wire bytes by hand, for specs that need exact or malformed payloads: a varint
-- (n >= 0, exact below 2^53), and a length-delimited field given its tag byte(s).
function helpers.varint(n)
  local out = {}
  repeat
    local b = n % 128
    n = (n - b) / 128
    out[#out + 1] = string.char(n > 0 and b + 128 or b)
  until n == 0
  return table.concat(out)
end

function helpers.ld(tag, s)
  return tag .. helpers.varint(#s) .. s
end

--- Deep equality, for tables decoded from messages.
function helpers.deep_equal(a, b, path)
  path = path or "value"
  if type(a) ~= type(b) then return false, path .. ": " .. type(a) .. " vs " .. type(b) end
  if type(a) ~= "table" then
    if a == b or (a ~= a and b ~= b) then return true end
    return false, path .. ": " .. tostring(a) .. " vs " .. tostring(b)
  end
  for k, v in pairs(a) do
    local ok, why = helpers.deep_equal(v, b[k], path .. "." .. tostring(k))
    if not ok then return false, why end
  end
  for k in pairs(b) do
    if a[k] == nil then return false, path .. "." .. tostring(k) .. ": missing on the left" end
  end
  return true
end

return helpers
