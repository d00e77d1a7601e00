-- resource_version: a new one on every change, a stale one rejected with FAILED_PRECONDITION.
local S = require "03-emulator.emu_support"

describe("emulator resource_version", function()
  local emu
  before_each(function() emu = S.new() end)

  it("changes on every namespace change and rejects a stale one", function()
    local ns = S.namespace(emu, "versioned")
    local v1 = ns.resource_version
    ns.spec.retention_days = 14
    S.ok(emu.owner:call("UpdateNamespace", { namespace = ns.namespace, spec = ns.spec, resource_version = v1 }))
    local v2 = S.ok(emu.owner:call("GetNamespace", { namespace = ns.namespace })).namespace.resource_version
    assert.are_not.equal(v1, v2)
    local err = S.fails("FAILED_PRECONDITION", emu.owner:call("UpdateNamespace",
      { namespace = ns.namespace, spec = ns.spec, resource_version = v1 }))
    assert.matches("resource_version", err.message)
    S.fails("FAILED_PRECONDITION",
      emu.owner:call("DeleteNamespace", { namespace = ns.namespace, resource_version = v1 }))
    S.fails("FAILED_PRECONDITION", emu.owner:call("RenameCustomSearchAttribute", { namespace = ns.namespace,
      resource_version = v1, existing_custom_search_attribute_name = "a", new_custom_search_attribute_name = "b" }))
  end)

  it("applies to users, groups, service accounts, keys, endpoints, rules, sinks and the account", function()
    local ns = S.namespace(emu, "vv")
    local user = S.ok(emu.owner:call("CreateUser", { spec = { email = "v@example.com",
      access = { account_access = { role = "ROLE_READ" } } } })).user_id
    local group = S.ok(emu.owner:call("CreateUserGroup", { spec = { display_name = "g", cloud_group = {},
      access = { account_access = { role = "ROLE_READ" } } } })).group_id
    local sa = S.ok(emu.owner:call("CreateServiceAccount", { spec = { name = "s",
      access = { account_access = { role = "ROLE_READ" } } } })).service_account_id
    local key = S.ok(emu.owner:call("CreateApiKey", { spec = { owner_id = sa,
      owner_type = "OWNER_TYPE_SERVICE_ACCOUNT", display_name = "k", expiry_time = S.year_from(emu) } })).key_id
    local ep = S.ok(emu.owner:call("CreateNexusEndpoint", { spec = { name = "ep1",
      target_spec = { worker_target_spec = { namespace_id = ns.namespace, task_queue = "q" } } } })).endpoint_id
    local rule = S.ok(emu.owner:call("CreateConnectivityRule", { spec = { public_rule = {} } })).connectivity_rule_id
    S.ok(emu.owner:call("CreateNamespaceExportSink", { namespace = ns.namespace, spec = { name = "sink1",
      enabled = true, s3 = { role_name = "r", bucket_name = "b", region = "us-east-1", aws_account_id = "1" } } }))
    emu.advance(2)
    local stale = "stale-version"
    local cases = {
      { "UpdateUser", { user_id = user, spec = { email = "v@example.com",
        access = { account_access = { role = "ROLE_READ" } } } } },
      { "SetUserNamespaceAccess", { user_id = user, namespace = ns.namespace,
        access = { permission = "PERMISSION_READ" } } },
      { "DeleteUser", { user_id = user } },
      { "UpdateUserGroup", { group_id = group, spec = { display_name = "g2", cloud_group = {},
        access = { account_access = { role = "ROLE_READ" } } } } },
      { "DeleteUserGroup", { group_id = group } },
      { "UpdateServiceAccount", { service_account_id = sa, spec = { name = "s",
        access = { account_access = { role = "ROLE_READ" } } } } },
      { "DeleteServiceAccount", { service_account_id = sa } },
      { "UpdateApiKey", { key_id = key, spec = { display_name = "k2" } } },
      { "DeleteApiKey", { key_id = key } },
      { "UpdateNexusEndpoint", { endpoint_id = ep, spec = { name = "ep1",
        target_spec = { worker_target_spec = { namespace_id = ns.namespace, task_queue = "q2" } } } } },
      { "DeleteNexusEndpoint", { endpoint_id = ep } },
      { "DeleteConnectivityRule", { connectivity_rule_id = rule } },
      { "UpdateNamespaceExportSink", { namespace = ns.namespace, spec = { name = "sink1",
        s3 = { role_name = "r", bucket_name = "b2", region = "us-east-1", aws_account_id = "1" } } } },
      { "DeleteNamespaceExportSink", { namespace = ns.namespace, name = "sink1" } },
      { "UpdateAccount", { spec = {} } },
    }
    for _, c in ipairs(cases) do
      local req = c[2]
      req.resource_version = stale
      local resp, err = emu.owner:call(c[1], req)
      assert.is_nil(resp, c[1])
      assert.are.equal(9, err.code, c[1] .. ": " .. tostring(err.message))
    end
  end)

  it("lets an update with the version just read go through", function()
    local acct = S.ok(emu.owner:call("GetAccount", {})).account
    S.ok(emu.owner:call("UpdateAccount", { spec = { metrics = { accepted_client_ca = S.CA } },
                                           resource_version = acct.resource_version }))
    emu.advance(2)
    local after = S.ok(emu.owner:call("GetAccount", {})).account
    assert.are_not.equal(acct.resource_version, after.resource_version)
    assert.matches("^https://emu01%.tmprl%.cloud", after.metrics.uri)
    assert.are.equal("RESOURCE_STATE_ACTIVE", after.state)
  end)
end)
