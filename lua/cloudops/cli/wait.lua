--- `cloudops wait OPERATION_ID`: polls an async operation until it ends; prints it (also when
-- it failed: scripts read its failure_reason).
local context = require "cloudops.cli.context"

local type = type

local ASYNC_OPERATION = "temporal.api.cloud.operation.v1.AsyncOperation"

local command = {
  name = "wait",
  args = "OPERATION_ID",
  help = "wait for an async operation to end; prints it",
}

function command.run(ctx)
  local id = ctx.words[1]
  if not id or id == "" then return ctx:usage_error("wait needs an OPERATION_ID") end
  local ok, extra = ctx:at_most(1)
  if not ok then return ctx:usage_error(extra) end
  local client, cerr = ctx:connect()
  if not client then return ctx:usage_error(cerr) end
  local op, err = client:wait(id, { timeout = ctx.opts.wait_timeout or 600 })
  client:close()
  if op then
    return ctx:print_message(ASYNC_OPERATION, op) and context.OK or context.FAILED
  end
  if type(err) == "table" and type(err.operation) == "table" then
    ctx:print_message(ASYNC_OPERATION, err.operation)
  end
  return ctx:rpc_error(err)
end

return command
