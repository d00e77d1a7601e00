--- cloudops apply FILE [--prune] [--yes] [--json]: the plan of the desired state in FILE,
-- asked for on a terminal unless --yes, then made (cloudops.apply), a progress line on a
-- terminal; exit status 0 nothing changed, 2 changes made, 1 failed (a usage error too). The
-- shared steps are cloudops.cli.desired's.
local shared = require "cloudops.cli.desired"

local M = { usage_status = shared.FAILED }

M.usage = "  apply FILE [--prune] [--yes]  show that plan, ask (unless --yes), and make the changes"

function M.flags(p, declared)
  shared.plan_flags(p, declared)
  shared.option(p, declared, "--yes", "apply: do not ask before applying")
end

M.run = shared.apply

return M
