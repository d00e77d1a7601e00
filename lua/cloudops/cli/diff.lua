--- cloudops diff OLD.json [NEW.json] [--json]: what changed between two snapshots, or between
-- a snapshot and the account now (drift; its kinds only, by reads only). Exit status 0 the
-- same, 2 they differ, 1 they could not be compared (a usage error too).
local plans = require "cloudops.cli.plans"

local M = { usage_status = plans.FAILED }

M.usage = "  diff OLD.json [NEW.json]      what changed between two snapshots, or since OLD in the\n" ..
          "                                account (drift); --json for CI"

function M.flags(p, declared)
  plans.option(p, declared, "--json", "describe, diff, rehearse: JSON output")
end

-- The kinds a snapshot holds, to read them and no others from the account.
local function kinds_of(snap)
  local list = {}
  for _, k in ipairs(require("cloudops.kinds").list) do
    if snap[k.name] ~= nil then list[#list + 1] = k.name end
  end
  return list
end

function M.run(io_, opts, positional)
  local snapshot = require "cloudops.snapshot"
  local old_path, new_path = positional[2], positional[3]
  if not old_path then return plans.usage(io_, "diff needs a snapshot file (cloudops snapshot FILE)") end
  if positional[4] then return plans.usage(io_, "unexpected argument '" .. positional[4] .. "'") end
  local old, err = snapshot.load(old_path)
  if not old then return plans.fail(io_, err) end
  local new
  if new_path then
    new, err = snapshot.load(new_path)
  else
    new, err = plans.live_snapshot(io_, opts, kinds_of(old))
  end
  if not new then return plans.fail(io_, err) end
  return plans.print(io_, { changes = require("cloudops").diff(old, new) }, opts.json)
end

return M
