-- cloudops.emulator: a local, in-memory server of the Temporal Cloud Operations API.
--
--   local emulator = require "cloudops.emulator"
--   local emu = emulator.spawn{ op_duration = 0.1 }  -- a child process, see spawn
--   ... cloudops.connect{ endpoint = emu.endpoint, insecure = true, api_key = emu.api_key }
--   emu.stop()
--
--   local e = emulator.new{ ... }     -- the model in this process, without gRPC:
--   e:client("owner"):call("GetNamespaces", { page_size = 10 })
--   emulator.serve{ port = 7233 }     -- serve in this process until interrupted
local instance = require "cloudops.emulator.instance"

local format, concat = string.format, table.concat

local M = {}

local has_core, core = pcall(require, "cloudops.core")

-- The in-process emulator. With the C core loaded, the clock is its wall clock (sub-second
-- timings), operation_input is encoded, tokens come from the OS random source and requests
-- are checked against the API versions of the fields they set.
function M.new(opts)
  opts = opts or {}
  if has_core then
    local o = {}
    for k, v in pairs(opts) do o[k] = v end
    o.clock = o.clock or core.time
    o.encode = o.encode or core.encode
    o.random = o.random or core.random_bytes
    o.describe = o.describe or core.describe
    opts = o
  end
  -- A twin of a snapshot's account: its file loaded, its defaults (twin.lua).
  if opts.twin ~= nil then opts = require("cloudops.emulator.twin").options(opts) end
  return instance.new(opts)
end

-- Listens and serves in this process until interrupted; returns how it ended.
function M.serve(opts)
  local server = require "cloudops.emulator.server"
  local emu = M.new(opts)
  local srv, err = server.start(emu)
  if not srv then return nil, err end
  if opts and opts.on_listen then opts.on_listen(srv:endpoint(), emu.keys, emu) end
  local how = srv:run()
  srv:shutdown()
  return how
end

local shell_quote = require("cloudops.emulator.util").shell_quote

-- Option table -> command line flags of bin/cloudops-emulator.
local function flags(opts)
  local f = { "--port", tostring(opts.port or 0) }
  local function add(flag, v) if v ~= nil then f[#f + 1] = flag; f[#f + 1] = tostring(v) end end
  add("--host", opts.host)
  add("--state", opts.state_file)
  add("--twin", opts.twin)
  add("--log", opts.log or "none")
  add("--api-key", opts.api_key)
  add("--account-id", opts.account_id)
  add("--op-duration", opts.op_duration)
  add("--op-pending", opts.op_pending)
  add("--check-duration", opts.check_duration)
  add("--profile", opts.profile)
  add("--latency", opts.latency)
  if opts.max_operations == false then add("--max-operations", 0)
  else add("--max-operations", opts.max_operations) end
  add("--page-size", opts.default_page_size)
  add("--max-page-size", opts.max_page_size)
  add("--max-projects", opts.max_projects)
  add("--max-namespaces", opts.max_namespaces)
  add("--max-users", opts.max_users)
  add("--max-nexus-endpoints", opts.max_nexus_endpoints)
  if opts.tls then
    add("--tls-cert", opts.tls.cert_file)
    add("--tls-key", opts.tls.key_file)
  end
  local seed = opts.seed or {}
  add("--seed-namespaces", seed.namespaces)
  add("--seed-users", seed.users)
  add("--seed-service-accounts", seed.service_accounts)
  add("--seed-audit-logs", seed.audit_logs)
  if opts.rate_limits == false then
    f[#f + 1] = "--no-rate-limit"
  elseif opts.rate_limits then
    add("--rate-user", opts.rate_limits.user)
    add("--rate-service-account", opts.rate_limits.service_account)
    add("--rate-account", opts.rate_limits.account)
  end
  local cli = require "cloudops.emulator.cli"
  for _, rule in ipairs(opts.faults or {}) do add("--fault", cli.format_fault(rule)) end
  return f
end

local function proc_state(pid)
  local f = io.open("/proc/" .. pid .. "/stat", "r")
  if not f then return nil end
  local s = f:read("*l")
  f:close()
  return s and s:match("^%d+ %b() (%a)")
end

local function sleep(s)
  if has_core then core.sleep(s) else os.execute("sleep " .. s) end
end

-- The command that runs the emulator's command line: opts.bin under opts.lua when given;
-- else this process's own interpreter (/proc: the one that found these modules and the core)
-- running cloudops.emulator.cli with this process's package.path and package.cpath, so that
-- it works the same in a source tree, after `make install` and in a luarocks tree (whose
-- bin/ holds shell wrappers, not Lua). The fallback interpreter is lua5.4 or luajit.
local function command(opts, args)
  local fallback = rawget(_G, "jit") and "luajit" or "lua5.4"
  local lua = opts.lua and shell_quote(opts.lua) or
    format('"$(exe=$(readlink /proc/$PPID/exe 2>/dev/null); ' ..
      'case "${exe##*/}" in lua*|luajit*) echo "$exe";; *) echo %s;; esac)"', fallback)
  if opts.bin then return lua .. " " .. shell_quote(opts.bin) .. " " .. concat(args, " ") end
  local quoted = {}
  for i, a in ipairs(args) do quoted[i] = format("%q", a) end
  local code = format("package.path = %q; package.cpath = %q; os.exit(require('cloudops.emulator.cli').main({ %s }))",
    package.path, package.cpath, concat(quoted, ", "))
  return lua .. " -e " .. shell_quote(code)
end

-- Starts the emulator (its command line, cloudops-emulator) as a child process and waits for
-- its banner. opts: the options of `new` that have flags (port, profile, op_duration,
-- op_pending, check_duration, latency, rate_limits, max_operations, default_page_size,
-- max_page_size, max_projects, max_namespaces, max_users, max_nexus_endpoints, faults, seed,
-- state_file, log, api_key, account_id, tls = { cert_file, key_file }, twin = a snapshot file
-- or table), plus lua (the
-- interpreter; default: the one running), bin (a launcher script to run instead) and timeout
-- (seconds).
-- The child gets a session of its own (setsid), so a Ctrl-C meant for this process (a REPL)
-- does not reach it; it exits when this process does.
-- Returns { endpoint, port, api_key (the owner's), keys = { owner, admin, developer,
-- reader }, pid, stop = function } or nil, err. A twin's api_key is the snapshot identity's,
-- its keys { [email or name] = token } for every user and service account.
function M.spawn(opts)
  opts = opts or {}
  -- A snapshot table goes to the child in a file of its own, removed by stop.
  local twin_file
  if type(opts.twin) == "table" then
    local o = {}
    for k, v in pairs(opts) do o[k] = v end
    twin_file = os.tmpname()
    local ok, err = require("cloudops.snapshot").save(opts.twin, twin_file)
    if not ok then os.remove(twin_file) return nil, "cannot write the twin's snapshot: " .. tostring(err) end
    o.twin = twin_file
    opts = o
  end
  local errfile = os.tmpname()
  local stopfile = os.tmpname()
  os.remove(stopfile)
  local args = { "--exit-with-parent", "--stop-file", stopfile }
  for _, a in ipairs(flags(opts)) do args[#args + 1] = a end
  if opts.bin then
    for i, a in ipairs(args) do args[i] = shell_quote(a) end
  end
  -- popen's sh prints its pid and then becomes the emulator (setsid execs in place: sh leads
  -- no process group), so the pid is the emulator's and its parent is this process
  -- (--exit-with-parent watches for that to change).
  local run = command(opts, args)
  local cmd = format("exec 2>%s; echo $$; if command -v setsid >/dev/null; then exec setsid %s; else exec %s; fi",
    shell_quote(errfile), run, run)
  local pipe = io.popen(cmd, "r")
  if not pipe then os.remove(errfile) return nil, "cannot start the emulator" end
  local pid = tonumber(pipe:read("*l") or "")
  local function gone()
    local st = proc_state(pid)
    return st == nil or st == "Z"
  end
  local handle = { pid = pid, keys = {} }
  local lines = {}
  while true do
    local line = pipe:read("*l")
    if not line then break end
    lines[#lines + 1] = line
    local ep = line:match("^listening on (%S+)$")
    if ep then handle.endpoint = ep; handle.port = tonumber(ep:match(":(%d+)$")) end
    local who, token = line:match("^api key (.-): (%S+)")
    if who then
      handle.keys[who] = token
      handle.api_key = handle.api_key or token   -- the first printed: the owner's, a twin's identity's
    end
    if line:find("^ready") then break end
  end
  local stopped = false
  function handle.stop()
    if stopped then return true end
    stopped = true
    if pid then
      -- The stop file lets the emulator shut down cleanly (and save its state); then an
      -- interrupt, then KILL if it hangs.
      local f = io.open(stopfile, "w")
      if f then f:close() end
      local waited, limit = 0, opts.stop_timeout or 3
      while not gone() and waited < limit do
        if waited >= limit / 2 and waited < limit / 2 + 0.02 then
          os.execute("kill -INT " .. pid .. " 2>/dev/null")
        end
        sleep(0.02)
        waited = waited + 0.02
      end
      if not gone() then os.execute("kill -KILL " .. pid .. " 2>/dev/null") end
    end
    local _, how, code = pipe:close()   -- reaps the child
    os.remove(errfile)
    os.remove(stopfile)
    if twin_file then os.remove(twin_file) end
    return true, how, code
  end
  if not handle.endpoint or not handle.api_key then
    local f = io.open(errfile, "r")
    local err = f and f:read("*a") or ""
    if f then f:close() end
    local _, how, code = handle.stop()
    return nil, format("the emulator did not start (%s %s): %s", tostring(how), tostring(code),
      err ~= "" and err or concat(lines, "\n"))
  end
  -- Stopped when collected, or when the Lua state closes. LuaJIT runs no finalizer of a
  -- table, only of a userdata: without one, the pipe's own finalizer, as the state closes,
  -- would wait for an emulator that waits for this process to end.
  local mt = { __gc = function(h) h.stop() end }
  if newproxy then
    mt.sentinel = newproxy(true)   -- kept as long as the handle is, by its metatable
    getmetatable(mt.sentinel).__gc = function() handle.stop() end
  end
  return setmetatable(handle, mt)
end

return M
