-- cloudops.changes: the one diff of two states, the one plan renderer (text and JSON), and the
-- one exit-status rule.
require "helpers"
local changes = require "cloudops.changes"
local json = require "cloudops.json"

-- Two states of one small account: a namespace changed, a user invited, one removed, a group's
-- members changed, an API key disabled, a project made; the server's own fields moved too.
local function states()
  local before = {
    account = { id = "acct", resource_version = "a1", spec = {} },
    namespaces = {
      { namespace = "dev.acct", resource_version = "v1", state = "RESOURCE_STATE_ACTIVE",
        spec = { name = "dev", retention_days = 7, api_key_auth = { enabled = true },
                 replicas = { { region = "aws-us-east-1" } } },
        tags = { env = "dev" }, created_time = { seconds = 100 } },
      { namespace = "old.acct", resource_version = "v1", state = "RESOURCE_STATE_ACTIVE",
        spec = { name = "old", retention_days = 3 } },
    },
    users = {
      { id = "u1", resource_version = "r1", state = "RESOURCE_STATE_ACTIVE", spec = { email = "Alice@x.com",
        access = { account_access = { role = "ROLE_READ" },
                   namespace_accesses = { ["dev.acct"] = { permission = "PERMISSION_READ" } } } } },
      { id = "u3", spec = { email = "carol@x.com", access = { account_access = { role = "ROLE_READ" } } } },
    },
    user_groups = { { id = "g1", spec = { display_name = "eng", cloud_group = {} }, members = { "u1" } } },
    api_keys = { { id = "k1", spec = { owner_id = "u1", owner_type = "OWNER_TYPE_USER", display_name = "ci",
                   expiry_time = { seconds = 1900000000 } } } },
  }
  local after = {
    account = { id = "acct", resource_version = "a2", spec = {} },
    namespaces = {
      { namespace = "dev.acct", resource_version = "v2", state = "RESOURCE_STATE_UPDATING",
        spec = { name = "dev", retention_days = 14, api_key_auth = { enabled = true },
                 replicas = { { region = "aws-us-east-1" } } },
        tags = { env = "prod", team = "pay" }, created_time = { seconds = 100 },
        last_modified_time = { seconds = 200 } },
      -- being deleted: gone, as far as a plan is concerned
      { namespace = "old.acct", resource_version = "v2", state = "RESOURCE_STATE_DELETING",
        spec = { name = "old", retention_days = 3 } },
    },
    users = {
      { id = "u1", resource_version = "r1", state = "RESOURCE_STATE_ACTIVE", spec = { email = "Alice@x.com",
        access = { account_access = { role = "ROLE_READ" },
                   namespace_accesses = { ["dev.acct"] = { permission = "PERMISSION_READ" } } } } },
      { id = "u2", state = "RESOURCE_STATE_ACTIVATING", spec = { email = "bob@x.com",
        access = { account_access = { role = "ROLE_DEVELOPER" } } } },
    },
    user_groups = { { id = "g1", spec = { display_name = "eng", cloud_group = {} }, members = { "u2", "u1" } } },
    api_keys = { { id = "k1", resource_version = "new", spec = { owner_id = "u1", owner_type = "OWNER_TYPE_USER",
                   display_name = "ci", expiry_time = { seconds = 1900000000 }, disabled = true } } },
    projects = { { id = "p1", spec = { display_name = "Payments", lifecycle = { enable_delete_protection = true } } } },
  }
  return before, after
end

local function find(list, kind, action)
  for _, c in ipairs(list) do
    if c.kind == kind and c.action == action then return c end
  end
end

local function paths(c)
  local out = {}
  for _, f in ipairs(c.fields) do out[#out + 1] = f.path end
  return out
end

describe("changes.diff", function()
  it("finds creates, updates and deletes of several kinds, field by field", function()
    local before, after = states()
    local list = changes.diff(before, after)
    local ns = find(list, "namespace", "update")
    assert.same({ kind = "namespace", id = "dev.acct", name = "dev", action = "update", fields = {
      { path = "spec.retention_days", before = 7, after = 14 },
      { path = "tags[env]", before = "dev", after = "prod" },
      { path = "tags[team]", after = "pay" },
    } }, ns)
    local gone = find(list, "namespace", "delete")
    assert.equal("old.acct", gone.id)
    assert.same({ "spec.name", "spec.retention_days" }, paths(gone)) -- every field it had
    local carol = find(list, "user", "delete")
    assert.equal("carol@x.com", carol.name)
    local bob = find(list, "user", "create")
    assert.same({ kind = "user", id = "u2", name = "bob@x.com", action = "create", fields = {
      { path = "spec.email", after = "bob@x.com" },
      { path = "spec.access.account_access.role", after = "ROLE_DEVELOPER" },
    } }, bob)
    -- members by email, as a set
    assert.same({ { path = "members", before = { "alice@x.com" }, after = { "alice@x.com", "bob@x.com" } } },
      find(list, "user_group", "update").fields)
    assert.same({ { path = "spec.disabled", after = true } }, find(list, "api_key", "update").fields)
    local p = find(list, "project", "create")
    assert.same({ { path = "spec.display_name", after = "Payments" },
                  { path = "spec.lifecycle.enable_delete_protection", after = true } }, p.fields)
    -- nothing else: the account's new resource_version, states and times are the server's
    assert.equal(7, #list)
    assert.same({ create = 2, update = 3, delete = 2 }, changes.count(list))
  end)

  it("orders changes by kind dependency, then by name", function()
    local before, after = states()
    local order = {}
    for _, c in ipairs(changes.diff(before, after)) do order[#order + 1] = c.kind .. " " .. c.name end
    assert.same({ "project Payments", "namespace dev", "namespace old", "user_group eng",
      "user bob@x.com", "user carol@x.com", "api_key k1" }, { order[1], order[2], order[3], order[4],
      order[5], order[6], order[7] })
  end)

  it("finds nothing between a state and itself, or when only the server's fields moved", function()
    local before = states()
    assert.same({}, changes.diff(before, before))
    local moved = states()
    moved.namespaces[1].resource_version = "zzz"
    moved.namespaces[1].state = "RESOURCE_STATE_UPDATING"
    moved.namespaces[1].endpoints = { grpc_address = "x:7233" }
    moved.users[1].invitation = { created_time = { seconds = 5 } }
    assert.same({}, changes.diff(before, moved))
  end)

  it("takes a field at its default as absent, but not a oneof member", function()
    local a = { api_keys = { { id = "k", spec = { display_name = "x", disabled = false, description = "" } } } }
    local b = { api_keys = { { id = "k", spec = { display_name = "x" } } } }
    assert.same({}, changes.diff(a, b))
    local g1 = { user_groups = { { id = "g", spec = { display_name = "eng" } } } }
    local g2 = { user_groups = { { id = "g", spec = { display_name = "eng", cloud_group = {} } } } }
    assert.same({ { path = "spec.cloud_group", after = {} } }, changes.diff(g1, g2)[1].fields)
  end)

  it("compares emails case-insensitively, and matches by natural key when asked", function()
    local actual = { users = { { id = "u1", spec = { email = "Alice@X.com",
      access = { account_access = { role = "ROLE_READ" } } } } } }
    local desired = { users = { { spec = { email = "alice@x.com",
      access = { account_access = { role = "ROLE_ADMIN" } } } } } }
    local list = changes.diff(actual, desired, { match = "key", partial = true, name_of = { after = false } })
    assert.equal(1, #list)
    assert.equal("update", list[1].action)
    assert.equal("u1", list[1].id)
    assert.same({ { path = "spec.access.account_access.role", before = "ROLE_READ", after = "ROLE_ADMIN" } },
      list[1].fields)
    -- partial: what the desired entry leaves out stays as it is, and nothing is deleted...
    local same_role = { users = { { spec = { email = "ALICE@x.com" } } } }
    assert.same({}, changes.diff(actual, same_role, { match = "key", partial = true, name_of = { after = false } }))
    assert.same({}, changes.diff(actual, { users = {} }, { match = "key", partial = true }))
    -- ...unless pruned
    local pruned = changes.diff(actual, { users = {} }, { match = "key", partial = true, prune = true })
    assert.equal("delete", pruned[1].action)
  end)

  it("limits itself to the kinds asked for, and refuses what is not a state", function()
    local before, after = states()
    for _, c in ipairs(changes.diff(before, after, { kinds = { "users" } })) do assert.equal("user", c.kind) end
    assert.has_error(function() changes.diff(before, after, { kinds = { "billing" } }) end,
      "changes.diff: unknown kind 'billing' (one of: account, projects, custom_roles, connectivity_rules, " ..
      "namespaces, namespace_export_sinks, nexus_endpoints, user_groups, users, service_accounts, api_keys, " ..
      "account_audit_log_sinks)")
    assert.has_error(function() changes.diff(before, nil) end,
      "changes.diff expects two states (tables), got table and nil")
  end)

  it("shows times as RFC 3339 and whole lists as lists", function()
    local east, west = { region = "aws-us-east-1" }, { region = "aws-us-west-2" }
    local a = { api_keys = { { id = "k", spec = { display_name = "x", expiry_time = { seconds = 1767225600 } } } },
                namespaces = { { namespace = "n.a", spec = { name = "n", replicas = { east } } } } }
    local b = { api_keys = { { id = "k", spec = { display_name = "x",
                  expiry_time = { seconds = 1767225601, nanos = 500000000 } } } },
                namespaces = { { namespace = "n.a", spec = { name = "n", replicas = { east, west } } } } }
    local list = changes.diff(a, b)
    assert.same({ { path = "spec.replicas", before = { { region = "aws-us-east-1" } },
                    after = { { region = "aws-us-east-1" }, { region = "aws-us-west-2" } } } }, list[1].fields)
    assert.same({ { path = "spec.expiry_time", before = "2026-01-01T00:00:00Z", after = "2026-01-01T00:00:01.500Z" } },
      list[2].fields)
  end)
end)

describe("changes.text and changes.json", function()
  it("renders the changes grouped by kind with +, ~ and -, one line per changed field", function()
    local before, after = states()
    local text = changes.text{ changes = changes.diff(before, after) }
    local expected = table.concat({
      "Changes: 2 to create, 3 to update, 2 to delete",
      "",
      "project",
      "  + Payments (p1)",
      "      spec.display_name: \"Payments\"",
      "      spec.lifecycle.enable_delete_protection: true",
      "",
      "namespace",
      "  ~ dev (dev.acct)",
      "      spec.retention_days: 7 -> 14",
      "      tags[env]: \"dev\" -> \"prod\"",
      "      tags[team]: (none) -> \"pay\"",
      "  - old (old.acct)",
    }, "\n")
    assert.equal(expected, text:sub(1, #expected))
    assert.matches("\nuser_group\n  ~ eng %(g1%)\n      members: %[\"alice@x.com\"%] %-> " ..
      "%[\"alice@x.com\",\"bob@x.com\"%]\n", text)
    assert.matches("\nuser\n  %+ bob@x.com %(u2%)\n      spec.email: \"bob@x.com\"\n", text)
    assert.matches("\n  %- carol@x.com %(u3%)\n", text)
    assert.matches("\napi_key\n  ~ k1\n      spec.disabled: %(none%) %-> true\n", text)
    assert.equal("Changes: 0 to create, 0 to update, 0 to delete\nNo changes.\n", changes.text{ changes = {} })
  end)

  it("renders a rehearsal's mutations, errors and summary", function()
    local text = changes.text{ changes = {},
      calls = { { method = "CreateUser", code = "OK", operation_state = "STATE_FULFILLED" },
                { method = "UpdateNamespace", code = "INVALID_ARGUMENT" } },
      errors = { { method = "UpdateNamespace", code = "INVALID_ARGUMENT" } },
      summary = { create = 0, update = 0, delete = 0, calls = 5, refused = 1, seconds = 8.04,
                  estimated = true, how = "fast profile" } }
    assert.matches("\nMutations sent, in order:\n    1 CreateUser%s+OK%s+STATE_FULFILLED\n" ..
      "    2 UpdateNamespace%s+INVALID_ARGUMENT", text)
    assert.matches("\nErrors met:\n  UpdateNamespace: INVALID_ARGUMENT\n", text)
    assert.matches("\nSummary: 0 to create, 0 to update, 0 to delete; 5 calls, 1 refused %(RESOURCE_EXHAUSTED%)\n" ..
      "  would take at least 8.0 s under the real limits\n    %(fast profile%)\n", text)
  end)

  it("counts one call as one call", function()
    local text = changes.text{ changes = {}, summary = { create = 0, update = 0, delete = 0, calls = 1, refused = 0 } }
    assert.matches("; 1 call, 0 refused", text, 1, true)
  end)

  it("writes JSON that reads back as the plan, with empty lists as lists", function()
    local before, after = states()
    local plan = { changes = changes.diff(before, after), calls = {}, errors = {},
                   summary = { create = 2, update = 3, delete = 2, calls = 0, refused = 0 } }
    local doc = json.decode_value(changes.json(plan))
    assert.equal(7, #doc.changes)
    assert.equal(2, doc.exit_status)
    assert.equal(require("cloudops.core").empty_array, doc.calls)
    local ns = doc.changes[2]
    assert.equal("namespace", ns.kind)
    assert.same({ path = "spec.retention_days", before = 7, after = 14 }, ns.fields[1])
    local empty = json.decode_value(changes.json{ changes = {} })
    assert.equal(require("cloudops.core").empty_array, empty.changes)
    assert.equal(0, empty.exit_status)
  end)
end)

describe("changes.exit_status", function()
  it("is 0 for nothing, 2 for a change or a mutation that took effect, 1 for a failure", function()
    assert.equal(0, changes.exit_status{ changes = {} })
    assert.equal(0, changes.exit_status{ changes = {}, calls = {} })
    assert.equal(2, changes.exit_status{ changes = { { kind = "user", action = "create", fields = {} } } })
    -- a mutation the snapshot cannot see (a billing report) still changes the account
    assert.equal(2, changes.exit_status{ changes = {}, calls = { { method = "CreateBillingReport", code = "OK",
      operation_state = "STATE_IN_PROGRESS" } } })
    -- refused ones, and operations that failed, changed nothing
    assert.equal(0, changes.exit_status{ changes = {}, calls = {
      { method = "CreateUser", code = "RESOURCE_EXHAUSTED" },
      { method = "CreateUser", code = "OK", operation_state = "STATE_FAILED" } } })
    assert.equal(1, changes.exit_status{ changes = { { kind = "user", action = "create" } }, failed = "exit status 3" })
    assert.equal(1, changes.exit_status(nil))
  end)
end)
