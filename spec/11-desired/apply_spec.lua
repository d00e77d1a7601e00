-- cloudops.plan and cloudops.apply against the emulator: every kind made, changed and pruned
-- from a desired state, in dependency order (read from the emulator's request log), each
-- operation waited on; applying again plans nothing and sends nothing; export then plan plans
-- nothing.
local helpers = require "helpers"
local S = require "11-desired.support"
local cloudops = require "cloudops"
local desired = require "cloudops.desired"
local planner = require "cloudops.plan"

local by = helpers.find_by

local function actions(list)
  local out = {}
  for _, c in ipairs(list) do out[#out + 1] = c.action .. " " .. c.kind .. " " .. tostring(c.name) end
  return out
end

describe("cloudops.apply of every kind", function()
  local emu, c, first, seen

  lazy_setup(function()
    emu = S.emulator()
    c = S.client(emu)
    seen = {}
    first = { cloudops.apply(c, S.every_kind(), { on_change = function(ch) seen[#seen + 1] = ch end }) }
  end)

  lazy_teardown(function()
    if c then c:close() end
    if emu then emu.stop() end
    helpers.cleanup()
  end)

  it("makes every kind from an empty account, each change reported as it ends", function()
    local result, err = first[1], first[2]
    assert.is_nil(err)
    assert.same({ "create project Payments", "create custom_role auditor",
      "create connectivity_rule Payments/private/aws-us-east-1/vpce-0123456789", "create namespace ops",
      "create namespace pay", "create namespace_export_sink pay/history", "create nexus_endpoint payments-api",
      "create user_group engineering", "create user alice@example.com", "create user bob@example.com",
      "create service_account ci", "create service_account pay-worker", "create service_account payments-bot" },
      actions(result.changes))
    for _, ch in ipairs(result.changes) do
      assert.is_true(ch.ok, ch.kind .. " " .. ch.name .. ": " .. tostring(ch.err))
      assert.equal("STATE_FULFILLED", ch.operation.state)
    end
    assert.equal(#result.changes, #seen)                  -- on_change: once per change
    table.sort(seen, function(a, b) return a.kind .. a.name < b.kind .. b.name end)
    assert.is_true(seen[1].ok)
    -- what the account now holds is what was asked, ids where the API takes them
    local snap = assert(cloudops.snapshot(c))
    local pay = by(snap.namespaces, "spec.name", "pay")
    local project = by(snap.projects, "spec.display_name", "Payments")
    assert.equal(project.id, pay.project_id)
    assert.same({ team = "payments", env = "prod" }, pay.tags)
    assert.same({ by(snap.connectivity_rules, "project_id", project.id).id }, pay.spec.connectivity_rule_ids)
    local alice = by(snap.users, "spec.email", "alice@example.com")
    assert.same({ [pay.namespace] = { permission = "PERMISSION_WRITE" } }, alice.spec.access.namespace_accesses)
    assert.same({ by(snap.custom_roles, "spec.name", "auditor").id }, alice.spec.access.account_access.custom_roles)
    local group = by(snap.user_groups, "spec.display_name", "engineering")
    local members = { alice.id, by(snap.users, "spec.email", "Bob@Example.com").id }
    table.sort(members)
    assert.same(members, group.members)
    local worker = by(snap.service_accounts, "spec.name", "pay-worker")
    assert.equal(pay.namespace, worker.spec.namespace_scoped_access.namespace)
    assert.equal(pay.namespace, snap.nexus_endpoints[1].spec.target_spec.worker_target_spec.namespace_id)
    assert.equal("history", snap.namespace_export_sinks[1].name)
  end)

  it("makes each resource once what it refers to is made (its operation ended), members after both", function()
    -- The server's own clock: each create is sent after the operation of what it refers to
    -- ended, at least op_duration (0.05 s) after that one was made.
    local snap = assert(cloudops.snapshot(c))
    local t = cloudops.time.to_unix
    local function made(list, field, value) return t(by(list, field, value).created_time) end
    local function after(later, earlier, what)
      assert.is_true(later - earlier >= 0.05, what .. string.format(": %.3f s after", later - earlier))
    end
    local project = made(snap.projects, "spec.display_name", "Payments")
    local rule = t(snap.connectivity_rules[1].created_time)
    local pay, ops = made(snap.namespaces, "spec.name", "pay"), made(snap.namespaces, "spec.name", "ops")
    local role = made(snap.custom_roles, "spec.name", "auditor")
    local alice = made(snap.users, "spec.email", "alice@example.com")
    local bob = made(snap.users, "spec.email", "Bob@Example.com")
    after(rule, project, "the rule, in its project")
    after(pay, rule, "pay, with the rule")
    after(t(snap.namespace_export_sinks[1].last_health_check_time), pay, "the sink of pay")
    local endpoint = t(snap.nexus_endpoints[1].created_time)
    after(endpoint, pay, "the endpoint on pay")
    after(endpoint, ops, "the endpoint allowing ops")
    after(alice, pay, "alice, with access to pay")
    after(alice, role, "alice, with the custom role")
    after(made(snap.service_accounts, "spec.name", "pay-worker"), pay, "pay-worker, scoped to pay")
    after(made(snap.user_groups, "spec.display_name", "engineering"), ops, "the group, with access to ops")
    local group = by(snap.user_groups, "spec.display_name", "engineering")
    local members = assert(c:get_user_group_members{ group_id = group.id }).members
    assert.equal(2, #members)
    for _, m in ipairs(members) do
      after(t(m.created_time), t(group.created_time), "a member, after the group")
      after(t(m.created_time), m.member_id.user_id == by(snap.users, "spec.email", "alice@example.com").id
        and alice or bob, "a member, after the user")
    end
    -- every mutation answered OK and its operation waited on
    local log = S.requests(emu)
    local muts = S.mutations(log)
    assert.equal(15, #muts)                                 -- 13 creates, 2 members added
    for _, m in ipairs(muts) do assert.equal("OK", m.code) end
    assert.is_true(S.count(log, "GetAsyncOperation", "OK") >= #muts)
  end)

  it("plans nothing the second time, and a second apply sends no mutation", function()
    local logged = #S.requests(emu)
    local p = assert(cloudops.plan(c, S.every_kind()))
    assert.same({}, p.changes)
    local result, err = cloudops.apply(c, S.every_kind())
    assert.is_nil(err)
    assert.same({}, result.changes)
    local after = S.requests(emu)
    local since = {}
    for i = logged + 1, #after do since[#since + 1] = after[i] end
    assert.same({}, S.mutations(since))                    -- no "nothing to change" call either
    assert.equal(0, S.count(after, "UpdateNamespace") + S.count(after, "UpdateUser"))
  end)

  it("exports what plans nothing, every kind, also with prune", function()
    local d = assert(desired.export(c))
    local back = assert(desired.decode(desired.encode(d)))
    local p = assert(cloudops.plan(c, back, { prune = true }))
    assert.same({}, p.changes)
    for _, k in ipairs(require("cloudops.kinds").DESIRED) do
      assert.is_true(#d[k.name] >= 1, k.name)
    end
    assert.same({ "alice@example.com", "bob@example.com" }, by(d.user_groups, "display_name", "engineering").members)
    assert.equal("Payments", by(d.namespaces, "name", "pay").project_id)
    assert.equal("pay", d.namespace_export_sinks[1].namespace)
  end)
end)

describe("cloudops.apply of changes", function()
  local emu, c, account

  -- The account every test starts from, every kind applied through the API once, kept as the
  -- emulator's state file: each test's emulator starts from a copy.
  lazy_setup(function()
    local path = helpers.tmpdir() .. "/every_kind.state"
    local maker = S.emulator{ state_file = path }
    local mc = S.client(maker)
    local _, err = cloudops.apply(mc, S.every_kind())
    mc:close()
    maker.stop()   -- saves the state
    assert.is_nil(err, tostring(err))
    account = assert(helpers.read_file(path))
  end)

  before_each(function()
    local state = helpers.tmpdir() .. "/state"
    helpers.write_file(state, account)
    emu = S.emulator{ state_file = state }
    c = S.client(emu)
  end)

  after_each(function()
    if c then c:close() end
    if emu then emu.stop() end
    helpers.cleanup()
  end)

  it("updates every kind field by field, and leaves alone what an entry leaves out", function()
    local d = S.every_kind()
    d.projects[1].description = "payments, all of it"
    d.custom_roles[1].permissions[1].actions = { "cloud.namespace.get", "cloud.namespace.exportsink.get" }
    d.namespaces[1].retention_days = 60
    d.namespaces[1].tags = { team = "payments", tier = "gold" }        -- env removed, tier added
    d.namespaces[2] = { name = "ops", retention_days = 14 }           -- the rest as it is
    d.namespace_export_sinks[1].spec.enabled = false
    d.nexus_endpoints[1].target_spec.worker_target_spec.task_queue = "payments-v2"
    d.user_groups[1].members = { "bob@example.com" }                 -- alice leaves
    d.users[1].access.namespace_accesses = { ops = { permission = "PERMISSION_READ" } } -- pay revoked
    d.users[2] = { email = "bob@example.com", access = { account_access = { role = "ROLE_DEVELOPER" } } }
    d.service_accounts[1].description = "deploys everything"
    local p = assert(cloudops.plan(c, d))
    assert.same({ "update project Payments", "update custom_role auditor", "update namespace ops",
      "update namespace pay", "update namespace_export_sink pay/history", "update nexus_endpoint payments-api",
      "update user_group engineering", "update user alice@example.com", "update user bob@example.com",
      "update service_account ci" }, actions(p.changes))
    assert.same({ { path = "spec.retention_days", before = 7, after = 14 } },
      S.change(p.changes, "namespace", "ops").fields)
    assert.same({ { path = "spec.retention_days", before = 30, after = 60 },
                  { path = "tags[env]", before = "prod" },
                  { path = "tags[tier]", after = "gold" } }, S.change(p.changes, "namespace", "pay").fields)
    assert.same({ { path = "spec.access.namespace_accesses[ops]", after = { permission = "PERMISSION_READ" } },
                  { path = "spec.access.namespace_accesses[pay]", before = { permission = "PERMISSION_WRITE" } } },
      S.change(p.changes, "user", "alice@example.com").fields)
    assert.same({ { path = "members", before = { "alice@example.com", "bob@example.com" },
                    after = { "bob@example.com" } } },
      S.change(p.changes, "user_group", "engineering").fields)
    local result, err = cloudops.apply(c, d)
    assert.is_nil(err)
    for _, ch in ipairs(result.changes) do assert.is_true(ch.ok, ch.name .. ": " .. tostring(ch.err)) end
    assert.same({}, assert(cloudops.plan(c, d)).changes)
    local snap = assert(cloudops.snapshot(c))
    local ops = by(snap.namespaces, "spec.name", "ops")
    assert.equal(14, ops.spec.retention_days)
    assert.equal("https://codec.example.com", ops.spec.codec_server.endpoint)   -- left out: kept
    assert.is_true(ops.spec.mtls_auth.enabled)
    assert.same({ team = "payments", tier = "gold" }, by(snap.namespaces, "spec.name", "pay").tags)
    assert.equal(1, #by(snap.user_groups, "spec.display_name", "engineering").members)
    assert.same({ "alice@example.com" }, (function()
      local alice = by(snap.users, "spec.email", "alice@example.com")
      return { alice.spec.email }
    end)())
    local log = S.requests(emu)
    assert.equal(1, S.count(log, "UpdateNamespaceTags", "OK"))
    assert.equal(1, S.count(log, "RemoveUserGroupMember", "OK"))
    assert.equal(0, S.count(log, "AddUserGroupMember", "INVALID_ARGUMENT")
      + S.count(log, "UpdateUser", "INVALID_ARGUMENT"))
  end)

  it("compares emails case-insensitively, and never sends an email's case as a change", function()
    local d = S.every_kind()
    d.users[2].email = "BOB@example.COM"
    d.user_groups[1].members = { "ALICE@EXAMPLE.COM", "bob@example.com" }
    assert.same({}, assert(cloudops.plan(c, d)).changes)
    d.users[2].access.account_access.role = "ROLE_ADMIN"
    local p = assert(cloudops.plan(c, d))
    assert.same({ "update user bob@example.com" }, actions(p.changes))
    assert.same({ { path = "spec.access.account_access.role", before = "ROLE_READ", after = "ROLE_ADMIN" } },
      p.changes[1].fields)
    assert.is_nil(select(2, cloudops.apply(c, d)))
    local bob = assert(c:get_users{ email = "bob@example.com" }).users[1]
    assert.equal("Bob@Example.com", bob.spec.email)        -- as it was made
    assert.equal("ROLE_ADMIN", bob.spec.access.account_access.role)
  end)

  it("prunes what the desired state does not name, last kinds first, but keeps what must stay", function()
    local d = S.every_kind()
    d.namespaces = { d.namespaces[1] }               -- ops goes; pay is delete-protected anyway
    d.projects = { d.projects[1] }                   -- the Default Project is delete-protected
    d.namespace_export_sinks = {}
    d.nexus_endpoints = {}
    d.user_groups = {}
    d.users = { d.users[1] }                         -- Bob goes; the owner applying stays
    d.service_accounts = { d.service_accounts[2] }
    d.custom_roles = nil                             -- not listed: not touched
    -- without prune nothing is deleted
    assert.same({}, assert(cloudops.plan(c, d)).changes)
    local p = assert(cloudops.plan(c, d, { prune = true }))
    assert.same({ "delete namespace ops", "delete namespace_export_sink pay/history",
      "delete nexus_endpoint payments-api",
      "delete user_group engineering", "delete user bob@example.com", "delete user developer@example.com",
      "delete user reader@example.com", "delete service_account ci", "delete service_account emulator-admin",
      "delete service_account payments-bot" }, actions(p.changes))
    assert.same({ { kind = "project", name = "Default Project", why = "delete protection is on" },
                  { kind = "user", name = "owner@example.com", why = "the identity applying the desired state" } },
      (function()
        local out = {}
        for _, k in ipairs(p.kept) do out[#out + 1] = { kind = k.kind, name = k.name, why = k.why } end
        return out
      end)())
    assert.matches("\nKept, though the desired state does not name them:\n  project Default Project %(.-%): " ..
      "delete protection is on\n  user owner@example%.com %(.-%): the identity applying the desired state\n$",
      planner.text(p))
    -- a protected namespace is kept too
    local only_ops = S.every_kind()
    only_ops.namespaces = { only_ops.namespaces[2] }
    local kept = assert(cloudops.plan(c, { namespaces = only_ops.namespaces }, { prune = true })).kept
    assert.same({ kind = "namespace", name = "pay", why = "delete protection is on" },
      { kind = kept[1].kind, name = kept[1].name, why = kept[1].why })
    local result, err = cloudops.apply(c, d, { prune = true })
    assert.is_nil(err)
    assert.equal(10, #result.changes)
    local log = S.requests(emu)
    -- reverse dependency order: service accounts, users, groups, endpoints, sinks, namespaces
    local function before(a, b) assert.is_true(S.last(log, a) < S.first(log, b), a .. " before " .. b) end
    before("DeleteServiceAccount", "DeleteUser")
    before("DeleteUser", "DeleteUserGroup")
    before("DeleteUserGroup", "DeleteNexusEndpoint")
    before("DeleteNexusEndpoint", "DeleteNamespaceExportSink")
    before("DeleteNamespaceExportSink", "DeleteNamespace")
    assert.equal(0, S.count(log, "DeleteProject"))
    assert.same({}, assert(cloudops.plan(c, d, { prune = true })).changes)
    assert.is_truthy(c:get_current_identity())              -- the key applying still works
  end)

  it("changes the identity applying it last, after what its rights are needed for", function()
    -- (by name, owner@ would come first among these users)
    local d = { users = { { email = "owner@example.com", access = { account_access = { role = "ROLE_OWNER" },
                            namespace_accesses = { ops = { permission = "PERMISSION_ADMIN" } } } },
                          { email = "zoe@example.com", access = { account_access = { role = "ROLE_READ" } } },
                          { email = "yves@example.com", access = { account_access = { role = "ROLE_READ" } } } } }
    local result, err = cloudops.apply(c, d)
    assert.is_nil(err, tostring(err))
    assert.equal(3, #result.changes)
    -- the owner changed once the others' operations ended (op_duration 0.05 s after they were made)
    local t = cloudops.time.to_unix
    local owner = assert(c:get_users{ email = "owner@example.com" }).users[1]
    for _, email in ipairs { "zoe@example.com", "yves@example.com" } do
      local u = assert(c:get_users{ email = email }).users[1]
      assert.is_true(t(owner.last_modified_time) - t(u.created_time) >= 0.05, email)
    end
    assert.same({}, assert(cloudops.plan(c, d)).changes)
  end)

  it("takes ids where names are written, and fails the plan for a name that names nothing", function()
    local pay = assert(c:get_namespaces{ name = "pay" }).namespaces[1]
    local d = { users = { { email = "alice@example.com", access = { account_access = { role = "ROLE_DEVELOPER" },
      namespace_accesses = { [pay.namespace] = { permission = "PERMISSION_WRITE" } } } } } }
    assert.same({}, assert(cloudops.plan(c, d)).changes)  -- the same access, by id
    d.users[1].access.namespace_accesses = { nope = { permission = "PERMISSION_READ" } }
    local p, err = cloudops.plan(c, d)
    assert.is_nil(p)
    assert.equal("users[alice@example.com]: no namespace named 'nope' in the account or in the desired state", err)
  end)

  it("recreates what was deleted out of band between two applies", function()
    local bob = assert(c:get_users{ email = "bob@example.com" }).users[1]
    assert(c:wait(assert(c:delete_user{ user_id = bob.id, resource_version = bob.resource_version }),
      { min_poll = 0.02 }))
    local ops = assert(c:get_namespace{ namespace = "ops.emu01" }).namespace
    assert(c:wait(assert(c:delete_namespace{ namespace = ops.namespace, resource_version = ops.resource_version }),
      { min_poll = 0.02 }))
    local p = assert(cloudops.plan(c, S.every_kind()))
    -- Bob is gone, and with him his membership; the namespace, the group's and ci's access to it
    assert.same({ "create namespace ops", "update nexus_endpoint payments-api", "update user_group engineering",
      "create user bob@example.com", "update service_account ci" }, actions(p.changes))
    local result, err = cloudops.apply(c, S.every_kind())
    assert.is_nil(err, tostring(err))
    assert.equal(5, #result.changes)
    assert.same({}, assert(cloudops.plan(c, S.every_kind())).changes)
  end)

  it("deletes at the version read again when it changed since the plan", function()
    local planner_ctx = require("cloudops.plan")
    local d = S.every_kind()
    d.users = { d.users[1] }
    local state, listed = assert(desired.check(d))
    local ctx = assert(planner_ctx.compute(c, state, listed, { prune = true }))
    -- Bob changes after the plan read him
    local bob = assert(c:get_users{ email = "bob@example.com" }).users[1]
    assert(c:wait(assert(c:update("user", bob.id, function(u) u.spec.access.account_access.role = "ROLE_ADMIN" end)),
      { min_poll = 0.02 }))
    local result, err = require("cloudops.apply").run(c, ctx)
    assert.is_nil(err, tostring(err))
    assert.is_true(S.change(result.changes, "user", "bob@example.com").ok)
    local log = S.requests(emu)
    assert.equal(1, S.count(log, "DeleteUser", "FAILED_PRECONDITION"))
    assert.equal(0, #assert(c:get_users{ email = "bob@example.com" }).users)
  end)

  it("makes again what is being deleted once its deletion has ended", function()
    emu.stop()
    c:close()
    emu = S.emulator{ op_duration = 0.5 }
    c = S.client(emu)
    local users = { users = { { email = "bob@example.com", access = { account_access = { role = "ROLE_READ" } } } } }
    assert.is_nil(select(2, cloudops.apply(c, users)))
    local bob = assert(c:get_users{ email = "bob@example.com" }).users[1]
    assert(c:delete_user{ user_id = bob.id, resource_version = bob.resource_version }) -- not waited for
    local result, err = cloudops.apply(c, users)
    assert.is_nil(err, tostring(err))
    assert.same({ "create user bob@example.com" }, actions(result.changes))
    local log = S.requests(emu)
    assert.equal(0, S.count(log, "CreateUser", "ALREADY_EXISTS"))
    assert.equal(2, S.count(log, "CreateUser", "OK"))
  end)

  it("reads again on a version conflict, keeping what another writer changed meanwhile", function()
    emu.stop()
    emu = S.emulator{ faults = { { method = "GetNamespace", delay = 0.5 } } }
    c:close()
    c = S.client(emu)
    assert.is_nil(select(2, cloudops.apply(c, S.every_kind())))
    local d = S.every_kind()
    d.namespaces[2].retention_days = 21
    local other = S.client(emu)
    local results = cloudops.map(function(job) return job() end, {
      function() return cloudops.apply(c, d) end,
      -- while the apply's read of ops is held up, someone changes its tags
      function()
        require("cloudops.sleep")(0.2)
        return other:wait(assert(other:update_namespace_tags{ namespace = "ops.emu01", tags_to_upsert = { x = "y" } }),
          { min_poll = 0.02 })
      end,
    }, { concurrency = 2 })
    other:close()
    assert.is_true(results[1].changes[1].ok)
    local ops = assert(c:get_namespace{ namespace = "ops.emu01" }).namespace
    assert.equal(21, ops.spec.retention_days)
    assert.same({ x = "y" }, ops.tags)
    local log = S.requests(emu)
    assert.equal(1, S.count(log, "UpdateNamespace", "FAILED_PRECONDITION"))
    assert.equal(1, S.count(log, "UpdateNamespace", "OK"))
  end)
end)
