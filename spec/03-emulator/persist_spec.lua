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
    assert.has_error(function() S.new { state_file = path } end)
    helpers.write_file(path, "os.exit(3)")   -- no globals in a state file
    assert.is_nil((persist.load(path)))
  end)
end)
