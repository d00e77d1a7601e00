--- cloudops plan FILE [--prune] [--json]: what would make the account match the desired state
-- in FILE (cloudops.plan); exit status 0 nothing, 2 changes, 1 failed (a usage error too).
-- The shared steps are cloudops.cli.desired's.
local shared = require "cloudops.cli.desired"

local M = { usage_status = shared.FAILED }

M.usage = "  plan FILE [--prune]           what would make the account match the desired state in\n" ..
          "                                FILE (JSON, or a .lua file); --json for CI"

function M.flags(p, declared)
  shared.plan_flags(p, declared)
end

M.run = shared.plan

return M
