--- What the desired-state commands of bin/cloudops share (API.md "Rehearsal and desired
-- state"; docs/reference.md "bin/cloudops"): cloudops.cli.plan, .apply and .export.
--
--   cloudops plan FILE [--prune] [--json]          what would change; exit 0 none, 2 some, 1 failed
--   cloudops apply FILE [--prune] [--yes] [--json] the plan, asked for on a terminal (unless
--                                                  --yes), then made; exit 0 / 2 / 1 as for plan
--   cloudops export [--kinds a,b]                  the account in the desired form, as JSON
--
-- FILE: a desired state as JSON (the proto3 JSON mapping), or a Lua file (*.lua) returning
-- the table (cloudops.desired). A usage error of plan and apply (no FILE, a file that is not a
-- desired state, no key) is a failure, 1: their 2 means "changes".
local cloudops = require "cloudops"
local desired = require "cloudops.desired"
local changes = require "cloudops.changes"
local planner = require "cloudops.plan"
local applier = require "cloudops.apply"

local tostring, type, ipairs, pairs = tostring, type, ipairs, pairs
local format = string.format

local M = { OK = 0, FAILED = 1, USAGE = 2 }

local OK, FAILED = M.OK, M.FAILED

--- Adds option (or flag, when argname is nil) `name` to parser p unless `declared` has it (the
-- flags several commands take are declared once).
function M.option(p, declared, name, help, argname)
  local key = name:gsub("^%-%-", ""):gsub("%-", "_")
  if declared[key] then return end
  declared[key] = true
  if argname then p:option(name, help):argname(argname) else p:flag(name, help) end
end

--- The flags of plan and apply.
function M.plan_flags(p, declared)
  M.option(p, declared, "--prune", "plan, apply: also delete what FILE does not name, of the kinds it lists")
end

-- ---- terminals -------------------------------------------------------------------------------

-- Whether file descriptor fd of this process is a terminal: test(1) inherits it.
local function isatty(fd)
  local ok, how, code = os.execute("test -t " .. fd)
  if type(ok) == "number" then return ok == 0 end -- Lua 5.1 / LuaJIT without 5.2 compat
  return ok == true and (how ~= "exit" or code == 0)
end

-- Whether the tool's streams are the process's own on a terminal (specs pass files).
local function on_terminal(io_, stream, fd)
  return io_[stream] == io[stream] and isatty(fd)
end

-- ---- shared steps ----------------------------------------------------------------------------

local function fail(io_, message)
  io_.stderr:write("cloudops: ", message, "\n")
  return FAILED
end
M.fail = fail

--- A usage error: its message, and `status` (plan and apply: 1; export: 2).
function M.usage(io_, message, status)
  io_.stderr:write("cloudops: ", message, "\n(cloudops --help for usage)\n")
  return status
end

-- The desired state and its resource form from FILE, or nil and the exit status.
local function load(io_, positional, command)
  local path = positional[2]
  if not path then return nil, fail(io_, command .. " needs a FILE (a desired state: JSON, or a .lua file)") end
  if positional[3] then return nil, fail(io_, "unexpected argument '" .. positional[3] .. "'") end
  local d, err = desired.load(path)
  if not d then return nil, fail(io_, "cannot read the desired state: " .. tostring(err)) end
  local state, listed = desired.check(d)
  if not state then return nil, fail(io_, path .. ": " .. tostring(listed)) end
  return { path = path, state = state, listed = listed }
end

-- The plan of the desired state in FILE: ctx (plan.compute's) and the client, or nil and the
-- exit status.
local function compute(io_, opts, positional, command)
  local file, status = load(io_, positional, command)
  if not file then return nil, status end
  local client, cerr = require("cloudops.cli").connect(opts)
  if not client then return nil, fail(io_, cerr) end
  local ctx, err = planner.compute(client, file.state, file.listed, { prune = opts.prune })
  if not ctx then
    client:close()
    return nil, fail(io_, "cannot plan: " .. tostring(err))
  end
  return ctx, client
end

-- A plan or result as JSON for --json: changes.json's form, with each change's outcome (ok,
-- err as text, the operation's id, state and failure_reason) where it has one.
local function json_text(doc)
  local json = require "cloudops.json"
  local text = changes.json(doc)
  local out = json.decode_value(text)
  if type(doc.kept) == "table" and #doc.kept == 0 then out.kept = cloudops.empty_array end
  for i, c in ipairs(doc.changes) do
    local o = out.changes[i]
    if c.ok ~= nil then o.ok = c.ok end
    if c.err ~= nil then o.err = tostring(c.err) end
    local op = c.operation
    if type(op) == "table" then
      o.operation = { id = op.id, state = op.state, failure_reason = op.failure_reason }
    end
  end
  return json.encode_value(out, { indent = 2 }) .. "\n"
end

-- ---- plan --------------------------------------------------------------------------------

function M.plan(io_, opts, positional)
  local ctx, client = compute(io_, opts, positional, "plan")
  if not ctx then return client end
  client:close()
  local p = ctx.plan
  io_.stdout:write(opts.json and json_text(p) or planner.text(p))
  return changes.exit_status(p)
end

-- ---- apply -------------------------------------------------------------------------------

local SIGN = { create = "+", update = "~", delete = "-" }

-- Asks on the terminal whether to go on: true for "yes".
local function confirm(io_, n, endpoint)
  io_.stderr:write(format("\nApply these %d changes to %s? Only 'yes' goes on: ", n, endpoint))
  io_.stderr:flush()
  local answer = io_.stdin:read("l")
  return answer ~= nil and answer:match("^%s*yes%s*$") ~= nil
end

-- A progress line on the terminal, rewritten as each change ends.
local function progress(io_, total)
  local done = 0
  return function(c)
    done = done + 1
    io_.stderr:write(format("\r\27[K[%d/%d] %s %s %s %s", done, total, SIGN[c.action] or "?", c.kind,
      tostring(c.name), c.ok and "done" or "FAILED"))
    io_.stderr:flush()
  end
end

function M.apply(io_, opts, positional)
  local ctx, client = compute(io_, opts, positional, "apply")
  if not ctx then return client end
  local p = ctx.plan
  local n = #p.changes
  if not opts.json then
    io_.stdout:write(planner.text(p))
    io_.stdout:flush() -- seen before the changes are made, also through a pipe
  end
  if n == 0 then
    client:close()
    if opts.json then io_.stdout:write(json_text{ changes = p.changes, kept = p.kept, calls = {} }) end
    return OK
  end
  if not opts.yes then
    if not on_terminal(io_, "stdin", 0) then
      client:close()
      return fail(io_, "not applied: stdin is not a terminal to ask on; pass --yes to apply without asking")
    end
    if not confirm(io_, n, client.endpoint) then
      client:close()
      io_.stderr:write("Not applied.\n")
      return FAILED
    end
  end
  local show = on_terminal(io_, "stderr", 2) and progress(io_, n) or nil
  local result, err = applier.run(client, ctx, { on_change = show })
  client:close()
  if show then io_.stderr:write("\n") end
  if opts.json then
    io_.stdout:write(json_text(result))
  else
    io_.stdout:write("\n", applier.text(result))
  end
  if err then io_.stderr:write("cloudops: ", tostring(err), "\n") end
  return changes.exit_status(result)
end

-- ---- export ------------------------------------------------------------------------------

function M.export(io_, opts, positional)
  if positional[2] then return M.usage(io_, "unexpected argument '" .. positional[2] .. "'", M.USAGE) end
  local names
  if opts.kinds then
    names = {}
    for name in opts.kinds:gmatch("[^,%s]+") do
      if not desired.kind(name) then
        return M.usage(io_, "unknown kind '" .. name .. "' (one of: " .. desired.KIND_NAMES .. ")", M.USAGE)
      end
      names[#names + 1] = name
    end
  end
  local client, cerr = require("cloudops.cli").connect(opts)
  if not client then return M.usage(io_, cerr, M.USAGE) end
  local d, err, info = desired.export(client, { kinds = names })
  client:close()
  if not d then return fail(io_, "cannot export: " .. tostring(err)) end
  for _, u in pairs(info.unreadable) do
    io_.stderr:write(format("cloudops: left out %s: the key may not read them (%s)\n", u.kind, tostring(u.code)))
  end
  io_.stdout:write(desired.encode(d))
  return OK
end

return M
