-- Async operations: states over time, check_duration, resource states, idempotency.
local S = require "03-emulator.emu_support"

describe("emulator async operations", function()
  local emu
  before_each(function() emu = S.new() end)

  local function op(id)
    return S.ok(emu.owner:call("GetAsyncOperation", { async_operation_id = id })).async_operation
  end

  it("move PENDING -> IN_PROGRESS -> FULFILLED as the namespace goes ACTIVATING -> ACTIVE", function()
    local r = S.ok(emu.owner:call("CreateNamespace", { spec = S.namespace_spec("timed") }))
    local a = r.async_operation
    assert.are.equal("STATE_PENDING", a.state)
    assert.are.equal("CreateNamespace", a.operation_type)
    assert.is_table(a.started_time)
    assert.is_table(a.check_duration)
    local ns = S.ok(emu.owner:call("GetNamespace", { namespace = r.namespace })).namespace
    assert.are.equal("RESOURCE_STATE_ACTIVATING", ns.state)
    assert.are.equal(a.id, ns.async_operation_id)
    emu.advance(0.5)
    assert.are.equal("STATE_IN_PROGRESS", op(a.id).state)
    emu.advance(0.6)
    local done = op(a.id)
    assert.are.equal("STATE_FULFILLED", done.state)
    assert.is_table(done.finished_time)
    assert.is_nil(done.check_duration)
    ns = S.ok(emu.owner:call("GetNamespace", { namespace = r.namespace })).namespace
    assert.are.equal("RESOURCE_STATE_ACTIVE", ns.state)
    assert.are.equal("REPLICA_STATE_ACTIVE", ns.replicas[1].state)
  end)

  it("hints the time left as check_duration, or the configured one", function()
    local r = S.ok(emu.owner:call("CreateNamespace", { spec = S.namespace_spec("hint") }))
    assert.are.same({ seconds = 1, nanos = 0 }, r.async_operation.check_duration)
    local e2 = S.new { check_duration = 0.2 }
    r = S.ok(e2.owner:call("CreateNamespace", { spec = S.namespace_spec("hint") }))
    assert.are.same({ seconds = 0, nanos = 200000000 }, r.async_operation.check_duration)
  end)

  it("can end at once (op_duration 0) and per method", function()
    local e2 = S.new { op_duration = 0, op_durations = { CreateUser = 5 } }
    local r = S.ok(e2.owner:call("CreateNamespace", { spec = S.namespace_spec("now") }))
    assert.are.equal("STATE_FULFILLED", r.async_operation.state)
    local u = S.ok(e2.owner:call("CreateUser", { spec = { email = "slow@example.com",
      access = { account_access = { role = "ROLE_READ" } } } }))
    assert.are_not.equal("STATE_FULFILLED", u.async_operation.state)
    e2.advance(4.9)
    assert.are_not.equal("STATE_FULFILLED", S.ok(e2.owner:call("GetAsyncOperation",
      { async_operation_id = u.async_operation.id })).async_operation.state)
  end)

  it("return the same operation for a repeated async_operation_id and apply nothing twice", function()
    local req = { spec = S.namespace_spec("once"), async_operation_id = "op-123" }
    local r1 = S.ok(emu.owner:call("CreateNamespace", req))
    emu.advance(2)
    local r2 = S.ok(emu.owner:call("CreateNamespace", req))   -- not ALREADY_EXISTS
    assert.are.equal("op-123", r1.async_operation.id)
    assert.are.equal(r1.namespace, r2.namespace)
    assert.are.equal("STATE_FULFILLED", r2.async_operation.state)
    local ns = S.ok(emu.owner:call("GetNamespace", { namespace = r1.namespace })).namespace
    ns.spec.retention_days = 20
    local up = { namespace = ns.namespace, spec = ns.spec, resource_version = ns.resource_version,
                 async_operation_id = "op-upd" }
    S.ok(emu.owner:call("UpdateNamespace", up))
    local v = S.ok(emu.owner:call("GetNamespace", { namespace = ns.namespace })).namespace.resource_version
    S.ok(emu.owner:call("UpdateNamespace", up))   -- stale version, but a replay: same answer
    assert.are.equal(v, S.ok(emu.owner:call("GetNamespace", { namespace = ns.namespace })).namespace.resource_version)
    local err = S.fails("ALREADY_EXISTS", emu.owner:call("DeleteNamespace",
      { namespace = ns.namespace, async_operation_id = "op-upd" }))
    assert.matches("UpdateNamespace", err.message)
    -- the same id on another request of the same method is refused, not answered with the
    -- first request's result
    local other = { spec = S.namespace_spec("twice"), async_operation_id = "op-123" }
    err = S.fails("ALREADY_EXISTS", emu.owner:call("CreateNamespace", other))
    assert.matches("different CreateNamespace request", err.message)
    S.fails("NOT_FOUND", emu.owner:call("GetNamespace", { namespace = "twice." .. emu.st.account.id }))
    -- fields left at their defaults do not make a request different
    local again = { spec = S.namespace_spec("once", { connectivity_rule_ids = {}, codec_server = {} }),
                    async_operation_id = "op-123", tags = {} }
    assert.are.equal(r1.namespace, S.ok(emu.owner:call("CreateNamespace", again)).namespace)
  end)

  it("answers NOT_FOUND for an unknown operation", function()
    S.fails("NOT_FOUND", emu.owner:call("GetAsyncOperation", { async_operation_id = "nope" }))
    S.fails("INVALID_ARGUMENT", emu.owner:call("GetAsyncOperation", {}))
  end)

  it("fail when the service would find the problem later (a CA that is not PEM)", function()
    local r = S.ok(emu.owner:call("CreateNamespace", { spec = S.namespace_spec("badca", {
      mtls_auth = { enabled = true, accepted_client_ca = "not a certificate" } }) }))
    emu.advance(2)
    local o = op(r.async_operation.id)
    assert.are.equal("STATE_FAILED", o.state)
    assert.matches("accepted_client_ca", o.failure_reason)
    local ns = S.ok(emu.owner:call("GetNamespace", { namespace = r.namespace })).namespace
    assert.are.equal("RESOURCE_STATE_ACTIVATION_FAILED", ns.state)
  end)

  it("delete a resource when a delete is fulfilled", function()
    local ns = S.namespace(emu, "gone")
    local r = S.ok(emu.owner:call("DeleteNamespace", { namespace = ns.namespace,
                                                       resource_version = ns.resource_version }))
    assert.are.equal("RESOURCE_STATE_DELETING",
      S.ok(emu.owner:call("GetNamespace", { namespace = ns.namespace })).namespace.state)
    emu.advance(2)
    S.fails("NOT_FOUND", emu.owner:call("GetNamespace", { namespace = ns.namespace }))
    assert.are.equal("STATE_FULFILLED", op(r.async_operation.id).state)
  end)

  it("put back what was there when an operation is rejected", function()
    local ns = S.namespace(emu, "keep")
    emu:fault { method = "UpdateNamespace", operation = "REJECTED", reason = "over quota" }
    local spec = ns.spec
    spec.retention_days = 60
    local r = S.ok(emu.owner:call("UpdateNamespace", { namespace = ns.namespace, spec = spec,
                                                       resource_version = ns.resource_version }))
    emu.advance(2)
    local o = op(r.async_operation.id)
    assert.are.equal("STATE_REJECTED", o.state)
    assert.are.equal("over quota", o.failure_reason)
    local now = S.ok(emu.owner:call("GetNamespace", { namespace = ns.namespace })).namespace
    assert.are.equal(7, now.spec.retention_days)
    assert.are.equal("RESOURCE_STATE_ACTIVE", now.state)
  end)

  -- docs.temporal.io/ops, "Rate limits": "up to 10 long-running (asynchronous) mutating
  -- operations in flight at once ... a subset of create, update, and delete operations (for
  -- example, Namespace, User, API Key, Export Sink, and Service Account mutations)".
  it("allow 10 counted operations in flight per account; the 11th mutation is RESOURCE_EXHAUSTED", function()
    local function user(i, caller, id)
      return (caller or emu.owner):call("CreateUser", { async_operation_id = id, spec = {
        email = "u" .. i .. "@example.com", access = { account_access = { role = "ROLE_READ" } } } })
    end
    local ns = S.namespace(emu, "limits").namespace   -- its operation has ended
    local first
    for i = 1, 10 do
      local r = S.ok(user(i, i % 2 == 0 and emu.admin or nil, i == 1 and "op-1" or nil))
      first = first or r.user_id
    end
    local err = S.fails("RESOURCE_EXHAUSTED", user(11, emu.admin))   -- another principal, same account
    assert.matches("async operations in flight", err.message)
    assert.matches("limit is 10 per account", err.message)
    assert.is_true(err.retry_delay > 0 and err.retry_delay <= 1)
    -- a repeated request is answered, not counted again
    assert.are.equal(first, S.ok(user(1, nil, "op-1")).user_id)
    -- a user's access is a User mutation: counted too
    S.fails("RESOURCE_EXHAUSTED", emu.owner:call("SetUserNamespaceAccess", { user_id = first, namespace = ns,
      access = { permission = "PERMISSION_READ" } }))
    emu.advance(1)
    S.ok(user(11))
    -- the limit is a setting
    local free = S.new { max_operations = false }
    for i = 1, 12 do S.ok(user(i, free.owner)) end
    local two = S.new { max_operations = 2 }
    S.ok(user(1, two.owner))
    S.ok(user(2, two.owner))
    S.fails("RESOURCE_EXHAUSTED", user(3, two.owner))
  end)

  it("count only the documented subset: not groups, projects, rules, custom roles nor billing reports", function()
    local limit = require "cloudops.operation_limit"
    assert.are.equal(10, limit.per_account)
    -- every RPC of the table is a mutation of the schema, of one of the five documented kinds
    local methods = require "cloudops.emulator.methods"
    local kinds = {}
    for name, kind in pairs(limit.methods) do
      assert.is_true(methods.by_name[name] and methods.by_name[name].mutation, name)
      kinds[kind] = true
    end
    assert.are.same({ Namespace = true, User = true, ["API Key"] = true, ["Export Sink"] = true,
                      ["Service Account"] = true }, kinds)
    local two = S.new { max_operations = 2 }
    local function user(i)
      return two.owner:call("CreateUser", { spec = { email = "c" .. i .. "@example.com",
        access = { account_access = { role = "ROLE_READ" } } } })
    end
    S.ok(user(1))
    S.ok(user(2))
    S.fails("RESOURCE_EXHAUSTED", user(3))
    -- mutations the docs leave out still start their operations
    S.ok(two.owner:call("CreateUserGroup", { spec = { display_name = "g", cloud_group = {},
      access = { account_access = { role = "ROLE_READ" } } } }))
    S.ok(two.owner:call("CreateProject", { spec = { display_name = "p" } }))
    S.ok(two.owner:call("CreateConnectivityRule", { spec = { public_rule = {} } }))
    S.ok(two.owner:call("CreateCustomRole", { spec = { name = "r", permissions = { {
      actions = { "cloud.account.get" }, resources = { resource_type = "account" } } } } }))
    -- billing reports are queued, not refused (docs.temporal.io/cloud/billing-api)
    local dec, jan = 1764547200, 1767225600   -- 2025-12-01 and 2026-01-01, the test clock's now
    S.ok(two.owner:call("CreateBillingReport", { spec = { start_time_inclusive = { seconds = dec },
      end_time_exclusive = { seconds = jan },
      granularity = "BILLING_REPORT_GRANULARITY_DAILY" } }))
    -- and those it counts are refused while the two counted ones are in flight
    S.fails("RESOURCE_EXHAUSTED", two.owner:call("CreateServiceAccount", { spec = { name = "sa",
      access = { account_access = { role = "ROLE_READ" } } } }))
  end)

  it("refuse for the limit only a request that is valid and names what exists", function()
    local two = S.new { max_operations = 1 }
    S.ok(two.owner:call("CreateUser", { spec = { email = "one@example.com",
      access = { account_access = { role = "ROLE_READ" } } } }))
    -- an invalid request is INVALID_ARGUMENT, a missing resource NOT_FOUND, whatever the limit
    local err = S.fails("INVALID_ARGUMENT", two.owner:call("CreateUser", { spec = { email = "not an email",
      access = { account_access = { role = "ROLE_READ" } } } }))
    assert.matches("valid email", err.message)
    S.fails("NOT_FOUND", two.owner:call("UpdateUser", { user_id = "nobody", spec = { email = "x@example.com",
      access = { account_access = { role = "ROLE_READ" } } } }))
    S.fails("NOT_FOUND", two.owner:call("DeleteNamespace", { namespace = "missing.emu01" }))
    S.fails("PERMISSION_DENIED", two.reader:call("CreateUser", { spec = { email = "r@example.com",
      access = { account_access = { role = "ROLE_READ" } } } }))
    -- a valid one is refused, and nothing of it is kept
    err = S.fails("RESOURCE_EXHAUSTED", two.owner:call("CreateUser", { spec = { email = "two@example.com",
      access = { account_access = { role = "ROLE_READ" } } } }))
    assert.matches("limit is 1 per account", err.message)
    assert.are.equal(0, #S.ok(two.owner:call("GetUsers", { email = "two@example.com" })).users)
  end)

  it("take the service's times under the realistic profile, and stay fast by default", function()
    local real = S.new { profile = "realistic", rate_limits = false }
    local r, _, info = real.owner:call("CreateNamespace", { spec = S.namespace_spec("slow") })
    S.ok(r)
    assert.is_true(info.delay >= 0.2 and info.delay <= 0.3)           -- answers a few hundred ms away
    assert.are.same({ seconds = 5, nanos = 0 }, r.async_operation.check_duration)
    local function state(e, id)
      return S.ok(e.owner:call("GetAsyncOperation", { async_operation_id = id })).async_operation.state
    end
    local u = S.ok(real.owner:call("CreateUser", { spec = { email = "slow@example.com",
      access = { account_access = { role = "ROLE_READ" } } } }))
    real.advance(3)
    assert.are.equal("STATE_IN_PROGRESS", state(real, u.async_operation.id))
    real.advance(6)
    assert.are.equal("STATE_FULFILLED", state(real, u.async_operation.id))   -- a user: seconds
    assert.are.equal("STATE_IN_PROGRESS", state(real, r.async_operation.id))   -- a namespace: about a minute
    real.advance(52)
    assert.are.equal("STATE_FULFILLED", state(real, r.async_operation.id))
    -- options given explicitly win over the profile's
    local quick = S.new { profile = "realistic", op_duration = 1, op_durations = {}, latency = 0 }
    local q = S.ok(quick.owner:call("CreateNamespace", { spec = S.namespace_spec("quick") }))
    quick.advance(1.1)
    assert.are.equal("STATE_FULFILLED", state(quick, q.async_operation.id))
    assert.has_error(function() S.new { profile = "leisurely" } end,
      "unknown emulator profile 'leisurely' (fast or realistic)")
    -- the default: an operation of about a second, no latency
    local _, _, plain = emu.owner:call("CreateNamespace", { spec = S.namespace_spec("fast") })
    assert.is_nil(plain.delay)
    assert.are.equal("fast", require("cloudops.emulator.cli").parse { "--profile", "fast" }.profile)
  end)
end)
