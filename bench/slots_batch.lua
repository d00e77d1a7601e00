-- Operation slots that keep pace with the service (issue 21, item 3): N CreateUser as a service
-- account (the client's defaults: "auto", 80/s once its identity is known; max_operations 10),
-- through cloudops.map with 16 tasks, against an emulator whose answers are LATENCY s away,
-- whose operations end on their own OP s after they start, with a check_duration hint of 0.5 s
-- and a limit of 10 operations in flight. Ideal: N * (OP + 2 * LATENCY) / 10 (each slot turns
-- over once per operation, its creation's answer and the poll that sees its end).
--
--   lua5.4 bench/slots_batch.lua [N [LATENCY [OP]]]     (defaults: 200, 0.15, 1)
--
-- Target: at most 1.05x the ideal, 0 refused, 0 failed.
local B = dofile((arg[0]:match("^(.*)bench/[^/]+$") or "./") .. "bench/support.lua")
local format = B.format

local N = tonumber(arg[1] or "") or 200
local LATENCY = tonumber(arg[2] or "") or 0.15
local OP = tonumber(arg[3] or "") or 1
local LIMIT = 10

local emu = B.emulator{ latency = LATENCY, op_duration = OP, op_pending = 0.1, check_duration = 0.5,
                        max_operations = LIMIT }
local client, n = B.client(emu, nil, "CreateUser")
assert(client:get_regions{}) -- connected: not part of the batch
local wall, failed = B.map_batch(N, 16, function(i) return client:create_user(B.user("slots", i)) end)
client:close()
local ideal = N * (OP + 2 * LATENCY) / LIMIT
print(format("operation slots: %d CreateUser, answers %.2f s away, operations %g s, limit %d in flight, " ..
  "check_duration 0.5 s: %.2f s for the ideal %.1f s, %d polls", N, LATENCY, OP, LIMIT, wall, ideal, n.polls))
B.figure("wall / ideal", format("%.3fx", wall / ideal), "at most 1.05x", wall / ideal <= 1.05)
B.figure("refused", tostring(n.rejected), "0", n.rejected == 0)
B.figure("failed", tostring(failed), "0", failed == 0)
os.exit(B.finish())
