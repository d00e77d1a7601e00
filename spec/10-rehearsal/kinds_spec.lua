-- cloudops.kinds: the facts per resource kind that snapshot, twin, diff, plan and apply share,
-- derived from the schema where it can say them.
require "helpers"
local kinds = require "cloudops.kinds"
local schema = require "cloudops.schema"
local cloudops = require "cloudops"

local function field_type(message, name)
  for _, f in ipairs(cloudops.describe(message).fields) do
    if f.name == name then return f end
  end
end

describe("cloudops.kinds", function()
  it("lists every kind a snapshot holds, in dependency order", function()
    local names = {}
    for i, k in ipairs(kinds.list) do
      names[i] = k.name
      assert.equal(i, k.order)
      assert.equal(k, kinds.get(k.name))
      assert.equal(k, kinds.get(k.kind))
    end
    assert.same({ "account", "projects", "custom_roles", "connectivity_rules", "namespaces",
      "namespace_export_sinks", "nexus_endpoints", "user_groups", "users", "service_accounts",
      "api_keys", "account_audit_log_sinks" }, names)
    assert.is_nil(kinds.get("billing_reports"))
  end)

  it("derives each kind's RPCs and messages from the schema", function()
    for _, k in ipairs(kinds.list) do
      local get = schema.method(k.get.method)
      assert.is_truthy(get, k.name)
      -- the resource is the Get response's field, of the kind's message
      assert.equal(k.message, field_type(get.output, k.get.field).type_name, k.name)
      assert.equal(k.spec, field_type(k.message, "spec").type_name, k.name)
      if k.list then
        local list = schema.method(k.list.method)
        assert.equal(list.items, k.list.items)
        assert.equal(k.message, field_type(list.output, k.list.items).type_name, k.name)
        assert.equal(1000, k.list.page_size)
      else
        assert.is_true(k.singleton)
      end
      for _, op in ipairs { "create", "update", "delete" } do
        if k[op] then
          local m = schema.method(k[op].method)
          assert.is_true(m.mutation, k[op].method)
          for _, f in ipairs(k[op].ids) do assert.is_truthy(field_type(m.input, f), k[op].method .. "." .. f) end
        end
      end
      -- the spec is compared, the server's fields never are
      assert.equal("spec", k.compared[1])
      for _, name in ipairs(k.compared) do assert.is_nil(k.server_owned[name], k.name .. "." .. name) end
      assert.is_true(k.server_owned.resource_version, k.name)
      assert.is_true(k.server_owned.state, k.name)
    end
    local ns = kinds.get("namespaces")
    assert.same({ "project_id", "tags" }, ns.create.extras)
    assert.same({ "spec", "project_id", "tags", "active_region" }, ns.compared)
    assert.is_true(ns.server_owned.endpoints)
    assert.is_true(ns.server_owned.replicas)       -- the replicas' status; spec.replicas is compared
    assert.is_nil(kinds.get("connectivity_rules").update) -- the API has no UpdateConnectivityRule
  end)

  it("knows the kinds listed per parent and their extras", function()
    local sinks = kinds.get("namespace_export_sinks")
    assert.equal("namespaces", sinks.list.parent)
    assert.equal("namespace", sinks.list.parent_field)
    assert.same({ "spec", "namespace" }, sinks.compared)
    local groups = kinds.get("user_groups")
    assert.equal("GetUserGroupMembers", groups.extras.members.method)
    assert.equal("members", groups.extras.members.items)
    assert.same({ "spec", "members" }, groups.compared)
  end)

  it("names each resource by id and by natural key", function()
    local users = kinds.get("users")
    local u = { id = "u1", spec = { email = "Alice@Example.COM" } }
    assert.equal("u1", users.id(u))
    assert.equal("alice@example.com", users.key(u))
    assert.is_true(users.fold["spec.email"])
    local sinks = kinds.get("namespace_export_sinks")
    local s = { namespace = "dev.acct", name = "s3-export", spec = { name = "s3-export" } }
    assert.equal("dev.acct/s3-export", sinks.id(s))
    local snap = { namespaces = { { namespace = "dev.acct", spec = { name = "dev" } } },
                   projects = { { id = "p1", spec = { display_name = "Payments" } } } }
    local name_of = kinds.names(snap)
    assert.equal("dev/s3-export", sinks.key(s, name_of))
    local rules = kinds.get("connectivity_rules")
    assert.equal("Payments/public", rules.key({ id = "r1", project_id = "p1", spec = { public_rule = {} } }, name_of))
    assert.equal("Payments/private/aws-us-east-1/vpce-1", rules.key({ id = "r2", project_id = "p1",
      spec = { private_rule = { region = "aws-us-east-1", connection_id = "vpce-1" } } }, name_of))
    -- an id the snapshot does not hold stands for itself
    assert.equal("gone.acct", name_of("namespaces", "gone.acct"))
  end)

  it("builds the id fields of each request from a snapshot entry", function()
    local sinks = kinds.get("namespace_export_sinks")
    local s = { namespace = "dev.acct", name = "s3-export" }
    assert.same({ namespace = "dev.acct", name = "s3-export" }, kinds.request_ids(sinks, "get", s))
    assert.same({ namespace = "dev.acct", name = "s3-export" }, kinds.request_ids(sinks, "delete", s))
    assert.same({ namespace = "dev.acct" }, kinds.request_ids(sinks, "update", s)) -- the name is in the spec
    local users = kinds.get("users")
    assert.same({ user_id = "u1" }, kinds.request_ids(users, "update", { id = "u1" }))
    assert.same({ namespace = "dev.acct" },
      kinds.request_ids(kinds.get("namespaces"), "delete", { namespace = "dev.acct" }))
    assert.same({}, kinds.request_ids(kinds.get("account"), "update", { id = "acct" }))
    assert.has_error(function() kinds.request_ids(kinds.get("connectivity_rules"), "update", { id = "r" }) end,
      "cloudops.kinds: connectivity_rule has no update RPC")
  end)

  it("maps every reference by id, map keys included, leaving the resource alone", function()
    local snap = {
      namespaces = { { namespace = "dev.acct", spec = { name = "dev" } } },
      projects = { { id = "p1", spec = { display_name = "Payments" } } },
      custom_roles = { { id = "cr1", spec = { name = "auditor" } } },
      users = { { id = "u1", spec = { email = "a@x.com" } }, { id = "u2", spec = { email = "B@x.com" } } },
      service_accounts = { { id = "sa1", spec = { name = "ci" } } },
    }
    local name_of = kinds.names(snap)
    local function to_name(to, v) return name_of(to, v) end
    local g = { id = "g1", members = { "u1", "u2", "u9" }, spec = { display_name = "eng", access = {
      account_access = { role = "ROLE_READ", custom_roles = { "cr1" } },
      namespace_accesses = { ["dev.acct"] = { permission = "PERMISSION_WRITE" } },
      project_accesses = { p1 = { role = "PROJECT_ROLE_ADMIN" } } } } }
    local named = kinds.map_refs(kinds.get("user_groups"), g, to_name)
    assert.same({ "a@x.com", "b@x.com", "u9" }, named.members)
    assert.same({ dev = { permission = "PERMISSION_WRITE" } }, named.spec.access.namespace_accesses)
    assert.same({ Payments = { role = "PROJECT_ROLE_ADMIN" } }, named.spec.access.project_accesses)
    assert.same({ "auditor" }, named.spec.access.account_access.custom_roles)
    assert.same({ "u1", "u2", "u9" }, g.members)                   -- the original is untouched
    assert.is_truthy(g.spec.access.namespace_accesses["dev.acct"])
    -- an API key's owner is a user or a service account, by its owner_type
    local keys = kinds.get("api_keys")
    assert.equal("ci", kinds.map_refs(keys, { id = "k", spec = { owner_id = "sa1",
      owner_type = "OWNER_TYPE_SERVICE_ACCOUNT" } }, to_name).spec.owner_id)
    assert.equal("a@x.com", kinds.map_refs(keys, { id = "k", spec = { owner_id = "u1",
      owner_type = "OWNER_TYPE_USER" } }, to_name).spec.owner_id)
    -- and back: names to ids, as a desired state needs
    local ids = { ["a@x.com"] = "u1", dev = "dev.acct" }
    local back = kinds.map_refs(kinds.get("users"), { spec = { email = "a@x.com", access = {
      namespace_accesses = { dev = { permission = "PERMISSION_READ" } } } } }, function(_, v) return ids[v] or v end)
    assert.same({ ["dev.acct"] = { permission = "PERMISSION_READ" } }, back.spec.access.namespace_accesses)
  end)

  it("allows a snapshot reads only: Get* RPCs without an async_operation_id", function()
    local n = 0
    for name in pairs(kinds.READS) do
      n = n + 1
      local m = schema.method(name)
      assert.is_false(m.mutation, name)
      assert.matches("^Get", name)
    end
    assert.is_true(n >= 20)
    assert.is_true(kinds.READS.GetUserGroupMembers)
    assert.is_true(kinds.READS.GetNamespaceExportSinks)
    assert.is_nil(kinds.READS.CreateNamespace)
    assert.is_nil(kinds.READS.GetAsyncOperation) -- nothing of a snapshot waits on an operation
  end)
end)
