-- cloudops.desired: the desired-state form (what plan and apply take, what export writes):
-- checked against the schema with messages that say where, read from JSON and Lua files,
-- written as stable JSON, and made from a snapshot.
local helpers = require "helpers"
local desired = require "cloudops.desired"
local cloudops = require "cloudops"

local function d1()
  return {
    projects = { { display_name = "Payments" } },
    namespaces = { { name = "pay", retention_days = 30, replicas = { { region = "aws-us-east-1" } },
                     api_key_auth = { enabled = true }, project_id = "Payments", tags = { team = "pay" } } },
    namespace_export_sinks = { { namespace = "pay", spec = { name = "history", enabled = true,
      s3 = { role_name = "r", bucket_name = "b", region = "us-east-1", aws_account_id = "123456789012" } } } },
    user_groups = { { display_name = "eng", cloud_group = {}, members = { "Alice@Example.com" } } },
    users = { { email = "Alice@Example.com", access = { account_access = { role = "ROLE_DEVELOPER" },
      namespace_accesses = { pay = { permission = "PERMISSION_WRITE" } } } } },
  }
end

describe("desired.check", function()
  it("gives the entries in a snapshot's resource form, and the kinds listed in dependency order", function()
    local state, listed = assert(desired.check(d1()))
    assert.same({ "projects", "namespaces", "namespace_export_sinks", "user_groups", "users" }, listed)
    assert.same({ spec = { name = "pay", retention_days = 30, replicas = { { region = "aws-us-east-1" } },
      api_key_auth = { enabled = true } }, project_id = "Payments", tags = { team = "pay" } }, state.namespaces[1])
    assert.same({ namespace = "pay", name = "history", spec = d1().namespace_export_sinks[1].spec },
      state.namespace_export_sinks[1])
    -- members by email, lowercased as a user's natural key is; the user's own email as written
    assert.same({ "alice@example.com" }, state.user_groups[1].members)
    assert.equal("Alice@Example.com", state.users[1].spec.email)
    -- enums given by number are named, as reads name them
    local s = assert(desired.check{ users = { { email = "a@x.com", access = { account_access = { role = 3 } } } } })
    assert.equal("ROLE_DEVELOPER", s.users[1].spec.access.account_access.role)
    -- a copy: changing the desired state afterwards changes nothing
    local d = d1()
    local copy = assert(desired.check(d))
    d.namespaces[1].tags.team = "other"
    assert.equal("pay", copy.namespaces[1].tags.team)
  end)

  it("refuses what is not a desired state, saying where and what to write", function()
    local function refused(d) local ok, err = desired.check(d); assert.is_nil(ok); return err end
    assert.equal("unknown kind 'namespace' in the desired state (one of: projects, custom_roles, " ..
      "connectivity_rules, namespaces, namespace_export_sinks, nexus_endpoints, user_groups, users, " ..
      "service_accounts)", refused{ namespace = {} })
    assert.matches("^unknown kind 'api_keys'", refused{ api_keys = {} })
    assert.equal("namespaces: expected an array of entries", refused{ namespaces = { dev = {} } })
    assert.equal("namespaces[1]: unknown field 'retention' in temporal.api.cloud.namespace.v1.NamespaceSpec " ..
      "(did you mean 'retention_days'?)", refused{ namespaces = { { name = "dev", retention = 3 } } })
    assert.equal("namespaces[1].retention_days: expected an integer for int32, got string \"x\"",
      refused{ namespaces = { { name = "dev", retention_days = "x" } } })
    assert.equal("users[1]: email is required (it names the user)",
      refused{ users = { { access = { account_access = { role = "ROLE_READ" } } } } })
    assert.equal("users[2]: bob@x.com is there twice (also users[1])",
      refused{ users = { { email = "bob@x.com" }, { email = "BOB@x.com" } } })
    assert.equal("user_groups[1].members[2]: expected a user's email",
      refused{ user_groups = { { display_name = "g", members = { "a@x.com", 7 } } } })
    assert.equal("namespaces[1].tags: tags are strings, keys and values",
      refused{ namespaces = { { name = "dev", tags = { n = 1 } } } })
    assert.equal("namespace_export_sinks[1]: an export sink is { namespace = name, spec = ExportSinkSpec }, " ..
      "not 'name'", refused{ namespace_export_sinks = { { namespace = "dev", name = "x" } } })
    assert.equal("namespace_export_sinks[1].spec.name: the sink's name is required",
      refused{ namespace_export_sinks = { { namespace = "dev", spec = { enabled = true } } } })
    assert.equal("connectivity_rules[1]: public_rule or private_rule is required",
      refused{ connectivity_rules = { { project_id = "p" } } })
    assert.matches("^a desired state is a table of arrays by kind", refused("namespaces"))
  end)
end)

describe("desired.decode and desired.load", function()
  it("read JSON in the proto3 mapping, in either spelling, and keep out what is not given", function()
    local d = assert(desired.decode([[{
      "namespaces": [{"name": "pay", "retentionDays": 30, "projectId": "Payments", "tags": {"team": "pay"},
                      "codecServer": null, "connectivity_rule_ids": []}],
      "userGroups": [{"displayName": "eng", "cloudGroup": {}, "members": ["Alice@Example.com"]}],
      "users": [{"email": "alice@example.com", "access": {"namespaceAccesses": {}}}],
      "namespace_export_sinks": [{"namespace": "pay", "spec": {"name": "h", "s3": {"bucketName": "b"}}}]
    }]]))
    assert.same({ { name = "pay", retention_days = 30, project_id = "Payments", tags = { team = "pay" },
                    connectivity_rule_ids = {} } }, d.namespaces)
    assert.same({ { display_name = "eng", cloud_group = {}, members = { "Alice@Example.com" } } }, d.user_groups)
    -- an empty map given stays given (it says "none"); a field left out stays out
    assert.same({ email = "alice@example.com", access = { namespace_accesses = {} } }, d.users[1])
    assert.same({ namespace = "pay", spec = { name = "h", s3 = { bucket_name = "b" } } }, d.namespace_export_sinks[1])
    local _, err = desired.decode('{"namespaces": [{"name": "pay", "retentionDayz": 3}]}')
    assert.equal("namespaces[1].retentionDayz: no such field in temporal.api.cloud.namespace.v1.NamespaceSpec " ..
      "(did you mean 'retentionDays'?)", err)
    _, err = desired.decode('{"billing": []}')
    assert.matches("^unknown kind 'billing'", err)
    _, err = desired.decode('[1]')
    assert.matches("^a desired state is an object of arrays by kind", err)
    _, err = desired.decode('{"users": [')
    assert.matches("^not JSON: ", err)
  end)

  it("loads a JSON file, or a Lua file returning the table in globals of its own", function()
    local dir = helpers.tmpdir()
    helpers.write_file(dir .. "/d.json", '{"users": [{"email": "a@x.com"}]}')
    assert.same({ users = { { email = "a@x.com" } } }, assert(desired.load(dir .. "/d.json")))
    helpers.write_file(dir .. "/d.lua", [[
      leaked = true
      local users = {}
      for i = 1, 3 do users[i] = { email = string.format("u%d@x.com", i) } end
      return { users = users }]])
    local d = assert(desired.load(dir .. "/d.lua"))
    assert.equal("u3@x.com", d.users[3].email)
    assert.is_nil(rawget(_G, "leaked"))
    helpers.write_file(dir .. "/bad.lua", "return 42")
    local _, err = desired.load(dir .. "/bad.lua")
    assert.equal(dir .. "/bad.lua: expected the file to return a table, got number", err)
    _, err = desired.load(dir .. "/none.json")
    assert.matches("none%.json", err)
    helpers.cleanup()
  end)
end)

describe("desired.encode", function()
  it("writes stable JSON, kinds in dependency order, that reads back as the same state", function()
    local d = d1()
    local text = desired.encode(d)
    assert.equal(text, desired.encode(assert(desired.decode(text))))
    assert.same(assert(desired.check(d)), assert(desired.check(assert(desired.decode(text)))))
    assert.matches('^{\n  "projects": %[', text)
    local order = {}
    for kind in text:gmatch('\n  "([%w_]+)": ') do order[#order + 1] = kind end
    assert.same({ "projects", "namespaces", "namespace_export_sinks", "user_groups", "users" }, order)
    -- a spec's fields in field-number order, then project, tags, members
    assert.matches('"name": "pay",\n%s+"retentionDays": 30,.-"projectId": "Payments",\n%s+"tags": {', text)
    assert.has_error(function() desired.encode{ namespace = {} } end,
      "cloudops.desired.encode: unknown kind 'namespace' in the desired state (one of: projects, custom_roles, " ..
      "connectivity_rules, namespaces, namespace_export_sinks, nexus_endpoints, user_groups, users, service_accounts)")
  end)
end)

describe("desired.from_snapshot", function()
  it("names references, leaves out deprecated fields, the server's and what is being deleted", function()
    local snap = {
      projects = { { id = "p1", spec = { display_name = "Payments" }, state = "RESOURCE_STATE_ACTIVE" } },
      namespaces = {
        { namespace = "pay.acct", project_id = "p1", resource_version = "v", state = "RESOURCE_STATE_ACTIVE",
          spec = { name = "pay", regions = { "aws-us-east-1" }, replicas = { { region = "aws-us-east-1" } },
                   retention_days = 7 }, tags = {} },
        { namespace = "old.acct", state = "RESOURCE_STATE_DELETING", spec = { name = "old" } },
      },
      users = { { id = "u1", spec = { email = "Bob@x.com", access = {
        account_access = { role = "ROLE_READ", role_deprecated = "read" },
        namespace_accesses = { ["pay.acct"] = { permission = "PERMISSION_READ",
                                                permission_deprecated = "read" } } } } },
                { id = "u0", spec = { email = "alice@x.com" } } },
      user_groups = { { id = "g1", spec = { display_name = "eng", cloud_group = {} }, members = { "u1", "u0" } } },
    }
    local d = desired.from_snapshot(snap)
    assert.same({ { name = "pay", replicas = { { region = "aws-us-east-1" } }, retention_days = 7,
                    project_id = "Payments" } }, d.namespaces)
    assert.same({ { email = "alice@x.com" }, { email = "Bob@x.com", access = {
      account_access = { role = "ROLE_READ" }, namespace_accesses = { pay = { permission = "PERMISSION_READ" } } } } },
      d.users)
    assert.same({ { display_name = "eng", cloud_group = {}, members = { "alice@x.com", "bob@x.com" } } }, d.user_groups)
    assert.is_nil(d.service_accounts)           -- not in the snapshot: not listed
    assert.same({ users = d.users }, desired.from_snapshot(snap, { kinds = { "users" } }))
    assert.has_error(function() desired.from_snapshot(snap, { kinds = { "api_keys" } }) end,
      "cloudops.desired: unknown kind 'api_keys' (one of: projects, custom_roles, connectivity_rules, namespaces, " ..
      "namespace_export_sinks, nexus_endpoints, user_groups, users, service_accounts)")
  end)

  it("is what cloudops.plan and cloudops.apply take, under their fixed names", function()
    assert.is_function(cloudops.plan)
    assert.is_function(cloudops.apply)
  end)
end)
