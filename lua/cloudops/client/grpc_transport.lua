--- The client's transport through the C core: one attempt on a gRPC channel. Inside a
-- cloudops.map task the call is started and the task waits for its completion while the
-- others run; elsewhere the core blocks until it ends (in 0.1 s slices, so Ctrl-C stops it).
--
-- A transport (cloudops.client.internal) has:
--   call(m, payload, timeout, headers) -> resp, code, message, headers, trailers
--   start(m, payload, timeout, headers) -> a handle (done(), result()), or nil: an attempt
--       nobody waits for (the identity an "auto" limit learns off the path of the calls)
--   close()
-- and may have prepare(headers) -> what call and start take in place of a headers table that
-- every attempt sends (here a core.metadata object: the headers checked and copied once), or
-- raise for headers it cannot send.
local core = require "cloudops.core"
local scheduler = require "cloudops.scheduler"

local setmetatable, co_running = setmetatable, coroutine.running
local task_of, await_call = scheduler.task, scheduler.await_call
local metadata = core.metadata

local Transport = {}
Transport.__index = Transport

local grpc_transport = {}

--- A transport on a new channel to endpoint (host:port) with the core's channel options.
function grpc_transport.new(endpoint, channel_options)
  return setmetatable({ ch = core.channel(endpoint, channel_options) }, Transport)
end

function Transport:call(m, payload, timeout, headers)
  local ch = self.ch
  -- The main thread is never a task (coroutine.running: nil there on LuaJIT, true as the
  -- second value on Lua 5.4): the scheduler is asked only inside a coroutine.
  local co, main = co_running()
  local task = co and not main and task_of()
  if not task then return ch:call(m.index, payload, timeout, headers) end
  local h = ch:start(m.index, payload, timeout, headers)
  await_call(task, h)
  return h:result()
end

function Transport.prepare(_, headers)
  return metadata(headers)
end

function Transport:start(m, payload, timeout, headers)
  return self.ch:start(m.index, payload, timeout, headers)
end

function Transport:close()
  self.ch:close()
end

return grpc_transport
