-- What the tool specs share: an emulator child process, the command line and the examples run
-- as subprocesses (stdout, stderr and exit status apart), and the REPL driven through a
-- pseudo-terminal by pty_session.py.
local helpers = require "helpers"
local json = require "cloudops.json"

local T = {}

local q = helpers.sh_quote
T.ROOT = helpers.ROOT
T.PY = "/usr/bin/python3"
-- The tools run under the Lua the specs run under (their launchers pick the matching build).
T.LUA = helpers.LUA

--- Starts an emulator (fast operations, no rate limits unless asked); returns the handle.
function T.emulator(opts)
  local o = { op_duration = 0.2, op_pending = 0.05, rate_limits = false }
  for k, v in pairs(opts or {}) do o[k] = v end
  return assert(require("cloudops.emulator").spawn(o))
end

-- "env -u NAME ... NAME=value ..." for a shell command; a false value unsets NAME (env(1)
-- takes its options before the assignments).
local function env_prefix(env)
  local unset, set = {}, {}
  for k, v in pairs(env or {}) do
    if v == false then unset[#unset + 1] = "-u " .. k else set[#set + 1] = k .. "=" .. q(v) end
  end
  if #unset + #set == 0 then return "" end
  table.sort(unset)
  table.sort(set)
  return "env " .. table.concat(unset, " ") .. " " .. table.concat(set, " ") .. " "
end

--- Runs `command` (a shell command line) with env and stdin text; returns stdout, stderr and
-- the exit status.
function T.run(command, env, stdin)
  local dir = helpers.tmpdir()
  local err_path, in_path = dir .. "/stderr", dir .. "/stdin"
  helpers.write_file(in_path, stdin or "")
  local out, _, code = helpers.run(env_prefix(env) .. command .. " < " .. q(in_path) .. " 2> " .. q(err_path))
  return out, helpers.read_file(err_path) or "", code
end

--- Runs bin/cloudops with the arguments given (each quoted) against emu (nil: no endpoint
-- flags or key). Returns stdout, stderr, status.
function T.cli(emu, argv, opts)
  opts = opts or {}
  local parts = { T.LUA, q(T.ROOT .. "bin/cloudops") }
  for _, a in ipairs(argv) do parts[#parts + 1] = q(a) end
  local env = { TEMPORAL_CLOUD_API_KEY = false }
  if emu then
    parts[#parts + 1] = "--endpoint " .. q(emu.endpoint) .. " --insecure"
    env.TEMPORAL_CLOUD_API_KEY = opts.api_key or emu.api_key
  end
  for k, v in pairs(opts.env or {}) do env[k] = v end
  return T.run(table.concat(parts, " "), env, opts.stdin)
end

--- The JSON objects of output with one per line.
function T.json_lines(out)
  local list = {}
  for line in out:gmatch("[^\n]+") do list[#list + 1] = assert(json.decode_value(line), line) end
  return list
end

--- Runs an example script against emu; returns stdout, stderr, status.
function T.example(emu, name, argv)
  local parts = { T.LUA, q(T.ROOT .. "examples/" .. name) }
  for _, a in ipairs(argv or {}) do parts[#parts + 1] = q(a) end
  return T.run(table.concat(parts, " "), {
    TEMPORAL_CLOUD_ENDPOINT = emu.endpoint, TEMPORAL_CLOUD_INSECURE = "1",
    TEMPORAL_CLOUD_API_KEY = emu.api_key,
  })
end

--- Runs bin/cloudops-repl (under lua5.4: the REPL is 5.4's) in a pseudo-terminal through the
-- steps of pty_session.py; returns its report { ok, failed, status, transcript }.
function T.pty(steps, argv, env)
  local dir = helpers.tmpdir()
  local steps_path = dir .. "/steps.json"
  local e = { TERM = "dumb" }
  for k, v in pairs(env or {}) do e[k] = v end
  helpers.write_file(steps_path, assert(json.encode_value({ env = e, steps = steps })))
  local cmd = { T.PY, q(T.ROOT .. "spec/06-tools/support/pty_session.py"), q(steps_path), "--",
                "lua5.4", q(T.ROOT .. "bin/cloudops-repl") }
  for _, a in ipairs(argv or {}) do cmd[#cmd + 1] = q(a) end
  local out = helpers.run(table.concat(cmd, " ") .. " 2>&1")
  local report = json.decode_value(out)
  assert(type(report) == "table", "pty_session.py said: " .. out)
  return report
end

--- Runs bin/cloudops-repl with piped input; returns stdout, stderr, status.
function T.repl_piped(input, argv, env)
  local parts = { "lua5.4", q(T.ROOT .. "bin/cloudops-repl") }
  for _, a in ipairs(argv or {}) do parts[#parts + 1] = q(a) end
  return T.run(table.concat(parts, " "), env, input)
end

return T
