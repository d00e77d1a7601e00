-- The latency-bound job (issue 10): N mutations (CreateUser) as a service account against an
-- emulator whose every answer takes LATENCY seconds and which allows that account RATE
-- requests/s, through cloudops.map with 16 tasks in flight; then the same with the "auto" rate
-- (the documented 80/s, which the emulator's lower limit brings down), and one call after
-- another as a plain script would send them. Prints wall / (N / RATE), the RESOURCE_EXHAUSTED
-- answers and the failed calls. Operations end at once here (op_duration 0), so that the rate
-- and the latency are all that is measured (spec/08-concurrency covers operation slots).
--
--   lua5.4 bench/latency_batch.lua [N [RATE [LATENCY]]]    (defaults: 200, 20, 0.15)
--
-- Target (cloudops.map at the server's rate): at most 1.05x the ideal, 0 rejected, 0 failed.
local dir = (arg and arg[0] or ""):match("^(.*)bench/latency_batch%.lua$") or "./"
package.path = dir .. "lua/?.lua;" .. dir .. "lua/?/init.lua;" .. package.path
package.cpath = dir .. (rawget(_G, "jit") and "build/luajit/lua/?.so;" or "build/lua/?.so;") .. package.cpath

local cloudops = require "cloudops"
local emulator = require "cloudops.emulator"
local core = require "cloudops.core"

local format = string.format
local N = tonumber(arg[1] or "") or 200
local RATE = tonumber(arg[2] or "") or 20
local LATENCY = tonumber(arg[3] or "") or 0.15
local CONCURRENCY = 16

local function user(run, i)
  return { spec = { email = format("lat-%s-%d@example.com", run, i), access = { account_access = { role = "ROLE_READ" } } } }
end

-- One batch against a fresh emulator: `send(client, tag)` makes the N calls (tag: part of the
-- users' emails) and returns the number that failed.
local function batch(name, tag, rate_limit, send)
  local emu = assert(emulator.spawn{ latency = LATENCY, op_duration = 0, op_pending = 0,
                                     rate_limits = { service_account = RATE, account = 10 * RATE } })
  local attempts, rejected = 0, 0
  local client = assert(cloudops.connect{
    endpoint = emu.endpoint, insecure = true, api_key = emu.keys.admin, rate_limit = rate_limit,
    on_event = function(ev)
      if ev.method == "CreateUser" then
        attempts = attempts + 1
        if ev.name == "RESOURCE_EXHAUSTED" then rejected = rejected + 1 end
      end
    end,
  })
  assert(client:get_current_identity()) -- connected, identity known: not part of the batch
  local t0 = core.now()
  local failed = send(client, tag)
  local wall = core.now() - t0
  client:close()
  emu.stop()
  return { name = name, wall = wall, attempts = attempts, rejected = rejected, failed = failed }
end

local function with_map(client, run)
  local items = {}
  for i = 1, N do items[i] = i end
  local results = cloudops.map(function(i) return client:create_user(user(run, i)) end, items,
                               { concurrency = CONCURRENCY })
  local failed = 0
  for i = 1, N do if not results[i] then failed = failed + 1 end end
  return failed
end

local function one_by_one(client, run)
  local failed = 0
  for i = 1, N do
    if not client:create_user(user(run, i)) then failed = failed + 1 end
  end
  return failed
end

local ideal = N / RATE
print(format("latency-bound batch: %d CreateUser as a service account, answers %.2f s away, server limit %g/s, " ..
  "ideal N/rate = %.2f s", N, LATENCY, RATE, ideal))
print(format("%-34s %8s %8s %9s %9s %7s", "how", "wall s", "x ideal", "attempts", "rejected", "failed"))
local rows = {
  batch("cloudops.map, 16 tasks, rate " .. RATE, "map", RATE, with_map),
  batch("cloudops.map, 16 tasks, auto", "auto", nil, with_map),
  batch("one after another, rate " .. RATE, "seq", RATE, one_by_one),
}
for _, r in ipairs(rows) do
  print(format("%-34s %8.2f %8.3f %9d %9d %7d", r.name, r.wall, r.wall / ideal, r.attempts, r.rejected, r.failed))
end
local m = rows[1]
local met = m.wall / ideal <= 1.05 and m.rejected == 0 and m.failed == 0
print(format("target (cloudops.map at the server's rate): <= 1.05x ideal, 0 rejected, 0 failed: %s",
  met and "met" or "MISSED"))
os.exit(met and 0 or 1)
