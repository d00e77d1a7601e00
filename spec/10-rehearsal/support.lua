-- What the rehearsal specs share: an emulator (a child process) with a request log, a client
-- of it, an account holding every kind of resource made through the API, and the requests the
-- log shows.
local helpers = require "helpers"
local cloudops = require "cloudops"
local emulator = require "cloudops.emulator"
local reqlog = require "cloudops.emulator.reqlog"

local R = {}

--- An emulator child process with fast operations, no rate limits unless asked, and a
-- request log; returns the handle (its `log` field the log's path).
function R.emulator(opts)
  local dir = helpers.tmpdir()
  local o = { op_duration = 0.05, op_pending = 0.01, rate_limits = false, log = dir .. "/requests.log",
              profile = "fast" }
  for k, v in pairs(opts or {}) do o[k] = v end
  local emu = assert(emulator.spawn(o))
  emu.log = o.log
  return emu
end

--- A client of emu (key: emu's own, or one of its keys by name).
function R.client(emu, key, opts)
  local o = { endpoint = emu.endpoint, insecure = true, api_key = emu.keys[key] or key or emu.api_key,
              rate_limit = false }
  for k, v in pairs(opts or {}) do o[k] = v end
  return assert(cloudops.connect(o))
end

--- The requests in an emulator's log so far, each { method =, code = }.
function R.requests(emu)
  local out = {}
  for line in (helpers.read_file(emu.log) or ""):gmatch("[^\n]+") do
    local e = assert(reqlog.parse(line), line)
    out[#out + 1] = e
  end
  return out
end

local function ok(resp, err)
  if not resp then error(tostring(err), 2) end
  return resp
end

-- A mutation, waited on.
local function done(c, method, req)
  local r = ok(c:call(method, req))
  ok(c:wait(r, { min_poll = 0.02 }))
  return r
end

--- For the enclosing describe block: an emulator holding every kind (R.seed) and its owner's
-- client, made in a lazy_setup and stopped in a lazy_teardown (temporary files removed).
-- Returns a table that holds emu, c, made (R.seed's ids) and seeded (the request log's
-- length after seeding) once the block runs; the block's own lazy_setup, registered after,
-- runs after this one.
function R.seeded_account(opts)
  local box = {}
  local busted = require "busted" -- its API: the spec files' globals are not this module's
  busted.lazy_setup(function()
    box.emu = R.emulator(opts)
    box.c = R.client(box.emu)
    box.made = R.seed(box.c)
    box.seeded = #R.requests(box.emu)
  end)
  busted.lazy_teardown(function()
    if box.c then box.c:close() end
    if box.emu then box.emu.stop() end
    helpers.cleanup()
  end)
  return box
end

local YEAR = 365 * 86400
local CA = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"

--- Makes, through the API as the owner, one or more of every kind a snapshot holds; returns
-- what it made by name: { project, role, rule, private_rule, pay, ops, alice, bob, group,
-- ci, scoped, projbot, key, endpoint }.
function R.seed(c)
  local made = {}
  local acct = ok(c:get_account()).account
  done(c, "UpdateAccount", { spec = { metrics = { accepted_client_ca = CA } },
    resource_version = acct.resource_version })
  made.project = done(c, "CreateProject", { spec = { display_name = "Payments", description = "the payment team",
    lifecycle = { enable_delete_protection = true } } }).project_id
  made.role = done(c, "CreateCustomRole", { spec = { name = "auditor", description = "reads namespaces",
    permissions = { { resources = { resource_type = "namespace", allow_all = true },
                      actions = { "cloud.namespace.get" } } } } }).role_id
  made.rule = done(c, "CreateConnectivityRule", { spec = { public_rule = {} } }).connectivity_rule_id
  made.private_rule = done(c, "CreateConnectivityRule", { project_id = made.project, spec = { private_rule = {
    connection_id = "vpce-0123456789", region = "aws-us-east-1" } } }).connectivity_rule_id
  made.pay = done(c, "CreateNamespace", { project_id = made.project, tags = { team = "payments", env = "prod" },
    spec = { name = "pay", retention_days = 30, replicas = { { region = "aws-us-east-1" } },
             api_key_auth = { enabled = true },
             search_attributes = { customer = "SEARCH_ATTRIBUTE_TYPE_KEYWORD" },
             connectivity_rule_ids = { made.private_rule },
             lifecycle = { enable_delete_protection = true } } }).namespace
  made.ops = done(c, "CreateNamespace", { spec = { name = "ops", retention_days = 7,
    replicas = { { region = "aws-us-west-2" } }, mtls_auth = { enabled = true, accepted_client_ca = CA },
    codec_server = { endpoint = "https://codec.example.com" } } }).namespace
  done(c, "CreateNamespaceExportSink", { namespace = made.pay, spec = { name = "history", enabled = true,
    s3 = { role_name = "export", bucket_name = "pay-history", region = "us-east-1",
           aws_account_id = "123456789012" } } })
  made.endpoint = done(c, "CreateNexusEndpoint", { project_id = made.project, spec = { name = "payments-api",
    target_spec = { worker_target_spec = { namespace_id = made.pay, task_queue = "payments" } },
    policy_specs = { { allowed_cloud_namespace_policy_spec = { namespace_id = made.ops } } } } }).endpoint_id
  made.alice = done(c, "CreateUser", { spec = { email = "alice@example.com", access = {
    account_access = { role = "ROLE_DEVELOPER", custom_roles = { made.role } },
    namespace_accesses = { [made.pay] = { permission = "PERMISSION_WRITE" } },
    project_accesses = { [made.project] = { role = "PROJECT_ROLE_READ" } } } } }).user_id
  made.bob = done(c, "CreateUser", { spec = { email = "Bob@Example.com", access = {
    account_access = { role = "ROLE_READ" } } } }).user_id
  made.group = done(c, "CreateUserGroup", { spec = { display_name = "engineering", cloud_group = {}, access = {
    account_access = { role = "ROLE_READ" },
    namespace_accesses = { [made.ops] = { permission = "PERMISSION_READ" } } } } }).group_id
  done(c, "AddUserGroupMember", { group_id = made.group, member_id = { user_id = made.alice } })
  done(c, "AddUserGroupMember", { group_id = made.group, member_id = { user_id = made.bob } })
  made.ci = done(c, "CreateServiceAccount", { spec = { name = "ci", description = "deploys", access = {
    account_access = { role = "ROLE_DEVELOPER" },
    namespace_accesses = { [made.ops] = { permission = "PERMISSION_ADMIN" } } } } }).service_account_id
  made.scoped = done(c, "CreateServiceAccount", { spec = { name = "pay-worker", namespace_scoped_access = {
    namespace = made.pay, access = { permission = "PERMISSION_WRITE" } } } }).service_account_id
  made.projbot = done(c, "CreateServiceAccount", { spec = { name = "payments-bot", project_scoped_access = {
    project_id = made.project, access = { role = "PROJECT_ROLE_WRITE" } } } }).service_account_id
  local expiry = cloudops.time.from_unix(os.time() + YEAR)
  made.key = done(c, "CreateApiKey", { spec = { owner_id = made.alice, owner_type = "OWNER_TYPE_USER",
    display_name = "alice laptop", description = "for the CLI", expiry_time = expiry } })
  done(c, "CreateApiKey", { spec = { owner_id = made.ci, owner_type = "OWNER_TYPE_SERVICE_ACCOUNT",
    display_name = "ci key", expiry_time = expiry, disabled = true } })
  done(c, "CreateAccountAuditLogSink", { spec = { name = "audit_log_01", enabled = true, kinesis_sink = {
    role_name = "TemporalAuditLogs", destination_uri = "arn:aws:kinesis:us-east-1:123456789012:stream/audit",
    region = "us-east-1" } } })
  return made
end

return R
