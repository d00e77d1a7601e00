-- The README's Concurrency figure: create N namespaces and wait until each is ready, against
-- the emulator's realistic timing profile (answers 0.25 s away, a namespace's creation about a
-- minute, check_duration 5 s), once one after another as a plain script would (create, wait,
-- next) and once with cloudops.map (create all, wait for all; at most max_operations = 10 of
-- the account's operations in flight). By hand: the one-by-one run takes about N minutes.
--
--   lua5.4 bench/namespaces_batch.lua [N]        (default 20)
local B = dofile((arg[0]:match("^(.*)bench/[^/]+$") or "./") .. "bench/support.lua")
local format = B.format

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

local function names(tag)
  local list = {}
  for i = 1, N do list[i] = format("%s-%02d", tag, i) end
  return list
end

local function run(label, body)
  -- the account's namespace quota raised (by support) past the N this batch creates
  local emu = B.emulator{ profile = "realistic", max_namespaces = N + 10 }
  local client = B.client(emu, { api_key = emu.api_key })
  local wall, failed = body(client)
  client:close()
  emu.stop()
  print(format("%-44s %8.1f s   %d failed", label, wall, failed))
  return wall
end

print(format("%d namespaces, created and waited for, emulator --profile realistic", N))
local together = run("cloudops.map (create, then wait, per task)", function(client)
  local list = names("map")
  return B.map_batch(N, N, function(i) return create_and_wait(client, list[i]) end)
end)
local one_by_one = run("one after another (create, wait, next)", function(client)
  local failed, t0 = 0, B.core.now()
  for _, name in ipairs(names("seq")) do
    if not create_and_wait(client, name) then failed = failed + 1 end
  end
  return B.core.now() - t0, failed
end)
print(format("one after another / cloudops.map: %.1fx", one_by_one / together))
os.exit(B.finish())
