-- What the desired-state specs share: a desired state holding every kind (the account of
-- spec/10-rehearsal's seed, written by name), and readings of the emulator's request log.
local R = require "10-rehearsal.support"
local schema = require "cloudops.schema"

local S = {}

S.emulator, S.client, S.requests = R.emulator, R.client, R.requests

local CA = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"

--- A desired state of every kind, references by name: a project, a custom role, a private
-- connectivity rule, two namespaces (tags, replicas, search attributes, auth), an export
-- sink, a Nexus endpoint, a group with members and access, two users (account role, custom
-- role, namespace and project access) and three service accounts (account-, namespace- and
-- project-scoped).
function S.every_kind()
  return {
    projects = { { display_name = "Payments", description = "the payment team",
                   lifecycle = { enable_delete_protection = true } } },
    custom_roles = { { name = "auditor", description = "reads namespaces", permissions = {
      { resources = { resource_type = "namespace", allow_all = true }, actions = { "cloud.namespace.get" } } } } },
    connectivity_rules = { { project_id = "Payments", private_rule = { connection_id = "vpce-0123456789",
                                                                        region = "aws-us-east-1" } } },
    namespaces = {
      { name = "pay", project_id = "Payments", tags = { team = "payments", env = "prod" }, retention_days = 30,
        replicas = { { region = "aws-us-east-1" } }, api_key_auth = { enabled = true },
        search_attributes = { customer = "SEARCH_ATTRIBUTE_TYPE_KEYWORD" },
        connectivity_rule_ids = { "Payments/private/aws-us-east-1/vpce-0123456789" },
        lifecycle = { enable_delete_protection = true } },
      { name = "ops", retention_days = 7, replicas = { { region = "aws-us-west-2" } },
        mtls_auth = { enabled = true, accepted_client_ca = CA },
        codec_server = { endpoint = "https://codec.example.com" } },
    },
    namespace_export_sinks = { { namespace = "pay", spec = { name = "history", enabled = true,
      s3 = { role_name = "export", bucket_name = "pay-history", region = "us-east-1",
             aws_account_id = "123456789012" } } } },
    nexus_endpoints = { { name = "payments-api", project_id = "Payments",
      target_spec = { worker_target_spec = { namespace_id = "pay", task_queue = "payments" } },
      policy_specs = { { allowed_cloud_namespace_policy_spec = { namespace_id = "ops" } } } } },
    user_groups = { { display_name = "engineering", cloud_group = {},
      members = { "alice@example.com", "Bob@Example.com" },
      access = { account_access = { role = "ROLE_READ" },
                 namespace_accesses = { ops = { permission = "PERMISSION_READ" } } } } },
    users = {
      { email = "alice@example.com", access = {
        account_access = { role = "ROLE_DEVELOPER", custom_roles = { "auditor" } },
        namespace_accesses = { pay = { permission = "PERMISSION_WRITE" } },
        project_accesses = { Payments = { role = "PROJECT_ROLE_READ" } } } },
      { email = "Bob@Example.com", access = { account_access = { role = "ROLE_READ" } } },
    },
    service_accounts = {
      { name = "ci", description = "deploys", access = { account_access = { role = "ROLE_DEVELOPER" },
        namespace_accesses = { ops = { permission = "PERMISSION_ADMIN" } } } },
      { name = "pay-worker", namespace_scoped_access = { namespace = "pay",
                                                         access = { permission = "PERMISSION_WRITE" } } },
      { name = "payments-bot", project_scoped_access = { project_id = "Payments",
        access = { role = "PROJECT_ROLE_WRITE" } } },
    },
  }
end

--- The mutations in a list of logged requests (S.requests), each { method, code, at = index }.
function S.mutations(list)
  local out = {}
  for i, r in ipairs(list) do
    local m = schema.method(r.method)
    if m and m.mutation then out[#out + 1] = { method = r.method, code = r.code, at = i } end
  end
  return out
end

--- The position of the first logged request of `method` answered OK (nil: none).
function S.first(list, method)
  for i, r in ipairs(list) do if r.method == method and r.code == "OK" then return i end end
end

--- The position of the last one.
function S.last(list, method)
  local at
  for i, r in ipairs(list) do if r.method == method and r.code == "OK" then at = i end end
  return at
end

--- How many logged requests of `method` (any outcome, or `code`).
function S.count(list, method, code)
  local n = 0
  for _, r in ipairs(list) do
    if r.method == method and (code == nil or r.code == code) then n = n + 1 end
  end
  return n
end

--- Runs bin/cloudops with argv in a pseudo-terminal through the steps of
-- spec/06-tools/support/pty_session.py ({ send = keys }, { expect = a Python regex }); returns
-- its report { ok, failed, status, transcript }.
function S.pty(steps, argv, env)
  local helpers = require "helpers"
  local json = require "cloudops.json"
  local q = helpers.sh_quote
  local dir = helpers.tmpdir()
  local e = { TERM = "dumb" }
  for k, v in pairs(env or {}) do e[k] = v end
  helpers.write_file(dir .. "/steps.json", assert(json.encode_value({ env = e, steps = steps })))
  local cmd = { "/usr/bin/python3", q(helpers.ROOT .. "spec/06-tools/support/pty_session.py"), q(dir .. "/steps.json"),
                "--", helpers.LUA, q(helpers.ROOT .. "bin/cloudops") }
  for _, a in ipairs(argv) do cmd[#cmd + 1] = q(a) end
  local out = helpers.run(table.concat(cmd, " ") .. " 2>&1")
  local report = json.decode_value(out)
  assert(type(report) == "table", "pty_session.py said: " .. out)
  return report
end

--- The environment of a shell user of emu: its endpoint and the owner's key, plaintext, and
-- the tree's bin/ first on the PATH (so that `cloudops` is the tree's).
function S.shell_env(emu)
  local helpers = require "helpers"
  local root = helpers.run("cd " .. helpers.sh_quote(helpers.ROOT) .. " && pwd"):gsub("%s+$", "")
  return { TEMPORAL_CLOUD_ENDPOINT = emu.endpoint, TEMPORAL_CLOUD_API_KEY = emu.api_key,
           TEMPORAL_CLOUD_INSECURE = "1", PATH = root .. "/bin:" .. os.getenv("PATH") }
end

--- A shell user's session: an emulator (the tools' fast one) holding every kind (S.every_kind,
-- applied), a directory to work in, its environment (S.shell_env), and sh(line), which runs a
-- shell command line there: stdout, stderr, status. stop() ends it.
function S.session()
  local helpers = require "helpers"
  local T = require "06-tools.support.tools"
  local emu = T.emulator()
  local c = S.client(emu)
  local _, err = require("cloudops").apply(c, S.every_kind())
  c:close()
  if err then emu.stop(); error(tostring(err)) end
  local s = { emu = emu, dir = helpers.tmpdir(), env = S.shell_env(emu) }
  function s.sh(line)
    local q = helpers.sh_quote
    return T.run("sh -c " .. q("cd " .. q(s.dir) .. " && " .. line), s.env)
  end
  function s.stop() emu.stop() end
  return s
end

--- A change of a plan by kind and name.
function S.change(list, kind, name)
  for _, c in ipairs(list) do if c.kind == kind and c.name == name then return c end end
end

return S
