--- `cloudops list METHOD [JSON|@FILE|@-]`: every item of every page of a paged RPC, one JSON
-- object a line.
local cloudops = require "cloudops"
local context = require "cloudops.cli.context"

local ipairs = ipairs

local command = {
  name = "list",
  args = "METHOD [JSON|@FILE|@-]",
  help = "every item of every page of a paged RPC, one JSON line each",
}

function command.run(ctx)
  local m, req = ctx:method_and_request("list")
  if not m then return ctx:usage_error(req) end
  if not m.items then return ctx:usage_error(m.name .. " is not a paged method") end
  local item_type
  for _, f in ipairs(cloudops.describe(m.output).fields) do
    if f.name == m.items then item_type = f.type_name end
  end
  local client, cerr = ctx:connect()
  if not client then return ctx:usage_error(cerr) end
  for item, err in client:paginate(m.name, req) do
    if not item then
      client:close()
      return ctx:rpc_error(err)
    end
    if not ctx:print_message(item_type, item, true) then
      client:close()
      return context.FAILED
    end
  end
  client:close()
  return context.OK
end

return command
