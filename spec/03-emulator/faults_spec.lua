-- Injected faults: errors before or after a mutation is applied, delays, outcomes.
local S = require "03-emulator.emu_support"
local faults = require "cloudops.emulator.faults"

describe("emulator faults", function()
  local emu
  before_each(function() emu = S.new() end)

  it("fail a call before anything is applied", function()
    emu:fault { method = "CreateNamespace", code = "UNAVAILABLE" }
    local err = S.fails("UNAVAILABLE", emu.owner:call("CreateNamespace", { spec = S.namespace_spec("f1") }))
    assert.are.equal("injected fault", err.message)
    S.fails("NOT_FOUND", emu.owner:call("GetNamespace", { namespace = "f1.emu01" }))
    S.ok(emu.owner:call("CreateNamespace", { spec = S.namespace_spec("f1") }))   -- once only
  end)

  it("fail after applying a mutation, so that a retry with the same id is a replay", function()
    emu:fault { method = "CreateNamespace", code = "UNAVAILABLE", when = "after", message = "connection reset" }
    local req = { spec = S.namespace_spec("f2"), async_operation_id = "retry-me" }
    local err = S.fails("UNAVAILABLE", emu.owner:call("CreateNamespace", req))
    assert.are.equal("connection reset", err.message)
    S.ok(emu.owner:call("GetNamespace", { namespace = "f2.emu01" }))   -- it was applied
    local r = S.ok(emu.owner:call("CreateNamespace", req))
    assert.are.equal("retry-me", r.async_operation.id)
    assert.are.equal("f2.emu01", r.namespace)
  end)

  it("after a call that was refused before its handler ran, keep an 'after' fault for the next", function()
    emu:fault { method = "CreateNamespace", code = "UNAVAILABLE", when = "after" }
    -- refused before the handler (an authenticated caller without the version header): nothing
    -- applied, and the fault is not used up
    local no_version = emu:client("owner", "")
    S.fails("INVALID_ARGUMENT", no_version:call("CreateNamespace", { spec = S.namespace_spec("f3") }))
    S.fails("NOT_FOUND", emu.owner:call("GetNamespace", { namespace = "f3.emu01" }))
    S.fails("UNAVAILABLE", emu.owner:call("CreateNamespace", { spec = S.namespace_spec("f3") }))
    S.ok(emu.owner:call("GetNamespace", { namespace = "f3.emu01" }))   -- applied, then the fault
  end)

  it("delay answers, counting and skipping calls", function()
    emu:fault { method = "*", delay = 0.5, skip = 1, times = 2 }
    local _, _, info = emu.owner:call("GetRegions", {})
    assert.is_nil(info.delay)
    for _ = 1, 2 do
      _, _, info = emu.owner:call("GetRegions", {})
      assert.are.equal(0.5, info.delay)
    end
    _, _, info = emu.owner:call("GetRegions", {})
    assert.is_nil(info.delay)
  end)

  it("apply always with times = math.huge and are cleared", function()
    emu:fault { method = "GetAccount", code = "INTERNAL", times = math.huge }
    for _ = 1, 5 do S.fails("INTERNAL", emu.owner:call("GetAccount", {})) end
    emu:clear_faults()
    S.ok(emu.owner:call("GetAccount", {}))
  end)

  it("plan an operation's end state, waiting for a mutation", function()
    emu:fault { operation = "FAILED", reason = "boom" }
    S.ok(emu.owner:call("GetRegions", {}))   -- a read does not use it up
    local r = S.ok(emu.owner:call("CreateServiceAccount", { spec = { name = "doomed",
      access = { account_access = { role = "ROLE_READ" } } } }))
    emu.advance(2)
    local op = S.ok(emu.owner:call("GetAsyncOperation", { async_operation_id = r.async_operation.id })).async_operation
    assert.are.equal("STATE_FAILED", op.state)
    assert.are.equal("boom", op.failure_reason)
    local sa = S.ok(emu.owner:call("GetServiceAccount", { service_account_id = r.service_account_id })).service_account
    assert.are.equal("RESOURCE_STATE_ACTIVATION_FAILED", sa.state)
  end)

  it("come from options too, and bad rules raise", function()
    local e2 = S.new { faults = { { method = "GetRegions", code = 14 } } }
    S.fails("UNAVAILABLE", e2.owner:call("GetRegions", {}))
    assert.has_error(function() faults.new { { method = "X" } } end,
      "fault rule needs a code, a delay or an operation outcome")
    assert.has_error(function() faults.new { { code = "NOPE" } } end, "unknown gRPC status code: NOPE")
    assert.has_error(function() faults.new { { code = 14, when = "during" } } end,
      "fault rule: when must be 'before' or 'after', got during")
    assert.has_error(function() faults.new { { operation = "EXPLODED" } } end,
      "fault rule: bad operation outcome EXPLODED")
  end)
end)
