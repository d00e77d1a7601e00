--- What the account commands of bin/cloudops share (snapshot, diff, rehearse): the account the
-- environment names read by a snapshot, and a plan printed as text or JSON with its exit status
-- (cloudops.changes: 0 no change, 2 changes, 1 failed); and the kinds --kinds names.
local changes = require "cloudops.changes"
local kinds = require "cloudops.kinds"
local context = require "cloudops.cli.context"

local ipairs, tostring, pcall = ipairs, tostring, pcall

local plans = {}

--- --kinds, of snapshot and export (one text for both: the first command to declare a flag
-- gives its help).
function plans.kinds_flag(p, declared)
  context.option(p, declared, "--kinds", "snapshot, export: only these kinds (namespaces,users,...; " ..
    "export: those a desired state holds)", "A,B")
end

--- "a,b" -> { "a", "b" }, nil for no text; or nil, message (a usage error) naming a kind that
-- get (by default cloudops.kinds.get) does not know, and the names it does (by default every
-- kind's; export passes cloudops.desired's kind and KIND_NAMES).
function plans.kinds(text, get, names)
  if text == nil then return nil end
  get = get or kinds.get
  local list = {}
  for name in text:gmatch("[^,%s]+") do
    if not get(name) then
      return nil, "unknown kind '" .. name .. "' (one of: " .. (names or kinds.names_list()) .. ")"
    end
    list[#list + 1] = name
  end
  return list
end

--- A snapshot of the account the environment (and the connection flags) name, by reads only,
-- of the kinds `names` lists (nil: every kind): snap, or nil, message.
function plans.live_snapshot(ctx, names)
  local client, cerr = ctx:connect()
  if not client then return nil, cerr end
  local stderr = ctx.io.stderr
  stderr:write("cloudops: reading the account at ", client.endpoint, " (reads only)\n")
  local ok, snap, err = pcall(require("cloudops.snapshot"), client, { kinds = names })
  client:close()
  if not ok then return nil, tostring(snap) end
  if not snap then return nil, "cannot read the account: " .. tostring(err) end
  for _, u in ipairs(snap.unreadable) do
    stderr:write("cloudops: cannot read ", u.kind, " (", tostring(u.code), "): ", tostring(u.message), "\n")
  end
  return snap
end

--- Prints a plan as text or, with --json, JSON; returns its exit status.
function plans.print(ctx, plan)
  ctx.io.stdout:write(ctx.opts.json and changes.json(plan) or changes.text(plan))
  return changes.exit_status(plan)
end

return plans
