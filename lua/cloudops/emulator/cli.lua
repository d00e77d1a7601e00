-- The command line of bin/cloudops-emulator: flags to options (Debian's lua-argparse), start,
-- banner, loop.
local faults = require "cloudops.emulator.faults"
local argparse = require "argparse"

local format = string.format

local M = {}

-- "method=CreateNamespace,code=UNAVAILABLE,when=after" -> a fault rule table.
function M.parse_fault(text)
  local rule = {}
  for pair in (text .. ","):gmatch("([^,]*),") do
    if pair ~= "" then
      local k, v = pair:match("^%s*([%w_]+)%s*=%s*(.-)%s*$")
      if not k then return nil, "bad fault rule part: " .. pair end
      if k == "delay" or k == "skip" then
        v = tonumber(v)
        if not v then return nil, "fault rule: " .. k .. " must be a number" end
      elseif k == "times" then
        v = (v == "always" or v == "*") and math.huge or tonumber(v)
        if not v then return nil, "fault rule: times must be a number or 'always'" end
      end
      rule[k] = v
    end
  end
  local ok, err = pcall(faults.new, { rule })
  if not ok then return nil, tostring(err):gsub("^.-:%d+: ", "") end
  return rule
end

-- The inverse, for spawn: a rule table -> the flag's text.
function M.format_fault(rule)
  local parts = {}
  for _, k in ipairs { "method", "code", "when", "delay", "operation", "reason", "message",
                       "times", "skip" } do
    local v = rule[k]
    if v ~= nil then
      if k == "times" and v == math.huge then v = "always" end
      v = tostring(v)
      if v:find(",", 1, true) then error("fault rule " .. k .. " must not contain a comma", 3) end
      parts[#parts + 1] = k .. "=" .. v
    end
  end
  return table.concat(parts, ",")
end

-- A converter of argparse: text -> a number at least 0 (a whole one when whole), or nil, message.
local function number(what, whole)
  return function(text)
    local n = tonumber(text)
    if not n or n ~= n or n < 0 or (whole and n % 1 ~= 0) then
      return nil, "needs " .. what .. ", got '" .. text .. "'"
    end
    return n
  end
end

local function fault(text)
  local rule, err = M.parse_fault(text)
  if not rule then return nil, err end
  return rule
end

-- The flags, parsed by Debian's lua-argparse; --help prints what it makes of them.
local function parser()
  local p = argparse("cloudops-emulator", "A local, in-memory server of the Temporal Cloud " ..
    "Operations API (for tests, demos and dry runs). The first line of output is " ..
    "\"listening on 127.0.0.1:<port>\"; then come the accepted API keys, then \"ready\".")
    :add_help(false):help_max_width(92):usage_max_width(92)
  local non_negative = number("a non-negative number")
  local count = number("a count", true)
  p:option("--port", "port to listen on (default 0: a free port)"):argname("N"):convert(non_negative)
  p:option("--host", "address to listen on (default 127.0.0.1)"):argname("ADDR")
  p:option("--tls-cert", "serve TLS with this certificate (PEM) and the key of --tls-key"):argname("FILE")
  p:option("--tls-key", "the key of --tls-cert (PEM)"):argname("FILE")
  p:option("--state", "load the state from FILE if it exists; save it there on change and at exit")
    :argname("FILE")
  p:option("--twin", "serve a twin of the account in snapshot FILE (cloudops snapshot): its " ..
    "resources, ids and versions, a local API key for its identity (printed first) and for every " ..
    "user and service account; realistic timings unless --profile says otherwise"):argname("FILE")
  p:option("--log", "request log, one line per request (\"-\": stderr, the default; \"none\": no log)")
    :argname("FILE")
  p:option("--api-key", "the owner's API key (default: a random one)"):argname("TOKEN")
  p:option("--account-id", "the account id (default emu01)"):argname("ID")
  p:option("--seed-namespaces", "create N namespaces at start"):argname("N"):convert(count)
  p:option("--seed-users", "create N users at start"):argname("N"):convert(count)
  p:option("--seed-service-accounts", "create N service accounts at start"):argname("N"):convert(count)
  p:option("--seed-audit-logs", "create N audit log records at start"):argname("N"):convert(count)
  p:option("--op-duration", "seconds until an async operation ends (default 2)"):argname("S")
    :convert(non_negative)
  p:option("--op-pending", "seconds an operation stays PENDING (default 0.5)"):argname("S")
    :convert(non_negative)
  p:option("--check-duration", "fixed check_duration hint (default: the time left)"):argname("S")
    :convert(non_negative)
  p:option("--profile", "timings: fast (the default, for tests) or realistic (for dry runs: " ..
    "answers 0.25 s away, namespace operations of a minute and more, check_duration 5 s); " ..
    "the other timing flags override it"):argname("NAME")
  p:option("--latency", "hold every answer back S seconds (give or take 10%), as a distant " ..
    "server would; other calls are served meanwhile"):argname("S"):convert(non_negative)
  local rate = number("a rate")
  p:option("--rate-user", "requests/s per user (default 40; 0 turns the limit off)"):argname("N")
    :convert(rate)
  p:option("--rate-service-account", "requests/s per service account (default 80)"):argname("N")
    :convert(rate)
  p:option("--rate-account", "requests/s per account (default 160)"):argname("N"):convert(rate)
  p:flag("--no-rate-limit", "no rate limits at all")
  p:option("--max-operations", "async operations in flight per account (default 10; 0: no " ..
    "limit); one more mutation is answered RESOURCE_EXHAUSTED"):argname("N"):convert(count)
  p:option("--page-size", "default page size (100)"):argname("N"):convert(non_negative)
  p:option("--max-page-size", "largest page size (1000)"):argname("N"):convert(non_negative)
  p:option("--max-projects", "projects per account, the Default Project included (default 5)")
    :argname("N"):convert(count)
  p:option("--max-namespaces", "the account's namespace allowance (default 10); it rises by itself, " ..
    "up to 100, while every namespace is in use (made before today)"):argname("N"):convert(count)
  p:option("--max-users", "users per account (default 300)"):argname("N"):convert(count)
  p:option("--max-nexus-endpoints", "Nexus endpoints per account (default 100)"):argname("N"):convert(count)
  p:option("--fault", "inject a fault (repeatable); RULE is key=value pairs separated by commas: " ..
    "method=NAME|*, code=UNAVAILABLE, when=before|after, delay=S, " ..
    "operation=FAILED|REJECTED|CANCELLED, reason=TEXT, message=TEXT, times=N|always, skip=N")
    :argname("RULE"):count("*"):convert(fault)
  p:option("--stop-file", "exit cleanly (saving the state) once FILE exists"):argname("FILE")
  p:flag("--exit-with-parent", "exit cleanly when the process that started this one ends")
  p:flag("-h --help", "this text")
  return p
end

M.USAGE = parser():get_help():gsub("^Usage:", "usage:") .. "\n"

-- argv -> options for emulator.new, or nil, message.
function M.parse(argv)
  local ok, a = parser():pparse(argv)
  if not ok then return nil, a end
  local opts = {
    help = a.help or nil, port = a.port, host = a.host, state_file = a.state, api_key = a.api_key,
    twin = a.twin,
    account_id = a.account_id, op_duration = a.op_duration, op_pending = a.op_pending,
    check_duration = a.check_duration, profile = a.profile, latency = a.latency,
    max_operations = a.max_operations, default_page_size = a.page_size,
    max_page_size = a.max_page_size, max_projects = a.max_projects, max_namespaces = a.max_namespaces,
    max_users = a.max_users, max_nexus_endpoints = a.max_nexus_endpoints, stop_file = a.stop_file,
    exit_with_parent = a.exit_with_parent or nil, faults = a.fault,
    log = (a.log == nil and "-") or (a.log ~= "none" and a.log) or nil,
    seed = { namespaces = a.seed_namespaces, users = a.seed_users,
             service_accounts = a.seed_service_accounts, audit_logs = a.seed_audit_logs },
  }
  if a.tls_cert or a.tls_key then
    if not (a.tls_cert and a.tls_key) then return nil, "--tls-cert and --tls-key go together" end
    opts.tls = { cert_file = a.tls_cert, key_file = a.tls_key }
  end
  if a.no_rate_limit then
    opts.rate_limits = false
  elseif a.rate_user or a.rate_service_account or a.rate_account then
    opts.rate_limits = { user = a.rate_user, service_account = a.rate_service_account,
                         account = a.rate_account }
  end
  if opts.op_pending and opts.op_duration and opts.op_pending > opts.op_duration then
    opts.op_pending = opts.op_duration
  end
  return opts
end

local function describe_key(emu, token)
  local st = emu.st
  local key = st.api_keys[st.tokens[token] or ""]
  if not key then return "" end
  local u = st.users[key.spec.owner_id]
  if u then
    return format(" (user %s, %s)", u.spec.email, u.spec.access.account_access.role)
  end
  local sa = st.service_accounts[key.spec.owner_id]
  if sa then
    return format(" (service account %s, %s)", sa.spec.name, sa.spec.access.account_access.role)
  end
  return ""
end

local function parent_pid()
  local f = io.open("/proc/self/stat", "r")
  if not f then return nil end
  local line = f:read("*l")
  f:close()
  return line and tonumber(line:match("^%d+ %b() %a (%d+)"))
end

-- How a spawned emulator learns that it should end: a file appearing (spawn's stop) or
-- its parent going away (a test run that crashed), checked at most 4 times a second.
-- Signals would do, but the interpreters cannot catch SIGTERM and SIGINT can be missed.
function M.stop_check(stop_file, with_parent)
  if not stop_file and not with_parent then return nil end
  local ppid = with_parent and parent_pid()
  local last
  local clock = require("cloudops.core").now
  return function()
    local t = clock()
    if last and t - last < 0.25 then return nil end
    last = t
    if stop_file then
      local f = io.open(stop_file, "r")
      if f then f:close() return "stopped" end
    end
    if ppid and parent_pid() ~= ppid then return "stopped" end
    return nil
  end
end

-- Runs the emulator; returns the exit status.
function M.main(argv)
  local args = {}
  for i = 1, #(argv or {}) do args[i] = argv[i] end
  local opts, err = M.parse(args)
  if not opts then
    io.stderr:write("cloudops-emulator: ", err, "\n", "try --help\n")
    return 2
  end
  if opts.help then io.stdout:write(M.USAGE) return 0 end
  local stop_file, with_parent = opts.stop_file, opts.exit_with_parent
  opts.help, opts.stop_file, opts.exit_with_parent = nil, nil, nil
  local emulator = require "cloudops.emulator"
  local ok, emu = pcall(emulator.new, opts)
  if not ok then
    io.stderr:write("cloudops-emulator: ", tostring(emu):gsub("^.-:%d+: ", ""), "\n")
    return 1
  end
  local server = require "cloudops.emulator.server"
  local srv, serr = server.start(emu)
  if not srv then
    io.stderr:write("cloudops-emulator: cannot listen: ", tostring(serr), "\n")
    return 1
  end
  -- SIGTERM and SIGINT end the loop between turns, so the state is saved and calls answered.
  local core = require "cloudops.core"
  if core.trap_signals then core.trap_signals{ "TERM", "INT" } end
  -- Before the banner: a parent that exits as soon as it has read it must be seen going.
  local should_stop = M.stop_check(stop_file, with_parent)
  local out = io.stdout
  out:write(format("listening on %s\n", srv:endpoint()))
  local first
  if emu.twin then
    -- A twin: the snapshot's identity first, then every user and service account.
    local twin = require "cloudops.emulator.twin"
    out:write(format("twin of account %s, snapshot taken %s by %s\n", emu.st.account.id,
      tostring(emu.twin.taken_at), tostring(emu.twin.by)))
    for _, p in ipairs(emu.twin.principals) do
      out:write(format("api key %s: %s%s\n", p.name, p.token, twin.describe(p)))
    end
    first = emu.twin.principals[1] and emu.twin.principals[1].token
  else
    for _, p in ipairs(require("cloudops.emulator.seed").PRINCIPALS) do
      local token = emu.keys[p.name]
      out:write(format("api key %s: %s%s\n", p.name, token, describe_key(emu, token)))
    end
    first = emu.keys[require("cloudops.emulator.seed").PRINCIPALS[1].name]
  end
  -- What a shell needs for the tour, the CLI and scripts that call cloudops.connect() as they
  -- would against Temporal Cloud (the first key: the account's owner, or a twin's identity).
  out:write("to use it from a shell:\n", format("  export TEMPORAL_CLOUD_ENDPOINT=%s TEMPORAL_CLOUD_API_KEY=%s%s\n",
    srv:endpoint(), first, srv.tls and "" or " TEMPORAL_CLOUD_INSECURE=1"))
  out:write(format("ready: account %s, %s, Ctrl-C to stop\n", emu.st.account.id,
    srv.tls and "TLS" or "plaintext"))
  out:flush()
  local how = srv:run(should_stop)
  local sok, saverr = srv:shutdown()
  out:write("stopped: ", how, "\n")
  out:flush()
  if not sok then io.stderr:write("cloudops-emulator: cannot save state: ", tostring(saverr), "\n") end
  if how ~= "stopped" and not how:find("interrupted", 1, true) and not how:find("^signal") then
    io.stderr:write("cloudops-emulator: ", how, "\n")
    return 1
  end
  return 0
end

return M
