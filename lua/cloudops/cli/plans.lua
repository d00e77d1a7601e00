--- What the account commands of bin/cloudops share (snapshot, diff, rehearse): the account the
-- environment names read by a snapshot, and a plan printed as text or JSON with its exit status
-- (cloudops.changes: 0 no change, 2 changes, 1 failed).
local changes = require "cloudops.changes"

local ipairs, tostring, pcall = ipairs, tostring, pcall

local plans = { FAILED = 1 }

--- "a,b" -> { "a", "b" } (kind names, checked by the snapshot), or nil.
function plans.kinds(text)
  if text == nil then return nil end
  local list = {}
  for name in text:gmatch("[^,%s]+") do list[#list + 1] = name end
  return list
end

--- A snapshot of the account the environment (and the connection flags) name, by reads only:
-- snap, or nil, message.
function plans.live_snapshot(ctx, kinds)
  local client, cerr = ctx:connect()
  if not client then return nil, cerr end
  local stderr = ctx.io.stderr
  stderr:write("cloudops: reading the account at ", client.endpoint, " (reads only)\n")
  local ok, snap, err = pcall(require("cloudops.snapshot"), client, { kinds = kinds })
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
