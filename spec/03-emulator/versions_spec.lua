-- API versions: the schema's temporal:versioning comments, kept by the build, shown by
-- cloudops.describe and pretty.describe, and enforced by the emulator on what a call sends and
-- receives at its temporal-cloud-api-version.
local S = require "03-emulator.emu_support"
local has_core, cloudops = pcall(require, "cloudops")

describe("API versions", function()
  if not has_core then
    it("need the built core", function() pending("make first") end)
    return
  end

  local function field(type_name, name)
    for _, f in ipairs(cloudops.describe(type_name).fields) do
      if f.name == name then return f end
    end
  end

  it("are in cloudops.describe, per field and per message, with the replacement", function()
    local regions = field("NamespaceSpec", "regions")
    assert.are.equal("v0.15.0", regions.max_version)
    assert.are.equal("replicas", regions.replaced_by)   -- "Use replicas field instead"
    assert.is_nil(regions.min_version)
    assert.are.equal("v0.13.0", field("NamespaceSpec", "replicas").min_version)
    assert.is_nil(field("NamespaceSpec", "name").min_version)
    -- temporal:enums:replaces=role_deprecated, on the field that took its place
    assert.are.equal("role", field("AccountAccess", "role_deprecated").replaced_by)
    assert.are.equal("v0.3.0", field("AccountAccess", "role").min_version)
    assert.are.equal("v0.13.0", cloudops.describe("ReplicaSpec").min_version)
    assert.is_nil(cloudops.describe("NamespaceSpec").min_version)
  end)

  it("are in pretty.describe", function()
    local text = require("cloudops.pretty").describe("NamespaceSpec")
    assert.matches("regions = 2;  -- until v0.15.0, use replicas", text, 1, true)
    assert.matches("replicas = 13;  -- since v0.13.0", text, 1, true)
    assert.matches("ReplicaSpec {  -- since v0.13.0", require("cloudops.pretty").describe("ReplicaSpec"), 1, true)
  end)

  describe("in the emulator", function()
    local emu
    before_each(function() emu = S.new() end)

    it("refuse a field that ended before the call's version, naming the replacement", function()
      local err = S.fails("INVALID_ARGUMENT", emu.owner:call("CreateNamespace", { spec = {
        name = "old", regions = { "aws-us-east-1" }, retention_days = 7, api_key_auth = { enabled = true } } }))
      assert.matches("spec.regions is not supported after API version v0.15.0", err.message, 1, true)
      assert.matches("use replicas instead", err.message, 1, true)
      -- deep in a map of messages, with its path
      local ns = S.namespace(emu, "deep").namespace
      err = S.fails("INVALID_ARGUMENT", emu.owner:call("CreateUser", { spec = { email = "d@example.com",
        access = { account_access = { role = "ROLE_READ" },
                   namespace_accesses = { [ns] = { permission_deprecated = "read" } } } } }))
      assert.matches("spec.access.namespace_accesses[" .. ns .. "].permission_deprecated", err.message, 1, true)
      assert.matches("use permission instead", err.message, 1, true)
      -- the same request is fine at a version that has the field
      S.ok(emu:client("owner", "v0.15.0"):call("CreateNamespace", { spec = {
        name = "old", regions = { "aws-us-east-1" }, retention_days = 7, api_key_auth = { enabled = true } } }))
    end)

    it("refuse a field added after the call's version", function()
      local err = S.fails("INVALID_ARGUMENT", emu:client("owner", "v0.12.0"):call("CreateNamespace", {
        spec = S.namespace_spec("new") }))
      assert.matches("spec.replicas was added in API version v0.13.0", err.message, 1, true)
      -- a field at its default is not set, whatever the version
      S.ok(emu:client("owner", "v0.12.0"):call("CreateNamespace", { spec = { name = "new",
        regions = { "aws-us-east-1" }, retention_days = 7, api_key_auth = { enabled = true }, replicas = {},
        connectivity_rule_ids = {} } }))
    end)

    it("leave out of an answer the fields the call's version does not have", function()
      local me = S.ok(emu.reader:call("GetCurrentIdentity", {})).user
      local id = S.ok(emu.reader:call("CreateApiKey", { spec = { owner_id = me.id, owner_type = "OWNER_TYPE_USER",
        display_name = "k", expiry_time = S.year_from(emu) } })).key_id
      local now = S.ok(emu.reader:call("GetApiKey", { key_id = id })).api_key
      assert.is_nil(now.spec.owner_type_deprecated)
      assert.is_nil(now.state_deprecated)
      assert.are.equal("OWNER_TYPE_USER", now.spec.owner_type)
      local old = S.ok(emu:client("reader", "v0.2.0"):call("GetApiKey", { key_id = id })).api_key
      assert.are.equal("user", old.spec.owner_type_deprecated)
      assert.is_nil(old.spec.owner_type)
      -- so what a caller reads, it may send back
      emu.advance(2)
      now.spec.display_name = "renamed"
      S.ok(emu.reader:call("UpdateApiKey", { key_id = id, spec = now.spec, resource_version = now.resource_version }))
    end)

    -- The schema's README, "API Version": "The backend will use the version to safely mutate
    -- resources"; docs.temporal.io/ops, "API version header". What a request's version does not
    -- know is kept; an older reader sees the equivalent older form.
    it("keep what an older version's read-modify-write does not know (UpdateUser at v0.17.1)", function()
      local pid = S.ok(emu.owner:call("CreateProject", { spec = { display_name = "payments" } })).project_id
      local ns = S.namespace(emu, "kept").namespace
      local uid = S.ok(emu.owner:call("CreateUser", { spec = { email = "old@example.com", access = {
        account_access = { role = "ROLE_READ" },
        project_accesses = { [pid] = { role = "PROJECT_ROLE_ADMIN" } } } } })).user_id
      emu.advance(2)
      -- v0.17.1 (the version issue 18 found older SDKs sending): before project_accesses
      local old = emu:client("owner", "v0.17.1")
      local u = S.ok(old:call("GetUser", { user_id = uid })).user
      assert.is_nil(u.spec.access.project_accesses)   -- v0.18.0: not in this version's answer
      u.spec.access.namespace_accesses = { [ns] = { permission = "PERMISSION_WRITE" } }
      S.ok(old:call("UpdateUser", { user_id = uid, spec = u.spec, resource_version = u.resource_version }))
      emu.advance(2)
      local now = S.ok(emu.owner:call("GetUser", { user_id = uid })).user
      assert.are.equal("PROJECT_ROLE_ADMIN", now.spec.access.project_accesses[pid].role)   -- kept
      assert.are.equal("PERMISSION_WRITE", now.spec.access.namespace_accesses[ns].permission)   -- changed
      -- a caller of a version that knows the field removes it by leaving it out
      now.spec.access.project_accesses = nil
      S.ok(emu.owner:call("UpdateUser", { user_id = uid, spec = now.spec, resource_version = now.resource_version }))
      emu.advance(2)
      assert.is_nil(next(S.ok(emu.owner:call("GetUser", { user_id = uid })).user.spec.access.project_accesses or {}))
    end)

    it("answer an older reader in its version's form: spec.regions from the replicas (tcld, v0.10.0)", function()
      local made = S.namespace(emu, "twofold", { regions = { "aws-us-east-1", "aws-us-east-2" },
        high_availability = { disable_passive_poller_forwarding = true } })
      assert.is_nil(made.spec.regions)                     -- the latest version has replicas only
      local tcld = emu:client("owner", "v0.10.0")
      local ns = S.ok(tcld:call("GetNamespace", { namespace = made.namespace })).namespace
      assert.are.same({ "aws-us-east-1", "aws-us-east-2" }, ns.spec.regions)
      assert.is_nil(ns.spec.replicas)                       -- v0.13.0
      assert.is_nil(ns.spec.high_availability.disable_passive_poller_forwarding)   -- v0.13.0
      assert.are.same({ "aws-us-east-1", "aws-us-east-2" },
        S.ok(tcld:call("GetNamespaces", {})).namespaces[1].spec.regions)
      -- tcld's read-modify-write: what v0.10.0 does not know stays as it was
      ns.spec.retention_days = 30
      S.ok(tcld:call("UpdateNamespace", { namespace = ns.namespace, spec = ns.spec,
                                          resource_version = ns.resource_version }))
      emu.advance(2)
      local now = S.ok(emu.owner:call("GetNamespace", { namespace = made.namespace })).namespace
      assert.are.equal(30, now.spec.retention_days)
      assert.are.same({ { region = "aws-us-east-1" }, { region = "aws-us-east-2" } }, now.spec.replicas)
      assert.is_true(now.spec.high_availability.disable_passive_poller_forwarding)
      assert.are.equal(2, #now.replicas)
      -- a namespace tcld creates with regions has the replicas of the newer versions
      local r = S.ok(tcld:call("CreateNamespace", { spec = { name = "tcld", regions = { "aws-us-west-2" },
        retention_days = 7, api_key_auth = { enabled = true } } }))
      emu.advance(2)
      assert.are.same({ { region = "aws-us-west-2" } },
        S.ok(emu.owner:call("GetNamespace", { namespace = r.namespace })).namespace.spec.replicas)
    end)

    it("convert between a dropped string and the enum that replaced it, both ways", function()
      -- a v0.2.0 caller gives the role as text; the model holds the enum
      local ancient = emu:client("owner", "v0.2.0")
      local uid = S.ok(ancient:call("CreateUser", { spec = { email = "v02@example.com",
        access = { account_access = { role_deprecated = "developer" } } } })).user_id
      emu.advance(2)
      local u = S.ok(emu.owner:call("GetUser", { user_id = uid })).user
      assert.are.equal("ROLE_DEVELOPER", u.spec.access.account_access.role)
      assert.is_nil(u.spec.access.account_access.role_deprecated)
      -- and reads it back as text; a user made with the enum too
      assert.are.equal("developer", S.ok(ancient:call("GetUser", { user_id = uid })).user.spec.access
        .account_access.role_deprecated)
      local me = S.ok(ancient:call("GetCurrentIdentity", {})).user
      assert.are.equal("owner", me.spec.access.account_access.role_deprecated)
      assert.is_nil(me.spec.access.account_access.role)
    end)

    it("check nothing when the version header is no version", function()
      S.ok(emu:client("owner", "latest"):call("CreateNamespace", { spec = { name = "any",
        regions = { "aws-us-east-1" }, retention_days = 7, api_key_auth = { enabled = true } } }))
    end)
  end)
end)

-- Over gRPC, as a client of an older version would: the wire form of the same rule.
describe("API versions over gRPC", function()
  if not has_core then
    it("need the built core", function() pending("make first") end)
    return
  end
  local emulator = require "cloudops.emulator"
  local emu
  lazy_setup(function() emu = assert(emulator.spawn { op_duration = 0.05, op_pending = 0 }) end)
  lazy_teardown(function() if emu then emu.stop() end end)

  it("keep project_accesses through client:update at v0.17.1", function()
    local c = S.connect(emu)
    local old = S.connect(emu, { api_version = "v0.17.1" })
    local pid = assert(c:create_project { spec = { display_name = "wire" } }).project_id
    local made = assert(c:create_user { spec = { email = "wire@example.com", access = {
      account_access = { role = "ROLE_READ" }, project_accesses = { [pid] = { role = "PROJECT_ROLE_READ" } } } } })
    assert(c:wait(made))
    local op = assert(old:update("user", made.user_id, function(u)
      assert.is_nil(next(u.spec.access.project_accesses))   -- the answer had none at v0.17.1
      u.spec.access.account_access.role = "ROLE_DEVELOPER"
    end))
    assert(c:wait(op))
    local u = assert(c:get_user { user_id = made.user_id }).user
    assert.are.equal("ROLE_DEVELOPER", u.spec.access.account_access.role)
    assert.are.equal("PROJECT_ROLE_READ", u.spec.access.project_accesses[pid].role)
  end)
end)
