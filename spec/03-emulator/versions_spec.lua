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

    it("check nothing when the version header is no version", function()
      S.ok(emu:client("owner", "latest"):call("CreateNamespace", { spec = { name = "any",
        regions = { "aws-us-east-1" }, retention_days = 7, api_key_auth = { enabled = true } } }))
    end)
  end)
end)
