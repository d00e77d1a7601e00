-- The latency-bound job (issue 10): N mutations (CreateUser) as a service account against an
-- emulator whose every answer takes LATENCY seconds and which allows that account RATE
-- requests/s, through cloudops.map with 16 tasks in flight; then the same with the "auto" rate
-- (from a user's documented 40/s, a service account's 80/s once it knows, which the emulator's
-- lower limit brings down), and one call after another as a plain script would send them.
-- Prints wall / (N / RATE), the RESOURCE_EXHAUSTED answers and the failed calls. Operations end
-- at once here (op_duration 0), so that the rate and the latency are all that is measured
-- (bench/slots_batch.lua measures operation slots).
--
--   lua5.4 bench/latency_batch.lua [N [RATE [LATENCY]]]    (defaults: 200, 20, 0.15)
--
-- Target (cloudops.map at the server's rate): at most 1.05x the ideal, 0 rejected, 0 failed.
local B = dofile((arg[0]:match("^(.*)bench/[^/]+$") or "./") .. "bench/support.lua")
local format = B.format

local N = tonumber(arg[1] or "") or 200
local RATE = tonumber(arg[2] or "") or 20
local LATENCY = tonumber(arg[3] or "") or 0.15
local CONCURRENCY = 16

-- One batch against a fresh emulator: `send(client, tag)` makes the N calls and returns the
-- seconds they took and the number that failed.
local function batch(name, tag, rate_limit, send)
  local emu = B.emulator{ latency = LATENCY, op_duration = 0, op_pending = 0,
                          rate_limits = { service_account = RATE, account = 10 * RATE } }
  local client, n = B.client(emu, { rate_limit = rate_limit }, "CreateUser")
  assert(client:get_regions{}) -- connected: not part of the batch
  local wall, failed = send(client, tag)
  client:close()
  emu.stop()
  return { name = name, wall = wall, attempts = n.attempts, rejected = n.rejected, failed = failed }
end

local function with_map(client, tag)
  return B.map_batch(N, CONCURRENCY, function(i) return client:create_user(B.user(tag, i)) end)
end

local function one_by_one(client, tag)
  local failed, t0 = 0, B.core.now()
  for i = 1, N do
    if not client:create_user(B.user(tag, i)) then failed = failed + 1 end
  end
  return B.core.now() - t0, failed
end

local ideal = N / RATE
print(format("latency-bound batch: %d CreateUser as a service account, answers %.2f s away, server limit %g/s, " ..
  "ideal N/rate = %.2f s", N, LATENCY, RATE, ideal))
print(format("  %-34s %8s %8s %9s %9s %7s", "how", "wall s", "x ideal", "attempts", "rejected", "failed"))
local rows = {
  batch("cloudops.map, 16 tasks, rate " .. RATE, "map", RATE, with_map),
  batch("cloudops.map, 16 tasks, auto", "auto", nil, with_map),
  batch("one after another, rate " .. RATE, "seq", RATE, one_by_one),
}
for _, r in ipairs(rows) do
  print(format("  %-34s %8.2f %8.3f %9d %9d %7d", r.name, r.wall, r.wall / ideal, r.attempts, r.rejected, r.failed))
end
local m = rows[1]
B.figure("cloudops.map at the server's rate, wall / ideal", format("%.3fx", m.wall / ideal), "at most 1.05x",
  m.wall / ideal <= 1.05)
B.figure("its rejected and failed", m.rejected .. " and " .. m.failed, "0 and 0", m.rejected == 0 and m.failed == 0)
os.exit(B.finish())
