-- `make bench`: cloudops.apply of a desired state of 20 namespaces and 200 users (each with
-- access to one of them) to an empty emulated account, with the emulator's realistic timings
-- and the documented limits; then a second apply, which must make no mutation (issue 19).
--
--   lua5.4 bench/desired_apply.lua [NAMESPACES] [USERS]     (default 20 200; about 5 minutes)
--
-- "The time the limits allow", the baseline the apply is measured against, is a lower bound
-- that no client can beat under those limits:
--   T_slots = (sum over the mutations of their operation's duration) / max_operations:
--     the account runs at most max_operations (10) operations at once, and each operation
--     takes the profile's duration (CreateNamespace 60 s, CreateUser 8 s in "realistic"), so
--     the slots hold at most 10 operation-seconds per second of wall time;
--   T_rate = (the mutations + the reads of the plan) / the identity's rate (a user: 40/s);
--   T_allowed = max(T_slots, T_rate).
-- It leaves out what the limits do not impose but any client pays: each request's round trip
-- (0.25 s in the profile), the operations' end seen only when polled, and the wait of a user's
-- create for its namespace (here no longer than T_slots already counts: 20 namespaces fill
-- the slots exactly twice). The target: measured / T_allowed at most 1.15.
local B = dofile((arg[0]:match("^(.*)bench/[^/]+$") or "./") .. "bench/support.lua")
local profiles = require "cloudops.emulator.profiles"
local schema = require "cloudops.schema"
local cloudops, core, format = B.cloudops, B.core, B.format

local N_NS = tonumber(arg[1] or "") or 20
local N_USERS = tonumber(arg[2] or "") or 200
local TARGET = 1.15

local d = { namespaces = {}, users = {} }
for i = 1, N_NS do
  d.namespaces[i] = { name = format("bench-ns-%02d", i), retention_days = 30,
                      replicas = { { region = "aws-us-east-1" } }, api_key_auth = { enabled = true } }
end
for i = 1, N_USERS do
  d.users[i] = { email = format("bench-user-%03d@example.com", i), access = {
    account_access = { role = "ROLE_READ" },
    namespace_accesses = { [format("bench-ns-%02d", (i - 1) % N_NS + 1)] = { permission = "PERMISSION_WRITE" } } } }
end

-- An account whose namespace allowance covers the desired state (a new account's is 10, which
-- the service raises only once those are in use).
local emu = B.emulator{ profile = "realistic", max_namespaces = N_NS }
-- Counts of what the client sent: mutations answered OK, requests refused by the limits, all.
local count = { mutations = 0, refused = 0, requests = 0 }
local client = assert(cloudops.connect{ endpoint = emu.endpoint, insecure = true, api_key = emu.api_key,
  on_event = function(ev)
    count.requests = count.requests + 1
    if ev.name == "RESOURCE_EXHAUSTED" then count.refused = count.refused + 1 end
    local m = schema.method(ev.method)
    if m and m.mutation and ev.name == "OK" then count.mutations = count.mutations + 1 end
  end })

local function timed_apply()
  local before = { mutations = count.mutations, refused = count.refused, requests = count.requests }
  local t0 = core.now()
  local result, err = cloudops.apply(client, d)
  local seconds = core.now() - t0
  if not result or err then error("the apply failed: " .. tostring(err)) end
  return seconds, count.mutations - before.mutations, count.refused - before.refused,
    count.requests - before.requests, #result.changes
end

-- The reads a plan takes (the snapshot the apply makes first), counted once beforehand.
local before_plan = count.requests
assert(cloudops.plan(client, d))
local plan_reads = count.requests - before_plan

local first, muts, refused, requests, n_changes = timed_apply()
local second, muts2, refused2, requests2 = timed_apply()
client:close()
emu.stop()

-- The time the limits allow (see the header).
local realistic = profiles.realistic
local d_ns = realistic.op_durations.CreateNamespace or realistic.op_duration
local d_user = realistic.op_durations.CreateUser or realistic.op_duration
local slots = cloudops.LIMITS.operations
local t_slots = (N_NS * d_ns + N_USERS * d_user) / slots
local reads = requests - muts -- the plan's reads and the operations' polls
local t_rate = (muts + plan_reads) / cloudops.LIMITS.user
local allowed = math.max(t_slots, t_rate)
local ratio = first / allowed

print(format("desired state: %d namespaces + %d users (with access), emulator --profile realistic, " ..
  "documented limits (%d operations in flight, %d requests/s per user)", N_NS, N_USERS, slots, cloudops.LIMITS.user))
print(format("  first apply        %7.1f s   %d changes, %d mutations, %d requests (%d reads and polls), %d refused",
  first, n_changes, muts, requests, reads, refused))
print(format("  limits allow       %7.1f s   (slots: (%d x %d s + %d x %d s) / %d = %.1f s; " ..
  "rate: (%d + %d) / %d/s = %.1f s)",
  allowed, N_NS, d_ns, N_USERS, d_user, slots, t_slots, muts, plan_reads, cloudops.LIMITS.user, t_rate))
B.figure("ratio, first apply / limits allow", format("%.2fx", ratio), format("<= %.2fx", TARGET), ratio <= TARGET)
print(format("  second apply       %7.1f s   %d mutations, %d requests, %d refused", second, muts2, requests2,
  refused2))
B.figure("second apply, mutations", tostring(muts2), "0", muts2 == 0)
os.exit(B.finish())
