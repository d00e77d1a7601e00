-- The emulator as a process, over gRPC with the module's own client: every RPC is served,
-- and projects, custom roles, billing reports and audit-log sinks work end to end.
local helpers = require "helpers"
local emulator = require "cloudops.emulator"
local has_client, cloudops = pcall(require, "cloudops")

local connect = require("03-emulator.emu_support").connect

local function done(c, r)
  local op, err = c:wait(r, { timeout = 10, min_poll = 0.02, max_poll = 0.1 })
  assert(op, tostring(err))
  assert.are.equal("STATE_FULFILLED", op.state)
  return op
end

describe("emulator over gRPC", function()
  if not has_client then
    it("needs the built core and the client", function() pending("make first") end)
    return
  end
  local emu
  after_each(function()
    if emu then emu.stop() end
    emu = nil
  end)

  it("serves all 88 RPCs: none answers UNIMPLEMENTED", function()
    emu = assert(emulator.spawn { rate_limits = false, op_duration = 0.05, op_pending = 0 })
    local c = connect(emu)
    local names = cloudops.methods()
    assert.are.equal(88, #names)
    for _, name in ipairs(names) do
      local resp, err = c:call(name, {})
      assert.is_true(resp ~= nil or (err.name ~= "UNIMPLEMENTED" and err.name ~= "INTERNAL"),
        name .. ": " .. tostring(err and err.message))
    end
  end)

  it("runs projects, custom roles, billing reports and audit-log sinks", function()
    emu = assert(emulator.spawn { rate_limits = false, op_duration = 0.1, op_pending = 0.02,
                                  seed = { namespaces = 1 }, max_projects = 3 })
    local c = connect(emu)
    -- a project and a namespace in it; the helper's update works on projects
    local r = assert(c:create_project { spec = { display_name = "grpc-team" } })
    done(c, r)
    local pid = r.project_id
    assert(c:update("project", pid, function(p) p.spec.description = "over gRPC" end))
    local p = assert(c:get_project { project_id = pid }).project
    assert.are.equal("over gRPC", p.spec.description)
    local ns = assert(c:create_namespace { project_id = pid, spec = { name = "in-project",
      replicas = { { region = "aws-us-east-1" } }, retention_days = 7, api_key_auth = { enabled = true } } })
    done(c, ns)
    assert.are.equal(pid, assert(c:get_namespace { namespace = ns.namespace }).namespace.project_id)
    assert.are.equal(1, #assert(c:get_namespaces { project_id = pid }).namespaces)
    r = assert(c:create_project { spec = { display_name = "third" } })
    local _, err = c:create_project { spec = { display_name = "fourth" } }
    assert.are.equal("FAILED_PRECONDITION", err.name)
    done(c, r)

    -- a custom role given to a reader lets it update that namespace
    r = assert(c:create_custom_role { spec = { name = "editor", permissions = { {
      resources = { resource_type = "namespace", resource_ids = { ns.namespace } },
      actions = { "cloud.namespace.update" } } } } })
    done(c, r)
    local u = assert(c:create_user { spec = { email = "grpc@example.com", access = {
      account_access = { role = "ROLE_READ", custom_roles = { r.role_id } } } } })
    done(c, u)
    local k = assert(c:create_api_key { spec = { owner_id = u.user_id, owner_type = "OWNER_TYPE_USER",
      display_name = "grpc", expiry_time = os.time() + 86400 } })
    done(c, k)
    local as_user = connect(emu, { api_key = k.token })
    local got = assert(as_user:get_namespace { namespace = ns.namespace }).namespace
    got.spec.retention_days = 9
    assert(as_user:update_namespace { namespace = got.namespace, spec = got.spec })
    _, err = as_user:create_project { spec = { display_name = "not allowed" } }
    assert.are.equal("PERMISSION_DENIED", err.name)
    -- the owner is the project's admin and the developer its developer, by their account roles
    local roles = {}
    for _, row in ipairs(assert(c:get_user_project_assignments { project_id = pid }).users) do
      roles[row.email] = row.project_access.role
    end
    assert.are.same({ ["owner@example.com"] = "PROJECT_ROLE_ADMIN",
                      ["developer@example.com"] = "PROJECT_ROLE_DEVELOPER" }, roles)

    -- a billing report of the current month, monthly, and the file behind its URL
    local now = os.date("!*t")
    local function month(y, m)
      return string.format("%04d-%02d-01T00:00:00Z", y + math.floor((m - 1) / 12), (m - 1) % 12 + 1)
    end
    r = assert(c:create_billing_report { spec = { start_time_inclusive = month(now.year, now.month),
      end_time_exclusive = month(now.year, now.month + 1),
      granularity = "BILLING_REPORT_GRANULARITY_MONTHLY" } })
    done(c, r)
    local rep = assert(c:get_billing_report { billing_report_id = r.billing_report_id }).billing_report
    assert.are.equal("BILLING_REPORT_STATE_GENERATED", rep.state)
    local text = assert(helpers.read_file(rep.download_info[1].url:match("^file://(.*)$")))
    assert.are.equal(rep.download_info[1].file_size_bytes, #text)

    -- an audit log sink, healthy and delivering
    r = assert(c:create_account_audit_log_sink { spec = { name = "grpc-sink", enabled = true,
      kinesis_sink = { role_name = "r", region = "us-west-2",
                       destination_uri = "arn:aws:kinesis:us-west-2:123456789012:stream/s" } } })
    done(c, r)
    assert(c:validate_account_audit_log_sink { spec = { name = "grpc-sink", pub_sub_sink = {
      service_account_id = "sa", topic_name = "t", gcp_project_id = "my-project" } } })
    local sink = assert(c:get_account_audit_log_sink { name = "grpc-sink" }).sink
    assert.are.equal("HEALTH_OK", sink.health)
    assert.is_table(sink.last_succeeded_time)
    assert(c:update("account_audit_log_sink", "grpc-sink", function(s) s.spec.enabled = false end))
    -- the emulator removes the report file when it stops
    emu.stop()
    emu = nil
    assert.is_nil(helpers.read_file(rep.download_info[1].url:match("^file://(.*)$")))
  end)
end)
