-- The snapshot of a large account (issue 18): 300 namespaces, 1,000 users, 100 groups (10
-- members each), 200 service accounts and 400 API keys, made as a synthetic snapshot and
-- served by the twin (cloudops-emulator --twin) with every answer LATENCY seconds away and the
-- documented limits (40 requests/s for the user taking it). cloudops.snapshot reads it with
-- its defaults (8 calls in flight, the "auto" rate limit), and the time is compared with what
-- the rate limit alone requires of the requests it sent: N / 40 s, and (N - 40) / 40 s (the
-- bucket starts full: its first 40 requests need no wait). A baseline of N GetAccount calls
-- through cloudops.map on the same twin, measured in the same run, shows what that rate and
-- latency allow in practice.
--
--   lua5.4 bench/snapshot.lua [LATENCY]        (default 0.15)
--
-- Target: the snapshot takes at most 1.15x N / rate; 0 failed calls.
local B = dofile((arg[0]:match("^(.*)bench/[^/]+$") or "./") .. "bench/support.lua")
local cloudops, core, format = B.cloudops, B.core, B.format

local LATENCY = tonumber(arg[1] or "") or 0.15
local RATE = cloudops.LIMITS.user
local COUNTS = { namespaces = 300, users = 1000, groups = 100, service_accounts = 200, api_keys = 400 }
local ACCOUNT = "bench1"
local NOW = os.time()
local REGIONS = { "aws-us-east-1", "aws-us-west-2", "aws-eu-west-1", "gcp-us-central1" }
local ROLES = { "ROLE_READ", "ROLE_DEVELOPER", "ROLE_ADMIN" }

local function ts(s) return { seconds = s, nanos = 0 } end
local function hex(i, width) return format("%0" .. (width or 32) .. "x", i) end

-- A snapshot as cloudops.snapshot would have read it from such an account.
local function synthetic()
  local snap = { format = "lua-cloudops-snapshot/1", taken_at = core.format_rfc3339(NOW, 0),
                 api_version = cloudops.API_VERSION, unreadable = {} }
  local default_project = hex(1)
  snap.account = { id = ACCOUNT, spec = {}, resource_version = hex(1, 16), state = "RESOURCE_STATE_ACTIVE" }
  snap.projects = { { id = default_project, resource_version = hex(2, 16), state = "RESOURCE_STATE_ACTIVE",
    created_time = ts(NOW - 400 * 86400), spec = { display_name = "Default Project",
    lifecycle = { enable_delete_protection = true } } } }
  snap.namespaces = {}
  for i = 1, COUNTS.namespaces do
    local name = format("ns-%03d", i)
    local region = REGIONS[(i - 1) % #REGIONS + 1]
    snap.namespaces[i] = {
      namespace = name .. "." .. ACCOUNT, resource_version = hex(i, 16), state = "RESOURCE_STATE_ACTIVE",
      spec = { name = name, retention_days = 30, replicas = { { region = region } },
               api_key_auth = { enabled = true } },
      replicas = { { id = hex(i, 16), is_primary = true, state = "REPLICA_STATE_ACTIVE", region = region } },
      active_region = region, project_id = default_project, created_time = ts(NOW - 90 * 86400),
      tags = { env = i % 2 == 0 and "prod" or "dev" },
      endpoints = { web_address = "https://cloud.temporal.io/namespaces/" .. name .. "." .. ACCOUNT },
      limits = { actions_per_second_limit = 500 }, capacity = { on_demand = {} },
    }
  end
  snap.users = {}
  for i = 1, COUNTS.users do
    local access = { account_access = { role = i == 1 and "ROLE_OWNER" or ROLES[(i - 1) % 2 + 1] },
                     namespace_accesses = {} }
    access.namespace_accesses[snap.namespaces[(i - 1) % COUNTS.namespaces + 1].namespace] =
      { permission = "PERMISSION_WRITE" }
    snap.users[i] = { id = hex(0x10000 + i), resource_version = hex(i, 16), state = "RESOURCE_STATE_ACTIVE",
      created_time = ts(NOW - 200 * 86400),
      spec = { email = i == 1 and "owner@example.com" or format("user%04d@example.com", i), access = access } }
  end
  snap.user_groups = {}
  for i = 1, COUNTS.groups do
    local members = {}
    for j = 1, 10 do members[j] = snap.users[((i - 1) * 10 + j - 1) % COUNTS.users + 1].id end
    table.sort(members)
    snap.user_groups[i] = { id = hex(0x20000 + i), resource_version = hex(i, 16), state = "RESOURCE_STATE_ACTIVE",
      created_time = ts(NOW - 100 * 86400), members = members,
      spec = { display_name = format("group-%03d", i), cloud_group = {},
               access = { account_access = { role = "ROLE_READ" } } } }
  end
  snap.service_accounts = {}
  for i = 1, COUNTS.service_accounts do
    snap.service_accounts[i] = { id = hex(0x30000 + i), resource_version = hex(i, 16),
      state = "RESOURCE_STATE_ACTIVE", created_time = ts(NOW - 50 * 86400),
      spec = { name = format("sa-%03d", i), access = { account_access = { role = ROLES[(i - 1) % 3 + 1] } } } }
  end
  snap.api_keys = {}
  for i = 1, COUNTS.api_keys do
    local user = i % 2 == 1
    local owner = user and snap.users[(i - 1) % COUNTS.users + 1]
      or snap.service_accounts[(i - 1) % COUNTS.service_accounts + 1]
    snap.api_keys[i] = { id = hex(0x40000 + i), resource_version = hex(i, 16), state = "RESOURCE_STATE_ACTIVE",
      created_time = ts(NOW - 10 * 86400),
      spec = { owner_id = owner.id, owner_type = user and "OWNER_TYPE_USER" or "OWNER_TYPE_SERVICE_ACCOUNT",
               display_name = format("key-%03d", i), expiry_time = ts(NOW + 300 * 86400) } }
  end
  for _, name in ipairs { "custom_roles", "connectivity_rules", "namespace_export_sinks", "nexus_endpoints",
                          "account_audit_log_sinks" } do
    snap[name] = {}
  end
  local owner = snap.users[1]
  snap.identity = { kind = "user", id = owner.id, name = owner.spec.email, key_id = snap.api_keys[1].id }
  return snap
end

local snap = synthetic()
local twin = B.emulator{ twin = snap, latency = LATENCY, timeout = 60 }
-- A client of the twin as the snapshot's identity (a user), counting its calls of every method.
local function client() return B.client(twin, { api_key = twin.api_key }) end

-- 1. the snapshot, by a fresh client ("auto": it asks who it is first, then 40/s)
local c, sn = client()
local t0 = core.now()
local got = assert(cloudops.snapshot(c))
local wall = core.now() - t0
c:close()
local n = sn.attempts
for k, v in pairs(COUNTS) do
  local name = k == "groups" and "user_groups" or k
  assert(#got[name] == v, name .. ": " .. #got[name] .. " read, " .. v .. " there")
end
-- 2. the baseline: as many GetAccount calls, 8 in flight, once the server's bucket is full again
core.sleep(1.2)
local b, bn = client()
assert(b:get_account())
local base, failed = B.map_batch(n - 1, 8, function() return b:get_account() end)
b:close()

local ideal, ideal_burst = n / RATE, (n - RATE) / RATE
print(format("snapshot of %d namespaces, %d users, %d groups, %d service accounts, %d API keys; " ..
  "answers %.2f s away, the user's limit %d/s", COUNTS.namespaces, COUNTS.users, COUNTS.groups,
  COUNTS.service_accounts, COUNTS.api_keys, LATENCY, RATE))
print(format("%-44s %8s %8s %14s %9s", "how", "calls", "wall s", "x N/rate", "refused"))
print(format("%-44s %8d %8.2f %8.3f (%.3f) %9d", "cloudops.snapshot (8 in flight, auto rate)", n, wall,
  wall / ideal, wall / ideal_burst, sn.rejected))
print(format("%-44s %8d %8.2f %8.3f (%.3f) %9d", "baseline: GetAccount x N, cloudops.map, 8", bn.attempts, base,
  base / ideal, base / ideal_burst, bn.rejected))
print(format("N / rate = %.2f s; (N - burst) / rate = %.2f s (in brackets: x that)", ideal, ideal_burst))
B.figure("the snapshot, wall / (N / rate)", format("%.3fx", wall / ideal), "<= 1.15x", wall / ideal <= 1.15)
B.figure("the baseline, failed calls", tostring(failed), "0", failed == 0)
os.exit(B.finish())
