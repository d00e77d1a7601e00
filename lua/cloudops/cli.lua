--- cloudops.cli: the command line of bin/cloudops (API.md "Tools"), JSON in and out.
--
--   cloudops call METHOD [JSON|@FILE|@-]   one RPC; prints the response as one JSON line
--   cloudops list METHOD [JSON|@FILE|@-]   every item of every page, one JSON object a line
--   cloudops wait OPERATION_ID             polls the operation until it ends; prints it
--   cloudops methods                       the RPC names, one a line
--   cloudops describe NAME                 a method, message or enum, readable (or --json)
--   cloudops plan | apply | export         in modules of their own (MODULE_COMMANDS below)
--
-- Exit status: 0 success, 1 an RPC or operation error (its code name on stderr), 2 a usage
-- error, 3 a timeout (DEADLINE_EXCEEDED, or the end of --wait-timeout). The plan commands
-- (plan, apply): 0 no change, 2 changes, 1 failed (a usage error too).
local cloudops = require "cloudops"
local json = require "cloudops.json"
local args = require "cloudops.cli.args"
local schema = require "cloudops.schema"
local pretty = require "cloudops.pretty"

local tostring, type, ipairs, pcall = tostring, type, ipairs, pcall
local format, sub = string.format, string.sub

local cli = {}

cli.OK, cli.FAILED, cli.USAGE, cli.TIMEOUT = 0, 1, 2, 3

-- Commands in modules of their own, lua/cloudops/cli/<name>.lua: each has `usage` (its lines
-- in --help), `flags(p, declared)` (adds to the parser the flags not yet in `declared`),
-- `run(io_, opts, positional, argv)`, and `usage_status`, its exit status for a usage error
-- when not cli.USAGE (the plan commands: 2 means "changes" there).
local MODULE_COMMANDS = { "plan", "apply", "export" }
local modules = {}
for _, name in ipairs(MODULE_COMMANDS) do modules[name] = require("cloudops.cli." .. name) end

local function module_usage()
  local lines = {}
  for _, name in ipairs(MODULE_COMMANDS) do lines[#lines + 1] = modules[name].usage end
  return table.concat(lines, "\n")
end

-- The parser: the connection flags, the tool's own, and the words (command and arguments).
local function parser()
  local p = args.parser("cloudops", "A command line for the Temporal Cloud Ops API, JSON in " ..
    "and out. The API key comes from TEMPORAL_CLOUD_API_KEY, the endpoint by default from " ..
    "TEMPORAL_CLOUD_ENDPOINT.", [[
commands:
  call METHOD [JSON|@FILE|@-]   call one RPC (GetNamespaces or get_namespaces); the request as
                                JSON text, a file, or stdin; prints the response
  list METHOD [JSON|@FILE|@-]   every item of every page of a paged RPC, one JSON line each
  wait OPERATION_ID             wait for an async operation to end; prints it
  methods                       the RPC names
  describe NAME                 a method, message or enum: fields and types
]] .. module_usage() .. [[


exit status: 0 success, 1 an RPC or operation error (its code name on stderr),
2 a usage error, 3 a timeout; plan and apply: 0 no change, 2 changes, 1 failed.]])
  p:usage("usage: cloudops [options] COMMAND [ARGS]")
  p:argument("words"):args("*"):hidden(true)
  p:flag("--wait", "call: after a mutation, wait for its operation to end, and print the " ..
    "response with the operation's final state")
  p:option("--wait-timeout", "how long wait and --wait wait (default 600)"):argname("SECONDS")
    :convert(args.positive)
  p:flag("--pretty", "indented JSON (call, wait, describe --json)")
  p:flag("--proto-names", "proto field names (next_page_token) instead of JSON ones (nextPageToken)")
  p:flag("--json", "describe: the schema's plain description as JSON; plan, apply: the plan as JSON")
  p:flag("-h --help", "this text")
  p:flag("--version", "the versions")
  local declared = { json = true, pretty = true, help = true, version = true }
  for _, name in ipairs(MODULE_COMMANDS) do modules[name].flags(p, declared) end
  return p
end

-- ---- output --------------------------------------------------------------------------------

local function usage_error(io_, message)
  io_.stderr:write("cloudops: ", message, "\n(cloudops --help for usage)\n")
  return cli.USAGE
end

-- An RPC or operation error on stderr: its code name first, then what it says.
local function rpc_error(io_, err)
  local name = type(err) == "table" and err.name or "UNKNOWN"
  io_.stderr:write(tostring(name), ": ", tostring(err), "\n")
  if type(err) == "table" and type(err.details) == "table" and #err.details > 0 then
    local text = json.encode_value(err.details)
    if text then io_.stderr:write("details: ", text, "\n") end
  end
  if name == "DEADLINE_EXCEEDED" then return cli.TIMEOUT end
  return cli.FAILED
end

local function json_opts(opts)
  return { indent = opts.pretty and 2 or nil, proto_names = opts.proto_names or nil }
end

local function print_message(io_, type_name, t, opts)
  local text, err = json.encode(type_name, t, json_opts(opts))
  if not text then
    io_.stderr:write("cloudops: cannot print the ", type_name, " as JSON: ", tostring(err), "\n")
    return false
  end
  io_.stdout:write(text, "\n")
  return true
end

-- ---- input ---------------------------------------------------------------------------------

-- The request text: inline JSON, @FILE, or @- (stdin); nil for none. Or nil, message.
local function request_text(io_, arg)
  if arg == nil then return nil end
  if sub(arg, 1, 1) ~= "@" then return arg end
  local path = sub(arg, 2)
  if path == "-" then return io_.stdin:read("a") or "" end
  local f, err = io.open(path, "rb")
  if not f then return nil, "cannot read the request: " .. tostring(err) end
  local text = f:read("a")
  f:close()
  return text
end

-- The method and its request table, or nil, message (a usage error).
local function method_and_request(io_, positional, what)
  local name = positional[2]
  if not name then return nil, what .. " needs a METHOD" end
  if positional[4] then return nil, "unexpected argument '" .. positional[4] .. "'" end
  local m = schema.method(name)
  if not m then return nil, "unknown method '" .. name .. "' (cloudops methods lists them)" end
  local text, terr = request_text(io_, positional[3])
  if terr then return nil, terr end
  if text == nil or text:find("^%s*$") then return m, {} end
  local req, err = json.decode(m.input, text)
  if not req then return nil, "bad request for " .. m.name .. ": " .. tostring(err) end
  return m, req
end

local function connect(opts)
  if not args.has_key() then return nil, "no API key: set TEMPORAL_CLOUD_API_KEY" end
  local client, err = cloudops.connect(args.connect_options(opts))
  if not client then return nil, tostring(type(err) == "table" and err.message or err) end
  return client
end
cli.connect = connect -- for the command modules

-- ---- commands ------------------------------------------------------------------------------

local commands = {}

function commands.call(io_, opts, positional)
  local m, req = method_and_request(io_, positional, "call")
  if not m then return usage_error(io_, req) end
  local client, cerr = connect(opts)
  if not client then return usage_error(io_, cerr) end
  local resp, err = client:call(m.name, req)
  if not resp then
    client:close()
    return rpc_error(io_, err)
  end
  local status = cli.OK
  if opts.wait and type(resp.async_operation) == "table" then
    local op, werr = client:wait(resp, { timeout = opts.wait_timeout or 600 })
    resp.async_operation = op or (werr and werr.operation) or resp.async_operation
    if not op then status = rpc_error(io_, werr) end
  end
  client:close()
  if not print_message(io_, m.output, resp, opts) then return cli.FAILED end
  return status
end

function commands.list(io_, opts, positional)
  local m, req = method_and_request(io_, positional, "list")
  if not m then return usage_error(io_, req) end
  if not m.items then return usage_error(io_, m.name .. " is not a paged method") end
  local item_type
  for _, f in ipairs(cloudops.describe(m.output).fields) do
    if f.name == m.items then item_type = f.type_name end
  end
  local client, cerr = connect(opts)
  if not client then return usage_error(io_, cerr) end
  local lopts = { indent = nil, proto_names = opts.proto_names or nil } -- one object a line
  for item, err in client:paginate(m.name, req) do
    if not item then
      client:close()
      return rpc_error(io_, err)
    end
    local text, jerr = json.encode(item_type, item, lopts)
    if not text then
      client:close()
      io_.stderr:write("cloudops: cannot print an item as JSON: ", tostring(jerr), "\n")
      return cli.FAILED
    end
    io_.stdout:write(text, "\n")
  end
  client:close()
  return cli.OK
end

local ASYNC_OPERATION = "temporal.api.cloud.operation.v1.AsyncOperation"

function commands.wait(io_, opts, positional)
  local id = positional[2]
  if not id or id == "" then return usage_error(io_, "wait needs an OPERATION_ID") end
  if positional[3] then return usage_error(io_, "unexpected argument '" .. positional[3] .. "'") end
  local client, cerr = connect(opts)
  if not client then return usage_error(io_, cerr) end
  local op, err = client:wait(id, { timeout = opts.wait_timeout or 600 })
  client:close()
  if op then
    return print_message(io_, ASYNC_OPERATION, op, opts) and cli.OK or cli.FAILED
  end
  -- The operation as last seen goes to stdout all the same: scripts read its failure_reason.
  if type(err) == "table" and type(err.operation) == "table" then
    print_message(io_, ASYNC_OPERATION, err.operation, opts)
  end
  return rpc_error(io_, err)
end

function commands.methods(io_, _, positional)
  if positional[2] then return usage_error(io_, "unexpected argument '" .. positional[2] .. "'") end
  for _, name in ipairs(cloudops.methods()) do io_.stdout:write(name, "\n") end
  return cli.OK
end

function commands.describe(io_, opts, positional)
  local name = positional[2]
  if not name then return usage_error(io_, "describe needs a NAME") end
  if positional[3] then return usage_error(io_, "unexpected argument '" .. positional[3] .. "'") end
  if opts.json then
    local d, err = cloudops.describe(name)
    if not d then return usage_error(io_, tostring(err)) end
    io_.stdout:write(assert(json.encode_value(d, { indent = opts.pretty and 2 or nil })), "\n")
    return cli.OK
  end
  local text, err = pretty.describe(name)
  if not text then return usage_error(io_, tostring(err)) end
  io_.stdout:write(text, "\n")
  return cli.OK
end

--- Runs the command line argv; returns the exit status. io_ (for specs): { stdin, stdout,
-- stderr } file handles, by default io's.
function cli.main(argv, io_)
  io_ = io_ or { stdin = io.stdin, stdout = io.stdout, stderr = io.stderr }
  local p = parser()
  local opts, perr = args.parse(p, argv or {})
  if not opts then
    local status = usage_error(io_, perr)
    for _, a in ipairs(argv or {}) do
      if modules[a] then return modules[a].usage_status or status end
    end
    return status
  end
  local positional = opts.words
  if opts.help then
    io_.stdout:write(args.help(p))
    return cli.OK
  end
  if opts.version then
    io_.stdout:write(format("lua-cloudops %s (API %s, %s)\n", cloudops.VERSION, cloudops.API_VERSION, _VERSION))
    return cli.OK
  end
  local command = positional[1]
  if not command then
    return usage_error(io_, "no command (call, list, wait, methods, describe, " ..
      table.concat(MODULE_COMMANDS, ", ") .. ")")
  end
  local module = modules[command]
  local run = commands[command] or (module and module.run)
  if not run then return usage_error(io_, "unknown command '" .. command .. "'") end
  local ok, status = pcall(run, io_, opts, positional, argv)
  if ok then return status end
  -- A request the schema refuses raises in the client (a programming mistake in Lua), which
  -- on the command line is the user's input: a usage error.
  io_.stderr:write("cloudops: ", tostring(status), "\n")
  return module and module.usage_status or cli.USAGE
end

return cli
