-- The rate-limited batch (issue 4): N mutations against an emulator that allows R requests/s
-- per user, once with the client's token bucket and once with backoff-only retries (no
-- limiter), each against a fresh emulator. Prints wall time / (N/R), the RESOURCE_EXHAUSTED
-- answers the server gave and the requests that failed in the end.
--
--   lua5.4 bench/ratelimit_batch.lua [N [R]]      (defaults: N = 200, R = 10)
--
-- Target for the token bucket: at most 1.05x the ideal, no failed request, at most 1% of the
-- requests rejected by the server.
local B = dofile((arg[0]:match("^(.*)bench/[^/]+$") or "./") .. "bench/support.lua")
local format = B.format

local N = tonumber(arg[1] or "") or 200
local R = tonumber(arg[2] or "") or 10

local POLICIES = {
  { name = "token bucket", rate_limit = R },
  { name = "backoff only", rate_limit = false },
}

-- One batch: N CreateUser calls by a user, one after another as a script would send them.
local function batch(policy, run)
  -- Only the per-user limit applies (account limit off), so R is the only rate in play.
  local emu = B.emulator{ rate_limits = { user = R, account = 0 }, op_duration = 0, op_pending = 0 }
  local client, n = B.client(emu, { api_key = emu.api_key, rate_limit = policy.rate_limit }, "CreateUser")
  local failed, t0 = 0, B.core.now()
  for i = 1, N do
    local resp, err = client:create_user(B.user(run, i))
    if not resp then
      failed = failed + 1
      io.stderr:write("failed: ", tostring(err), "\n")
    end
  end
  local wall = B.core.now() - t0
  client:close()
  emu.stop()
  return { wall = wall, rejected = n.rejected, failed = failed, attempts = n.attempts }
end

print(format("rate-limited batch: N = %d mutations (CreateUser), emulator limit R = %g requests/s per user, " ..
  "ideal N/R = %.2f s", N, R, N / R))
-- The server's bucket starts full (a burst of R), so the fastest a batch can go is (N - R) / R.
print(format("(the emulator's burst is R, so the floor is (N - R)/R = %.2f s, %.3fx)", (N - R) / R, (N - R) / N))
print(format("  %-14s %9s %8s %10s %9s %8s", "policy", "wall s", "x ideal", "attempts", "rejected", "failed"))
local results = {}
for run, p in ipairs(POLICIES) do
  local r = batch(p, "rl" .. run)
  results[p.name] = r
  print(format("  %-14s %9.2f %8.3f %10d %4d %4.1f%% %8d", p.name, r.wall, r.wall / (N / R), r.attempts,
    r.rejected, 100 * r.rejected / N, r.failed))
end
local tb = results["token bucket"]
B.figure("token bucket, wall / ideal", format("%.3fx", tb.wall / (N / R)), "at most 1.05x", tb.wall / (N / R) <= 1.05)
B.figure("token bucket, rejected", format("%.1f%%", 100 * tb.rejected / N), "at most 1%", tb.rejected <= 0.01 * N)
B.figure("token bucket, failed", tostring(tb.failed), "0", tb.failed == 0)
os.exit(B.finish())
