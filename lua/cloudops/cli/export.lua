--- cloudops export [--kinds a,b]: the account as a desired state (cloudops.desired.export),
-- JSON on stdout; the kinds the key may not read left out and said on stderr. Exit status 0,
-- 1 when the account could not be read, 2 a usage error. The shared steps are
-- cloudops.cli.desired's.
local shared = require "cloudops.cli.desired"
local plans = require "cloudops.cli.plans"

return {
  name = "export",
  args = "[--kinds a,b]",
  help = "the account as a desired state (JSON), for plan and apply",
  flags = plans.kinds_flag,
  run = shared.export,
}
