#!/usr/bin/env lua5.4
-- Create several namespaces at once and wait until all are ready: the calls and the waits of
-- every namespace run side by side (cloudops.map), so the batch takes about as long as the
-- slowest namespace, not the sum of them (with at most max_operations, 10 by default, of the
-- account's async operations in flight: beyond that a creation waits for a slot).
--
--   TEMPORAL_CLOUD_API_KEY=... lua5.4 examples/create_namespaces.lua PREFIX COUNT [REGION]
--
-- Creates PREFIX-1 .. PREFIX-COUNT in REGION (default aws-us-east-1), 30 days of retention,
-- API-key authentication. Prints one line per namespace, then the time it all took.
-- Against a local emulator: TEMPORAL_CLOUD_ENDPOINT=127.0.0.1:PORT TEMPORAL_CLOUD_INSECURE=1.

-- Run from a checkout: use its modules (lua/, and the core built in build/) before installed ones.
local root = (arg[0]:match("^(.*)/examples/[^/]*$")) or "."
local build = rawget(_G, "jit") and "/build/luajit/lua/?.so;" or "/build/lua/?.so;"
package.path = root .. "/lua/?.lua;" .. root .. "/lua/?/init.lua;" .. package.path
package.cpath = root .. build .. package.cpath

local cloudops = require "cloudops"
local core = require "cloudops.core"

local prefix, count, region = arg[1], tonumber(arg[2] or ""), arg[3] or "aws-us-east-1"
if not prefix or not count then
  io.stderr:write("usage: create_namespaces.lua PREFIX COUNT [REGION]\n")
  os.exit(2)
end

local client = assert(cloudops.connect {
  insecure = os.getenv("TEMPORAL_CLOUD_INSECURE") == "1",  -- plaintext: local emulator only
})

local names = {}
for i = 1, count do names[i] = prefix .. "-" .. i end

local started = core.now()
-- Each task creates one namespace and waits for its operation; a task's waits (the call in
-- flight, the rate limit, an operation slot, the polls of wait) let the other tasks run.
local results, errs = cloudops.map(function(name)
  local resp, err = client:create_namespace {
    spec = {
      name = name,
      replicas = { { region = region } },
      retention_days = 30,
      api_key_auth = { enabled = true },
    },
  }
  if not resp then return nil, err end
  local op, werr = client:wait(resp, { timeout = 900 })
  if not op then return nil, werr end
  return resp.namespace
end, names, { concurrency = count })

local failed = 0
for i, name in ipairs(names) do
  if results[i] then
    print(name .. ": " .. results[i] .. " is ready")
  else
    failed = failed + 1
    print(name .. ": failed: " .. tostring(errs[i]))
  end
end
print(string.format("%d namespaces in %.1f s, %d failed", count, core.now() - started, failed))
client:close()
os.exit(failed == 0 and 0 or 1)
