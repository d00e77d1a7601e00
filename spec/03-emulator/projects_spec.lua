-- Projects: the Default Project, project_id on resources and requests, the project quota,
-- deletion rules, project roles, the assignment listings and project-scoped service
-- accounts.
local S = require "03-emulator.emu_support"
local helpers = require "helpers"

local function default_project(emu)
  local ps = S.ok(emu.owner:call("GetProjects", {})).projects
  assert.are.equal(1, #ps)
  return ps[1]
end

local function project(emu, name, extra)
  local spec = { display_name = name, description = "spec project" }
  for k, v in pairs(extra or {}) do spec[k] = v end
  local r = S.ok(emu.owner:call("CreateProject", { spec = spec }))
  emu.advance(2)
  return S.ok(emu.owner:call("GetProject", { project_id = r.project_id })).project
end

local function namespace_in(emu, name, pid)
  local r = S.ok(emu.owner:call("CreateNamespace", { spec = S.namespace_spec(name), project_id = pid }))
  emu.advance(2)
  return S.ok(emu.owner:call("GetNamespace", { namespace = r.namespace })).namespace
end

local function grant(emu, method, field, id, pid, role)
  local coll = { user_id = "GetUser", group_id = "GetUserGroup", service_account_id = "GetServiceAccount" }
  local res = S.ok(emu.owner:call(coll[field], { [field] = id }))
  local rv = (res.user or res.group or res.service_account).resource_version
  S.ok(emu.owner:call(method, { project_id = pid, [field] = id, access = { role = role },
                                resource_version = rv }))
  emu.advance(2)
end

describe("emulator projects", function()
  local emu
  before_each(function() emu = S.new() end)

  it("start with a Default Project, delete-protected, that holds what is created without a project", function()
    local d = default_project(emu)
    assert.are.equal("Default Project", d.spec.display_name)
    assert.is_true(d.spec.lifecycle.enable_delete_protection)
    assert.are.equal("RESOURCE_STATE_ACTIVE", d.state)
    assert.are.equal(d.id, S.namespace(emu, "plain").project_id)
    local rule = S.ok(emu.owner:call("CreateConnectivityRule", { spec = { public_rule = {} } }))
    assert.are.equal(d.id, S.ok(emu.owner:call("GetConnectivityRule",
      { connectivity_rule_id = rule.connectivity_rule_id })).connectivity_rule.project_id)
  end)

  it("are created, read, updated and deleted through their operations", function()
    local r = S.ok(emu.owner:call("CreateProject", { spec = { display_name = "payments" } }))
    assert.are.equal("STATE_PENDING", r.async_operation.state)
    local p = S.ok(emu.owner:call("GetProject", { project_id = r.project_id })).project
    assert.are.equal("RESOURCE_STATE_ACTIVATING", p.state)
    assert.are.equal(r.async_operation.id, p.async_operation_id)
    emu.advance(2)
    p = S.ok(emu.owner:call("GetProject", { project_id = r.project_id })).project
    assert.are.equal("RESOURCE_STATE_ACTIVE", p.state)
    S.ok(emu.owner:call("UpdateProject", { project_id = p.id, resource_version = p.resource_version,
      spec = { display_name = "payments-team" } }))
    S.fails("FAILED_PRECONDITION", emu.owner:call("UpdateProject", { project_id = p.id,
      resource_version = p.resource_version, spec = { display_name = "stale" } }))
    emu.advance(2)
    p = S.ok(emu.owner:call("GetProject", { project_id = p.id })).project
    assert.are.equal("payments-team", p.spec.display_name)
    assert.is_table(p.last_modified_time)
    local two = S.ok(emu.owner:call("GetProjects", { project_ids = { p.id } })).projects
    assert.are.equal(1, #two)
    S.ok(emu.owner:call("DeleteProject", { project_id = p.id, resource_version = p.resource_version }))
    emu.advance(2)
    S.fails("NOT_FOUND", emu.owner:call("GetProject", { project_id = p.id }))
  end)

  -- docs.temporal.io/cloud/projects, "Create a new Project": "a name (limited to 64 characters) and
  -- an optional description (limited to 255 characters)".
  it("check the spec and the caller", function()
    S.fails("INVALID_ARGUMENT", emu.owner:call("CreateProject", { spec = { display_name = "" } }))
    local err = S.fails("INVALID_ARGUMENT", emu.owner:call("CreateProject", {
      spec = { display_name = ("x"):rep(65) } }))
    assert.matches("at most 64 characters", err.message, 1, true)
    err = S.fails("INVALID_ARGUMENT", emu.owner:call("CreateProject", { spec = { display_name = "described",
      description = ("d"):rep(256) } }))
    assert.matches("spec.description: at most 255 characters, got 256", err.message, 1, true)
    -- characters, not bytes: 64 two-byte letters and 255 of them in the description
    local id = S.ok(emu.owner:call("CreateProject", { spec = { display_name = ("é"):rep(64),
      description = ("ü"):rep(255) } })).project_id
    emu.advance(2)
    local p = S.ok(emu.owner:call("GetProject", { project_id = id })).project
    p.spec.description = ("ü"):rep(256)
    S.fails("INVALID_ARGUMENT", emu.owner:call("UpdateProject", { project_id = id, spec = p.spec,
      resource_version = p.resource_version }))
    S.fails("PERMISSION_DENIED", emu.developer:call("CreateProject", { spec = { display_name = "dev" } }))
    S.fails("NOT_FOUND", emu.owner:call("GetProject", { project_id = "nope" }))
  end)

  it("are at most max_projects per account, the Default Project included", function()
    local small = S.new { max_projects = 2 }
    S.ok(small.owner:call("CreateProject", { spec = { display_name = "second" } }))
    local err = S.fails("FAILED_PRECONDITION", small.owner:call("CreateProject", { spec = { display_name = "third" } }))
    assert.matches("limit", err.message)
    for i = 2, 5 do S.ok(emu.owner:call("CreateProject", { spec = { display_name = "p" .. i } })) end
    S.fails("FAILED_PRECONDITION", emu.owner:call("CreateProject", { spec = { display_name = "p6" } }))
  end)

  it("are deleted only when they hold nothing, never the last one", function()
    local d = default_project(emu)
    local err = S.fails("FAILED_PRECONDITION", emu.owner:call("DeleteProject", { project_id = d.id }))
    assert.matches("last project", err.message)
    local p = project(emu, "team")
    err = S.fails("FAILED_PRECONDITION", emu.owner:call("DeleteProject", { project_id = d.id }))
    assert.matches("delete protection", err.message)
    local ns = namespace_in(emu, "in-team", p.id)
    assert.are.equal(p.id, ns.project_id)
    err = S.fails("FAILED_PRECONDITION", emu.owner:call("DeleteProject", { project_id = p.id }))
    assert.matches("namespace " .. ns.namespace, err.message, 1, true)
    S.ok(emu.owner:call("DeleteNamespace", { namespace = ns.namespace }))
    emu.advance(2)
    local sa = S.ok(emu.owner:call("CreateServiceAccount", { spec = { name = "team-bot",
      project_scoped_access = { project_id = p.id, access = { role = "PROJECT_ROLE_READ" } } } }))
    emu.advance(2)
    err = S.fails("FAILED_PRECONDITION", emu.owner:call("DeleteProject", { project_id = p.id }))
    assert.matches("project-scoped service account", err.message, 1, true)
    S.ok(emu.owner:call("DeleteServiceAccount", { service_account_id = sa.service_account_id }))
    emu.advance(2)
    S.ok(emu.owner:call("DeleteProject", { project_id = p.id }))
    emu.advance(2)
  end)

  it("leave the account without a Default Project once it is deleted", function()
    local d = default_project(emu)
    local p = project(emu, "only")
    S.ok(emu.owner:call("UpdateProject", { project_id = d.id, spec = { display_name = d.spec.display_name,
      lifecycle = { enable_delete_protection = false } } }))
    emu.advance(2)
    S.ok(emu.owner:call("DeleteProject", { project_id = d.id }))
    emu.advance(2)
    local err = S.fails("FAILED_PRECONDITION", emu.owner:call("CreateNamespace", { spec = S.namespace_spec("lost") }))
    assert.matches("project_id is required", err.message)
    assert.are.equal(p.id, namespace_in(emu, "found", p.id).project_id)
  end)

  it("filter namespaces, Nexus endpoints and connectivity rules by project_id", function()
    local d = default_project(emu)
    local p = project(emu, "filtered")
    local a = namespace_in(emu, "in-default")
    local b = namespace_in(emu, "in-filtered", p.id)
    local function names(pid)
      local list = {}
      for _, ns in ipairs(S.ok(emu.owner:call("GetNamespaces", { project_id = pid })).namespaces) do
        list[#list + 1] = ns.namespace
      end
      return list
    end
    assert.are.same({ a.namespace }, names(d.id))
    assert.are.same({ b.namespace }, names(p.id))
    assert.are.equal(2, #names(nil))
    local ep = S.ok(emu.owner:call("CreateNexusEndpoint", { project_id = p.id, spec = { name = "ep",
      target_spec = { worker_target_spec = { namespace_id = b.namespace, task_queue = "q" } } } }))
    assert.are.equal(1, #S.ok(emu.owner:call("GetNexusEndpoints", { project_id = p.id })).endpoints)
    assert.are.equal(0, #S.ok(emu.owner:call("GetNexusEndpoints", { project_id = d.id })).endpoints)
    local got = S.ok(emu.owner:call("GetNexusEndpoint", { endpoint_id = ep.endpoint_id })).endpoint
    assert.are.equal(p.id, got.project_id)
    S.ok(emu.owner:call("CreateConnectivityRule", { project_id = p.id, spec = { public_rule = {} } }))
    assert.are.equal(1, #S.ok(emu.owner:call("GetConnectivityRules", { project_id = p.id })).connectivity_rules)
    assert.are.equal(0, #S.ok(emu.owner:call("GetConnectivityRules", { project_id = d.id })).connectivity_rules)
    S.fails("NOT_FOUND", emu.owner:call("CreateConnectivityRule", { project_id = "nope", spec = { public_rule = {} } }))
  end)

  -- docs.temporal.io/evaluate/cloud/limits, "Project level": "Each non-default Project supports up to
  -- one Public Connectivity Rule", "Default: 6"; the Default Project has the account's limits.
  it("hold one public connectivity rule each, and at most 6 rules a non-default project", function()
    local a, b = project(emu, "rules-a"), project(emu, "rules-b")
    local function rule(pid, spec)
      return emu.owner:call("CreateConnectivityRule", { project_id = pid, spec = spec })
    end
    S.ok(rule(nil, { public_rule = {} }))        -- the Default Project's: the account's one
    S.ok(rule(a.id, { public_rule = {} }))
    S.ok(rule(b.id, { public_rule = { enable_stable_ips = true } }))
    local err = S.fails("ALREADY_EXISTS", rule(a.id, { public_rule = {} }))
    assert.matches("project " .. a.id .. " already has a public connectivity rule", err.message, 1, true)
    err = S.fails("ALREADY_EXISTS", rule(nil, { public_rule = {} }))
    assert.matches("the account already has a public connectivity rule", err.message, 1, true)
    for i = 1, 5 do
      S.ok(rule(a.id, { private_rule = { region = "aws-us-east-1", connection_id = "vpce-a" .. i } }))
    end
    emu.advance(2)
    err = S.fails("FAILED_PRECONDITION", rule(a.id, { private_rule = { region = "aws-us-east-1",
      connection_id = "vpce-a6" } }))
    assert.matches("already has 6 connectivity rules", err.message, 1, true)
    -- the Default Project counts against the account's limits only
    for i = 1, 7 do
      S.ok(rule(nil, { private_rule = { region = "aws-us-east-1", connection_id = "vpce-d" .. i } }))
    end
  end)

  it("give their roles' access: Admin manages the project and its namespaces, Contribute creates", function()
    local p = project(emu, "roles")
    local ns = namespace_in(emu, "roles-ns", p.id)
    local uid, user = S.principal(emu, "user", { email = "pa@example.com",
      access = { account_access = { role = "ROLE_READ" } } })
    S.fails("PERMISSION_DENIED", user:call("UpdateProject", { project_id = p.id, spec = { display_name = "x" } }))
    S.fails("PERMISSION_DENIED",
      user:call("CreateNamespace", { project_id = p.id, spec = S.namespace_spec("by-user") }))
    grant(emu, "SetUserProjectAccess", "user_id", uid, p.id, "PROJECT_ROLE_CONTRIBUTE")
    S.ok(user:call("CreateNamespace", { project_id = p.id, spec = S.namespace_spec("by-user") }))
    S.fails("PERMISSION_DENIED", user:call("CreateNamespace", { spec = S.namespace_spec("not-default") }))
    local spec = ns.spec
    spec.retention_days = 11
    S.fails("PERMISSION_DENIED", user:call("UpdateNamespace", { namespace = ns.namespace, spec = spec }))
    grant(emu, "SetUserProjectAccess", "user_id", uid, p.id, "PROJECT_ROLE_ADMIN")
    S.ok(user:call("UpdateNamespace", { namespace = ns.namespace, spec = spec }))
    S.ok(user:call("UpdateProject", { project_id = p.id, spec = { display_name = "renamed" } }))
    -- the developer role is inherited, never given; removing the access takes it away
    local u = S.ok(emu.owner:call("GetUser", { user_id = uid })).user
    S.fails("INVALID_ARGUMENT", emu.owner:call("SetUserProjectAccess", { project_id = p.id, user_id = uid,
      access = { role = "PROJECT_ROLE_DEVELOPER" } }))
    S.fails("PERMISSION_DENIED",
      emu.developer:call("SetUserProjectAccess", { project_id = p.id, user_id = uid, access = {} }))
    S.ok(emu.owner:call("SetUserProjectAccess", { project_id = p.id, user_id = uid, access = {},
      resource_version = u.resource_version }))
    emu.advance(2)
    assert.is_nil(S.ok(emu.owner:call("GetUser", { user_id = uid })).user.spec.access.project_accesses[p.id])
    S.fails("PERMISSION_DENIED", user:call("UpdateProject", { project_id = p.id, spec = { display_name = "y" } }))
  end)

  it("reach users through their groups, and are listed per project with inherited ones marked", function()
    local p = project(emu, "listed")
    local g = S.ok(emu.owner:call("CreateUserGroup", { spec = { display_name = "writers", cloud_group = {} } }))
    emu.advance(2)
    grant(emu, "SetUserGroupProjectAccess", "group_id", g.group_id, p.id, "PROJECT_ROLE_WRITE")
    local uid, user = S.principal(emu, "user", { email = "member@example.com",
      access = { account_access = { role = "ROLE_READ" } } })
    S.ok(emu.owner:call("AddUserGroupMember", { group_id = g.group_id, member_id = { user_id = uid } }))
    emu.advance(2)
    local ns = namespace_in(emu, "writable", p.id)
    -- Write is write access to the project's namespaces, not their administration
    local rows = S.ok(emu.owner:call("GetUserGroupNamespaceAssignments", { namespace = ns.namespace })).groups
    assert.are.equal("PERMISSION_WRITE", rows[1].namespace_access.permission)
    assert.is_true(rows[1].inherited_access)
    S.ok(user:call("CreateNamespace", { project_id = p.id, spec = S.namespace_spec("by-member") }))
    S.fails("PERMISSION_DENIED", user:call("DeleteNamespace", { namespace = ns.namespace }))

    grant(emu, "SetUserProjectAccess", "user_id", uid, p.id, "PROJECT_ROLE_LIST")
    local by_email = {}
    for _, row in ipairs(S.ok(emu.owner:call("GetUserProjectAssignments", { project_id = p.id })).users) do
      by_email[row.email] = row
    end
    assert.are.equal("PROJECT_ROLE_ADMIN", by_email["owner@example.com"].project_access.role)
    assert.is_true(by_email["owner@example.com"].inherited_access)
    assert.are.equal("PROJECT_ROLE_DEVELOPER", by_email["developer@example.com"].project_access.role)
    assert.are.equal("PROJECT_ROLE_LIST", by_email["member@example.com"].project_access.role)
    assert.is_false(by_email["member@example.com"].inherited_access)
    assert.is_nil(by_email["reader@example.com"])
    local groups = S.ok(emu.owner:call("GetUserGroupProjectAssignments", { project_id = p.id })).groups
    assert.are.equal(1, #groups)
    assert.are.equal("writers", groups[1].display_name)
    local sas = S.ok(emu.owner:call("GetServiceAccountProjectAssignments", { project_id = p.id })).service_accounts
    assert.are.equal("emulator-admin", sas[1].name)
    assert.is_true(sas[1].inherited_access)
    local page = S.ok(emu.owner:call("GetUserProjectAssignments", { project_id = p.id, page_size = 2 }))
    assert.are.equal(2, #page.users)
    assert.are_not.equal("", page.next_page_token)
  end)

  it("hold project-scoped service accounts, which their admins manage", function()
    local p = project(emu, "scoped")
    local other = project(emu, "other")
    local ns = namespace_in(emu, "scoped-ns", p.id)
    local outside = namespace_in(emu, "outside-ns")
    S.fails("INVALID_ARGUMENT", emu.owner:call("CreateServiceAccount", { spec = { name = "bad",
      project_scoped_access = { project_id = p.id, access = { role = "PROJECT_ROLE_DEVELOPER" } } } }))
    S.fails("INVALID_ARGUMENT", emu.owner:call("CreateServiceAccount", { spec = { name = "bad",
      project_scoped_access = { project_id = p.id, access = { role = "PROJECT_ROLE_READ" },
        namespace_accesses = { [outside.namespace] = { permission = "PERMISSION_READ" } } } } }))
    local said, bot = S.principal(emu, "service_account", { name = "scoped-bot",
      project_scoped_access = { project_id = p.id, access = { role = "PROJECT_ROLE_ADMIN" } } })
    local listed = S.ok(emu.owner:call("GetProjectScopedServiceAccounts", { project_id = p.id })).service_accounts
    assert.are.equal(1, #listed)
    assert.are.equal(said, listed[1].id)
    local scoped = S.ok(emu.owner:call("GetProjectScopedServiceAccounts", { project_id = other.id }))
    assert.are.equal(0, #scoped.service_accounts)
    -- it sees and administers its project's namespaces only
    local seen = S.ok(bot:call("GetNamespaces", {})).namespaces
    assert.are.equal(1, #seen)
    assert.are.equal(ns.namespace, seen[1].namespace)
    S.fails("PERMISSION_DENIED", bot:call("GetNamespace", { namespace = outside.namespace }))
    S.ok(bot:call("CreateNamespace", { project_id = p.id, spec = S.namespace_spec("by-bot") }))
    S.fails("PERMISSION_DENIED",
      bot:call("CreateNamespace", { project_id = other.id, spec = S.namespace_spec("elsewhere") }))
    -- as its project's admin, it makes another scoped service account and its key
    local helper = S.ok(bot:call("CreateServiceAccount", { spec = { name = "helper",
      project_scoped_access = { project_id = p.id, access = { role = "PROJECT_ROLE_READ" } } } }))
    S.ok(bot:call("CreateApiKey", { spec = { owner_id = helper.service_account_id, display_name = "helper key",
      owner_type = "OWNER_TYPE_SERVICE_ACCOUNT", expiry_time = S.year_from(emu) } }))
    S.fails("PERMISSION_DENIED", bot:call("CreateServiceAccount", { spec = { name = "elsewhere",
      project_scoped_access = { project_id = other.id, access = { role = "PROJECT_ROLE_READ" } } } }))
    emu.advance(2)
    -- its scope is for good: another project, or an account scope, is refused
    local sa = S.ok(emu.owner:call("GetServiceAccount", { service_account_id = said })).service_account
    local moved = { name = "scoped-bot", project_scoped_access = { project_id = other.id,
      access = { role = "PROJECT_ROLE_ADMIN" } } }
    S.fails("INVALID_ARGUMENT", emu.owner:call("UpdateServiceAccount", { service_account_id = said, spec = moved }))
    S.fails("INVALID_ARGUMENT", emu.owner:call("UpdateServiceAccount", { service_account_id = said,
      spec = { name = "scoped-bot", access = { account_access = { role = "ROLE_READ" } } } }))
    S.fails("INVALID_ARGUMENT", emu.owner:call("SetServiceAccountProjectAccess", { project_id = other.id,
      service_account_id = said, access = { role = "PROJECT_ROLE_READ" } }))
    S.ok(emu.owner:call("SetServiceAccountProjectAccess", { project_id = p.id, service_account_id = said,
      access = { role = "PROJECT_ROLE_READ" }, resource_version = sa.resource_version }))
    emu.advance(2)
    S.fails("PERMISSION_DENIED", bot:call("CreateNamespace", { project_id = p.id, spec = S.namespace_spec("no-more") }))
    -- namespace access within its project
    S.fails("INVALID_ARGUMENT", emu.owner:call("SetServiceAccountNamespaceAccess", { namespace = outside.namespace,
      service_account_id = said, access = { permission = "PERMISSION_WRITE" } }))
    S.ok(emu.owner:call("SetServiceAccountNamespaceAccess", { namespace = ns.namespace,
      service_account_id = said, access = { permission = "PERMISSION_WRITE" } }))
    emu.advance(2)
    local rows = S.ok(emu.owner:call("GetServiceAccountNamespaceAssignments",
      { namespace = ns.namespace })).service_accounts
    local found
    for _, row in ipairs(rows) do if row.id == said then found = row end end
    assert.are.equal("PERMISSION_WRITE", found.namespace_access.permission)
    assert.is_false(found.inherited_access)
  end)

  it("are kept in the state file, with the Default Project", function()
    local path = helpers.tmpdir() .. "/state.lua"
    local e1 = S.new { state_file = path }
    local p = project(e1, "kept")
    assert(e1:save())
    local e2 = S.new { state_file = path }
    local ids = {}
    for _, q in ipairs(S.ok(e2.owner:call("GetProjects", {})).projects) do ids[q.id] = q.spec.display_name end
    assert.are.equal("kept", ids[p.id])
    assert.are.equal("Default Project", ids[e1.st.default_project])
    helpers.cleanup()
  end)
end)
