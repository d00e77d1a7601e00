--- cloudops snapshot [FILE] [--kinds a,b]: every resource the key can read, by reads only, as
-- the JSON of cloudops.snapshot.save, into FILE or onto stdout; the kinds it could not read on
-- stderr. Exit status 0, or 1 when the account could not be read (2: a usage error).
local plans = require "cloudops.cli.plans"
local context = require "cloudops.cli.context"

local command = {
  name = "snapshot",
  args = "[FILE] [--kinds a,b]",
  help = "every resource the key can read (reads only), as JSON,\ninto FILE or onto stdout",
  flags = plans.kinds_flag,
}

function command.run(ctx)
  local snapshot = require "cloudops.snapshot"
  local ok, extra = ctx:at_most(1)
  if not ok then return ctx:usage_error(extra) end
  local path = ctx.words[1]
  local names, kerr = plans.kinds(ctx.opts.kinds)
  if kerr then return ctx:usage_error(kerr) end
  local snap, err = plans.live_snapshot(ctx, names)
  if not snap then return ctx:fail(err) end
  if path and path ~= "-" then
    local saved, serr = snapshot.save(snap, path)
    if not saved then return ctx:fail("cannot write " .. path .. ": " .. tostring(serr)) end
    return context.OK
  end
  local text, eerr = snapshot.encode(snap)
  if not text then return ctx:fail(eerr) end
  ctx.io.stdout:write(text)
  return context.OK
end

return command
