--- What the desired-state commands of bin/cloudops share (docs/reference.md "bin/cloudops"):
-- cloudops.cli.plan, .apply and .export.
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
local context = require "cloudops.cli.context"
local plans = require "cloudops.cli.plans"

local tostring, type, ipairs, pairs = tostring, type, ipairs, pairs
local format = string.format

local M = {}

local OK, FAILED = context.OK, context.FAILED

--- The flags of plan and apply.
function M.plan_flags(p, declared)
  context.option(p, declared, "--prune", "plan, apply: also delete what FILE does not name, of the kinds it lists")
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

-- The desired state and its resource form from FILE, or nil and the exit status.
local function load(ctx, command)
  local path = ctx.words[1]
  if not path then return nil, ctx:usage_error(command .. " needs a FILE (a desired state: JSON, or a .lua file)") end
  local ok, extra = ctx:at_most(1)
  if not ok then return nil, ctx:usage_error(extra) end
  local d, err = desired.load(path)
  if not d then return nil, ctx:fail("cannot read the desired state: " .. tostring(err)) end
  local state, listed = desired.check(d)
  if not state then return nil, ctx:fail(path .. ": " .. tostring(listed)) end
  return { path = path, state = state, listed = listed }
end

-- The plan of the desired state in FILE: the planner's state (plan.compute's) and the client,
-- or nil and the exit status.
local function compute(ctx, command)
  local file, status = load(ctx, command)
  if not file then return nil, status end
  local client, cerr = ctx:connect()
  if not client then return nil, ctx:fail(cerr) end
  local planned, err = planner.compute(client, file.state, file.listed, { prune = ctx.opts.prune })
  if not planned then
    client:close()
    return nil, ctx:fail("cannot plan: " .. tostring(err))
  end
  return planned, client
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

function M.plan(ctx)
  local planned, client = compute(ctx, "plan")
  if not planned then return client end
  client:close()
  local p = planned.plan
  ctx.io.stdout:write(ctx.opts.json and json_text(p) or planner.text(p))
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

function M.apply(ctx)
  local io_, opts = ctx.io, ctx.opts
  local planned, client = compute(ctx, "apply")
  if not planned then return client end
  local p = planned.plan
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
      return ctx:fail("not applied: stdin is not a terminal to ask on; pass --yes to apply without asking")
    end
    if not confirm(io_, n, client.endpoint) then
      client:close()
      io_.stderr:write("Not applied.\n")
      return FAILED
    end
  end
  local show = on_terminal(io_, "stderr", 2) and progress(io_, n) or nil
  local result, err = applier.run(client, planned, { on_change = show })
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

function M.export(ctx)
  local ok, extra = ctx:at_most(0)
  if not ok then return ctx:usage_error(extra) end
  local names, kerr = plans.kinds(ctx.opts.kinds, desired.kind, desired.KIND_NAMES)
  if kerr then return ctx:usage_error(kerr) end
  local client, cerr = ctx:connect()
  if not client then return ctx:usage_error(cerr) end
  local d, err, info = desired.export(client, { kinds = names })
  client:close()
  if not d then return ctx:fail("cannot export: " .. tostring(err)) end
  for _, u in pairs(info.unreadable) do
    ctx.io.stderr:write(format("cloudops: left out %s: the key may not read them (%s)\n", u.kind, tostring(u.code)))
  end
  ctx.io.stdout:write(desired.encode(d))
  return OK
end

return M
