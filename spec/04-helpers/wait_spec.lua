-- client:wait in fake time: input forms, check_duration within min_poll..max_poll, terminal
-- states and their errors, the timeout.
local S = require "04-helpers.support"
local codes = require "cloudops.codes"

local function duration(s)
  local whole = math.floor(s)
  return { seconds = whole, nanos = math.floor((s - whole) * 1e9 + 0.5) }
end

-- A GetAsyncOperation handler walking through `states` (one per poll; the last repeats), each
-- { state, check = seconds or nil, reason = }.
local function operation(states)
  local n = 0
  return function(method, req)
    assert.equal("GetAsyncOperation", method)
    n = n + 1
    local s = states[math.min(n, #states)]
    return { async_operation = { id = req.async_operation_id, state = s[1],
      check_duration = s.check and duration(s.check) or nil, failure_reason = s.reason } }
  end
end

describe("wait", function()
  it("polls until FULFILLED and returns the operation", function()
    local c, _, calls = S.fake_client(operation{ { "STATE_PENDING", check = 1 }, { "STATE_IN_PROGRESS", check = 1 },
                                                  { "STATE_FULFILLED" } })
    local op, err = c:wait("op-1")
    assert.is_nil(err)
    assert.equal("STATE_FULFILLED", op.state)
    assert.equal("op-1", op.id)
    assert.equal(3, #calls)
    assert.equal("op-1", calls[1].req.async_operation_id)
  end)

  it("takes an AsyncOperation, its id, or a response holding async_operation", function()
    for _, input in ipairs{ "op-7", { id = "op-7", state = "STATE_PENDING" },
                            { async_operation = { id = "op-7", state = "STATE_PENDING" } } } do
      local c, _, calls = S.fake_client(operation{ { "STATE_FULFILLED" } })
      local op = assert(c:wait(input))
      assert.equal("op-7", op.id)
      assert.equal("op-7", calls[1].req.async_operation_id)
    end
  end)

  it("polls a bare id at once, but sleeps a given operation's check_duration first", function()
    local c, clock = S.fake_client(operation{ { "STATE_FULFILLED" } })
    c:wait("op-1")
    assert.same({}, clock.sleeps)
    c, clock = S.fake_client(operation{ { "STATE_FULFILLED" } })
    c:wait({ id = "op-1", state = "STATE_PENDING", check_duration = duration(2) })
    assert.same({ 2 }, clock.sleeps)
  end)

  it("sleeps check_duration kept within [min_poll, max_poll]", function()
    local c, clock = S.fake_client(operation{ { "STATE_PENDING", check = 0.01 }, { "STATE_PENDING", check = 3 },
                                              { "STATE_IN_PROGRESS", check = 500 }, { "STATE_FULFILLED" } })
    assert(c:wait("op-1"))
    assert.same({ 0.5, 3, 30 }, clock.sleeps)
    c, clock = S.fake_client(operation{ { "STATE_PENDING", check = 0.01 }, { "STATE_PENDING", check = 3 },
                                        { "STATE_FULFILLED" } })
    assert(c:wait("op-1", { min_poll = 0.1, max_poll = 2 }))
    assert.same({ 0.1, 2 }, clock.sleeps)
  end)

  it("backs off from min_poll to max_poll when the server gives no check_duration", function()
    local c, clock = S.fake_client(operation{ { "STATE_PENDING" }, { "STATE_PENDING" }, { "STATE_PENDING" },
                                              { "STATE_PENDING" }, { "STATE_FULFILLED" } })
    assert(c:wait("op-1", { min_poll = 1, max_poll = 5 }))
    assert.same({ 1, 2, 4, 5 }, clock.sleeps)
  end)

  it("turns FAILED, CANCELLED and REJECTED into errors carrying the operation", function()
    for state, name in pairs{ STATE_FAILED = "OPERATION_FAILED", STATE_CANCELLED = "OPERATION_CANCELLED",
                              STATE_REJECTED = "OPERATION_REJECTED" } do
      local c = S.fake_client(operation{ { "STATE_PENDING", check = 1 }, { state, reason = "quota reached" } })
      local op, err = c:wait("op-9")
      assert.is_nil(op)
      assert.equal(name, err.name)
      assert.is_nil(err.code)
      assert.equal("quota reached", err.message)
      assert.equal(state, err.operation.state)
      assert.equal("op-9", err.operation.id)
      assert.matches(name, tostring(err))
    end
  end)

  it("does not poll an operation that has already ended", function()
    local c, _, calls = S.fake_client(operation{ { "STATE_PENDING" } })
    local op = assert(c:wait({ id = "done", state = "STATE_FULFILLED" }))
    assert.equal("done", op.id)
    local _, err = c:wait({ async_operation = { id = "bad", state = "STATE_REJECTED", failure_reason = "no" } })
    assert.equal("OPERATION_REJECTED", err.name)
    assert.equal(0, #calls)
  end)

  it("times out with DEADLINE_EXCEEDED and the last state seen", function()
    local c, clock, calls = S.fake_client(operation{ { "STATE_PENDING", check = 0.4 },
                                                     { "STATE_IN_PROGRESS", check = 0.4 } })
    local t0 = clock.t
    local op, err = c:wait("op-slow", { timeout = 3, min_poll = 0.2 })
    assert.is_nil(op)
    assert.equal("DEADLINE_EXCEEDED", err.name)
    assert.equal(codes.DEADLINE_EXCEEDED, err.code)
    assert.equal("STATE_IN_PROGRESS", err.operation.state)
    assert.near(3, clock.t - t0, 1e-9)   -- the last poll is at the deadline, not after it
    assert.equal(9, #calls)              -- at 0, 0.4, ..., 2.8 and 3
  end)

  it("waits 600 s by default", function()
    local c, clock = S.fake_client(operation{ { "STATE_IN_PROGRESS", check = 45 } })
    local t0 = clock.t
    local _, err = c:wait("op-forever")
    assert.equal("DEADLINE_EXCEEDED", err.name)
    assert.near(600, clock.t - t0, 1e-9)
    for _, s in ipairs(clock.sleeps) do assert.is_true(s <= 30) end
  end)

  it("bounds each poll by the time left (plus min_poll)", function()
    local c, _, calls = S.fake_client(operation{ { "STATE_PENDING", check = 1 } }, { timeout = 30 })
    c:wait("op-1", { timeout = 2.5, min_poll = 0.5 })
    assert.equal(3, calls[1].timeout)   -- 2.5 left + 0.5
    assert.near(0.5, calls[#calls].timeout, 1e-9)
  end)

  it("returns a failed poll's error with the last state seen", function()
    local n = 0
    local c = S.fake_client(function(_, req)
      n = n + 1
      if n == 1 then return { async_operation = { id = req.async_operation_id, state = "STATE_PENDING" } } end
      return nil, codes.NOT_FOUND, "no such operation"
    end)
    local op, err = c:wait("op-1")
    assert.is_nil(op)
    assert.equal("NOT_FOUND", err.name)
    assert.equal("STATE_PENDING", err.operation.state)
  end)

  it("rides out transient poll failures with the client's retries", function()
    local n = 0
    local c = S.fake_client(function(_, req)
      n = n + 1
      if n <= 2 then return nil, codes.UNAVAILABLE, "blip" end
      return { async_operation = { id = req.async_operation_id, state = "STATE_FULFILLED" } }
    end)
    assert(c:wait("op-1"))
  end)

  it("times out when the deadline cuts a poll's retries short", function()
    -- The server keeps saying "come back in 5 s"; the wait has 2 s.
    local c, clock = S.fake_client(function() return nil, codes.RESOURCE_EXHAUSTED, "slow down", 5 end)
    local t0 = clock.t
    local op, err = c:wait({ id = "op-1", state = "STATE_PENDING", check_duration = duration(1) }, { timeout = 2 })
    assert.is_nil(op)
    assert.equal("DEADLINE_EXCEEDED", err.name)
    assert.equal("RESOURCE_EXHAUSTED", err.cause.name)
    assert.equal("STATE_PENDING", err.operation.state)
    assert.is_true(clock.t - t0 <= 2 + 0.5)
  end)

  it("returns a transient failure that outlasted the client's retries", function()
    local c = S.fake_client(function() return nil, codes.UNAVAILABLE, "down" end,
                            { retry = { max_attempts = 3, initial = 0.01, max = 0.01 } })
    local _, err = c:wait("op-1")
    assert.equal("UNAVAILABLE", err.name)
    assert.equal(3, err.attempts)
  end)

  it("sleeps only what is left of check_duration for a response received earlier", function()
    local handler = operation{ { "STATE_FULFILLED" } }
    local c, clock = S.fake_client(function(method, req)
      if method == "CreateUser" then
        return { async_operation = { id = "op-u", state = "STATE_PENDING", check_duration = duration(3) } }
      end
      return handler(method, req)
    end)
    local resp = assert(c:create_user{ spec = { email = "a@example.com" } })
    clock.advance(1)
    assert(c:wait(resp))
    assert.same({ 2 }, clock.sleeps)
    resp = assert(c:create_user{ spec = { email = "b@example.com" } })
    clock.advance(10)
    clock.sleeps = {}
    assert(c:wait(resp.async_operation)) -- the operation table alone is known too
    assert.same({}, clock.sleeps)
  end)

  it("names the operation it waited for when the server's answer has no id", function()
    local c = S.fake_client(function()
      return { async_operation = { state = "STATE_FAILED" } }
    end)
    local op, err = c:wait("op-anon")
    assert.is_nil(op)
    assert.equal("OPERATION_FAILED", err.name)
    assert.equal("operation op-anon ended STATE_FAILED", err.message)
  end)

  it("says so when given the nil, err of a failed call instead of an operation", function()
    local c = S.fake_client(function() return nil, codes.INVALID_ARGUMENT, "bad spec" end, { retry = false })
    local ok, err = pcall(function() return c:wait(c:create_user{ spec = { email = "x@example.com" } }) end)
    assert.is_false(ok)
    assert.matches("got nil and an error where an operation belongs", err, 1, true)
    assert.matches("INVALID_ARGUMENT", err, 1, true)
    assert.matches("bad spec", err, 1, true)
  end)

  it("raises programming mistakes at the caller's line", function()
    local c = S.fake_client(operation{ { "STATE_FULFILLED" } })
    local line = debug.getinfo(1, "l").currentline
    local cases = {
      { function() local r = c:wait(42); return r end, "expects an AsyncOperation" },
      { function() local r = c:wait(""); return r end, "empty" },
      { function() local r = c:wait({ state = "STATE_PENDING" }); return r end, "no id" },
      { function() local r = c:wait("op", { timeuot = 1 }); return r end, "unknown wait option 'timeuot'" },
      { function() local r = c:wait("op", { timeout = -1 }); return r end, "timeout must be a positive number" },
      { function() local r = c:wait("op", { min_poll = 5, max_poll = 1 }); return r end, "min_poll" },
      { function() local r = c:wait("op", "fast"); return r end, "must be a table" },
    }
    for i, case in ipairs(cases) do
      local ok, err = pcall(case[1])
      assert.is_false(ok)
      assert.matches(case[2], err, 1, true)
      assert.matches("wait_spec.lua:" .. (line + 1 + i) .. ":", err, 1, true)
    end
  end)
end)

describe("wait on the emulator's model", function()
  local function setup(emu_opts)
    local clock = S.clock()
    local handler, emu = S.emulated(clock, emu_opts)
    return S.fake_client(handler, { api_key = emu.keys.owner }, clock), clock, emu
  end

  it("sees a namespace's creation through to FULFILLED, polling about once", function()
    local c, clock = setup{ op_duration = 2, op_pending = 0.5 }
    local resp = assert(c:create_namespace{ spec = S.namespace_spec("waited") })
    local op = assert(c:wait(resp))
    assert.equal("STATE_FULFILLED", op.state)
    assert.is_true(#clock.sleeps <= 2)
    local ns = assert(c:get_namespace{ namespace = resp.namespace })
    assert.equal("RESOURCE_STATE_ACTIVE", ns.namespace.state)
  end)

  it("counts check_duration from when the response was received: 10 creates, then 10 waits", function()
    local c, clock = setup{ op_duration = 2, op_pending = 0.5, rate_limits = false }
    local t0 = clock.t
    local resps = {}
    for i = 1, 10 do
      resps[i] = assert(c:create_namespace{ spec = S.namespace_spec("batch-" .. i) })
      clock.advance(0.2) -- each create's round trip
    end
    for i = 1, 10 do assert(c:wait(resps[i])) end
    -- Each operation's check_duration ran while the others were created: the waits poll at
    -- once instead of sleeping every hint in full (which took 41 s for 20 with a 2 s hint).
    assert.is_true(clock.t - t0 < 2 + 2 + 2, "took " .. (clock.t - t0) .. " s of fake time")
  end)

  it("ends in the state the emulator was told to end in", function()
    for outcome, name in pairs{ FAILED = "OPERATION_FAILED", REJECTED = "OPERATION_REJECTED",
                                CANCELLED = "OPERATION_CANCELLED" } do
      local c = setup{ faults = { { method = "CreateNamespace", operation = outcome, reason = "told to" } } }
      local resp = assert(c:create_namespace{ spec = S.namespace_spec("doomed") })
      local op, err = c:wait(resp.async_operation)
      assert.is_nil(op)
      assert.equal(name, err.name)
      assert.equal("told to", err.message)
      assert.equal("STATE_" .. outcome, err.operation.state)
    end
  end)
end)
