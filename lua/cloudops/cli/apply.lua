--- cloudops apply FILE [--prune] [--yes] [--json]: the plan of the desired state in FILE,
-- asked for on a terminal unless --yes, then made (cloudops.apply), a progress line on a
-- terminal; exit status 0 nothing changed, 2 changes made, 1 failed (a usage error too). The
-- shared steps are cloudops.cli.desired's.
local shared = require "cloudops.cli.desired"
local context = require "cloudops.cli.context"

return {
  name = "apply",
  args = "FILE [--prune] [--yes]",
  help = "show that plan, ask (unless --yes), and make the changes",
  usage_status = context.FAILED,
  flags = function(p, declared)
    shared.plan_flags(p, declared)
    context.option(p, declared, "--yes", "apply: do not ask before applying")
  end,
  run = shared.apply,
}
