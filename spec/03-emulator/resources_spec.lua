-- The resource families, one describe each: what the service checks and derives.
local S = require "03-emulator.emu_support"

describe("emulator namespaces", function()
  local emu
  before_each(function() emu = S.new() end)

  it("validate the spec", function()
    local bad = {
      { name = "A" }, { name = "has_underscore" }, { name = "1abc" }, { name = "a--b" }, { name = "ab-" },
      { name = string.rep("a", 40) }, { regions = {} }, { regions = { "mars-1" } },
      { retention_days = 0 }, { retention_days = 91 }, { api_key_auth = { enabled = false } },
      { mtls_auth = { enabled = true } }, { regions = { "aws-us-east-1", "aws-us-west-2", "aws-eu-west-1" } },
      { search_attributes = { Foo = "SEARCH_ATTRIBUTE_TYPE_UNSPECIFIED" } },
      { codec_server = { endpoint = "http://plain" } }, { connectivity_rule_ids = { "nope" } },
    }
    for i, extra in ipairs(bad) do
      local resp, err = emu.owner:call("CreateNamespace", { spec = S.namespace_spec("valid-name", extra) })
      assert.is_nil(resp, i)
      assert.are.equal(3, err.code, i)
    end
    S.fails("INVALID_ARGUMENT", emu.owner:call("CreateNamespace", {}))
    S.ok(emu.owner:call("CreateNamespace", { spec = S.namespace_spec("a1-b2") }))
    S.ok(emu.owner:call("CreateNamespace", { spec = S.namespace_spec(string.rep("z", 39)) }))
    S.fails("NOT_FOUND", emu.owner:call("CreateNamespace", { spec = S.namespace_spec("p"), project_id = "x" }))
  end)

  it("derive endpoints, replicas, region status and limits", function()
    local ns = S.namespace(emu, "derived", { mtls_auth = { enabled = true, accepted_client_ca = S.CA },
      search_attributes = { CustomerId = "SEARCH_ATTRIBUTE_TYPE_KEYWORD" } })
    assert.are.equal("derived.emu01", ns.namespace)
    assert.are.equal("aws-us-east-1", ns.active_region)
    assert.are.equal("us-east-1.aws.api.temporal.io:7233", ns.endpoints.grpc_address)
    assert.are.equal("derived.emu01.tmprl.cloud:7233", ns.endpoints.mtls_grpc_address)
    assert.is_nil(ns.region_status)   -- ended at v0.15.0: left out of the answer
    local old = S.ok(emu:client("owner", "v0.15.0"):call("GetNamespace", { namespace = ns.namespace })).namespace
    assert.are.equal("STATE_ACTIVE", old.region_status["aws-us-east-1"].state)
    assert.is_true(ns.replicas[1].is_primary)
    assert.are.same({ { region = "aws-us-east-1" } }, ns.spec.replicas)
    assert.is_true(ns.limits.actions_per_second_limit > 0)
    assert.is_table(ns.capacity.on_demand)
    S.fails("ALREADY_EXISTS", emu.owner:call("CreateNamespace", { spec = S.namespace_spec("derived") }))
  end)

  -- docs.temporal.io/evaluate/cloud/limits, "Namespaces": "By default, each account is provisioned
  -- with ten Namespaces ... automatically raises your allowance ... whenever all your Namespaces
  -- are in use, up to a maximum of 100 Namespaces."
  it("follow the account's namespace allowance: 10, raised while every namespace is in use, to 100", function()
    local function create(e, name) return e.owner:call("CreateNamespace", { spec = S.namespace_spec(name) }) end
    for i = 1, 10 do S.ok(create(emu, "quota-" .. i)) end
    local err = S.fails("FAILED_PRECONDITION", create(emu, "quota-11"))
    assert.matches("the account has 10 namespaces, its allowance of 10", err.message, 1, true)
    assert.matches("10 here are not", err.message, 1, true)
    -- created and active, but not yet a whole day of use
    emu.advance(2)
    S.fails("FAILED_PRECONDITION", create(emu, "quota-11"))
    -- a day later all ten are in use: the allowance rises, one namespace at a time
    emu.advance(86400)
    S.ok(create(emu, "quota-11"))
    err = S.fails("FAILED_PRECONDITION", create(emu, "quota-12"))
    assert.matches("its allowance of 11", err.message, 1, true)
    -- deleting one makes room within the allowance
    local gone = S.ok(emu.owner:call("GetNamespace", { namespace = "quota-1." .. emu.st.account.id })).namespace
    S.ok(emu.owner:call("DeleteNamespace", { namespace = gone.namespace, resource_version = gone.resource_version }))
    emu.advance(2)
    S.ok(create(emu, "quota-12"))
    -- never past 100 by itself: an account of 100 in-use namespaces needs support (max_namespaces)
    local full = S.new { seed = { namespaces = 100 } }
    err = S.fails("FAILED_PRECONDITION", create(full, "one-more"))
    assert.matches("(up to 100)", err.message, 1, true)
    S.ok(create(S.new { seed = { namespaces = 100 }, max_namespaces = 101 }, "one-more"))
    -- seeded namespaces have a history: in use, so the allowance follows them up to 100
    S.ok(create(S.new { seed = { namespaces = 40 } }, "forty-one"))
    -- the option, and the flag
    local three = S.new { max_namespaces = 3 }
    for i = 1, 3 do S.ok(create(three, "three-" .. i)) end
    S.fails("FAILED_PRECONDITION", create(three, "three-4"))
    assert.are.equal(25, require("cloudops.emulator.cli").parse { "--max-namespaces", "25" }.max_namespaces)
  end)

  it("allow at most max_users users (300, the limits page's default) and 100 Nexus endpoints", function()
    local function user(e, i) return e.owner:call("CreateUser", { spec = { email = "q" .. i .. "@example.com",
      access = { account_access = { role = "ROLE_READ" } } } }) end
    -- the four principals the emulator starts with are users and a service account: 3 users
    local small = S.new { max_users = 5, max_operations = false }
    S.ok(user(small, 1))
    S.ok(user(small, 2))
    local err = S.fails("FAILED_PRECONDITION", user(small, 3))
    assert.matches("the account has 5 users, its limit", err.message, 1, true)
    assert.are.equal(300, emu.cfg.max_users)
    local many = S.new { seed = { users = 297 } }
    err = S.fails("FAILED_PRECONDITION", user(many, 1))
    assert.matches("has 300 users", err.message, 1, true)
    -- Nexus endpoints: "By default, each account is provisioned with 100 Nexus Endpoints"
    assert.are.equal(100, emu.cfg.max_nexus_endpoints)
    local ns = S.namespace(emu, "nexus-target").namespace
    local function endpoint(e, i) return e.owner:call("CreateNexusEndpoint", { spec = { name = "ep-" .. i,
      target_spec = { worker_target_spec = { namespace_id = ns, task_queue = "q" } } } }) end
    local two = S.new { max_nexus_endpoints = 2 }
    ns = S.namespace(two, "nexus-target").namespace
    S.ok(endpoint(two, 1))
    S.ok(endpoint(two, 2))
    err = S.fails("FAILED_PRECONDITION", endpoint(two, 3))
    assert.matches("2 Nexus endpoints, its limit", err.message, 1, true)
    local cli = require "cloudops.emulator.cli"
    assert.are.equal(7, cli.parse { "--max-users", "7" }.max_users)
    assert.are.equal(9, cli.parse { "--max-nexus-endpoints", "9" }.max_nexus_endpoints)
  end)

  it("filter by name", function()
    S.namespace(emu, "one")
    S.namespace(emu, "two")
    local r = S.ok(emu.owner:call("GetNamespaces", { name = "two" }))
    assert.are.equal(1, #r.namespaces)
    assert.are.equal("two.emu01", r.namespaces[1].namespace)
  end)

  it("keep search attributes: rename, no delete, no type change", function()
    local ns = S.namespace(emu, "sa", { search_attributes = { Old = "SEARCH_ATTRIBUTE_TYPE_INT" } })
    local spec = ns.spec
    spec.search_attributes = {}
    S.fails("INVALID_ARGUMENT", emu.owner:call("UpdateNamespace", { namespace = ns.namespace, spec = spec }))
    spec.search_attributes = { Old = "SEARCH_ATTRIBUTE_TYPE_TEXT" }
    S.fails("INVALID_ARGUMENT", emu.owner:call("UpdateNamespace", { namespace = ns.namespace, spec = spec }))
    S.fails("NOT_FOUND", emu.owner:call("RenameCustomSearchAttribute", { namespace = ns.namespace,
      existing_custom_search_attribute_name = "Missing", new_custom_search_attribute_name = "New" }))
    S.ok(emu.owner:call("RenameCustomSearchAttribute", { namespace = ns.namespace,
      existing_custom_search_attribute_name = "Old", new_custom_search_attribute_name = "New",
      resource_version = ns.resource_version }))
    local now = S.ok(emu.owner:call("GetNamespace", { namespace = ns.namespace })).namespace
    assert.are.same({ New = "SEARCH_ATTRIBUTE_TYPE_INT" }, now.spec.search_attributes)
  end)

  -- docs.temporal.io/cloud/limits, "Custom Search Attribute names" (at most 64 of
  -- [a-zA-Z0-9.,:-_\/@ ]) and "Number of Custom Search Attributes" (per type per namespace).
  it("keep search attribute names and counts within the limits page's", function()
    local names = { "order.id", "customer-id", "Region:eu", "a,b", "path/to", "at@x", "with space",
                    string.rep("n", 64), "1st" }
    local attrs = {}
    for _, n in ipairs(names) do attrs[n] = "SEARCH_ATTRIBUTE_TYPE_KEYWORD" end
    local ns = S.namespace(emu, "sa-names", { search_attributes = attrs })
    assert.are.equal("SEARCH_ATTRIBUTE_TYPE_KEYWORD", ns.spec.search_attributes["customer-id"])
    for _, bad in ipairs { string.rep("n", 65), "semi;colon", "star*", "back\\slash", "", "quote'" } do
      local err = S.fails("INVALID_ARGUMENT", emu.owner:call("CreateNamespace", { spec = S.namespace_spec("sa-bad",
        { search_attributes = { [bad] = "SEARCH_ATTRIBUTE_TYPE_INT" } }) }))
      assert.matches("invalid search attribute name", err.message, 1, true)
    end
    local err = S.fails("INVALID_ARGUMENT", emu.owner:call("RenameCustomSearchAttribute", { namespace = ns.namespace,
      existing_custom_search_attribute_name = "order.id", new_custom_search_attribute_name = "order#id" }))
    assert.matches("new_custom_search_attribute_name: invalid search attribute name", err.message, 1, true)
    S.ok(emu.owner:call("RenameCustomSearchAttribute", { namespace = ns.namespace,
      existing_custom_search_attribute_name = "order.id", new_custom_search_attribute_name = "order-id.v2" }))
    -- per type: Bool, Datetime, Double, Int 20; Keyword 40; KeywordList and Text 5
    local function many(t, n)
      local m = {}
      for i = 1, n do m["attr" .. i] = t end
      return m
    end
    local per_type = { { "TEXT", 5 }, { "KEYWORD_LIST", 5 }, { "INT", 20 }, { "BOOL", 20 }, { "DATETIME", 20 },
                       { "DOUBLE", 20 }, { "KEYWORD", 40 } }
    for i, tn in ipairs(per_type) do
      local t, n, name = "SEARCH_ATTRIBUTE_TYPE_" .. tn[1], tn[2], "per-type-" .. i
      err = S.fails("INVALID_ARGUMENT", emu.owner:call("CreateNamespace", { spec = S.namespace_spec(name,
        { search_attributes = many(t, n + 1) }) }))
      assert.matches("at most " .. n .. " of type", err.message, 1, true)
      S.ok(emu.owner:call("CreateNamespace", { spec = S.namespace_spec(name, { search_attributes = many(t, n) }) }))
      emu.advance(2)
    end
    -- an update adding one too many is refused as well
    local full = S.ok(emu.owner:call("GetNamespace", { namespace = "per-type-1." .. emu.st.account.id })).namespace
    full.spec.search_attributes.extra = "SEARCH_ATTRIBUTE_TYPE_TEXT"
    err = S.fails("INVALID_ARGUMENT", emu.owner:call("UpdateNamespace", { namespace = full.namespace,
      spec = full.spec, resource_version = full.resource_version }))
    assert.matches("at most 5 of type text", err.message, 1, true)
  end)

  it("fold the deprecated custom_search_attributes into search_attributes (API v0.3.0)", function()
    local r = S.ok(emu:client("owner", "v0.3.0"):call("CreateNamespace", { spec = { name = "old-sa",
      regions = { "aws-us-east-1" }, retention_days = 7, api_key_auth = { enabled = true },
      custom_search_attributes = { Kw = "keyword" } } }))
    local ns = S.ok(emu.owner:call("GetNamespace", { namespace = r.namespace })).namespace
    assert.are.equal("SEARCH_ATTRIBUTE_TYPE_KEYWORD", ns.spec.search_attributes.Kw)
  end)

  it("honour delete protection and Nexus targets", function()
    local ns = S.namespace(emu, "protected", { lifecycle = { enable_delete_protection = true } })
    local err = S.fails("FAILED_PRECONDITION", emu.owner:call("DeleteNamespace", { namespace = ns.namespace }))
    assert.matches("delete protection", err.message)
    local t = S.namespace(emu, "target")
    S.ok(emu.owner:call("CreateNexusEndpoint", { spec = { name = "ep",
      target_spec = { worker_target_spec = { namespace_id = t.namespace, task_queue = "q" } } } }))
    S.fails("FAILED_PRECONDITION", emu.owner:call("DeleteNamespace", { namespace = t.namespace }))
  end)

  it("add a region, fail over to it and remove the old one (API v0.15.0: regions, region_status)", function()
    local owner = emu:client("owner", "v0.15.0")
    local ns = S.ok(owner:call("CreateNamespace", { spec = { name = "ha", regions = { "aws-us-east-1" },
      retention_days = 7, api_key_auth = { enabled = true } } }))
    emu.advance(2)
    ns = S.ok(owner:call("GetNamespace", { namespace = ns.namespace })).namespace
    S.fails("FAILED_PRECONDITION", owner:call("FailoverNamespaceRegion",
      { namespace = ns.namespace, region = "aws-us-east-1" }))
    S.ok(owner:call("AddNamespaceRegion", { namespace = ns.namespace, region = "aws-us-west-2",
                                            resource_version = ns.resource_version }))
    ns = S.ok(owner:call("GetNamespace", { namespace = ns.namespace })).namespace
    assert.are.equal("REPLICA_STATE_ADDING", ns.replicas[2].state)
    assert.are.equal("STATE_ADDING", ns.region_status["aws-us-west-2"].state)
    S.fails("FAILED_PRECONDITION", owner:call("FailoverNamespaceRegion",
      { namespace = ns.namespace, region = "aws-us-west-2" }))   -- not active yet
    emu.advance(2)
    S.fails("INVALID_ARGUMENT", owner:call("FailoverNamespaceRegion",
      { namespace = ns.namespace, region = "aws-eu-west-1" }))
    S.ok(owner:call("FailoverNamespaceRegion", { namespace = ns.namespace, region = "aws-us-west-2" }))
    emu.advance(2)
    ns = S.ok(owner:call("GetNamespace", { namespace = ns.namespace })).namespace
    assert.are.equal("aws-us-west-2", ns.active_region)
    assert.are.equal("STATE_PASSIVE", ns.region_status["aws-us-east-1"].state)
    S.fails("FAILED_PRECONDITION", owner:call("DeleteNamespaceRegion",
      { namespace = ns.namespace, region = "aws-us-west-2" }))
    S.ok(owner:call("DeleteNamespaceRegion", { namespace = ns.namespace, region = "aws-us-east-1" }))
    emu.advance(2)
    ns = S.ok(owner:call("GetNamespace", { namespace = ns.namespace })).namespace
    assert.are.equal(1, #ns.replicas)
    assert.are.same({ "aws-us-west-2" }, ns.spec.regions)
  end)

  it("add a replica through UpdateNamespace but never drop the active one", function()
    local ns = S.namespace(emu, "rep", { regions = nil, replicas = { { region = "aws-us-east-1" } } })
    local spec = ns.spec
    spec.replicas = { { region = "aws-us-east-1" }, { region = "aws-us-east-2" } }
    S.ok(emu.owner:call("UpdateNamespace", { namespace = ns.namespace, spec = spec }))
    emu.advance(2)
    ns = S.ok(emu.owner:call("GetNamespace", { namespace = ns.namespace })).namespace
    assert.are.equal(2, #ns.replicas)
    spec = ns.spec
    spec.replicas = { { region = "aws-us-east-2" } }
    S.fails("FAILED_PRECONDITION", emu.owner:call("UpdateNamespace", { namespace = ns.namespace, spec = spec }))
  end)

  it("update tags", function()
    local ns = S.namespace(emu, "tags")
    S.fails("INVALID_ARGUMENT", emu.owner:call("UpdateNamespaceTags", { namespace = ns.namespace }))
    S.ok(emu.owner:call("UpdateNamespaceTags", { namespace = ns.namespace, tags_to_upsert = { a = "1", b = "2" } }))
    S.ok(emu.owner:call("UpdateNamespaceTags", { namespace = ns.namespace, tags_to_remove = { "a", "zz" } }))
    ns = S.ok(emu.owner:call("GetNamespace", { namespace = ns.namespace })).namespace
    assert.are.same({ b = "2" }, ns.tags)
    -- an account admin may edit them too; a developer or a reader may not
    S.ok(emu.admin:call("UpdateNamespaceTags",
      { namespace = ns.namespace, tags_to_upsert = { ["team.x_y-z@1"] = "a" } }))
    S.fails("PERMISSION_DENIED", emu.developer:call("UpdateNamespaceTags", { namespace = ns.namespace,
      tags_to_upsert = { c = "3" } }))
    -- keys and values: 1 to 63 of a-z 0-9 . _ - @; at most 10 on a namespace
    for _, bad in ipairs { { Upper = "x" }, { k = "" }, { k = "has space" }, { [string.rep("k", 64)] = "v" },
                           { k = string.rep("v", 64) }, { ["k:v"] = "x" } } do
      S.fails("INVALID_ARGUMENT",
        emu.owner:call("UpdateNamespaceTags", { namespace = ns.namespace, tags_to_upsert = bad }))
    end
    local eight = {}
    for i = 1, 8 do eight["t" .. i] = "v" end
    S.ok(emu.owner:call("UpdateNamespaceTags", { namespace = ns.namespace, tags_to_upsert = eight }))   -- 10 now
    local err = S.fails("INVALID_ARGUMENT", emu.owner:call("UpdateNamespaceTags", { namespace = ns.namespace,
      tags_to_upsert = { eleventh = "v" } }))
    assert.matches("at most 10 tags", err.message)
    S.ok(emu.owner:call("UpdateNamespaceTags", { namespace = ns.namespace, tags_to_upsert = { eleventh = "v" },
      tags_to_remove = { "t1" } }))
    -- the same rules when a namespace is created with tags
    S.fails("PERMISSION_DENIED", emu.developer:call("CreateNamespace", { spec = S.namespace_spec("dev-tags"),
      tags = { env = "dev" } }))
    S.fails("INVALID_ARGUMENT", emu.owner:call("CreateNamespace", { spec = S.namespace_spec("bad-tags"),
      tags = { Env = "dev" } }))
    S.ok(emu.admin:call("CreateNamespace", { spec = S.namespace_spec("admin-tags"), tags = { env = "dev" } }))
  end)

  it("change capacity through a request that completes", function()
    local ns = S.namespace(emu, "cap")
    local info = S.ok(emu.owner:call("GetNamespaceCapacityInfo", { namespace = ns.namespace })).capacity_info
    assert.is_true(#info.mode_options.provisioned.valid_tru_values > 0)
    local spec = ns.spec
    spec.capacity_spec = { provisioned = { value = 3 } }
    S.fails("INVALID_ARGUMENT", emu.owner:call("UpdateNamespace", { namespace = ns.namespace, spec = spec }))
    spec.capacity_spec = { provisioned = { value = 4 } }
    S.ok(emu.owner:call("UpdateNamespace", { namespace = ns.namespace, spec = spec }))
    ns = S.ok(emu.owner:call("GetNamespace", { namespace = ns.namespace })).namespace
    assert.are.equal("STATE_CAPACITY_REQUEST_IN_PROGRESS", ns.capacity.latest_request.state)
    spec.capacity_spec = { provisioned = { value = 8 } }
    S.fails("FAILED_PRECONDITION", emu.owner:call("UpdateNamespace", { namespace = ns.namespace, spec = spec }))
    emu.advance(2)
    ns = S.ok(emu.owner:call("GetNamespace", { namespace = ns.namespace })).namespace
    assert.are.equal("STATE_CAPACITY_REQUEST_COMPLETED", ns.capacity.latest_request.state)
    assert.are.equal(4, ns.capacity.provisioned.current_value)
  end)
end)

describe("emulator users and groups", function()
  local emu
  before_each(function() emu = S.new() end)

  it("invite users with an email and a role, once per email", function()
    local spec = { email = "new@example.com", access = { account_access = { role = "ROLE_DEVELOPER" } } }
    local r = S.ok(emu.owner:call("CreateUser", { spec = spec }))
    local u = S.ok(emu.owner:call("GetUser", { user_id = r.user_id })).user
    assert.is_table(u.invitation.expired_time)
    S.fails("ALREADY_EXISTS", emu.owner:call("CreateUser", { spec = { email = "NEW@example.com",
      access = spec.access } }))
    S.fails("INVALID_ARGUMENT", emu.owner:call("CreateUser", { spec = { email = "bad", access = spec.access } }))
    S.fails("INVALID_ARGUMENT", emu.owner:call("CreateUser", { spec = { email = "x@example.com" } }))
    S.fails("INVALID_ARGUMENT", emu.owner:call("UpdateUser", { user_id = r.user_id,
      spec = { email = "other@example.com", access = spec.access } }))
    local found = S.ok(emu.owner:call("GetUsers", { email = "new@example.com" })).users
    assert.are.equal(1, #found)
    S.fails("NOT_FOUND", emu.owner:call("GetUser", { user_id = "nobody" }))
  end)

  it("set and remove namespace access", function()
    local ns = S.namespace(emu, "acc")
    local uid = S.ok(emu.owner:call("CreateUser", { spec = { email = "a@example.com",
      access = { account_access = { role = "ROLE_READ" } } } })).user_id
    emu.advance(2)
    S.ok(emu.owner:call("SetUserNamespaceAccess", { namespace = ns.namespace, user_id = uid,
      access = { permission = "PERMISSION_WRITE" } }))
    assert.are.equal(1, #S.ok(emu.owner:call("GetUsers", { namespace = ns.namespace })).users)
    local rows = S.ok(emu.owner:call("GetUserNamespaceAssignments", { namespace = ns.namespace })).users
    local by = {}
    for _, row in ipairs(rows) do by[row.email] = row end
    assert.are.equal("PERMISSION_WRITE", by["a@example.com"].namespace_access.permission)
    assert.is_false(by["a@example.com"].inherited_access)
    assert.is_true(by["owner@example.com"].inherited_access)
    assert.is_nil(by["reader@example.com"])
    S.ok(emu.owner:call("SetUserNamespaceAccess", { namespace = ns.namespace, user_id = uid, access = {} }))
    assert.are.equal(0, #S.ok(emu.owner:call("GetUsers", { namespace = ns.namespace })).users)
  end)

  it("manage Cloud group members, asynchronously", function()
    local gid = S.ok(emu.owner:call("CreateUserGroup", { spec = { display_name = "team", cloud_group = {},
      access = { account_access = { role = "ROLE_READ" } } } })).group_id
    local google = S.ok(emu.owner:call("CreateUserGroup", { spec = { display_name = "gg",
      google_group = { email_address = "gg@example.com" } } })).group_id
    S.fails("INVALID_ARGUMENT",
      emu.owner:call("CreateUserGroup", { spec = { display_name = "s", scim_group = { idp_id = "x" } } }))
    local uid = S.ok(emu.owner:call("GetCurrentIdentity", {})).user.id
    S.ok(emu.owner:call("AddUserGroupMember", { group_id = gid, member_id = { user_id = uid } }))
    assert.are.equal(0, #S.ok(emu.owner:call("GetUserGroupMembers", { group_id = gid })).members)
    emu.advance(2)
    local members = S.ok(emu.owner:call("GetUserGroupMembers", { group_id = gid })).members
    assert.are.equal(uid, members[1].member_id.user_id)
    S.fails("ALREADY_EXISTS", emu.owner:call("AddUserGroupMember", { group_id = gid, member_id = { user_id = uid } }))
    S.fails("FAILED_PRECONDITION",
      emu.owner:call("AddUserGroupMember", { group_id = google, member_id = { user_id = uid } }))
    S.ok(emu.owner:call("RemoveUserGroupMember", { group_id = gid, member_id = { user_id = uid } }))
    emu.advance(2)
    assert.are.equal(0, #S.ok(emu.owner:call("GetUserGroupMembers", { group_id = gid })).members)
    local list = S.ok(emu.owner:call("GetUserGroups", { google_group = { email_address = "gg@example.com" } })).groups
    assert.are.equal(1, #list)
    assert.are.equal("gg", list[1].spec.display_name)
  end)
end)

describe("emulator service accounts and API keys", function()
  local emu
  before_each(function() emu = S.new() end)

  it("create account- and namespace-scoped service accounts", function()
    local ns = S.namespace(emu, "sans")
    S.fails("INVALID_ARGUMENT", emu.owner:call("CreateServiceAccount", { spec = { name = "none" } }))
    S.fails("INVALID_ARGUMENT", emu.owner:call("CreateServiceAccount", { spec = { name = "p",
      project_scoped_access = { project_id = "x" } } }))
    local id = S.ok(emu.owner:call("CreateServiceAccount", { spec = { name = "ci",
      namespace_scoped_access = { namespace = ns.namespace, access = { permission = "PERMISSION_WRITE" } },
    } })).service_account_id
    S.fails("ALREADY_EXISTS", emu.owner:call("CreateServiceAccount", { spec = { name = "ci",
      access = { account_access = { role = "ROLE_READ" } } } }))
    emu.advance(2)
    S.fails("INVALID_ARGUMENT", emu.owner:call("UpdateServiceAccount", { service_account_id = id,
      spec = { name = "ci", access = { account_access = { role = "ROLE_READ" } } } }))
    S.ok(emu.owner:call("SetServiceAccountNamespaceAccess", { service_account_id = id, namespace = ns.namespace,
      access = { permission = "PERMISSION_ADMIN" } }))
    local sa = S.ok(emu.owner:call("GetServiceAccount", { service_account_id = id })).service_account
    assert.are.equal("PERMISSION_ADMIN", sa.spec.namespace_scoped_access.access.permission)
    local rows = S.ok(emu.owner:call("GetServiceAccountNamespaceAssignments",
      { namespace = ns.namespace })).service_accounts
    local names = {}
    for _, r in ipairs(rows) do names[r.name] = r end
    assert.is_false(names.ci.inherited_access)
    assert.is_true(names["emulator-admin"].inherited_access)
    local all = S.ok(emu.owner:call("GetServiceAccounts", {})).service_account
    assert.are.equal(2, #all)
  end)

  it("let a namespace admin manage the service accounts scoped to its namespace and their keys", function()
    -- the developer creates a namespace, so administers it; another one it cannot touch
    local mine = S.ok(emu.developer:call("CreateNamespace", { spec = S.namespace_spec("devns") })).namespace
    local other = S.namespace(emu, "otherns")
    local function scoped(caller, ns, name)
      return caller:call("CreateServiceAccount", { spec = { name = name,
        namespace_scoped_access = { namespace = ns, access = { permission = "PERMISSION_WRITE" } } } })
    end
    local id = S.ok(scoped(emu.developer, mine, "dev-bot")).service_account_id
    S.fails("PERMISSION_DENIED", scoped(emu.developer, other.namespace, "other-bot"))
    S.fails("PERMISSION_DENIED", emu.developer:call("CreateServiceAccount", { spec = { name = "acct-bot",
      access = { account_access = { role = "ROLE_READ" } } } }))
    emu.advance(2)
    local sa = S.ok(emu.developer:call("GetServiceAccount", { service_account_id = id })).service_account
    sa.spec.description = "deploys"
    S.ok(emu.developer:call("UpdateServiceAccount", { service_account_id = id, spec = sa.spec,
      resource_version = sa.resource_version }))
    S.fails("PERMISSION_DENIED", emu.reader:call("UpdateServiceAccount", { service_account_id = id, spec = sa.spec }))
    local key = S.ok(emu.developer:call("CreateApiKey", { spec = { owner_id = id,
      owner_type = "OWNER_TYPE_SERVICE_ACCOUNT", display_name = "deploy", expiry_time = S.year_from(emu) } }))
    local listed = S.ok(emu.developer:call("GetApiKeys", { owner_id = id })).api_keys
    assert.are.equal(1, #listed)
    S.fails("PERMISSION_DENIED", emu.reader:call("GetApiKey", { key_id = key.key_id }))
    emu.advance(2)
    -- the key works, and the service account may make itself a new one but not delete its own
    local bot = emu:client(key.token)
    S.ok(bot:call("CreateApiKey", { spec = { owner_id = id, owner_type = "OWNER_TYPE_SERVICE_ACCOUNT",
      display_name = "rotated", expiry_time = S.year_from(emu) } }))
    S.fails("PERMISSION_DENIED", bot:call("DeleteApiKey", { key_id = key.key_id }))
    S.ok(emu.developer:call("DeleteApiKey", { key_id = key.key_id }))
    emu.advance(2)
    S.fails("UNAUTHENTICATED", bot:call("GetRegions", {}))
  end)

  it("delete the service accounts scoped to a namespace, and their keys, with the namespace", function()
    local ns = S.namespace(emu, "goes")
    local id = S.ok(emu.owner:call("CreateServiceAccount", { spec = { name = "bot",
      namespace_scoped_access = { namespace = ns.namespace, access = { permission = "PERMISSION_READ" } },
    } })).service_account_id
    local key = S.ok(emu.owner:call("CreateApiKey", { spec = { owner_id = id, owner_type = "OWNER_TYPE_SERVICE_ACCOUNT",
      display_name = "k", expiry_time = S.year_from(emu) } }))
    emu.advance(2)
    local bot = emu:client(key.token)
    S.ok(bot:call("GetRegions", {}))
    ns = S.ok(emu.owner:call("GetNamespace", { namespace = ns.namespace })).namespace
    S.ok(emu.owner:call("DeleteNamespace", { namespace = ns.namespace, resource_version = ns.resource_version }))
    emu.advance(2)
    S.fails("NOT_FOUND", emu.owner:call("GetServiceAccount", { service_account_id = id }))
    S.fails("NOT_FOUND", emu.owner:call("GetApiKey", { key_id = key.key_id }))
    S.fails("UNAUTHENTICATED", bot:call("GetRegions", {}))
  end)

  it("return an API key's token once and never show it again", function()
    local me = S.ok(emu.reader:call("GetCurrentIdentity", {})).user
    local r = S.ok(emu.reader:call("CreateApiKey", { spec = { owner_id = me.id,
      owner_type = "OWNER_TYPE_USER", display_name = "mine", expiry_time = S.year_from(emu) } }))
    assert.matches("^emu_%x+$", r.token)
    local k = S.ok(emu.reader:call("GetApiKey", { key_id = r.key_id })).api_key
    assert.are.equal("OWNER_TYPE_USER", k.spec.owner_type)
    for _, v in pairs(k) do assert.are_not.equal(r.token, v) end
    -- a reader manages its own keys, not others'
    local owner = S.ok(emu.owner:call("GetCurrentIdentity", {})).user
    S.fails("PERMISSION_DENIED", emu.reader:call("CreateApiKey", { spec = { owner_id = owner.id,
      owner_type = "OWNER_TYPE_USER", display_name = "x", expiry_time = S.year_from(emu) } }))
    local mine = S.ok(emu.reader:call("GetApiKeys", {})).api_keys
    for _, key in ipairs(mine) do assert.are.equal(me.id, key.spec.owner_id) end
    local filtered = S.ok(emu.owner:call("GetApiKeys", { owner_type = "OWNER_TYPE_SERVICE_ACCOUNT" })).api_keys
    assert.are.equal(1, #filtered)
  end)

  it("check API key specs", function()
    local sa = S.ok(emu.admin:call("GetCurrentIdentity", {})).service_account
    local base = { owner_id = sa.id, owner_type = "OWNER_TYPE_SERVICE_ACCOUNT", display_name = "k",
                   expiry_time = S.year_from(emu) }
    for _, change in ipairs { { display_name = "" }, { owner_id = "" }, { owner_type = "OWNER_TYPE_UNSPECIFIED" },
        { expiry_time = { seconds = 1, nanos = 0 } }, { expiry_time = { seconds = 4102444800 * 2, nanos = 0 } } } do
      local spec = {}
      for k, v in pairs(base) do spec[k] = v end
      for k, v in pairs(change) do spec[k] = v end
      local resp, err = emu.owner:call("CreateApiKey", { spec = spec })
      assert.is_nil(resp)
      assert.is_true(err.code == 3, err.message)
    end
    base.owner_type_deprecated, base.owner_type = "service-account", nil
    S.fails("INVALID_ARGUMENT", emu.owner:call("CreateApiKey", { spec = base }))   -- ended at v0.3.0
    S.ok(emu:client("owner", "v0.3.0"):call("CreateApiKey", { spec = base }))
  end)

  it("allow 10 unexpired keys per user and 20 per service account", function()
    local me = S.ok(emu.reader:call("GetCurrentIdentity", {})).user   -- holds its bootstrap key
    local function key(caller, owner_id, kind, expiry)
      return caller:call("CreateApiKey", { spec = { owner_id = owner_id, owner_type = kind,
        display_name = "k", expiry_time = expiry or S.year_from(emu) } })
    end
    local soon = { seconds = emu.test_clock.t + 60, nanos = 0 }
    S.ok(key(emu.reader, me.id, "OWNER_TYPE_USER", soon))
    for i = 3, 10 do
      S.ok(key(emu.reader, me.id, "OWNER_TYPE_USER"))
      if i % 5 == 0 then emu.advance(2) end   -- within the operations in flight
    end
    local err = S.fails("FAILED_PRECONDITION", key(emu.reader, me.id, "OWNER_TYPE_USER"))
    assert.matches("10 unexpired API keys", err.message)
    emu.advance(61)   -- one of them expires: room for another
    S.ok(key(emu.reader, me.id, "OWNER_TYPE_USER"))
    S.fails("FAILED_PRECONDITION", key(emu.owner, me.id, "OWNER_TYPE_USER"))
    local sa = S.ok(emu.admin:call("GetCurrentIdentity", {})).service_account
    for i = 2, 20 do
      S.ok(key(emu.owner, sa.id, "OWNER_TYPE_SERVICE_ACCOUNT"))
      if i % 5 == 0 then emu.advance(2) end
    end
    err = S.fails("FAILED_PRECONDITION", key(emu.owner, sa.id, "OWNER_TYPE_SERVICE_ACCOUNT"))
    assert.matches("20 unexpired API keys", err.message)
  end)

  it("keep an API key's expiry within two years when it is updated", function()
    local me = S.ok(emu.reader:call("GetCurrentIdentity", {})).user
    local id = S.ok(emu.reader:call("CreateApiKey", { spec = { owner_id = me.id, owner_type = "OWNER_TYPE_USER",
      display_name = "k", expiry_time = S.year_from(emu) } })).key_id
    emu.advance(2)
    local far = { seconds = emu.test_clock.t + 3 * 365 * 86400, nanos = 0 }
    local err = S.fails("INVALID_ARGUMENT", emu.reader:call("UpdateApiKey", { key_id = id,
      spec = { display_name = "k", expiry_time = far } }))
    assert.matches("two years", err.message)
    S.ok(emu.reader:call("UpdateApiKey", { key_id = id, spec = { display_name = "renamed" } }))
  end)

  it("enable or disable a key when the update's operation ends, not at once", function()
    local sa = S.ok(emu.admin:call("GetCurrentIdentity", {})).service_account
    local created = S.ok(emu.owner:call("CreateApiKey", { spec = { owner_id = sa.id,
      owner_type = "OWNER_TYPE_SERVICE_ACCOUNT", display_name = "bot", expiry_time = S.year_from(emu) } }))
    emu.advance(2)
    local bot = emu:client(created.token)
    local function set(disabled)
      local k = S.ok(emu.owner:call("GetApiKey", { key_id = created.key_id })).api_key
      k.spec.disabled = disabled
      return S.ok(emu.owner:call("UpdateApiKey",
        { key_id = k.id, spec = k.spec, resource_version = k.resource_version }))
    end
    set(true)
    S.ok(bot:call("GetRegions", {}))                       -- still enabled while the update runs
    emu.advance(2)
    S.fails("UNAUTHENTICATED", bot:call("GetRegions", {}))
    set(false)
    S.fails("UNAUTHENTICATED", bot:call("GetRegions", {}))  -- still disabled while it runs
    emu.advance(2)
    S.ok(bot:call("GetRegions", {}))
    -- a disable whose operation is rejected leaves the key enabled, as it was
    emu:fault { method = "UpdateApiKey", operation = "REJECTED", reason = "no" }
    set(true)
    emu.advance(2)
    S.ok(bot:call("GetRegions", {}))
    assert.is_false(S.ok(emu.owner:call("GetApiKey", { key_id = created.key_id })).api_key.spec.disabled)
  end)
end)

describe("emulator Nexus endpoints, connectivity rules and export sinks", function()
  local emu, ns
  before_each(function()
    emu = S.new()
    ns = S.namespace(emu, "nx")
  end)

  it("manage Nexus endpoints", function()
    -- a developer manages endpoints that target a namespace it administers
    local mine = S.ok(emu.developer:call("CreateNamespace", { spec = S.namespace_spec("devtarget") })).namespace
    emu.advance(2)
    local spec = { name = "orders",
                   target_spec = { worker_target_spec = { namespace_id = ns.namespace, task_queue = "q" } },
                   policy_specs = { { allowed_cloud_namespace_policy_spec = { namespace_id = ns.namespace } } },
                   description = { data = "# Orders", metadata = { encoding = "json/plain" } } }
    S.fails("PERMISSION_DENIED", emu.developer:call("CreateNexusEndpoint", { spec = spec }))
    spec.target_spec.worker_target_spec.namespace_id = mine
    local id = S.ok(emu.developer:call("CreateNexusEndpoint", { spec = spec })).endpoint_id
    S.fails("ALREADY_EXISTS", emu.owner:call("CreateNexusEndpoint", { spec = spec }))
    spec.name = "-bad"
    S.fails("INVALID_ARGUMENT", emu.owner:call("CreateNexusEndpoint", { spec = spec }))
    local found = S.ok(emu.owner:call("GetNexusEndpoints", { target_task_queue = "q" })).endpoints
    assert.are.equal(id, found[1].id)
    assert.are.equal("# Orders", found[1].spec.description.data)
    assert.are.equal(0, #S.ok(emu.owner:call("GetNexusEndpoints", { name = "other" })).endpoints)
    local e = S.ok(emu.owner:call("GetNexusEndpoint", { endpoint_id = id })).endpoint
    S.ok(emu.owner:call("DeleteNexusEndpoint", { endpoint_id = id, resource_version = e.resource_version }))
    emu.advance(2)
    S.fails("NOT_FOUND", emu.owner:call("GetNexusEndpoint", { endpoint_id = id }))
  end)

  it("manage connectivity rules and refuse to delete one in use", function()
    S.fails("INVALID_ARGUMENT", emu.owner:call("CreateConnectivityRule", { spec = {
      private_rule = { region = "aws-us-east-1" } } }))
    S.fails("INVALID_ARGUMENT", emu.owner:call("CreateConnectivityRule", { spec = {
      private_rule = { region = "gcp-us-central1", connection_id = "1" } } }))
    local id = S.ok(emu.owner:call("CreateConnectivityRule", { spec = {
      private_rule = { region = "aws-us-east-1", connection_id = "vpce-1" } } })).connectivity_rule_id
    emu.advance(2)
    local spec = ns.spec
    spec.connectivity_rule_ids = { id }
    S.ok(emu.owner:call("UpdateNamespace", { namespace = ns.namespace, spec = spec }))
    local got = S.ok(emu.owner:call("GetNamespace", { namespace = ns.namespace })).namespace
    assert.are.equal(id, got.connectivity_rules[1].id)
    local rules = S.ok(emu.owner:call("GetConnectivityRules", { namespace = ns.namespace })).connectivity_rules
    assert.are.equal(1, #rules)
    local rule = S.ok(emu.owner:call("GetConnectivityRule", { connectivity_rule_id = id })).connectivity_rule
    S.fails("INVALID_ARGUMENT", emu.owner:call("DeleteConnectivityRule", { connectivity_rule_id = id }))
    S.fails("FAILED_PRECONDITION", emu.owner:call("DeleteConnectivityRule", { connectivity_rule_id = id,
      resource_version = rule.resource_version }))
  end)

  it("keep connectivity rules within the documented limits and roles", function()
    local function rule(spec, caller) return (caller or emu.owner):call("CreateConnectivityRule", { spec = spec }) end
    local pub = S.ok(rule { public_rule = {} }).connectivity_rule_id
    local err = S.fails("ALREADY_EXISTS", rule { public_rule = { enable_stable_ips = true } })
    assert.matches(pub, err.message, 1, true)
    -- a private rule only in the namespace's region
    local west = S.ok(rule { private_rule = { region = "aws-us-west-2", connection_id = "vpce-w" } })
      .connectivity_rule_id
    emu.advance(2)
    local spec = ns.spec   -- the namespace is in aws-us-east-1
    spec.connectivity_rule_ids = { pub, west }
    err = S.fails("INVALID_ARGUMENT", emu.owner:call("UpdateNamespace", { namespace = ns.namespace, spec = spec }))
    assert.matches("not a region of this namespace", err.message)
    S.fails("INVALID_ARGUMENT", emu.owner:call("CreateNamespace", { spec = S.namespace_spec("ruled",
      { connectivity_rule_ids = { west } }) }))
    -- at most 5 private rules on a namespace
    local ids = { pub }
    for i = 1, 6 do
      ids[#ids + 1] = S.ok(rule { private_rule = { region = "aws-us-east-1", connection_id = "vpce-" .. i } })
        .connectivity_rule_id
      if i % 4 == 0 then emu.advance(2) end
    end
    emu.advance(2)
    spec.connectivity_rule_ids = ids
    err = S.fails("FAILED_PRECONDITION", emu.owner:call("UpdateNamespace", { namespace = ns.namespace, spec = spec }))
    assert.matches("at most 5 private", err.message)
    ids[#ids] = nil
    S.ok(emu.owner:call("UpdateNamespace", { namespace = ns.namespace, spec = spec }))
    -- developers and above see them; readers do not; only admins and owners create them
    S.ok(emu.developer:call("GetConnectivityRules", {}))
    S.ok(emu.developer:call("GetConnectivityRule", { connectivity_rule_id = pub }))
    S.fails("PERMISSION_DENIED", emu.reader:call("GetConnectivityRules", {}))
    S.fails("PERMISSION_DENIED", emu.reader:call("GetConnectivityRule", { connectivity_rule_id = pub }))
    S.fails("PERMISSION_DENIED",
      rule({ private_rule = { region = "aws-us-east-1", connection_id = "d" } }, emu.developer))
  end)

  it("allow at most 50 private connectivity rules per account", function()
    local fresh = S.new { max_operations = false }
    for i = 1, 50 do
      S.ok(fresh.owner:call("CreateConnectivityRule", { spec = {
        private_rule = { region = "aws-us-east-1", connection_id = "vpce-" .. i } } }))
    end
    local err = S.fails("FAILED_PRECONDITION", fresh.owner:call("CreateConnectivityRule", { spec = {
      private_rule = { region = "aws-us-east-1", connection_id = "vpce-51" } } }))
    assert.matches("50 private connectivity rules", err.message)
    S.ok(fresh.owner:call("CreateConnectivityRule", { spec = { public_rule = {} } }))
  end)

  it("manage export sinks", function()
    local gcp = S.namespace(emu, "on-gcp", { regions = { "gcp-us-central1" } })
    local spec = { name = "hist", enabled = true,
                   gcs = { sa_id = "sa", bucket_name = "b", gcp_project_id = "p", region = "us-central1" } }
    S.ok(emu.owner:call("ValidateNamespaceExportSink", { namespace = gcp.namespace, spec = spec }))
    S.fails("INVALID_ARGUMENT", emu.owner:call("ValidateNamespaceExportSink", { namespace = gcp.namespace,
      spec = { name = "x", gcs = { sa_id = "sa" } } }))
    S.ok(emu.owner:call("CreateNamespaceExportSink", { namespace = gcp.namespace, spec = spec }))
    S.fails("ALREADY_EXISTS", emu.owner:call("CreateNamespaceExportSink", { namespace = gcp.namespace, spec = spec }))
    emu.advance(2)
    local sink = S.ok(emu.owner:call("GetNamespaceExportSink", { namespace = gcp.namespace, name = "hist" })).sink
    assert.are.equal("RESOURCE_STATE_ACTIVE", sink.state)
    assert.are.equal("HEALTH_OK", sink.health)
    assert.are.equal(1, #S.ok(emu.owner:call("GetNamespaceExportSinks", { namespace = gcp.namespace })).sinks)
    S.ok(emu.owner:call("DeleteNamespaceExportSink", { namespace = gcp.namespace, name = "hist",
                                                       resource_version = sink.resource_version }))
    emu.advance(2)
    S.fails("NOT_FOUND", emu.owner:call("GetNamespaceExportSink", { namespace = gcp.namespace, name = "hist" }))
  end)

  -- docs.temporal.io/cloud/export ("A cloud account in the cloud provider where your Namespace is
  -- hosted"), /cloud/export/aws-export-s3 ("The S3 bucket must reside in the same region as your
  -- Namespace"), /cloud/export/gcp-export-gcs ("The region of the bucket must be the same as the
  -- region of your Temporal Cloud Namespace").
  it("put an export sink's bucket on the namespace's provider, in its region", function()
    local function s3(region) return { name = "s3", enabled = true,
      s3 = { role_name = "r", bucket_name = "b", region = region, aws_account_id = "123456789012" } } end
    local function sink(method, target, spec) return emu.owner:call(method, { namespace = target, spec = spec }) end
    -- ns is in aws-us-east-1: "us-east-1" (tcld's form) or "aws-us-east-1"
    S.ok(sink("ValidateNamespaceExportSink", ns.namespace, s3("us-east-1")))
    S.ok(sink("ValidateNamespaceExportSink", ns.namespace, s3("aws-us-east-1")))
    local err = S.fails("INVALID_ARGUMENT", sink("CreateNamespaceExportSink", ns.namespace, s3("us-west-2")))
    assert.matches("spec.s3.region: the bucket must be in the namespace's region (us-east-1), got \"us-west-2\"",
      err.message, 1, true)
    err = S.fails("INVALID_ARGUMENT", sink("CreateNamespaceExportSink", ns.namespace, { name = "g",
      gcs = { sa_id = "sa", bucket_name = "b", gcp_project_id = "p", region = "us-east4" } }))
    assert.matches("spec.gcs: the bucket must be on the namespace's cloud provider", err.message, 1, true)
    S.fails("INVALID_ARGUMENT", sink("ValidateNamespaceExportSink", ns.namespace, { name = "a", azure_blob = {
      tenant_id = "t", storage_account = "s", container_name = "c", region = "centralus", subscription_id = "x",
      resource_group = "g" } }))
    -- a replicated namespace has a bucket in either of its regions; an update is checked too
    local ha = S.namespace(emu, "ha-sink", { regions = { "aws-us-east-1", "aws-us-west-2" } })
    S.ok(sink("CreateNamespaceExportSink", ha.namespace, s3("us-west-2")))
    emu.advance(2)
    local got = S.ok(emu.owner:call("GetNamespaceExportSink", { namespace = ha.namespace, name = "s3" })).sink
    S.fails("INVALID_ARGUMENT", emu.owner:call("UpdateNamespaceExportSink", { namespace = ha.namespace,
      spec = s3("eu-west-1"), resource_version = got.resource_version }))
  end)
end)

describe("emulator account, regions, usage and audit logs", function()
  local emu
  before_each(function() emu = S.new { seed = { namespaces = 2, audit_logs = 4 } } end)

  it("serve a fixed region catalogue", function()
    local regions = S.ok(emu.reader:call("GetRegions", {})).regions
    assert.is_true(#regions >= 10)
    local r = S.ok(emu.reader:call("GetRegion", { region = "aws-us-west-2" })).region
    assert.are.equal("CLOUD_PROVIDER_AWS", r.cloud_provider)
    S.fails("NOT_FOUND", emu.reader:call("GetRegion", { region = "aws-moon-1" }))
    -- regions of the docs' page that the emulator once refused
    assert.are.equal("Seoul", S.ok(emu.reader:call("GetRegion", { region = "aws-ap-northeast-2" })).region.location)
    local az = S.ok(emu.reader:call("GetRegion", { region = "azure-centralus" })).region
    assert.are.equal("CLOUD_PROVIDER_AZURE", az.cloud_provider)
    for _, id in ipairs { "aws-ap-northeast-2", "azure-centralus", "gcp-asia-southeast2" } do
      S.ok(emu.owner:call("CreateNamespace", { spec = S.namespace_spec("in-" .. id, { regions = { id } }) }))
    end
    emu.advance(2)
    local ns = S.ok(emu.owner:call("GetNamespace",
      { namespace = "in-azure-centralus." .. emu.st.account.id })).namespace
    assert.are.equal("centralus.azure.api.temporal.io:7233", ns.endpoints.grpc_address)
  end)

  it("replicate a namespace only between the regions the docs pair", function()
    local ok_pairs = { { "aws-us-east-1", "gcp-us-central1" }, { "aws-eu-west-1", "gcp-europe-west3" },
                       { "aws-ap-south-1", "aws-ap-northeast-2" }, { "azure-centralus", "aws-us-west-2" } }
    for i, p in ipairs(ok_pairs) do
      S.ok(emu.owner:call("CreateNamespace", { spec = S.namespace_spec("pair-" .. i, { regions = p }) }))
      if i % 4 == 0 then emu.advance(2) end
    end
    for i, p in ipairs { { "aws-us-east-1", "aws-eu-west-1" }, { "aws-sa-east-1", "aws-us-east-1" },
                         { "gcp-asia-southeast2", "gcp-asia-south1" } } do
      local err = S.fails("INVALID_ARGUMENT", emu.owner:call("CreateNamespace", {
        spec = S.namespace_spec("bad-pair-" .. i, { regions = p }) }))
      assert.matches("cannot have replicas", err.message)
    end
    local single = S.namespace(emu, "single")   -- aws-us-east-1
    S.fails("INVALID_ARGUMENT", emu.owner:call("AddNamespaceRegion", { namespace = single.namespace,
      region = "aws-eu-central-1" }))
    S.ok(emu.owner:call("AddNamespaceRegion", { namespace = single.namespace, region = "aws-ca-central-1" }))
  end)

  -- docs.temporal.io/cloud/regions: "Same Region Replication: Available" in aws-ap-southeast-2,
  -- aws-us-east-1 and aws-us-west-2 only; docs.temporal.io/cloud/high-availability/enable:
  -- "You cannot disable automatic failovers for a Same-region Replication Namespace".
  it("replicate a namespace within one region where the regions page lists it as available", function()
    local twin = S.namespace(emu, "same-east", { regions = { "aws-us-east-1", "aws-us-east-1" } })
    assert.are.equal(2, #twin.replicas)
    assert.are.same({ { region = "aws-us-east-1" }, { region = "aws-us-east-1" } }, twin.spec.replicas)
    assert.are.equal("aws-us-east-1", twin.active_region)
    for i, region in ipairs { "aws-eu-west-1", "gcp-us-central1", "azure-centralus", "aws-us-east-2" } do
      local err = S.fails("INVALID_ARGUMENT", emu.owner:call("CreateNamespace", {
        spec = S.namespace_spec("same-bad-" .. i, { regions = { region, region } }) }))
      assert.matches("same-region replication is not available there", err.message, 1, true)
    end
    local err = S.fails("INVALID_ARGUMENT", emu.owner:call("CreateNamespace", { spec = S.namespace_spec("no-auto",
      { regions = { "aws-us-west-2", "aws-us-west-2" }, high_availability = { disable_managed_failover = true } }) }))
    assert.matches("automatic failovers are always enabled for same-region replication", err.message, 1, true)
    -- a replica added in the namespace's own region; not where the page says it is not available
    local west = S.namespace(emu, "same-west", { regions = { "aws-ap-southeast-2" } })
    S.ok(emu.owner:call("AddNamespaceRegion", { namespace = west.namespace, region = "aws-ap-southeast-2" }))
    local ohio = S.namespace(emu, "ohio", { regions = { "aws-us-east-2" } })
    S.fails("ALREADY_EXISTS", emu.owner:call("AddNamespaceRegion", { namespace = ohio.namespace,
      region = "aws-us-east-2" }))
    emu.advance(2)
    west = S.ok(emu.owner:call("GetNamespace", { namespace = west.namespace })).namespace
    assert.are.equal(2, #west.replicas)
    -- failing over to the region moves to the other cell; removing the region removes the passive one
    local before
    for _, rep in ipairs(twin.replicas) do if rep.is_primary then before = rep.id end end
    S.ok(emu.owner:call("FailoverNamespaceRegion", { namespace = twin.namespace, region = "aws-us-east-1" }))
    emu.advance(2)
    twin = S.ok(emu.owner:call("GetNamespace", { namespace = twin.namespace })).namespace
    local primaries = 0
    for _, rep in ipairs(twin.replicas) do
      if rep.is_primary then primaries = primaries + 1; assert.are_not.equal(before, rep.id) end
    end
    assert.are.equal(1, primaries)
    S.ok(emu.owner:call("DeleteNamespaceRegion", { namespace = twin.namespace, region = "aws-us-east-1" }))
    emu.advance(2)
    twin = S.ok(emu.owner:call("GetNamespace", { namespace = twin.namespace })).namespace
    assert.are.equal(1, #twin.replicas)
    assert.is_true(twin.replicas[1].is_primary)
    -- and back to two through UpdateNamespace's replicas
    twin.spec.replicas = { { region = "aws-us-east-1" }, { region = "aws-us-east-1" } }
    S.ok(emu.owner:call("UpdateNamespace", { namespace = twin.namespace, spec = twin.spec,
                                             resource_version = twin.resource_version }))
    emu.advance(2)
    assert.are.equal(2, #S.ok(emu.owner:call("GetNamespace", { namespace = twin.namespace })).namespace.replicas)
  end)

  it("serve usage per day and namespace to owners and finance admins", function()
    local today = math.floor(emu.test_clock.t / 86400) * 86400
    local r = S.ok(emu.owner:call("GetUsage", { start_time_inclusive = { seconds = today - 2 * 86400 },
                                                end_time_exclusive = { seconds = today + 86400 } }))
    assert.are.equal(3, #r.summaries)
    assert.are.equal(2, #r.summaries[1].record_groups)
    assert.is_true(r.summaries[3].incomplete)
    assert.are.equal("GROUP_BY_KEY_NAMESPACE", r.summaries[1].record_groups[1].group_bys[1].key)
    S.fails("INVALID_ARGUMENT", emu.owner:call("GetUsage", { start_time_inclusive = { seconds = today + 5 } }))
    S.fails("INVALID_ARGUMENT",
      emu.owner:call("GetUsage", { start_time_inclusive = { seconds = today - 100 * 86400 } }))
    S.fails("PERMISSION_DENIED", emu.reader:call("GetUsage", {}))
  end)

  it("record the documented events as the service names them, after the seeded records", function()
    local ns = S.namespace(emu, "audited")
    local logs = S.ok(emu.owner:call("GetAuditLogs", {})).logs
    assert.are.equal(5, #logs)
    local last = logs[5]
    assert.are.equal("CreateNamespaceAPI", last.operation)
    assert.are.equal(2, last.version)
    assert.are.equal("OK", last.status)
    assert.are.equal("owner@example.com", last.principal.name)
    assert.are.equal("user", last.principal.type)
    assert.are.equal("audited.emu01", last.raw_details.namespace)
    assert.are.equal(emu.st.ops[last.async_operation_id].method, "CreateNamespace")
    -- events the docs do not list leave no record; a service account's key is its own event
    S.ok(emu.owner:call("UpdateNamespaceTags", { namespace = ns.namespace, tags_to_upsert = { a = "b" } }))
    local gid = S.ok(emu.owner:call("CreateUserGroup", { spec = { display_name = "g", cloud_group = {} } })).group_id
    local me = S.ok(emu.reader:call("GetCurrentIdentity", {})).user
    S.ok(emu.owner:call("AddUserGroupMember", { group_id = gid, member_id = { user_id = me.id } }))
    local sa = S.ok(emu.admin:call("GetCurrentIdentity", {})).service_account
    S.ok(emu.owner:call("CreateApiKey", { spec = { owner_id = sa.id, owner_type = "OWNER_TYPE_SERVICE_ACCOUNT",
      display_name = "k", expiry_time = S.year_from(emu) } }))
    S.ok(emu.reader:call("CreateApiKey", { spec = { owner_id = me.id, owner_type = "OWNER_TYPE_USER",
      display_name = "k", expiry_time = S.year_from(emu) } }))
    S.ok(emu.owner:call("ValidateNamespaceExportSink", { namespace = ns.namespace, spec = { name = "v",
      s3 = { role_name = "r", bucket_name = "b", region = "us-east-1", aws_account_id = "1" } } }))
    local names = {}
    for i, l in ipairs(S.ok(emu.owner:call("GetAuditLogs", {})).logs) do
      if i > 5 then names[#names + 1] = l.operation end
    end
    assert.are.same({ "CreateUserGroup", "CreateServiceAccountAPIKey", "CreateAPIKey", "ValidateNamespaceExportSink" },
      names)
    S.fails("PERMISSION_DENIED", emu.reader:call("GetAuditLogs", {}))
  end)
end)

describe("emulator updates that change nothing", function()
  -- tcld --idempotent and the Terraform provider recognise INVALID_ARGUMENT "nothing to change"
  it("answer INVALID_ARGUMENT 'nothing to change' and start no operation", function()
    local emu = S.new()
    local ns = S.namespace(emu, "same")
    local uid = S.ok(emu.owner:call("CreateUser", { spec = { email = "same@example.com",
      access = { account_access = { role = "ROLE_READ" } } } })).user_id
    local ep = S.ok(emu.owner:call("CreateNexusEndpoint", { spec = { name = "same",
      target_spec = { worker_target_spec = { namespace_id = ns.namespace, task_queue = "q" } } } })).endpoint_id
    local me = S.ok(emu.reader:call("GetCurrentIdentity", {})).user
    local key = S.ok(emu.reader:call("CreateApiKey", { spec = { owner_id = me.id, owner_type = "OWNER_TYPE_USER",
      display_name = "k", expiry_time = S.year_from(emu) } })).key_id
    S.ok(emu.owner:call("UpdateNamespaceTags", { namespace = ns.namespace, tags_to_upsert = { env = "dev" } }))
    emu.advance(2)
    local function nothing(method, req)
      local before = 0
      for _ in pairs(emu.st.ops) do before = before + 1 end
      local err = S.fails("INVALID_ARGUMENT", emu.owner:call(method, req))
      assert.matches("^nothing to change", err.message, nil, method)
      local after = 0
      for _ in pairs(emu.st.ops) do after = after + 1 end
      assert.are.equal(before, after, method .. " started an operation")
    end
    ns = S.ok(emu.owner:call("GetNamespace", { namespace = ns.namespace })).namespace
    nothing("UpdateNamespace", { namespace = ns.namespace, spec = ns.spec, resource_version = ns.resource_version })
    nothing("UpdateNamespaceTags", { namespace = ns.namespace, tags_to_upsert = { env = "dev" } })
    nothing("UpdateNamespaceTags", { namespace = ns.namespace, tags_to_remove = { "absent" } })
    local u = S.ok(emu.owner:call("GetUser", { user_id = uid })).user
    nothing("UpdateUser", { user_id = uid, spec = u.spec })
    nothing("SetUserNamespaceAccess", { user_id = uid, namespace = ns.namespace, access = {} })
    local e = S.ok(emu.owner:call("GetNexusEndpoint", { endpoint_id = ep })).endpoint
    nothing("UpdateNexusEndpoint", { endpoint_id = ep, spec = e.spec })
    local k = S.ok(emu.owner:call("GetApiKey", { key_id = key })).api_key
    nothing("UpdateApiKey", { key_id = key, spec = { display_name = k.spec.display_name } })
    nothing("UpdateAccount", { spec = S.ok(emu.owner:call("GetAccount", {})).account.spec })
    -- one real change goes through
    ns.spec.retention_days = 8
    S.ok(emu.owner:call("UpdateNamespace", { namespace = ns.namespace, spec = ns.spec }))
  end)
end)
