-- Account audit-log sinks: Kinesis and Pub/Sub specs, enabled, health, last success time,
-- Validate, and who may manage them.
local S = require "03-emulator.emu_support"

local ARN = "arn:aws:kinesis:us-east-1:123456789012:stream/audit"

local function kinesis(name, extra)
  local spec = { name = name, enabled = true, kinesis_sink = { role_name = "TemporalAuditLogs",
    destination_uri = ARN, region = "us-east-1" } }
  for k, v in pairs(extra or {}) do spec[k] = v end
  return spec
end

local function sink(emu, name)
  return S.ok(emu.owner:call("GetAccountAuditLogSink", { name = name })).sink
end

describe("emulator audit log sinks", function()
  local emu
  before_each(function() emu = S.new() end)

  it("are created, read, listed, updated and deleted through their operations", function()
    local r = S.ok(emu.owner:call("CreateAccountAuditLogSink", { spec = kinesis("audit_log_01") }))
    assert.are.equal("STATE_PENDING", r.async_operation.state)
    local s = sink(emu, "audit_log_01")
    assert.are.equal("RESOURCE_STATE_ACTIVATING", s.state)
    assert.is_nil(s.last_succeeded_time)
    emu.advance(2)
    s = sink(emu, "audit_log_01")
    assert.are.equal("RESOURCE_STATE_ACTIVE", s.state)
    assert.are.equal("HEALTH_OK", s.health)
    -- delivering from when its operation ended, and then each new audit record
    local delivered = s.last_succeeded_time.seconds
    assert.are.equal(r.async_operation.started_time.seconds + 1, delivered)
    emu.advance(5)
    S.ok(emu.owner:call("CreateUser", { spec = { email = "late@example.com",
      access = { account_access = { role = "ROLE_READ" } } } }))
    assert.are.equal(emu.test_clock.t, sink(emu, "audit_log_01").last_succeeded_time.seconds)
    S.fails("ALREADY_EXISTS", emu.owner:call("CreateAccountAuditLogSink", { spec = kinesis("audit_log_01") }))
    S.ok(emu.owner:call("CreateAccountAuditLogSink", { spec = { name = "gcp", enabled = true, pub_sub_sink = {
      service_account_id = "audit@my-gcp-project.iam.gserviceaccount.com", topic_name = "audit",
      gcp_project_id = "my-gcp-project" } } }))
    local page = S.ok(emu.owner:call("GetAccountAuditLogSinks", { page_size = 1 }))
    assert.are.equal("audit_log_01", page.sinks[1].name)
    page = S.ok(emu.owner:call("GetAccountAuditLogSinks", { page_token = page.next_page_token }))
    assert.are.equal("gcp", page.sinks[1].name)
    -- disabled, it delivers nothing more
    S.ok(emu.owner:call("UpdateAccountAuditLogSink", { spec = kinesis("audit_log_01", { enabled = false }),
      resource_version = s.resource_version }))
    S.fails("FAILED_PRECONDITION", emu.owner:call("UpdateAccountAuditLogSink", { spec = kinesis("audit_log_01"),
      resource_version = s.resource_version }))
    emu.advance(2)
    s = sink(emu, "audit_log_01")
    assert.is_false(s.spec.enabled)
    assert.is_nil(s.last_succeeded_time)
    S.ok(emu.owner:call("DeleteAccountAuditLogSink", { name = "audit_log_01", resource_version = s.resource_version }))
    emu.advance(2)
    S.fails("NOT_FOUND", emu.owner:call("GetAccountAuditLogSink", { name = "audit_log_01" }))
  end)

  it("check the spec", function()
    local function bad(spec)
      S.fails("INVALID_ARGUMENT", emu.owner:call("CreateAccountAuditLogSink", { spec = spec }))
      S.fails("INVALID_ARGUMENT", emu.owner:call("ValidateAccountAuditLogSink", { spec = spec }))
    end
    bad(nil)
    bad(kinesis(""))
    bad(kinesis("has/slash"))
    bad({ name = "none", enabled = true })
    bad(kinesis("both", {
      pub_sub_sink = { service_account_id = "a", topic_name = "t", gcp_project_id = "my-project" } }))
    bad(kinesis("no-role", { kinesis_sink = { destination_uri = ARN, region = "us-east-1" } }))
    bad({ name = "no-topic", pub_sub_sink = { service_account_id = "a", gcp_project_id = "my-project" } })
  end)

  it("validate the destination, and show a sink that cannot deliver as a configuration error", function()
    S.ok(emu.owner:call("ValidateAccountAuditLogSink", { spec = kinesis("ok") }))
    local elsewhere = kinesis("elsewhere", {
      kinesis_sink = { role_name = "r", destination_uri = ARN, region = "eu-west-1" } })
    local err = S.fails("FAILED_PRECONDITION", emu.owner:call("ValidateAccountAuditLogSink", { spec = elsewhere }))
    assert.matches("us%-east%-1", err.message)
    S.fails("FAILED_PRECONDITION", emu.owner:call("ValidateAccountAuditLogSink", { spec = kinesis("not-arn",
      { kinesis_sink = { role_name = "r", destination_uri = "audit-stream", region = "us-east-1" } }) }))
    S.fails("FAILED_PRECONDITION", emu.owner:call("ValidateAccountAuditLogSink", { spec = { name = "p",
      pub_sub_sink = { service_account_id = "a", topic_name = "t", gcp_project_id = "Bad_Project" } } }))
    S.ok(emu.owner:call("CreateAccountAuditLogSink", { spec = elsewhere }))
    emu.advance(2)
    local s = sink(emu, "elsewhere")
    assert.are.equal("HEALTH_ERROR_USER_CONFIGURATION", s.health)
    assert.matches("us%-east%-1", s.error_message)
    assert.is_nil(s.last_succeeded_time)
  end)

  it("are for Account Owners and Global Admins", function()
    S.ok(emu.admin:call("CreateAccountAuditLogSink", { spec = kinesis("by-admin") }))
    S.ok(emu.admin:call("GetAccountAuditLogSinks", {}))
    for _, caller in ipairs { emu.developer, emu.reader } do
      S.fails("PERMISSION_DENIED", caller:call("GetAccountAuditLogSinks", {}))
      S.fails("PERMISSION_DENIED", caller:call("GetAccountAuditLogSink", { name = "by-admin" }))
      S.fails("PERMISSION_DENIED", caller:call("ValidateAccountAuditLogSink", { spec = kinesis("x") }))
      S.fails("PERMISSION_DENIED", caller:call("CreateAccountAuditLogSink", { spec = kinesis("x") }))
      S.fails("PERMISSION_DENIED", caller:call("DeleteAccountAuditLogSink", { name = "by-admin" }))
    end
  end)
end)
