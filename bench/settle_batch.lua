-- Settling under a lower real limit (issue 21, item 2): N GetRegions over 8 tasks of one user's
-- client with rate_limit = "auto" (starting at a user's documented 40/s), against an emulator
-- that allows that user only RATE/s (another client of the identity, a limit changed on the
-- service's side). Prints the refusals and failures beside their targets.
--
--   lua5.4 bench/settle_batch.lua [N [RATE]]      (defaults: 60, 5)
--
-- Target: at most 15 refusals, none failed.
local B = dofile((arg[0]:match("^(.*)bench/[^/]+$") or "./") .. "bench/support.lua")
local format = B.format

local N = tonumber(arg[1] or "") or 60
local RATE = tonumber(arg[2] or "") or 5

local emu = B.emulator{ rate_limits = { user = RATE, service_account = RATE, account = 1000 },
                        op_duration = 0, op_pending = 0 }
local client, n = B.client(emu, { api_key = emu.keys.owner }, "GetRegions")
local wall, failed = B.map_batch(N, 8, function() return client:get_regions{} end)
client:close()
print(format("settling: %d GetRegions over 8 tasks, \"auto\" (from 40/s), emulator limit %g/s: %.2f s " ..
  "(%.2fx N/rate), %d attempts, rate now %s", N, RATE, wall, wall / (N / RATE), n.attempts, tostring(client._limiter)))
B.figure("refusals", tostring(n.rejected), "at most 15", n.rejected <= 15)
B.figure("failed", tostring(failed), "0", failed == 0)
os.exit(B.finish())
