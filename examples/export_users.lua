#!/usr/bin/env lua5.4
-- Export every user of the account as a JSON array (the proto3 JSON mapping, as the Cloud
-- Ops API's own REST gateway and other SDKs write it).
--
--   TEMPORAL_CLOUD_API_KEY=... lua5.4 examples/export_users.lua [FILE]
--
-- Writes to FILE, or to stdout. Against a local emulator: TEMPORAL_CLOUD_ENDPOINT=127.0.0.1:PORT
-- TEMPORAL_CLOUD_INSECURE=1.

-- Run from a checkout: use its modules (lua/, and the core built in build/) before installed ones.
local root = (arg[0]:match("^(.*)/examples/[^/]*$")) or "."
local build = rawget(_G, "jit") and "/build/luajit/lua/?.so;" or "/build/lua/?.so;"
package.path = root .. "/lua/?.lua;" .. root .. "/lua/?/init.lua;" .. package.path
package.cpath = root .. build .. package.cpath

local cloudops = require "cloudops"
local json = require "cloudops.json"

local client = assert(cloudops.connect {
  insecure = os.getenv("TEMPORAL_CLOUD_INSECURE") == "1",
})

-- paginate() fetches page after page as the loop needs them; a failure comes as false, err.
local users = {}
for user, err in client:paginate("get_users", { page_size = 100 }) do
  if not user then
    io.stderr:write("get_users: ", tostring(err), "\n")
    os.exit(1)
  end
  users[#users + 1] = assert(json.encode("temporal.api.cloud.identity.v1.User", user, { indent = 2 }))
end
client:close()

local text = #users == 0 and "[]\n" or ("[\n" .. table.concat(users, ",\n") .. "\n]\n")
if arg[1] then
  local f = assert(io.open(arg[1], "w"))
  f:write(text)
  f:close()
  io.stderr:write(#users, " users written to ", arg[1], "\n")
else
  io.write(text)
end
