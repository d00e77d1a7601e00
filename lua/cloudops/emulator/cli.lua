-- The command line of bin/cloudops-emulator: flags to options, start, banner, loop.
local faults = require "cloudops.emulator.faults"

local format = string.format

local M = {}

M.USAGE = [[
usage: cloudops-emulator [options]

A local, in-memory server of the Temporal Cloud Operations API (for tests, demos and
dry runs). The first line of output is "listening on 127.0.0.1:<port>"; then come the
accepted API keys, then "ready".

  --port N                 port to listen on (default 0: a free port)
  --host ADDR              address to listen on (default 127.0.0.1)
  --tls-cert FILE          serve TLS with this certificate (PEM) ...
  --tls-key FILE           ... and this key
  --state FILE             load the state from FILE if it exists; save it there on change
                           and at exit
  --log FILE               request log, one line per request ("-": stderr, the default;
                           "none": no log)
  --api-key TOKEN          the owner's API key (default: a random one)
  --account-id ID          the account id (default emu01)
  --seed-namespaces N      create N namespaces at start (also --seed-users N,
                           --seed-service-accounts N, --seed-audit-logs N)
  --profile NAME           timings: fast (the default, for tests) or realistic (for dry runs:
                           answers 0.25 s away, namespace operations of a minute and more,
                           check_duration 5 s); the flags below override it
  --op-duration S          seconds until an async operation ends (default 2)
  --op-pending S           seconds an operation stays PENDING (default 0.5)
  --check-duration S       fixed check_duration hint (default: the time left)
  --latency S              hold every answer back S seconds (give or take 10%), as a
                           distant server would; other calls are served meanwhile
  --rate-user N            requests/s per user (default 40); also --rate-service-account N
                           (80), --rate-account N (160); 0 turns one limit off
  --no-rate-limit          no rate limits at all
  --max-operations N       async operations in flight per account (default 10; 0: no limit);
                           one more mutation is answered RESOURCE_EXHAUSTED
  --page-size N            default page size (100); --max-page-size N (1000)
  --max-projects N         projects per account, the Default Project included (default 5)
  --fault RULE             inject a fault; RULE is key=value pairs separated by commas:
                           method=NAME|*, code=UNAVAILABLE, when=before|after, delay=S,
                           operation=FAILED|REJECTED|CANCELLED, reason=TEXT,
                           message=TEXT, times=N|always, skip=N (repeatable)
  --stop-file FILE         exit cleanly (saving the state) once FILE exists
  --exit-with-parent       exit cleanly when the process that started this one ends
  --help                   this text
]]

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

local NUMBER_FLAGS = {
  ["--port"] = "port", ["--op-duration"] = "op_duration", ["--op-pending"] = "op_pending",
  ["--check-duration"] = "check_duration", ["--latency"] = "latency",
  ["--page-size"] = "default_page_size",
  ["--max-page-size"] = "max_page_size", ["--max-projects"] = "max_projects",
  ["--max-operations"] = "max_operations",
}
local STRING_FLAGS = {
  ["--host"] = "host", ["--state"] = "state_file", ["--log"] = "log",
  ["--api-key"] = "api_key", ["--account-id"] = "account_id", ["--profile"] = "profile",
}
local SEED_FLAGS = {
  ["--seed-namespaces"] = "namespaces", ["--seed-users"] = "users",
  ["--seed-service-accounts"] = "service_accounts", ["--seed-audit-logs"] = "audit_logs",
}
local RATE_FLAGS = {
  ["--rate-user"] = "user", ["--rate-service-account"] = "service_account",
  ["--rate-account"] = "account",
}

-- argv -> options for emulator.new, or nil, message.
function M.parse(argv)
  local opts = { log = "-", seed = {}, faults = {} }
  local tls = {}
  local rates
  local i = 1
  local function value(flag)
    i = i + 1
    local v = argv[i]
    if v == nil then error({ msg = flag .. " needs a value" }) end
    return v
  end
  local ok, err = pcall(function()
    while i <= #argv do
      local a = argv[i]
      local flag, inline = a:match("^(%-%-[%w%-]+)=(.*)$")
      if flag then a = flag; table.insert(argv, i + 1, inline) end
      if a == "--help" or a == "-h" then opts.help = true
      elseif a == "--no-rate-limit" then rates = false
      elseif a == "--exit-with-parent" then opts.exit_with_parent = true
      elseif a == "--stop-file" then opts.stop_file = value(a)
      elseif NUMBER_FLAGS[a] then
        local n = tonumber(value(a))
        if not n or n < 0 then error({ msg = a .. " needs a non-negative number" }) end
        opts[NUMBER_FLAGS[a]] = n
      elseif STRING_FLAGS[a] then opts[STRING_FLAGS[a]] = value(a)
      elseif SEED_FLAGS[a] then
        local n = tonumber(value(a))
        if not n or n < 0 or n ~= math.floor(n) then error({ msg = a .. " needs a count" }) end
        opts.seed[SEED_FLAGS[a]] = n
      elseif RATE_FLAGS[a] then
        local n = tonumber(value(a))
        if not n or n < 0 then error({ msg = a .. " needs a rate" }) end
        if rates ~= false then rates = rates or {}; rates[RATE_FLAGS[a]] = n end
      elseif a == "--tls-cert" then tls.cert_file = value(a)
      elseif a == "--tls-key" then tls.key_file = value(a)
      elseif a == "--fault" then
        local rule, ferr = M.parse_fault(value(a))
        if not rule then error({ msg = "--fault: " .. ferr }) end
        opts.faults[#opts.faults + 1] = rule
      else
        error({ msg = "unknown option " .. a })
      end
      i = i + 1
    end
  end)
  if not ok then
    if type(err) == "table" then return nil, err.msg end
    error(err, 0)
  end
  if tls.cert_file or tls.key_file then
    if not (tls.cert_file and tls.key_file) then return nil, "--tls-cert and --tls-key go together" end
    opts.tls = tls
  end
  if rates ~= nil then opts.rate_limits = rates end
  if opts.log == "none" then opts.log = nil end
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
  for _, p in ipairs(require("cloudops.emulator.seed").PRINCIPALS) do
    local token = emu.keys[p.name]
    out:write(format("api key %s: %s%s\n", p.name, token, describe_key(emu, token)))
  end
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
