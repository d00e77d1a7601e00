-- The README's Concurrency figure: create N namespaces and wait until each is ready, against
-- the emulator's realistic timing profile (answers 0.25 s away, a namespace's creation about a
-- minute, check_duration 5 s), once one after another as a plain script would (create, wait,
-- next) and once with cloudops.map (create all, wait for all; at most max_operations = 10 of
-- the account's operations in flight). By hand: the one-by-one run takes about N minutes.
--
--   lua5.4 bench/namespaces_batch.lua [N]        (default 20)
local dir = (arg and arg[0] or ""):match("^(.*)bench/namespaces_batch%.lua$") or "./"
package.path = dir .. "lua/?.lua;" .. dir .. "lua/?/init.lua;" .. package.path
package.cpath = dir .. (rawget(_G, "jit") and "build/luajit/lua/?.so;" or "build/lua/?.so;") .. package.cpath

local cloudops = require "cloudops"
local emulator = require "cloudops.emulator"
local core = require "cloudops.core"

local format = string.format
local N = tonumber(arg[1] or "") or 20

local function spec(name)
  return { spec = { name = name, replicas = { { region = "aws-us-east-1" } }, retention_days = 30,
                    api_key_auth = { enabled = true } } }
end

local function create_and_wait(client, name)
  local resp, err = client:create_namespace(spec(name))
  if not resp then return nil, err end
  return client:wait(resp, { timeout = 900 })
end

local function run(label, tag, body)
  local emu = assert(emulator.spawn{ profile = "realistic" })
  local client = assert(cloudops.connect{ endpoint = emu.endpoint, insecure = true, api_key = emu.api_key })
  local names = {}
  for i = 1, N do names[i] = format("%s-%02d", tag, i) end
  local t0 = core.now()
  local failed = body(client, names)
  local wall = core.now() - t0
  client:close()
  emu.stop()
  print(format("%-44s %8.1f s   %d failed", label, wall, failed))
  return wall
end

print(format("%d namespaces, created and waited for, emulator --profile realistic", N))
local together = run("cloudops.map (create, then wait, per task)", "map", function(client, names)
  local results = cloudops.map(function(name) return create_and_wait(client, name) end, names,
                               { concurrency = #names })
  local failed = 0
  for i = 1, #names do if not results[i] then failed = failed + 1 end end
  return failed
end)
local one_by_one = run("one after another (create, wait, next)", "seq", function(client, names)
  local failed = 0
  for _, name in ipairs(names) do
    if not create_and_wait(client, name) then failed = failed + 1 end
  end
  return failed
end)
print(format("one after another / cloudops.map: %.1fx", one_by_one / together))
