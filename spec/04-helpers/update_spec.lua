-- client:update: read, change, write with resource_version; conflicts read again.
local S = require "04-helpers.support"
local schema = require "cloudops.schema"
local core = require "cloudops.core"
local codes = require "cloudops.codes"

-- A client and a second one ("someone else") on one in-process emulator, with a namespace.
local function setup()
  local clock = S.clock()
  local handler, emu = S.emulated(clock, { op_duration = 0.2, op_pending = 0.05 })
  local c = S.fake_client(handler, { api_key = emu.keys.owner }, clock)
  local other = S.fake_client(handler, { api_key = emu.keys.owner }, clock)
  local resp = assert(c:create_namespace{ spec = S.namespace_spec("upd") })
  assert(c:wait(resp))
  return c, other, resp.namespace, clock
end

local function retention(c, ns)
  return assert(c:get_namespace{ namespace = ns }).namespace.spec.retention_days
end

describe("update", function()
  it("changes a resource with the version it read", function()
    local c, _, ns = setup()
    local before = assert(c:get_namespace{ namespace = ns }).namespace.resource_version
    local resp, err = c:update("namespace", ns, function(n)
      assert.equal(before, n.resource_version)
      n.spec.retention_days = 30
    end)
    assert.is_nil(err)
    assert.is_string(resp.async_operation.id)
    assert(c:wait(resp))
    assert.equal(30, retention(c, ns))
  end)

  it("sends nothing when the function returns false", function()
    local c, _, ns = setup()
    local version = assert(c:get_namespace{ namespace = ns }).namespace.resource_version
    assert.is_false(c:update("namespace", ns, function(n)
      n.spec.retention_days = 90
      return false
    end))
    local now = assert(c:get_namespace{ namespace = ns }).namespace
    assert.equal(version, now.resource_version)
    assert.equal(7, now.spec.retention_days)
  end)

  it("reads again after a version conflict and lands the change", function()
    local c, other, ns = setup()
    local calls = 0
    local resp, err = c:update("namespace", ns, function(n)
      calls = calls + 1
      if calls == 1 then
        -- Someone else changes the namespace between our read and our write.
        assert(other:update("namespace", ns, function(o)
          o.spec.search_attributes = { team = "SEARCH_ATTRIBUTE_TYPE_KEYWORD" }
        end))
      end
      n.spec.retention_days = 45
    end)
    assert.is_nil(err)
    assert.is_table(resp.async_operation)
    assert.equal(2, calls)
    assert(c:wait(resp))
    local spec = assert(c:get_namespace{ namespace = ns }).namespace.spec
    assert.equal(45, spec.retention_days)
    assert.matches("KEYWORD", spec.search_attributes.team)   -- their change is kept
  end)

  it("gives up with UPDATE_CONFLICT after 5 Update attempts", function()
    local version, updates = 0, 0
    local c = S.fake_client(function(method, req)
      if method == "GetUser" then
        version = version + 1
        return { user = { id = req.user_id, resource_version = "v" .. version,
                          spec = { email = "a@example.com" } } }
      end
      updates = updates + 1
      assert.equal("v" .. version, req.resource_version)
      return nil, codes.FAILED_PRECONDITION, "resource_version mismatch"
    end)
    local resp, err = c:update("user", "u1", function(u) u.spec.email = "b@example.com" end)
    assert.is_nil(resp)
    assert.equal("UPDATE_CONFLICT", err.name)
    assert.is_nil(err.code)
    assert.equal(5, err.attempts)
    assert.equal("FAILED_PRECONDITION", err.cause.name)
    assert.equal(5, updates)
    assert.matches("UPDATE_CONFLICT", tostring(err))
  end)

  it("returns a FAILED_PRECONDITION that is not a version conflict at once", function()
    local updates = 0
    local c = S.fake_client(function(method, req)
      if method == "GetUser" then
        return { user = { id = req.user_id, resource_version = "same", spec = { email = "a@example.com" } } }
      end
      updates = updates + 1
      return nil, codes.FAILED_PRECONDITION, "user is being deleted"
    end)
    local _, err = c:update("user", "u1", function() end)
    assert.equal("FAILED_PRECONDITION", err.name)
    assert.equal("user is being deleted", err.message)
    assert.equal(1, updates)
  end)

  it("returns the errors of the read and of the write", function()
    local c = setup()
    local resp, err = c:update("namespace", "missing.emu01", function() error("not called") end)
    assert.is_nil(resp)
    assert.equal("NOT_FOUND", err.name)
    local c2 = S.fake_client(function(method, req)
      if method == "GetApiKey" then return { api_key = { id = req.key_id, resource_version = "1", spec = {} } } end
      return nil, codes.PERMISSION_DENIED, "no"
    end)
    local _, err2 = c2:update("api_key", "k1", function() end)
    assert.equal("PERMISSION_DENIED", err2.name)
  end)

  it("works for every updatable kind, with its id forms", function()
    local kinds = schema.kinds()
    assert.same({ "account", "account_audit_log_sink", "api_key", "custom_role", "namespace",
                  "namespace_export_sink", "nexus_endpoint", "project", "service_account", "user",
                  "user_group" }, kinds)
    for _, kind in ipairs(kinds) do
      local k = schema.kind(kind)
      local resource_field
      for _, f in ipairs(core.describe(k.get.output).fields) do
        if f.type == "message" then resource_field = f.name end
      end
      local sent
      local c = S.fake_client(function(method, req)
        if method == k.get.name then return { [resource_field] = { resource_version = "rv-1", spec = {} } } end
        assert.equal(k.update.name, method)
        sent = req
        return { async_operation = { id = "op" } }
      end)
      local id
      if #k.id_fields == 1 then id = "id-1"
      elseif #k.id_fields > 1 then
        id = {}
        for _, f in ipairs(k.id_fields) do id[f] = f .. "-1" end
      end
      local resp, err = c:update(kind, id, function() end)
      assert.is_nil(err, kind)
      assert.equal("op", resp.async_operation.id)
      assert.equal("rv-1", sent.resource_version, kind)
      assert.is_string(sent.async_operation_id, kind)
      -- The Update request carries the identifying fields it has.
      for _, f in ipairs(core.describe(k.update.input).fields) do
        if k.id_fields[1] and f.type == "string" and f.name ~= "resource_version"
           and f.name ~= "async_operation_id" then
          local want = type(id) == "table" and id[f.name] or id
          assert.equal(want, sent[f.name], kind .. "." .. f.name)
        end
      end
    end
  end)

  it("raises programming mistakes at the caller's line", function()
    local c = S.fake_client(function(method)
      if method == "GetNamespace" then
        return { namespace = { namespace = "n", resource_version = "1", spec = { name = "n" } } }
      end
      return { async_operation = { id = "op" } }
    end)
    local f = function() end
    local line = debug.getinfo(1, "l").currentline
    local cases = {
      { function() local r = c:update("namespaces", "n", f); return r end, "unknown kind 'namespaces'" },
      { function() local r = c:update("namespace", nil, f); return r end, "must be a string (namespace)" },
      { function() local r = c:update("namespace", "n"); return r end, "expected a function" },
      { function() local r = c:update("account", "x", f); return r end, "must be nil" },
      { function() local r = c:update("namespace_export_sink", "x", f); return r end, "a table { namespace =" },
      { function() local r = c:update("namespace_export_sink", { sink = "x" }, f); return r end, "'sink' is not" },
      { function() local r = c:update("namespace", "n", function(n) n.spec.retention_days = "long" end); return r end,
        "retention_days" },
    }
    for i, case in ipairs(cases) do
      local ok, err = pcall(case[1])
      assert.is_false(ok)
      assert.matches(case[2], err, 1, true)
      assert.matches("update_spec.lua:" .. (line + 1 + i) .. ":", err, 1, true)
    end
  end)
end)
