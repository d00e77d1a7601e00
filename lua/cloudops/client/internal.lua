--- The client's internal interface: what a helper (wait, paging, update, the operation slots,
-- the OpenResty client) needs of a client beyond its public methods, in one place, so that no
-- helper reads the client's private fields. A client's record is registered by client.new:
--
--   clock()              monotonic seconds on the client's call path (specs give a fake one)
--   sleep(s)             the call path's pause: a task's own in cloudops.map, ngx.sleep in an
--                        nginx request, else a real sleep (cloudops.sleep)
--   timeout              the client's per-attempt timeout, seconds
--   retry                its retry policy (cloudops.retry), or false
--   on_event             its on_event function, or nil
--   check_options(opts)  true, or nil and a message: call options checked as a call checks them
--   api_key()            the key of one attempt, or nil, err (API_KEY): the api_key function's
--                        answer checked as a call checks it
--
-- What reaches the network is the client's transport (cloudops.client.grpc_transport, or the
-- nginx thread pool's, cloudops.openresty.transport): one attempt at a time, beneath the one
-- attempts loop of cloudops.client.
local setmetatable, error, tostring = setmetatable, error, tostring

local records = setmetatable({}, { __mode = "k" })

local internal = {}

--- Registers a client's record (client.new does, once per client).
function internal.register(client, record)
  records[client] = record
end

--- The record of a client; raises (at the helper's caller) for anything else.
function internal.of(client)
  local r = records[client]
  if not r then error("expected a cloudops client, got " .. tostring(client), 3) end
  return r
end

return internal
