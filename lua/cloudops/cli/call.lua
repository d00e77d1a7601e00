--- `cloudops call METHOD [JSON|@FILE|@-]`: one RPC; prints the response as one JSON line (with
-- --wait, once the operation a mutation started has ended).
local context = require "cloudops.cli.context"

local type = type

local command = {
  name = "call",
  args = "METHOD [JSON|@FILE|@-]",
  help = "call one RPC (GetNamespaces or get_namespaces); the request as\n" ..
         "JSON text, a file, or stdin; prints the response",
}

function command.run(ctx)
  local m, req = ctx:method_and_request("call")
  if not m then return ctx:usage_error(req) end
  local client, cerr = ctx:connect()
  if not client then return ctx:usage_error(cerr) end
  local resp, err = client:call(m.name, req)
  if not resp then
    client:close()
    return ctx:rpc_error(err)
  end
  local status = context.OK
  if ctx.opts.wait and type(resp.async_operation) == "table" then
    local op, werr = client:wait(resp, { timeout = ctx.opts.wait_timeout or 600 })
    resp.async_operation = op or (werr and werr.operation) or resp.async_operation
    if not op then status = ctx:rpc_error(werr) end
  end
  client:close()
  if not ctx:print_message(m.output, resp) then return context.FAILED end
  return status
end

return command
