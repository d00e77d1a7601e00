--- cloudops export [--kinds a,b]: the account as a desired state (cloudops.desired.export),
-- JSON on stdout; the kinds the key may not read left out and said on stderr. Exit status 0,
-- 1 when the account could not be read, 2 a usage error. The shared steps are
-- cloudops.cli.desired's.
local shared = require "cloudops.cli.desired"
local desired = require "cloudops.desired"

local M = {}

M.usage = "  export [--kinds a,b]          the account as a desired state (JSON), for plan and apply"

function M.flags(p, declared)
  shared.option(p, declared, "--kinds", "export: only these kinds (comma-separated: " .. desired.KIND_NAMES .. ")",
    "A,B")
end

M.run = shared.export

return M
