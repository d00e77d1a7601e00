-- The rate-limited batch (issue 4): N mutations against an emulator that allows R requests/s
-- per user, once with the client's token bucket and once with backoff-only retries (no
-- limiter), each against a fresh emulator. Prints wall time / (N/R), the RESOURCE_EXHAUSTED
-- answers the server gave and the requests that failed in the end.
--
--   lua5.4 bench/ratelimit_batch.lua [N [R]]      (defaults: N = 200, R = 10)
--
-- Target for the token bucket: at most 1.05x the ideal, no failed request, at most 1% of the
-- requests rejected by the server.
local dir = (arg and arg[0] or ""):match("^(.*)bench/ratelimit_batch%.lua$") or "./"
package.path = dir .. "lua/?.lua;" .. dir .. "lua/?/init.lua;" .. package.path
package.cpath = dir .. (rawget(_G, "jit") and "build/luajit/lua/?.so;" or "build/lua/?.so;") .. package.cpath

local cloudops = require "cloudops"
local emulator = require "cloudops.emulator"
local core = require "cloudops.core"

local format = string.format
local N = tonumber(arg[1] or "") or 200
local R = tonumber(arg[2] or "") or 10

local POLICIES = {
  { name = "token bucket", rate_limit = R },
  { name = "backoff only", rate_limit = false },
}

-- One batch: N CreateUser calls, one after another as a script would send them.
local function batch(policy, run)
  -- Only the per-user limit applies (account limit off), so R is the only rate in play.
  local emu = assert(emulator.spawn{ rate_limits = { user = R, account = 0 }, op_duration = 0,
                                     op_pending = 0 })
  local rejected, attempts = 0, 0
  local client = assert(cloudops.connect{
    endpoint = emu.endpoint, insecure = true, api_key = emu.api_key,
    rate_limit = policy.rate_limit,
    -- The default policy, with room for a long batch: the bound is per call anyway.
    on_event = function(ev)
      attempts = attempts + 1
      if ev.name == "RESOURCE_EXHAUSTED" then rejected = rejected + 1 end
    end,
  })
  local failed = 0
  local t0 = core.now()
  for i = 1, N do
    local resp, err = client:create_user{ spec = {
      email = format("bench-%d-%d@example.com", run, i),
      access = { account_access = { role = "ROLE_READ" } } } }
    if not resp then
      failed = failed + 1
      io.stderr:write("failed: ", tostring(err), "\n")
    end
  end
  local wall = core.now() - t0
  client:close()
  emu.stop()
  return { wall = wall, rejected = rejected, failed = failed, attempts = attempts }
end

print(format("rate-limited batch: N = %d mutations (CreateUser), emulator limit R = %g requests/s per user, ideal N/R = %.2f s",
  N, R, N / R))
-- The server's bucket starts full (a burst of R), so the fastest a batch can go is (N - R) / R.
print(format("(the emulator's burst is R, so the floor is (N - R)/R = %.2f s, %.3fx)", (N - R) / R, (N - R) / N))
print(format("%-14s %9s %8s %10s %9s %8s", "policy", "wall s", "x ideal", "attempts", "rejected", "failed"))
local results = {}
for run, p in ipairs(POLICIES) do
  local r = batch(p, run)
  results[p.name] = r
  print(format("%-14s %9.2f %8.3f %10d %4d %4.1f%% %8d", p.name, r.wall, r.wall / (N / R), r.attempts,
    r.rejected, 100 * r.rejected / N, r.failed))
end
local tb = results["token bucket"]
local met = tb.wall / (N / R) <= 1.05 and tb.failed == 0 and tb.rejected <= 0.01 * N
print(format("target (token bucket): <= 1.05x ideal, 0 failed, <= 1%% rejected: %s", met and "met" or "MISSED"))
os.exit(met and 0 or 1)
