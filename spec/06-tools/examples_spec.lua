-- Every script in examples/ runs against a spawned emulator and does what it says, so that the
-- examples cannot rot. (examples/tour.lua is the README's demo, run by `make demo` and its own
-- spec.) A new example must be added here: the last test fails for one that is not.
local helpers = require "helpers"
local T = require "06-tools.support.tools"
local cloudops = require "cloudops"
local json = require "cloudops.json"

local COVERED = {
  ["create_namespace.lua"] = true, ["create_namespaces.lua"] = true, ["grant_namespace_access.lua"] = true,
  ["export_users.lua"] = true, ["rotate_api_key.lua"] = true,
  ["tour.lua"] = true, -- the emulator engineer's, run by make demo
}

describe("examples/", function()
  local emu, client

  lazy_setup(function()
    emu = T.emulator { seed = { users = 3, namespaces = 2 } }
    client = assert(cloudops.connect { endpoint = emu.endpoint, insecure = true, api_key = emu.api_key,
                                      rate_limit = false })
  end)

  lazy_teardown(function()
    if client then client:close() end
    if emu then emu.stop() end
    helpers.cleanup()
  end)

  it("create_namespace.lua creates a namespace and waits until it is active", function()
    local out, err, status = T.example(emu, "create_namespace.lua", { "example-ns", "aws-us-west-2", "14" })
    assert.are.equal(0, status, err)
    assert.matches("namespace example%-ns%.emu01 is RESOURCE_STATE_ACTIVE", out)
    local ns = assert(client:get_namespace { namespace = "example-ns.emu01" }).namespace
    assert.are.equal(14, ns.spec.retention_days)
    assert.are.equal("aws-us-west-2", ns.spec.regions[1] or ns.spec.replicas[1].region)
  end)

  it("create_namespace.lua exits 1 with the error for a refused request", function()
    local _, err, status = T.example(emu, "create_namespace.lua", { "example-ns" }) -- exists already
    assert.are.equal(1, status)
    assert.matches("create_namespace: .*ALREADY_EXISTS", err)
    local _, uerr, ustatus = T.example(emu, "create_namespace.lua", {})
    assert.are.equal(2, ustatus)
    assert.matches("usage", uerr)
  end)

  it("create_namespaces.lua creates several namespaces side by side and waits for all", function()
    local out, err, status = T.example(emu, "create_namespaces.lua", { "batch", "3", "aws-us-west-2" })
    assert.are.equal(0, status, err)
    for i = 1, 3 do
      assert.matches("batch%-" .. i .. ": batch%-" .. i .. "%.emu01 is ready", out)
      local ns = assert(client:get_namespace { namespace = "batch-" .. i .. ".emu01" }).namespace
      assert.are.equal("RESOURCE_STATE_ACTIVE", ns.state)
      assert.are.equal("aws-us-west-2", ns.spec.replicas[1].region)
    end
    assert.matches("3 namespaces in [%d.]+ s, 0 failed", out)
    local _, uerr, ustatus = T.example(emu, "create_namespaces.lua", { "batch" })
    assert.are.equal(2, ustatus)
    assert.matches("usage", uerr)
  end)

  it("grant_namespace_access.lua gives a user access to namespaces", function()
    local out, err, status = T.example(emu, "grant_namespace_access.lua",
      { "reader@example.com", "seed-ns-001.emu01", "seed-ns-002.emu01=read" })
    assert.are.equal(0, status, err)
    assert.matches("seed%-ns%-001%.emu01 PERMISSION_WRITE", out)
    assert.matches("seed%-ns%-002%.emu01 PERMISSION_READ", out)
    local user = assert(client:get_users { email = "reader@example.com" }).users[1]
    local access = user.spec.access.namespace_accesses
    assert.are.equal("PERMISSION_WRITE", access["seed-ns-001.emu01"].permission)
    assert.are.equal("PERMISSION_READ", access["seed-ns-002.emu01"].permission)
    assert.are.equal("ROLE_READ", user.spec.access.account_access.role) -- the rest is kept
  end)

  it("grant_namespace_access.lua exits 1 for an unknown user, 2 for a bad grant", function()
    local _, err, status = T.example(emu, "grant_namespace_access.lua", { "nobody@example.com", "seed-ns-001.emu01" })
    assert.are.equal(1, status)
    assert.matches("no user with the email", err)
    _, err, status = T.example(emu, "grant_namespace_access.lua", { "reader@example.com", "ns=superuser" })
    assert.are.equal(2, status)
    assert.matches("bad grant", err)
  end)

  it("export_users.lua writes every user as a JSON array", function()
    local out, err, status = T.example(emu, "export_users.lua")
    assert.are.equal(0, status, err)
    local users = assert(json.decode_value(out))
    local expected = {}
    for u in client:paginate("get_users") do expected[#expected + 1] = u end
    assert.are.equal(#expected, #users)
    for i, u in ipairs(users) do
      assert.are.equal(expected[i].id, u.id)
      assert.are.equal(expected[i].spec.email, u.spec.email)
      -- each element is the proto3 JSON of the User, which reads back to the same table
      local back = assert(json.decode("temporal.api.cloud.identity.v1.User", assert(json.encode_value(u))))
      assert.is_true(helpers.deep_equal(expected[i], back))
    end
    local file = helpers.tmpdir() .. "/users.json"
    local _, ferr, fstatus = T.example(emu, "export_users.lua", { file })
    assert.are.equal(0, fstatus, ferr)
    assert.matches(#expected .. " users written", ferr)
    assert.are.equal(out, helpers.read_file(file))
  end)

  it("rotate_api_key.lua makes a new key for the owner and disables the old one", function()
    local old
    for k in client:paginate("get_api_keys") do
      if k.spec.display_name == "developer (emulator)" then old = k end
    end
    assert.is_table(old)
    local out, err, status = T.example(emu, "rotate_api_key.lua", { old.id, "30" })
    assert.are.equal(0, status, err)
    local new_id = out:match("new key: (%S+)")
    local token = out:match("token: (%S+)")
    assert.is_string(new_id)
    assert.matches("old key " .. old.id .. ": disabled", out, 1, true)
    local new = assert(client:get_api_key { key_id = new_id }).api_key
    assert.are.equal(old.spec.owner_id, new.spec.owner_id)
    assert.are.equal(old.spec.owner_type, new.spec.owner_type)
    local days = (cloudops.time.to_unix(new.spec.expiry_time) - os.time()) / 86400
    assert.is_true(days > 29 and days < 31, tostring(days))
    assert.is_true(assert(client:get_api_key { key_id = old.id }).api_key.spec.disabled)
    -- the new token works, and its identity is the old key's owner
    local c2 = assert(cloudops.connect { endpoint = emu.endpoint, insecure = true, api_key = token })
    assert.is_table(assert(c2:get_current_identity()))
    c2:close()
  end)

  it("rotate_api_key.lua --delete deletes the old key", function()
    local old
    for k in client:paginate("get_api_keys") do
      if k.spec.display_name == "admin (emulator)" then old = k end
    end
    local out, err, status = T.example(emu, "rotate_api_key.lua", { old.id, "--delete" })
    assert.are.equal(0, status, err)
    assert.matches("old key " .. old.id .. ": deleted", out, 1, true)
    local gone, gerr = client:get_api_key { key_id = old.id }
    assert.is_true(gone == nil or gone.api_key.state == "RESOURCE_STATE_DELETING" or
                   gone.api_key.state == "RESOURCE_STATE_DELETED", tostring(gerr))
  end)

  it("has a spec for every example", function()
    local listing = helpers.run("ls " .. helpers.sh_quote(T.ROOT .. "examples"))
    for name in listing:gmatch("[^\n]+") do
      if name:match("%.lua$") then assert.is_true(COVERED[name] == true, "no spec runs examples/" .. name) end
    end
  end)
end)
