--- `cloudops describe NAME`: a method, message or enum, as pretty.describe writes it; with
-- --json, cloudops.describe's table.
local cloudops = require "cloudops"
local json = require "cloudops.json"
local pretty = require "cloudops.pretty"
local context = require "cloudops.cli.context"

local tostring = tostring

local command = {
  name = "describe",
  args = "NAME",
  help = "a method, message or enum: fields and types",
}

function command.run(ctx)
  local name = ctx.words[1]
  if not name then return ctx:usage_error("describe needs a NAME") end
  local ok, extra = ctx:at_most(1)
  if not ok then return ctx:usage_error(extra) end
  if ctx.opts.json then
    local d, err = cloudops.describe(name)
    if not d then return ctx:usage_error(tostring(err)) end
    ctx.io.stdout:write(assert(json.encode_value(d, ctx:json_options())), "\n")
    return context.OK
  end
  local text, err = pretty.describe(name)
  if not text then return ctx:usage_error(tostring(err)) end
  ctx.io.stdout:write(text, "\n")
  return context.OK
end

return command
