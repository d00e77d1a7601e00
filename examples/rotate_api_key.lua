#!/usr/bin/env lua5.4
-- Rotate an API key: create a new key for the same owner, then disable (or delete) the old
-- one, so that nothing is left without a working key in between.
--
--   TEMPORAL_CLOUD_API_KEY=... lua5.4 examples/rotate_api_key.lua KEY_ID [DAYS] [--delete]
--
-- The new key expires in DAYS days (default 90). The old key is disabled, or deleted with
-- --delete. Prints the new key's id and its token: the token is shown only once, store it.
-- Against a local emulator: TEMPORAL_CLOUD_ENDPOINT=127.0.0.1:PORT TEMPORAL_CLOUD_INSECURE=1.

-- Run from a checkout: use its modules (lua/, and the core built in build/) before installed ones.
local root = (arg[0]:match("^(.*)/examples/[^/]*$")) or "."
local build = rawget(_G, "jit") and "/build/luajit/lua/?.so;" or "/build/lua/?.so;"
package.path = root .. "/lua/?.lua;" .. root .. "/lua/?/init.lua;" .. package.path
package.cpath = root .. build .. package.cpath

local cloudops = require "cloudops"

local key_id, days, delete = nil, 90, false
for _, a in ipairs(arg) do
  if a == "--delete" then delete = true
  elseif not key_id then key_id = a
  else days = tonumber(a) end
end
if not key_id or not days or days <= 0 then
  io.stderr:write("usage: rotate_api_key.lua KEY_ID [DAYS] [--delete]\n")
  os.exit(2)
end

local client = assert(cloudops.connect {
  insecure = os.getenv("TEMPORAL_CLOUD_INSECURE") == "1",
})

local function fail(what, err)
  io.stderr:write(what, ": ", tostring(err), "\n")
  os.exit(1)
end

local got, err = client:get_api_key { key_id = key_id }
if not got then fail("get_api_key", err) end
local old = got.api_key

-- The new key: same owner and name; Timestamps accept Unix seconds (or RFC 3339 text).
local created, cerr = client:create_api_key {
  spec = {
    owner_id = old.spec.owner_id,
    owner_type = old.spec.owner_type,
    display_name = old.spec.display_name,
    description = "rotated from " .. old.id,
    expiry_time = os.time() + days * 86400,
  },
}
if not created then fail("create_api_key", cerr) end
local op, werr = client:wait(created)
if not op then fail("waiting for the new key", werr) end
print("new key: " .. created.key_id)
print("token: " .. created.token)

-- Only then retire the old key.
local resp, rerr
if delete then
  resp, rerr = client:delete_api_key { key_id = old.id, resource_version = old.resource_version }
else
  resp, rerr = client:update("api_key", old.id, function(k) k.spec.disabled = true end)
end
if not resp then fail(delete and "delete_api_key" or "disable the old key", rerr) end
op, werr = client:wait(resp)
if not op then fail("waiting for the old key", werr) end
print("old key " .. old.id .. ": " .. (delete and "deleted" or "disabled"))
client:close()
