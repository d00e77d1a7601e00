-- A tour of lua-cloudops against a local emulator of the Temporal Cloud Ops API.
--
--   lua5.4 examples/tour.lua          (starts an emulator, runs the tour, stops it)
--
-- With CLOUDOPS_ENDPOINT (host:port of an emulator started by hand, plaintext) and
-- TEMPORAL_CLOUD_API_KEY set, it runs against that emulator instead. It creates
-- resources: never point it at a real account.
local here = (arg and arg[0] or ""):match("^(.*)/[^/]*$") or "."
package.path = here .. "/../lua/?.lua;" .. here .. "/../lua/?/init.lua;" .. package.path
package.cpath = here .. (rawget(_G, "jit") and "/../build/luajit/lua/?.so;" or "/../build/lua/?.so;")
  .. package.cpath

local cloudops = require "cloudops"
local emulator = require "cloudops.emulator"
local core = require "cloudops.core"

local printf = function(fmt, ...) io.write(string.format(fmt, ...), "\n") end
local function step(title) printf("\n== %s", title) end
local function check(v, err)
  if v == nil then error(tostring(err), 2) end
  return v
end

-- 0. An emulator: in-memory, on 127.0.0.1, with 12 namespaces already there.
local endpoint, key = os.getenv("CLOUDOPS_ENDPOINT"), os.getenv("TEMPORAL_CLOUD_API_KEY")
local emu
if not endpoint then
  -- A service-account limit of 10 requests/s (the service allows 80) makes step 6's burst, by
  -- step 5's service account, visible; the account's namespace quota is 30, as support raises
  -- it (the default of 10 would stop step 7).
  emu = check(emulator.spawn { seed = { namespaces = 12 }, op_duration = 0.5, op_pending = 0.1,
                               rate_limits = { service_account = 10 }, max_namespaces = 30 })
  endpoint, key = emu.endpoint, emu.api_key
  printf("started the emulator on %s (bin/cloudops-emulator)", endpoint)
end

local plan

-- 7. The account from a file: plan, apply and plan again a desired state (examples/
-- desired_state.json: a payments team's project, namespaces, people and automation), then
-- export the account in the same form. `cloudops plan | apply | export` do this from a shell.
local function desired_state(client)
  step("7. Desired state: make the account match a file (examples/desired_state.json)")
  local desired = require "cloudops.desired"
  local planner = require "cloudops.plan"
  local d = check(desired.load(here .. "/desired_state.json"))
  local planned = check(cloudops.plan(client, d))
  io.write(planner.text(planned))
  local t0 = core.now()
  local sign = { create = "+", update = "~", delete = "-" }
  local result, aerr = cloudops.apply(client, d, { on_change = function(c)
    printf("  %s %s %s: %s", sign[c.action], c.kind, c.name, c.ok and "done" or tostring(c.err))
  end })
  if aerr then error(tostring(aerr), 0) end
  printf("cloudops.apply made %d changes in %.1f s, in dependency order, each operation waited on",
    #result.changes, core.now() - t0)
  printf("planned again: %d changes (an unchanged account plans nothing)", #check(cloudops.plan(client, d)).changes)
  local exported = check(desired.export(client))
  printf("export: %d namespaces, %d users, %d groups, %d service accounts, as the same form (cloudops export)",
    #exported.namespaces, #exported.users, #exported.user_groups, #exported.service_accounts)
end

local ok, err = pcall(function()
  step("1. Connect")
  -- insecure = true: plaintext, for a local server only. Against Temporal Cloud you would
  -- write cloudops.connect{} and let TEMPORAL_CLOUD_API_KEY hold the key.
  local client = check(cloudops.connect { endpoint = endpoint, insecure = true, api_key = key })
  local me = check(client:get_current_identity())
  printf("connected to %s as %s", endpoint, me.user and me.user.spec.email or me.service_account.spec.name)
  printf("%d RPCs are methods of the client, e.g. client:get_namespaces(req)", #cloudops.methods())

  step("2. List namespaces page by page")
  local n = 0
  for page in client:pages("get_namespaces", { page_size = 5 }) do
    if not page then break end
    n = n + 1
    local names = {}
    for _, ns in ipairs(page.namespaces) do names[#names + 1] = ns.namespace end
    printf("page %d: %s", n, table.concat(names, ", "))
  end
  local count = 0
  for ns, perr in client:paginate("get_namespaces", { page_size = 5 }) do
    if not ns then error(perr) end
    count = count + 1
  end
  printf("client:paginate walked the same %d namespaces item by item", count)

  step("3. Create a namespace and wait for it")
  local name = "tour-" .. core.random_bytes(3):gsub(".", function(c) return string.format("%02x", c:byte()) end)
  local t0 = core.now()
  local created = check(client:create_namespace { spec = {
    name = name, replicas = { { region = "aws-us-east-1" } }, retention_days = 7,
    api_key_auth = { enabled = true } } })
  printf("CreateNamespace answered at once: %s, operation %s is %s",
    created.namespace, created.async_operation.id, created.async_operation.state)
  local op = check(client:wait(created))
  local ns = check(client:get_namespace { namespace = created.namespace }).namespace
  printf("client:wait returned after %.1f s: operation %s, namespace %s", core.now() - t0, op.state, ns.state)
  printf("workers connect to %s", ns.endpoints.grpc_address)

  step("4. Change it safely with client:update (resource_version, retried on conflicts)")
  local upd = check(client:update("namespace", created.namespace, function(res)
    res.spec.retention_days = 30
  end))
  check(client:wait(upd))
  ns = check(client:get_namespace { namespace = created.namespace }).namespace
  printf("retention is now %d days (resource_version %s)", ns.spec.retention_days, ns.resource_version)

  step("5. A service account and an API key for it")
  local sa = check(client:create_service_account { spec = { name = name .. "-bot",
    access = { account_access = { role = "ROLE_DEVELOPER" } } } })
  check(client:wait(sa))
  local k = check(client:create_api_key { spec = {
    owner_id = sa.service_account_id, owner_type = "OWNER_TYPE_SERVICE_ACCOUNT",
    display_name = "tour key", expiry_time = cloudops.time.from_unix(os.time() + 30 * 86400) } })
  check(client:wait(k))
  printf("API key %s created; its token is shown once: %s...", k.key_id, k.token:sub(1, 12))
  local bot = check(cloudops.connect { endpoint = endpoint, insecure = true, api_key = k.token })
  printf("the new key authenticates as service account %s",
    check(bot:get_current_identity()).service_account.spec.name)

  step("6. A burst of 30 calls by that service account, against the server's limit of 10 requests/s")
  local raw = check(cloudops.connect { endpoint = endpoint, insecure = true, api_key = k.token,
                                       rate_limit = false, retry = false })
  local rejected = 0
  for _ = 1, 30 do
    local _, e = raw:get_regions()
    if e then rejected = rejected + 1 end
  end
  printf("without client-side limiting: %d of 30 rejected with RESOURCE_EXHAUSTED", rejected)
  core.sleep(1.1)   -- let the server's bucket fill again
  local attempts, failures, rate, calls = 0, 0, 10, 30
  local limited = check(cloudops.connect { endpoint = endpoint, insecure = true, api_key = k.token,
    rate_limit = rate, on_event = function() attempts = attempts + 1 end })
  t0 = core.now()
  for _ = 1, calls do
    local _, e = limited:get_regions()
    if e then failures = failures + 1 end
  end
  -- The first `rate` calls use the bucket's burst; the rest come at `rate` per second.
  printf("with rate_limit = %d: %d calls in %.1f s (ideal %.1f s), %d failures, %d attempts",
    rate, calls, core.now() - t0, (calls - rate) / rate, failures, attempts)

  desired_state(client)

  step("8. Rehearse a script on a twin of this account, and read its plan")
  -- cloudops.rehearse snapshots the account (reads only), starts a twin of it (an emulator
  -- serving the same resources), runs the function there and compares the twin with the
  -- snapshot: nothing the function does reaches the account itself.
  plan = check(cloudops.rehearse(function(twin)
    local hire = check(twin:create_user { spec = { email = "new-hire@example.com", access = {
      account_access = { role = "ROLE_DEVELOPER" },
      namespace_accesses = { [created.namespace] = { permission = "PERMISSION_WRITE" } } } } })
    check(twin:wait(hire))
    check(twin:wait(check(twin:update("namespace", created.namespace, function(res)
      res.spec.retention_days = 60
    end))))
  end, { client = client, profile = "fast" }))
  io.write(require("cloudops.changes").text(plan))
  local real = check(client:get_namespace { namespace = created.namespace }).namespace
  printf("the account itself is as it was: %s keeps %d days; the same from a shell:", name, real.spec.retention_days)
  printf("  cloudops rehearse -- lua5.4 your-script.lua        (bin/cloudops; exit status 0, 2 or 1)")
end)

if emu then emu.stop() end
if not ok then
  io.stderr:write("tour failed: ", tostring(err), "\n")
  os.exit(1)
end
printf("\nDone. The emulator is bin/cloudops-emulator (see --help); docs/reference.md has the whole API.")
