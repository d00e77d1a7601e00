--- cloudops plan FILE [--prune] [--json]: what would make the account match the desired state
-- in FILE (cloudops.plan); exit status 0 nothing, 2 changes, 1 failed (a usage error too).
-- The shared steps are cloudops.cli.desired's.
local shared = require "cloudops.cli.desired"
local context = require "cloudops.cli.context"

return {
  name = "plan",
  args = "FILE [--prune]",
  help = "what would make the account match the desired state in\nFILE (JSON, or a .lua file); --json for CI",
  usage_status = context.FAILED,
  flags = shared.plan_flags,
  run = shared.plan,
}
