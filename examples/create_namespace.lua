#!/usr/bin/env lua5.4
-- Create a namespace and wait until it is ready.
--
--   TEMPORAL_CLOUD_API_KEY=... lua5.4 examples/create_namespace.lua NAME [REGION] [RETENTION_DAYS]
--
-- REGION defaults to aws-us-east-1, RETENTION_DAYS to 30. The namespace accepts API keys
-- (api_key_auth). Prints the namespace's id and its gRPC address once it is active.
-- Against a local emulator: TEMPORAL_CLOUD_ENDPOINT=127.0.0.1:PORT TEMPORAL_CLOUD_INSECURE=1.

-- Run from a checkout: use its modules (lua/, and the core built in build/) before installed ones.
local root = (arg[0]:match("^(.*)/examples/[^/]*$")) or "."
local build = rawget(_G, "jit") and "/build/luajit/lua/?.so;" or "/build/lua/?.so;"
package.path = root .. "/lua/?.lua;" .. root .. "/lua/?/init.lua;" .. package.path
package.cpath = root .. build .. package.cpath

local cloudops = require "cloudops"

local name, region, retention = arg[1], arg[2] or "aws-us-east-1", tonumber(arg[3] or "30")
if not name or not retention then
  io.stderr:write("usage: create_namespace.lua NAME [REGION] [RETENTION_DAYS]\n")
  os.exit(2)
end

local client = assert(cloudops.connect {
  insecure = os.getenv("TEMPORAL_CLOUD_INSECURE") == "1",  -- plaintext: local emulator only
})

local function fail(what, err)
  io.stderr:write(what, ": ", tostring(err), "\n")
  os.exit(1)
end

-- The request is a mutation: the client gives it an async_operation_id, so a retry after a
-- lost answer does not create the namespace twice.
local resp, err = client:create_namespace {
  spec = {
    name = name,
    replicas = { { region = region } },
    retention_days = retention,
    api_key_auth = { enabled = true },
  },
}
if not resp then fail("create_namespace", err) end
print("creating " .. resp.namespace .. " (operation " .. resp.async_operation.id .. ")")

-- wait() polls GetAsyncOperation, sleeping the operation's own check_duration in between.
local op, werr = client:wait(resp, { timeout = 900 })
if not op then fail("waiting for the namespace", werr) end

local got, gerr = client:get_namespace { namespace = resp.namespace }
if not got then fail("get_namespace", gerr) end
local ns = got.namespace
print(string.format("namespace %s is %s; gRPC endpoint %s", ns.namespace, ns.state,
                    ns.endpoints and ns.endpoints.grpc_address or "?"))
client:close()
