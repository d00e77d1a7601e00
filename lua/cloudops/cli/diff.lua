--- cloudops diff OLD.json [NEW.json] [--json]: what changed between two snapshots, or between
-- a snapshot and the account now (drift; its kinds only, by reads only). Exit status 0 the
-- same, 2 they differ, 1 they could not be compared (a usage error too).
local plans = require "cloudops.cli.plans"
local context = require "cloudops.cli.context"

local command = {
  name = "diff",
  args = "OLD.json [NEW.json]",
  help = "what changed between two snapshots, or since OLD in the\naccount (drift); --json for CI",
  usage_status = context.FAILED,
}

function command.run(ctx)
  local snapshot = require "cloudops.snapshot"
  local old_path, new_path = ctx.words[1], ctx.words[2]
  if not old_path then return ctx:usage_error("diff needs a snapshot file (cloudops snapshot FILE)") end
  local ok, extra = ctx:at_most(2)
  if not ok then return ctx:usage_error(extra) end
  local old, err = snapshot.load(old_path)
  if not old then return ctx:fail(err) end
  local new
  if new_path then
    new, err = snapshot.load(new_path)
  else
    new, err = plans.live_snapshot(ctx, snapshot.kinds_of(old)) -- its kinds, and no others
  end
  if not new then return ctx:fail(err) end
  return plans.print(ctx, { changes = require("cloudops").diff(old, new) })
end

return command
