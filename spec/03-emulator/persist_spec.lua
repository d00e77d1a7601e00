-- Saving and loading the whole state.
local S = require "03-emulator.emu_support"
local persist = require "cloudops.emulator.persist"
local helpers = require "helpers"

describe("emulator state file", function()
  after_each(helpers.cleanup)

  it("round-trips the model, bytes and all", function()
    local emu = S.new()
    S.namespace(emu, "saved", { mtls_auth = { enabled = true, accepted_client_ca = S.CA .. "\0\255\r\n" } })
    local text = persist.serialize(emu.st)
    local path = helpers.tmpdir() .. "/state.lua"
    assert(persist.save(emu.st, path))
    local back = assert(persist.load(path))
    assert.is_true(helpers.deep_equal(emu.st, back))
    assert.are.equal(text, persist.serialize(back))   -- stable output
  end)

  it("is readable by its owner only, as it holds the API key tokens, whatever the umask", function()
    local dir = helpers.tmpdir()
    local path = dir .. "/state 'quoted'.lua"
    local emu = S.new()
    assert(persist.save(emu.st, path))
    assert.equal("600", (helpers.run("stat -c %a " .. helpers.sh_quote(path)):gsub("%s+$", "")))
    -- a file saved over keeps that mode, and no half-written .tmp is left beside it
    assert(persist.save(emu.st, path))
    assert.equal("600", (helpers.run("stat -c %a " .. helpers.sh_quote(path)):gsub("%s+$", "")))
    assert.is_nil(helpers.read_file(path .. ".tmp"))
    local back = assert(persist.load(path))
    assert.are.same(emu.st.tokens, back.tokens)
  end)

  it("is loaded by a new emulator: same keys, same resources, operations go on", function()
    local path = helpers.tmpdir() .. "/state.lua"
    local e1 = S.new { state_file = path }
    local r = S.ok(e1.owner:call("CreateNamespace", { spec = S.namespace_spec("persisted") }))
    assert(e1:save())
    local e2 = S.new { state_file = path }
    assert.are.same(e1.keys, e2.keys)
    local ns = S.ok(e2.owner:call("GetNamespace", { namespace = r.namespace })).namespace
    assert.are.equal("RESOURCE_STATE_ACTIVATING", ns.state)
    e2.advance(2)
    assert.are.equal("RESOURCE_STATE_ACTIVE",
      S.ok(e2.owner:call("GetNamespace", { namespace = r.namespace })).namespace.state)
  end)

  it("saves on change at most every save_interval", function()
    local path = helpers.tmpdir() .. "/state.lua"
    local emu = S.new { state_file = path, save_interval = 1 }
    emu:tick()
    assert.is_nil(helpers.read_file(path))           -- not yet due
    emu.advance(1)
    emu:tick()
    assert.is_string(helpers.read_file(path))
    S.ok(emu.owner:call("CreateUser", { spec = { email = "p@example.com",
      access = { account_access = { role = "ROLE_READ" } } } }))
    assert.is_true(emu.dirty)
    assert.is_number(emu:next_deadline())
  end)

  it("refuses a file that is not a state", function()
    local path = helpers.tmpdir() .. "/bad.lua"
    helpers.write_file(path, "return { hello = 1 }")
    assert.is_nil((persist.load(path)))
    assert.has_error(function() S.new { state_file = path } end,
      "cannot load state file " .. path .. ": not an emulator state")
    helpers.write_file(path, "os.exit(3)")   -- no globals in a state file
    assert.is_nil((persist.load(path)))
  end)
end)

-- docs/emulator.md documents the file: every key a state holds is in its table, and what it
-- says a reader writes works.
describe("emulator state file, as docs/emulator.md describes it", function()
  after_each(helpers.cleanup)

  it("lists every top-level key of a state that used every kind", function()
    local doc = assert(helpers.read_file(helpers.ROOT .. "docs/emulator.md"))
    local path = helpers.tmpdir() .. "/state.lua"
    local emu = S.new { state_file = path, seed = { audit_logs = 2 } }
    local ns = S.namespace(emu, "documented").namespace
    local uid = S.ok(emu.owner:call("CreateUser", { spec = { email = "d@example.com",
      access = { account_access = { role = "ROLE_READ" } } } })).user_id
    local gid = S.ok(emu.owner:call("CreateUserGroup", { spec = { display_name = "g", cloud_group = {},
      access = { account_access = { role = "ROLE_READ" } } } })).group_id
    emu.advance(2)
    S.ok(emu.owner:call("AddUserGroupMember", { group_id = gid, member_id = { user_id = uid } }))
    local key = S.ok(emu.owner:call("GetApiKeys", {})).api_keys[1]
    S.ok(emu.owner:call("UpdateApiKey", { key_id = key.id, resource_version = key.resource_version,
      spec = { display_name = key.spec.display_name, disabled = true, expiry_time = key.spec.expiry_time } }))
    S.ok(emu.owner:call("CreateAccountAuditLogSink", { spec = { name = "audit", enabled = true,
      kinesis_sink = { role_name = "r", destination_uri = "arn:aws:kinesis:us-east-1:123456789012:stream/s",
                       region = "us-east-1" } } }))
    S.ok(emu.owner:call("CreateBillingReport", { spec = { start_time_inclusive = { seconds = 1764547200 },
      end_time_exclusive = { seconds = 1767225600 } } }))
    emu.advance(30)
    emu:tick()
    assert(emu:save())
    -- "Read it from Lua without running anything but the constructor"
    local st = assert(loadfile(path, "t", {}))()
    assert.is_table(st.namespaces[ns])
    local missing = {}
    for _, k in ipairs { "audit_sink_since", "billing_files", "billing_busy_until", "key_status", "members",
                         "namespace_allowance", "audit_seeded", "default_project", "bootstrap", "tokens" } do
      assert.is_not_nil(st[k], k)
    end
    for k in pairs(st) do
      if not doc:find("`" .. k .. "`", 1, true) then missing[#missing + 1] = k end
    end
    table.sort(missing)
    assert.are.same({}, missing)
    assert.are.equal(1, st.format)
    emu:close()
  end)
end)
