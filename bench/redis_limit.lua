-- Limits shared across hosts (issue 14): P processes of one service account, N CreateUser
-- calls each, against an emulator that allows that account R requests/s; once through one
-- bucket in Redis (cloudops.redis), once with each process on its own token bucket at R (what
-- hosts do without Redis). Prints wall time / (P*N/R), the RESOURCE_EXHAUSTED answers the
-- server gave and the calls that failed. Starts its own redis-server on a free port.
--
--   lua5.4 bench/redis_limit.lua [P [N [R]]]      (defaults: P = 4, N = 50, R = 20)
--
-- Target for the shared bucket: within 15% of the ideal, 0 rejected, 0 failed.
local dir = (arg and arg[0] or ""):match("^(.*)bench/redis_limit%.lua$") or "./"
package.path = dir .. "lua/?.lua;" .. dir .. "lua/?/init.lua;" .. dir .. "spec/?.lua;" .. package.path
package.cpath = dir .. (rawget(_G, "jit") and "build/luajit/lua/?.so;" or "build/lua/?.so;") .. package.cpath

local emulator = require "cloudops.emulator"
local helpers = require "helpers"
local S = require "09-redis.support"
local batch = require "09-redis.batch"

local format = string.format
local P = tonumber(arg[1] or "") or 4
local N = tonumber(arg[2] or "") or 50
local R = tonumber(arg[3] or "") or 20
local ideal = P * N / R

if not S.find() then
  print("redis_limit: skipped, " .. select(2, S.find()))
  os.exit(0)
end

local function run(url)
  local emu = assert(emulator.spawn{ rate_limits = { service_account = R }, op_duration = 0, op_pending = 0 })
  local t = batch.run{ root = helpers.ROOT, lua = helpers.LUA, endpoint = emu.endpoint, api_key = emu.keys.admin,
                       redis = url, rate = R, procs = P, calls = N, timeout = 20 * ideal + 60 }
  emu.stop()
  return t
end

print(format("shared limit: %d processes x %d CreateUser, one service account, emulator limit %g/s, ideal %.2f s",
  P, N, R, ideal))
print(format("%-22s %9s %8s %10s %9s %8s", "limiter", "wall s", "x ideal", "attempts", "rejected", "failed"))
local redis = S.start_redis()
local ok, shared = pcall(run, redis.url)
redis.stop()
if not ok then helpers.cleanup() error(shared, 0) end
local alone = run(nil)
helpers.cleanup()
for _, row in ipairs { { "one Redis bucket", shared }, { "a bucket per process", alone } } do
  local t = row[2]
  print(format("%-22s %9.2f %8.3f %10d %9d %8d", row[1], t.wall, t.wall / ideal, t.attempts, t.rejected, t.failed))
end
local met = math.abs(shared.wall / ideal - 1) <= 0.15 and shared.rejected == 0 and shared.failed == 0
print(format("target (Redis bucket): within 15%% of the ideal, 0 rejected, 0 failed: %s", met and "met" or "MISSED"))
os.exit(met and 0 or 1)
