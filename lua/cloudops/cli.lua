--- cloudops.cli: the command line of bin/cloudops (docs/reference.md "bin/cloudops"), JSON in
-- and out.
--
-- Each command is a module under cloudops/cli/ returning { name =, args =, help =, run =
-- function(ctx) -> exit status, flags = function(parser, declared) (optional: flags of its
-- own, added through context.option so that a flag several commands take is declared once),
-- usage_status = n (optional: its exit status for a usage error, when not 2: the plan
-- commands, for which 2 means "changes") }, listed in COMMANDS below; ctx is a
-- cloudops.cli.context (streams, flags, the command's arguments, output and input helpers,
-- the client the flags ask for).
local cloudops = require "cloudops"
local args = require "cloudops.cli.args"
local context = require "cloudops.cli.context"
local nearest = require "cloudops.nearest"

local ipairs, pcall, tostring = ipairs, pcall, tostring
local format, rep, gsub = string.format, string.rep, string.gsub
local concat = table.concat

local cli = {}

cli.OK, cli.FAILED, cli.USAGE, cli.TIMEOUT = context.OK, context.FAILED, context.USAGE, context.TIMEOUT

-- The commands, in the order --help lists them (each require in parentheses: Lua 5.4's require
-- returns a second value, which the last entry would add to the list).
local COMMANDS = {
  (require "cloudops.cli.call"),
  (require "cloudops.cli.list"),
  (require "cloudops.cli.wait"),
  (require "cloudops.cli.methods"),
  (require "cloudops.cli.describe"),
  (require "cloudops.cli.snapshot"),
  (require "cloudops.cli.diff"),
  (require "cloudops.cli.rehearse"),
  (require "cloudops.cli.plan"),
  (require "cloudops.cli.apply"),
  (require "cloudops.cli.export"),
}

local by_name, names = {}, {}
for i, c in ipairs(COMMANDS) do
  by_name[c.name] = c
  names[i] = c.name
end

-- The commands' part of --help: each usage, then its help (lines aligned).
local function commands_help()
  local lines = { "commands:" }
  for _, c in ipairs(COMMANDS) do
    local head = "  " .. c.name .. (c.args ~= "" and (" " .. c.args) or "")
    local pad = #head < 32 and rep(" ", 32 - #head) or ("\n" .. rep(" ", 32))
    lines[#lines + 1] = head .. pad .. gsub(c.help, "\n", "\n" .. rep(" ", 32))
  end
  return concat(lines, "\n")
end

-- The parser: the connection flags, the tool's own and the commands', and the words (the
-- command and its arguments).
local function parser()
  local p = args.parser("cloudops", "A command line for the Temporal Cloud Ops API, JSON in " ..
    "and out. The API key comes from TEMPORAL_CLOUD_API_KEY, the endpoint by default from " ..
    "TEMPORAL_CLOUD_ENDPOINT.", commands_help() .. [[


exit status: 0 success, 1 an RPC or operation error (its code name on stderr),
2 a usage error, 3 a timeout; diff, rehearse, plan and apply: 0 no change, 2 changes, 1 failed.]])
  p:usage("usage: cloudops [options] COMMAND [ARGS]")
  p:argument("words"):args("*"):hidden(true)
  p:flag("--wait", "call: after a mutation, wait for its operation to end, and print the " ..
    "response with the operation's final state")
  p:option("--wait-timeout", "how long wait and --wait wait (default 600)"):argname("SECONDS")
    :convert(args.seconds("--wait-timeout"))
  p:flag("--pretty", "indented JSON (call, wait, describe --json)")
  p:flag("--proto-names", "proto field names (next_page_token) instead of JSON ones (nextPageToken)")
  p:flag("--json", "describe: the schema's plain description as JSON; diff, rehearse, plan, apply: the plan as JSON")
  local declared = { json = true, pretty = true, help = true, version = true }
  for _, c in ipairs(COMMANDS) do
    if c.flags then c.flags(p, declared) end
  end
  p:flag("-h --help", "this text")
  p:flag("--version", "the versions")
  return p
end

--- Runs the command line argv; returns the exit status. io_ (for specs): { stdin, stdout,
-- stderr } file handles, by default io's.
function cli.main(argv, io_)
  io_ = io_ or { stdin = io.stdin, stdout = io.stdout, stderr = io.stderr }
  local p = parser()
  local opts, perr = args.parse(p, argv or {})
  local words = opts and opts.words or {}
  local ctx = context.new(io_, opts or {}, {}, argv or {})
  if not opts then
    -- the command a bad flag came with decides the exit status of the usage error
    for _, a in ipairs(argv or {}) do
      if by_name[a] then ctx.usage_status = by_name[a].usage_status break end
    end
    return ctx:usage_error(perr)
  end
  if opts.help then
    io_.stdout:write(args.help(p))
    return cli.OK
  end
  if opts.version then
    io_.stdout:write(format("lua-cloudops %s (API %s, %s)\n", cloudops.VERSION, cloudops.API_VERSION, _VERSION))
    return cli.OK
  end
  local name = words[1]
  if not name then return ctx:usage_error("no command (" .. concat(names, ", ") .. ")") end
  local command = by_name[name]
  if not command then
    return ctx:usage_error("unknown command '" .. name .. "'" .. nearest.hint(name, names))
  end
  for i = 2, #words do ctx.words[i - 1] = words[i] end
  ctx.usage_status = command.usage_status
  local ok, status = pcall(command.run, ctx)
  if ok then return status end
  -- A request the schema refuses raises in the client (a programming mistake in Lua), which
  -- on the command line is the user's input: a usage error.
  io_.stderr:write("cloudops: ", tostring(status), "\n")
  return command.usage_status or cli.USAGE
end

return cli
