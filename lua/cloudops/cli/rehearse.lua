--- cloudops rehearse [--snapshot FILE] [--profile fast|realistic] [--json] -- COMMAND [ARGS...]
-- (docs/reference.md "bin/cloudops"): COMMAND runs, unchanged, against a twin of the
-- account (cloudops.rehearse): a snapshot from FILE, else of the account the environment
-- names (reads only: the real account is never written). COMMAND gets TEMPORAL_CLOUD_ENDPOINT,
-- TEMPORAL_CLOUD_API_KEY and TEMPORAL_CLOUD_INSECURE=1 naming the twin, its stdin, and
-- stderr for its stdout and stderr, so that stdout holds the plan alone (text, or JSON with
-- --json). Exit status: 0 nothing would change, 2 something would, 1 COMMAND failed or the
-- rehearsal could not run (a usage error too).
local plans = require "cloudops.cli.plans"
local context = require "cloudops.cli.context"

local tostring, tonumber, ipairs = tostring, tonumber, ipairs
local concat = table.concat

local command = {
  name = "rehearse",
  args = "[--snapshot FILE] [--profile fast|realistic] -- COMMAND [ARGS...]",
  help = "run COMMAND against a twin of the account (from FILE, or\nread from the account); " ..
    "print what it would change",
  usage_status = context.FAILED,
}

function command.flags(p, declared)
  context.option(p, declared, "--snapshot", "rehearse: the account as snapshot in FILE, instead of reading it",
    "FILE")
  context.option(p, declared, "--profile", "rehearse: the twin's timings, realistic (the default) or fast", "NAME")
end

local quote = require("cloudops.emulator.util").shell_quote

-- The commands of this tool whose exit status 2 means "changes", not a failure.
local PLAN_COMMANDS = { plan = true, apply = true, diff = true }

-- Whether words run this tool's plan, apply or diff (`cloudops apply FILE --yes`, also through
-- an interpreter: `lua5.4 bin/cloudops apply ...`): the first word after the tool's that
-- names one of its commands.
local function runs_plan_command(words)
  for i, w in ipairs(words) do
    if (w:match("[^/]+$") or "") == "cloudops" then
      for j = i + 1, #words do
        if PLAN_COMMANDS[words[j]] then return true end
        if not words[j]:match("^%-") and not words[j - 1]:match("^%-%-[%w-]+$") then return false end
      end
      return false
    end
  end
  return false
end

-- Runs the command against the twin: true, or false and why it failed (a non-zero exit status,
-- except 2 from this tool's plan commands, which says they changed something). Its stdout
-- goes to stderr; its exit status comes back through the shell, as LuaJIT's popen does not
-- report it.
local function run_command(words, twin)
  local parts = { "env", "TEMPORAL_CLOUD_ENDPOINT=" .. quote(twin.endpoint),
                  "TEMPORAL_CLOUD_API_KEY=" .. quote(twin.api_key), "TEMPORAL_CLOUD_INSECURE=1" }
  for _, w in ipairs(words) do parts[#parts + 1] = quote(w) end
  local p = io.popen("(" .. concat(parts, " ") .. ") 1>&2; echo \"$?\"", "r")
  if not p then return false, "cannot run the command" end
  local out = p:read("a") or ""
  p:close()
  local code = tonumber(out:match("(%d+)%s*$") or "")
  if code == 0 or (code == 2 and runs_plan_command(words)) then return true end
  if code == 127 then return false, "the command was not found: " .. words[1] end
  return false, "the command exited with status " .. tostring(code)
end

-- The command: the words after the first "--" of argv.
local function command_of(argv)
  for i, a in ipairs(argv) do
    if a == "--" then
      local words = {}
      for j = i + 1, #argv do words[#words + 1] = argv[j] end
      return words
    end
  end
end

function command.run(ctx)
  local rehearse = require "cloudops.rehearse"
  local words = command_of(ctx.argv)
  if not words or #words == 0 then
    return ctx:usage_error("rehearse needs a command after --: cloudops rehearse -- lua script.lua")
  end
  if #ctx.words ~= #words then
    return ctx:usage_error("unexpected argument '" .. tostring(ctx.words[1]) .. "' (the command goes after --)")
  end
  local opts = ctx.opts
  local profile = opts.profile
  if profile ~= nil and not rehearse.PROFILES[profile] then
    return ctx:usage_error("--profile must be fast or realistic, got '" .. profile .. "'")
  end
  local snap = opts.snapshot
  if not snap then
    local err
    snap, err = plans.live_snapshot(ctx)
    if not snap then return ctx:fail(err) end
  end
  ctx.io.stderr:write("cloudops: rehearsing ", concat(words, " "), " on a twin of the account (",
    profile or "realistic", " timings)\n")
  local plan, err = rehearse.run({ snapshot = snap, profile = profile }, function(twin)
    return run_command(words, twin)
  end)
  if not plan then return ctx:fail(err) end
  return plans.print(ctx, plan)
end

return command
