-- Authentication, the version header, roles, the request log.
local S = require "03-emulator.emu_support"

local function md(token, version)
  return { authorization = token and ("Bearer " .. token) or nil,
           ["temporal-cloud-api-version"] = version }
end

describe("emulator authentication", function()
  local emu
  before_each(function() emu = S.new() end)

  it("requires the authorization header", function()
    local err = S.fails("UNAUTHENTICATED", emu:call("GetNamespaces", {}, md(nil, "v0.19.1")))
    assert.matches("missing authorization", err.message)
  end)

  it("rejects an unknown key and a malformed header", function()
    S.fails("UNAUTHENTICATED", emu:call("GetNamespaces", {}, md("nope", "v0.19.1")))
    local err = S.fails("UNAUTHENTICATED", emu:call("GetNamespaces", {},
      { authorization = "Basic abc", ["temporal-cloud-api-version"] = "v0.19.1" }))
    assert.matches("malformed", err.message)
  end)

  it("accepts the bearer scheme in any case", function()
    S.ok(emu:call("GetNamespaces", {}, { authorization = "bearer " .. emu.keys.owner,
      ["temporal-cloud-api-version"] = "v0.19.1" }))
  end)

  it("requires temporal-cloud-api-version", function()
    local err = S.fails("INVALID_ARGUMENT", emu:call("GetNamespaces", {}, md(emu.keys.owner)))
    assert.matches("temporal%-cloud%-api%-version", err.message)
  end)

  it("uses the API key given for the owner", function()
    local e2 = S.new { api_key = "my-fixed-key" }
    assert.are.equal("my-fixed-key", e2.keys.owner)
    S.ok(e2:call("GetAccount", {}, md("my-fixed-key", "v0.19.1")))
  end)

  it("answers GetCurrentIdentity for a user and for a service account", function()
    local r = S.ok(emu.owner:call("GetCurrentIdentity", {}))
    assert.are.equal("owner@example.com", r.user.spec.email)
    assert.is_nil(r.service_account)
    assert.are.equal(emu.st.tokens[emu.keys.owner], r.principal_api_key.id)
    r = S.ok(emu.admin:call("GetCurrentIdentity", {}))
    assert.are.equal("emulator-admin", r.service_account.spec.name)
    assert.is_nil(r.user)
  end)

  it("refuses disabled, expired and deleted keys", function()
    local me = S.ok(emu.owner:call("GetCurrentIdentity", {})).user
    local created = S.ok(emu.owner:call("CreateApiKey", { spec = {
      owner_id = me.id, owner_type = "OWNER_TYPE_USER", display_name = "k",
      expiry_time = { seconds = math.floor(emu.test_clock.t) + 10, nanos = 0 } } }))
    local c = emu:client(created.token)
    S.fails("UNAUTHENTICATED", c:call("GetAccount", {}))     -- still ACTIVATING
    emu.advance(2)
    S.ok(c:call("GetAccount", {}))
    emu.advance(10)
    local err = S.fails("UNAUTHENTICATED", c:call("GetAccount", {}))
    assert.matches("expired", err.message)
    local k = S.ok(emu.owner:call("GetApiKey", { key_id = created.key_id })).api_key
    k.spec.disabled = true
    k.spec.expiry_time = S.year_from(emu)
    S.ok(emu.owner:call("UpdateApiKey", { key_id = k.id, spec = k.spec,
                                          resource_version = k.resource_version }))
    emu.advance(2)
    err = S.fails("UNAUTHENTICATED", c:call("GetAccount", {}))
    assert.matches("disabled", err.message)
    k = S.ok(emu.owner:call("GetApiKey", { key_id = created.key_id })).api_key
    S.ok(emu.owner:call("DeleteApiKey", { key_id = k.id, resource_version = k.resource_version }))
    emu.advance(2)
    err = S.fails("UNAUTHENTICATED", c:call("GetAccount", {}))
    assert.matches("invalid API key", err.message)
  end)
end)

describe("emulator roles", function()
  local emu
  before_each(function() emu = S.new() end)

  it("denies a read-only user's mutations", function()
    local err = S.fails("PERMISSION_DENIED",
      emu.reader:call("CreateNamespace", { spec = S.namespace_spec("ro") }))
    assert.matches("reader@example.com", err.message)
    S.fails("PERMISSION_DENIED", emu.reader:call("CreateUser", { spec = {
      email = "x@example.com", access = { account_access = { role = "ROLE_READ" } } } }))
    S.ok(emu.reader:call("GetNamespaces", {}))
  end)

  it("lets a developer create a namespace and administer it, not others", function()
    local mine = S.ok(emu.developer:call("CreateNamespace", { spec = S.namespace_spec("devns") }))
    local other = S.namespace(emu, "ownerns")
    emu.advance(2)
    local ns = S.ok(emu.developer:call("GetNamespace", { namespace = mine.namespace })).namespace
    ns.spec.retention_days = 9
    S.ok(emu.developer:call("UpdateNamespace", { namespace = ns.namespace, spec = ns.spec,
                                                 resource_version = ns.resource_version }))
    other.spec.retention_days = 9
    S.fails("PERMISSION_DENIED", emu.developer:call("UpdateNamespace", {
      namespace = other.namespace, spec = other.spec, resource_version = other.resource_version }))
    S.fails("PERMISSION_DENIED", emu.developer:call("CreateUser", { spec = {
      email = "x@example.com", access = { account_access = { role = "ROLE_READ" } } } }))
  end)

  it("keeps ownership to owners and tags to owners and admins", function()
    S.fails("PERMISSION_DENIED", emu.admin:call("CreateUser", { spec = {
      email = "boss@example.com", access = { account_access = { role = "ROLE_OWNER" } } } }))
    S.ok(emu.owner:call("CreateUser", { spec = {
      email = "boss@example.com", access = { account_access = { role = "ROLE_OWNER" } } } }))
    local ns = S.namespace(emu, "tagged")
    S.fails("PERMISSION_DENIED", emu.developer:call("UpdateNamespaceTags", {
      namespace = ns.namespace, tags_to_upsert = { team = "a" } }))
    S.ok(emu.admin:call("UpdateNamespaceTags", { namespace = ns.namespace, tags_to_upsert = { team = "a" } }))
    S.ok(emu.owner:call("UpdateNamespaceTags", { namespace = ns.namespace, tags_to_upsert = { team = "b" } }))
  end)

  -- docs.temporal.io/cloud/manage-access/users, "Update a user's account-level role": "you cannot
  -- remove the Account Owner role from a user. Removing the Account Owner role must be made
  -- through Temporal Support".
  it("leaves an Account Owner's role and account to Temporal Support: one Owner cannot demote another", function()
    local boss = S.ok(emu.owner:call("CreateUser", { spec = {
      email = "second@example.com", access = { account_access = { role = "ROLE_OWNER" } } } })).user_id
    emu.advance(2)
    local u = S.ok(emu.owner:call("GetUser", { user_id = boss })).user
    u.spec.access.account_access.role = "ROLE_ADMIN"
    local err = S.fails("PERMISSION_DENIED", emu.owner:call("UpdateUser", { user_id = boss, spec = u.spec,
      resource_version = u.resource_version }))
    assert.matches("Account Owner; removing the role goes through Temporal Support", err.message, 1, true)
    err = S.fails("PERMISSION_DENIED", emu.owner:call("DeleteUser", { user_id = boss,
      resource_version = u.resource_version }))
    assert.matches("deleting one goes through Temporal Support", err.message, 1, true)
    -- nor can the owner demote itself; an owner's other fields still change
    local me = S.ok(emu.owner:call("GetCurrentIdentity", {})).user
    me.spec.access.account_access.role = "ROLE_READ"
    S.fails("PERMISSION_DENIED", emu.owner:call("UpdateUser", { user_id = me.id, spec = me.spec }))
    u.spec.access.account_access.role = "ROLE_OWNER"
    u.spec.access.namespace_accesses = { [S.namespace(emu, "bosses").namespace] = { permission = "PERMISSION_READ" } }
    S.ok(emu.owner:call("UpdateUser", { user_id = boss, spec = u.spec, resource_version = u.resource_version }))
    -- and an admin still cannot touch an owner at all
    S.fails("PERMISSION_DENIED", emu.admin:call("UpdateUser", { user_id = boss, spec = u.spec }))
  end)

  it("lets only an account owner grant Finance Admin, to users, groups and service accounts", function()
    local finance = { account_access = { role = "ROLE_FINANCE_ADMIN" } }
    local reads = { account_access = { role = "ROLE_READ" } }
    S.fails("PERMISSION_DENIED", emu.admin:call("CreateUser", { spec = { email = "f@example.com", access = finance } }))
    S.fails("PERMISSION_DENIED", emu.admin:call("CreateUserGroup", { spec = { display_name = "fin",
      cloud_group = {}, access = finance } }))
    S.fails("PERMISSION_DENIED", emu.admin:call("CreateServiceAccount", { spec = { name = "fin", access = finance } }))
    local uid = S.ok(emu.admin:call("CreateUser", { spec = { email = "r@example.com", access = reads } })).user_id
    emu.advance(2)
    local u = S.ok(emu.admin:call("GetUser", { user_id = uid })).user
    u.spec.access = finance
    S.fails("PERMISSION_DENIED", emu.admin:call("UpdateUser", { user_id = uid, spec = u.spec }))
    S.ok(emu.owner:call("UpdateUser", { user_id = uid, spec = u.spec, resource_version = u.resource_version }))
    emu.advance(2)
    -- an admin may change what else a finance admin has, keeping the role
    u = S.ok(emu.admin:call("GetUser", { user_id = uid })).user
    u.spec.access.namespace_accesses = { [S.namespace(emu, "fin-ns").namespace] = { permission = "PERMISSION_READ" } }
    S.ok(emu.admin:call("UpdateUser", { user_id = uid, spec = u.spec }))
    S.ok(emu.owner:call("CreateServiceAccount", { spec = { name = "fin", access = finance } }))
  end)

  it("gives namespace admins rights on their namespace through a group", function()
    local ns = S.namespace(emu, "grp")
    local reader = S.ok(emu.reader:call("GetCurrentIdentity", {})).user
    local g = S.ok(emu.owner:call("CreateUserGroup", { spec = { display_name = "ops",
      cloud_group = {}, access = { namespace_accesses = {
        [ns.namespace] = { permission = "PERMISSION_ADMIN" } } } } }))
    emu.advance(2)
    S.ok(emu.owner:call("AddUserGroupMember", { group_id = g.group_id, member_id = { user_id = reader.id } }))
    ns.spec.retention_days = 11
    local req = { namespace = ns.namespace, spec = ns.spec, resource_version = ns.resource_version }
    S.fails("PERMISSION_DENIED", emu.reader:call("UpdateNamespace", req))   -- not a member yet
    emu.advance(2)
    S.ok(emu.reader:call("UpdateNamespace", req))
  end)

  it("gives a namespace-scoped service account the Read role and its one namespace's permission", function()
    local a = S.namespace(emu, "scoped-a")
    local b = S.namespace(emu, "scoped-b")
    local sa = S.ok(emu.owner:call("CreateServiceAccount", { spec = { name = "scoped",
      namespace_scoped_access = { namespace = a.namespace, access = { permission = "PERMISSION_ADMIN" } } } }))
    local key = S.ok(emu.owner:call("CreateApiKey", { spec = { owner_id = sa.service_account_id,
      owner_type = "OWNER_TYPE_SERVICE_ACCOUNT", display_name = "k", expiry_time = S.year_from(emu) } }))
    emu.advance(2)
    local c = emu:client(key.token)
    -- the Read account role: it reads the account
    assert.are.equal(2, #S.ok(c:call("GetNamespaces", {})).namespaces)
    S.ok(c:call("GetUsers", {}))
    S.fails("PERMISSION_DENIED", c:call("CreateUser", { spec = { email = "x@example.com",
      access = { account_access = { role = "ROLE_READ" } } } }))
    -- and admin on its namespace only
    for _, ns in ipairs { a, b } do
      ns = S.ok(c:call("GetNamespace", { namespace = ns.namespace })).namespace
      ns.spec.retention_days = 12
      local resp, err = c:call("UpdateNamespace", { namespace = ns.namespace, spec = ns.spec,
                                                   resource_version = ns.resource_version })
      if ns.namespace == a.namespace then S.ok(resp, err) else S.fails("PERMISSION_DENIED", resp, err) end
    end
  end)
end)

describe("emulator request log", function()
  it("writes one line per request, naming the key by id and never its token", function()
    local lines = {}
    local emu = S.new { log = function(l) lines[#lines + 1] = l end }
    emu.owner:call("GetNamespaces", {})
    emu:call("GetNamespaces", {}, md("secret-token-xyz", "v0.19.1"))
    assert.are.equal(2, #lines)
    assert.matches("GetNamespaces OK", lines[1])
    assert.matches("api_key_id=" .. emu.st.tokens[emu.keys.owner], lines[1], 1, true)
    assert.is_nil(lines[1]:find(emu.keys.owner, 1, true))
    assert.matches("UNAUTHENTICATED", lines[2])
    assert.is_nil(lines[2]:find("secret-token-xyz", 1, true))
    assert.matches("<redacted>", lines[2], 1, true)
  end)
end)
