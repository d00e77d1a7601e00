-- Custom roles: their life cycle and checks, assignment through account_access.custom_roles,
-- and the calls their permissions allow.
local S = require "03-emulator.emu_support"

local function role(emu, name, permissions)
  local r = S.ok(emu.owner:call("CreateCustomRole", { spec = { name = name, permissions = permissions } }))
  emu.advance(2)
  return r.role_id
end

local function reader_with(emu, email, roles)
  return S.principal(emu, "user", { email = email,
    access = { account_access = { role = "ROLE_READ", custom_roles = roles } } })
end

describe("emulator custom roles", function()
  local emu
  before_each(function() emu = S.new() end)

  it("are created, read, listed, updated and deleted through their operations", function()
    local perms = { { resources = { resource_type = "account", allow_all = true }, actions = { "cloud.account.get" } } }
    local r = S.ok(emu.owner:call("CreateCustomRole",
      { spec = { name = "auditor", description = "reads", permissions = perms } }))
    local cr = S.ok(emu.owner:call("GetCustomRole", { role_id = r.role_id })).custom_role
    assert.are.equal("RESOURCE_STATE_ACTIVATING", cr.state)
    emu.advance(2)
    cr = S.ok(emu.owner:call("GetCustomRole", { role_id = r.role_id })).custom_role
    assert.are.equal("RESOURCE_STATE_ACTIVE", cr.state)
    assert.are.equal("cloud.account.get", cr.spec.permissions[1].actions[1])
    role(emu, "second", perms)
    local page = S.ok(emu.owner:call("GetCustomRoles", { page_size = 1 }))
    assert.are.equal(1, #page.custom_roles)
    assert.are_not.equal("", page.next_page_token)
    local spec = cr.spec
    spec.description = "changed"
    S.ok(emu.owner:call("UpdateCustomRole", { role_id = cr.id, spec = spec, resource_version = cr.resource_version }))
    S.fails("FAILED_PRECONDITION", emu.owner:call("UpdateCustomRole", { role_id = cr.id, spec = spec,
      resource_version = cr.resource_version }))
    emu.advance(2)
    S.ok(emu.owner:call("DeleteCustomRole", { role_id = cr.id }))
    emu.advance(2)
    S.fails("NOT_FOUND", emu.owner:call("GetCustomRole", { role_id = cr.id }))
  end)

  it("check names, resource types, permissions and resources", function()
    local ns = S.namespace(emu, "checked")
    local function bad(spec, code)
      S.fails(code or "INVALID_ARGUMENT", emu.owner:call("CreateCustomRole", { spec = spec }))
    end
    local ok_perm = { resources = { resource_type = "Namespace", resource_ids = { ns.namespace } },
                      actions = { "cloud.namespace.get" } }
    bad({ name = "", permissions = { ok_perm } })
    bad({ name = "empty", permissions = {} })
    bad({ name = "typo", permissions = { { resources = { resource_type = "namespace", allow_all = true },
      actions = { "cloud.namespace.gett" } } } })
    bad({ name = "wrong-type", permissions = { { resources = { resource_type = "account" },
      actions = { "cloud.namespace.update" } } } })
    bad({ name = "no-ids", permissions = { { resources = { resource_type = "namespace" },
      actions = { "cloud.namespace.get" } } } })
    bad({ name = "missing-ns", permissions = { { resources = { resource_type = "namespace",
      resource_ids = { "nope.emu01" } }, actions = { "cloud.namespace.get" } } } })
    bad({ name = "odd-type", permissions = { { resources = { resource_type = "galaxy", allow_all = true },
      actions = { "cloud.namespace.get" } } } })
    -- allow_all with resource_ids: "If true, resource_ids must be empty" (the Terraform provider's
    -- temporalcloud_custom_role, permissions.resources.allow_all)
    local err = S.fails("INVALID_ARGUMENT", emu.owner:call("CreateCustomRole", { spec = { name = "both",
      permissions = { { resources = { resource_type = "namespace", allow_all = true, resource_ids = { ns.namespace } },
                        actions = { "cloud.namespace.get" } } } } }))
    assert.matches("spec.permissions[1].resources: resource_ids must be empty when allow_all is true",
      err.message, 1, true)
    role(emu, "taken", { ok_perm })
    bad({ name = "taken", permissions = { ok_perm } }, "ALREADY_EXISTS")
    -- "Nexus Endpoint" and "nexus-endpoint" name the same type
    S.ok(emu.owner:call("CreateCustomRole", { spec = { name = "nexus", permissions = { { resources = {
      resource_type = "Nexus Endpoint", allow_all = true }, actions = { "cloud.nexusendpoint.get" } } } } }))
    S.fails("PERMISSION_DENIED",
      emu.developer:call("CreateCustomRole", { spec = { name = "mine", permissions = { ok_perm } } }))
    S.fails("PERMISSION_DENIED", emu.reader:call("GetCustomRoles", {}))
  end)

  it("are given in account_access.custom_roles, which must name existing roles", function()
    S.fails("INVALID_ARGUMENT", emu.owner:call("CreateUser", { spec = { email = "x@example.com",
      access = { account_access = { role = "ROLE_READ", custom_roles = { "missing" } } } } }))
    local rid = role(emu, "given", { { resources = { resource_type = "account" }, actions = { "cloud.usage.get" } } })
    local uid = S.principal(emu, "user", { email = "given@example.com",
      access = { account_access = { role = "ROLE_READ", custom_roles = { rid } } } })
    local u = S.ok(emu.owner:call("GetUser", { user_id = uid })).user
    assert.are.same({ rid }, u.spec.access.account_access.custom_roles)
  end)

  it("allow the calls their permissions name, on the resources they name", function()
    local a = S.namespace(emu, "granted")
    local b = S.namespace(emu, "other")
    local rid = role(emu, "ns-editor", {
      { resources = { resource_type = "namespace", resource_ids = { a.namespace } },
        actions = { "cloud.namespace.update", "cloud.namespace.exportsink.create" } },
      { resources = { resource_type = "account" }, actions = { "cloud.auditlog.list", "cloud.usage.get" } },
    })
    local _, plain = reader_with(emu, "plain@example.com", nil)
    local _, editor = reader_with(emu, "editor@example.com", { rid })
    local function update(caller, ns)
      local spec = ns.spec
      spec.retention_days = spec.retention_days + 1
      return caller:call("UpdateNamespace", { namespace = ns.namespace, spec = spec })
    end
    S.fails("PERMISSION_DENIED", update(plain, a))
    S.ok(update(editor, a))
    S.fails("PERMISSION_DENIED", update(editor, b))
    S.fails("PERMISSION_DENIED", plain:call("GetAuditLogs", {}))
    S.ok(editor:call("GetAuditLogs", {}))
    S.ok(editor:call("GetUsage", {}))
    -- a permission not in the role stays with the account role
    S.fails("PERMISSION_DENIED", editor:call("DeleteNamespace", { namespace = a.namespace }))
    S.fails("PERMISSION_DENIED", editor:call("UpdateAccount", { spec = {} }))
  end)

  it("reach the members of a group that holds them", function()
    local a = S.namespace(emu, "via-group")
    local rid = role(emu, "updater", { { resources = { resource_type = "namespace", allow_all = true },
                                         actions = { "cloud.namespace.update" } } })
    local g = S.ok(emu.owner:call("CreateUserGroup", { spec = { display_name = "updaters", cloud_group = {},
      access = { account_access = { custom_roles = { rid } } } } }))
    local uid, member = reader_with(emu, "m@example.com", nil)
    local spec = a.spec
    spec.retention_days = 12
    S.fails("PERMISSION_DENIED", member:call("UpdateNamespace", { namespace = a.namespace, spec = spec }))
    S.ok(emu.owner:call("AddUserGroupMember", { group_id = g.group_id, member_id = { user_id = uid } }))
    emu.advance(2)
    S.ok(member:call("UpdateNamespace", { namespace = a.namespace, spec = spec }))
  end)

  it("stop allowing when deleted, and leave the accesses that named them", function()
    local rid = role(emu, "temporary",
      { { resources = { resource_type = "account" }, actions = { "cloud.auditlog.list" } } })
    local uid, user = reader_with(emu, "t@example.com", { rid })
    S.ok(user:call("GetAuditLogs", {}))
    S.ok(emu.owner:call("DeleteCustomRole", { role_id = rid }))
    emu.advance(2)
    S.fails("PERMISSION_DENIED", user:call("GetAuditLogs", {}))
    local u = S.ok(emu.owner:call("GetUser", { user_id = uid })).user
    assert.are.same({}, u.spec.access.account_access.custom_roles)
  end)
end)
