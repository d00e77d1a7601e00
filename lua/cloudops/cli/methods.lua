--- `cloudops methods`: the RPC names, one a line (no key nor server needed).
local cloudops = require "cloudops"
local context = require "cloudops.cli.context"

local ipairs = ipairs

local command = {
  name = "methods",
  args = "",
  help = "the RPC names",
}

function command.run(ctx)
  local ok, extra = ctx:at_most(0)
  if not ok then return ctx:usage_error(extra) end
  for _, name in ipairs(cloudops.methods()) do ctx.io.stdout:write(name, "\n") end
  return context.OK
end

return command
