-- Limits shared across hosts (issue 14; issue 21, item 1): P processes of one service account,
-- N CreateUser calls each, against an emulator that allows that account R requests/s; through
-- one bucket in Redis (cloudops.redis), warmed up (each process knew its identity before) and
-- cold (starting together, their first calls learning it), and with each process on its own
-- token bucket at R (what hosts do without Redis). Prints wall time / (P*N/R), the
-- RESOURCE_EXHAUSTED answers the server gave and the calls that failed. Starts its own
-- redis-server on a free port.
--
--   lua5.4 bench/redis_limit.lua [P [N [R]]]      (defaults: P = 4, N = 50, R = 20)
--
-- Targets for the shared bucket: within 15% of the ideal, 0 rejected, 0 failed; starting
-- together cold, 0 refused on the wire, 0 failed.
local B = dofile((arg[0]:match("^(.*)bench/[^/]+$") or "./") .. "bench/support.lua")
local helpers = require "helpers"
local S = require "09-redis.support"
local batch = require "09-redis.batch"
local format = B.format

local P = tonumber(arg[1] or "") or 4
local N = tonumber(arg[2] or "") or 50
local R = tonumber(arg[3] or "") or 20
local ideal = P * N / R

if not S.find() then
  print("redis_limit: skipped, " .. select(2, S.find()))
  os.exit(0)
end

-- One batch against a fresh emulator, counting every refusal in its request log.
local function run(url, cold)
  local log = helpers.tmpdir() .. "/requests.log"
  local emu = B.emulator{ rate_limits = { service_account = R }, op_duration = 0, op_pending = 0, log = log }
  local t = batch.run{ root = helpers.ROOT, lua = helpers.LUA, endpoint = emu.endpoint, api_key = emu.keys.admin,
                       redis = url, rate = R, procs = P, calls = N, timeout = 20 * ideal + 60, cold = cold }
  emu.stop()
  t.refused_on_wire = helpers.log_counts(log).RESOURCE_EXHAUSTED or 0
  return t
end

print(format("shared limit: %d processes x %d CreateUser, one service account, emulator limit %g/s, ideal %.2f s",
  P, N, R, ideal))
print(format("  %-30s %9s %8s %10s %9s %8s %8s", "limiter", "wall s", "x ideal", "attempts", "rejected", "on wire",
  "failed"))
local redis = S.start_redis()
local ok, shared, cold = pcall(function() return run(redis.url, false), run(redis.url, true) end)
redis.stop()
if not ok then helpers.cleanup() error(shared, 0) end
local alone = run(nil, false)
helpers.cleanup()
for _, row in ipairs { { "one Redis bucket", shared }, { "one Redis bucket, cold start", cold },
                       { "a bucket per process", alone } } do
  local t = row[2]
  print(format("  %-30s %9.2f %8.3f %10d %9d %8d %8d", row[1], t.wall, t.wall / ideal, t.attempts, t.rejected,
    t.refused_on_wire, t.failed))
end
B.figure("one Redis bucket, wall / ideal", format("%.3fx", shared.wall / ideal), "within 15%",
  math.abs(shared.wall / ideal - 1) <= 0.15)
B.figure("one Redis bucket, rejected and failed", shared.rejected .. " and " .. shared.failed, "0 and 0",
  shared.rejected == 0 and shared.failed == 0)
B.figure(format("%d hosts starting together (cold), refused on the wire and failed", P),
  cold.refused_on_wire .. " and " .. cold.failed, "0 and 0", cold.refused_on_wire == 0 and cold.failed == 0)
os.exit(B.finish())
