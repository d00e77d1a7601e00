--- cloudops snapshot [FILE] [--kinds a,b]: every resource the key can read, by reads only, as
-- the JSON of cloudops.snapshot.save, into FILE or onto stdout; the kinds it could not read on
-- stderr. Exit status 0, or 1 when the account could not be read (2: a usage error).
local plans = require "cloudops.cli.plans"

local M = {}

M.usage = "  snapshot [FILE] [--kinds a,b]\n" ..
          "                                every resource the key can read (reads only), as JSON,\n" ..
          "                                into FILE or onto stdout"

function M.flags(p, declared)
  plans.option(p, declared, "--kinds", "snapshot: only these kinds (namespaces,users,...)", "A,B")
end

function M.run(io_, opts, positional)
  local snapshot = require "cloudops.snapshot"
  local path = positional[2]
  if positional[3] then
    io_.stderr:write("cloudops: unexpected argument '", positional[3], "'\n(cloudops --help for usage)\n")
    return 2
  end
  local snap, err = plans.live_snapshot(io_, opts, plans.kinds(opts.kinds))
  if not snap then return plans.fail(io_, err) end
  if path and path ~= "-" then
    local ok, serr = snapshot.save(snap, path)
    if not ok then return plans.fail(io_, "cannot write " .. path .. ": " .. tostring(serr)) end
    return 0
  end
  local text, eerr = snapshot.encode(snap)
  if not text then return plans.fail(io_, eerr) end
  io_.stdout:write(text)
  return 0
end

return M
