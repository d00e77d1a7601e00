#!/usr/bin/env lua5.4
-- Give a user access to namespaces.
--
--   TEMPORAL_CLOUD_API_KEY=... lua5.4 examples/grant_namespace_access.lua EMAIL NAMESPACE[=PERMISSION]...
--
-- PERMISSION is read, write (the default) or admin. All the namespaces are set in one update of
-- the user, which client:update repeats if someone else changed the user in between (the
-- resource_version check). Against a local emulator: TEMPORAL_CLOUD_ENDPOINT=127.0.0.1:PORT
-- TEMPORAL_CLOUD_INSECURE=1.

-- Run from a checkout: use its modules (lua/, and the core built in build/) before installed ones.
local root = (arg[0]:match("^(.*)/examples/[^/]*$")) or "."
local build = rawget(_G, "jit") and "/build/luajit/lua/?.so;" or "/build/lua/?.so;"
package.path = root .. "/lua/?.lua;" .. root .. "/lua/?/init.lua;" .. package.path
package.cpath = root .. build .. package.cpath

local cloudops = require "cloudops"

local PERMISSIONS = { read = "PERMISSION_READ", write = "PERMISSION_WRITE", admin = "PERMISSION_ADMIN" }

local email = arg[1]
local grants = {}
for i = 2, #arg do
  local ns, perm = arg[i]:match("^([^=]+)=?(.*)$")
  perm = PERMISSIONS[perm ~= "" and perm or "write"]
  if not ns or not perm then
    io.stderr:write("bad grant '", arg[i], "': NAMESPACE or NAMESPACE=read|write|admin\n")
    os.exit(2)
  end
  grants[ns] = perm
end
if not email or next(grants) == nil then
  io.stderr:write("usage: grant_namespace_access.lua EMAIL NAMESPACE[=PERMISSION]...\n")
  os.exit(2)
end

local client = assert(cloudops.connect {
  insecure = os.getenv("TEMPORAL_CLOUD_INSECURE") == "1",
})

local function fail(what, err)
  io.stderr:write(what, ": ", tostring(err), "\n")
  os.exit(1)
end

local found, err = client:get_users { email = email }
if not found then fail("get_users", err) end
local user = found.users[1]
if not user then fail("get_users", "no user with the email " .. email) end

-- Read, change, write with the resource_version read; on a conflict, read again and repeat.
local resp, uerr = client:update("user", user.id, function(u)
  u.spec.access = u.spec.access or {}
  u.spec.access.namespace_accesses = u.spec.access.namespace_accesses or {}
  for ns, perm in pairs(grants) do
    u.spec.access.namespace_accesses[ns] = { permission = perm }
  end
end)
if not resp then fail("update user", uerr) end

local op, werr = client:wait(resp)
if not op then fail("waiting for the update", werr) end

local after = assert(client:get_user { user_id = user.id })
local names = {}
for ns in pairs(after.user.spec.access.namespace_accesses) do names[#names + 1] = ns end
table.sort(names)
for _, ns in ipairs(names) do
  print(string.format("%s: %s %s", email, ns, after.user.spec.access.namespace_accesses[ns].permission))
end
client:close()
