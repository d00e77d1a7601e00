--- What the account commands of bin/cloudops share (snapshot, diff, rehearse): their flags,
-- declared once however many commands take them, their errors, the account the environment
-- names read by a snapshot, and a plan printed as text or JSON with its exit status
-- (cloudops.changes: 0 no change, 2 changes, 1 failed).
local changes = require "cloudops.changes"

local ipairs, tostring, pcall = ipairs, tostring, pcall

local plans = { FAILED = 1 }

--- Adds option (or flag, when argname is nil) `name` to parser p unless `declared` has it.
function plans.option(p, declared, name, help, argname)
  local key = name:gsub("^%-%-", ""):gsub("%-", "_")
  if declared[key] then return end
  declared[key] = true
  if argname then p:option(name, help):argname(argname) else p:flag(name, help) end
end

--- A usage error of a plan command: exit status 1 (2 would say "changes").
function plans.usage(io_, message)
  io_.stderr:write("cloudops: ", message, "\n(cloudops --help for usage)\n")
  return plans.FAILED
end

--- A failure: its message on stderr, exit status 1.
function plans.fail(io_, message)
  io_.stderr:write("cloudops: ", tostring(message), "\n")
  return plans.FAILED
end

--- "a,b" -> { "a", "b" } (kind names, checked by the snapshot), or nil.
function plans.kinds(text)
  if text == nil then return nil end
  local list = {}
  for name in text:gmatch("[^,%s]+") do list[#list + 1] = name end
  return list
end

--- A snapshot of the account the environment (and the connection flags) name, by reads only:
-- snap, or nil, message.
function plans.live_snapshot(io_, opts, kinds)
  local client, cerr = require("cloudops.cli").connect(opts)
  if not client then return nil, cerr end
  io_.stderr:write("cloudops: reading the account at ", client.endpoint, " (reads only)\n")
  local ok, snap, err = pcall(require("cloudops.snapshot"), client, { kinds = kinds })
  client:close()
  if not ok then return nil, tostring(snap) end
  if not snap then return nil, "cannot read the account: " .. tostring(err) end
  for _, u in ipairs(snap.unreadable) do
    io_.stderr:write("cloudops: cannot read ", u.kind, " (", tostring(u.code), "): ", tostring(u.message), "\n")
  end
  return snap
end

--- Prints a plan as text or, with --json, JSON; returns its exit status.
function plans.print(io_, plan, json)
  io_.stdout:write(json and changes.json(plan) or changes.text(plan))
  return changes.exit_status(plan)
end

return plans
