-- The helpers against the emulator as a child process, over gRPC (issue 4, "How we will
-- check"), with its rates and operation timings tuned down.
local S = require "04-helpers.support"
local codes = require "cloudops.codes"

-- Starts an emulator for a describe block; one that cannot start fails the block's specs.
local function emulator(opts)
  local box = {}
  lazy_setup(function() box.emu = assert(S.spawn_emulator(opts)) end)
  lazy_teardown(function() if box.emu then box.emu.stop() end end)
  return function() return assert(box.emu, "the emulator did not start") end
end

local function user_spec(email)
  return { email = email, access = { account_access = { role = "ROLE_READ" } } }
end

local function users_with(c, email)
  local n = 0
  for u, err in c:paginate("get_users", { email = email }) do
    assert.is_nil(err)
    if u.spec.email == email then n = n + 1 end
  end
  return n
end

describe("against the emulator: a mutation applied, then UNAVAILABLE", function()
  -- Rate limits off: a rejected call would use up the fault without applying anything.
  local get = emulator{ rate_limits = false, faults = {
    { method = "CreateUser", code = "UNAVAILABLE", when = "after", times = 1 },
    { method = "CreateServiceAccount", code = "UNAVAILABLE", when = "after", times = 1 },
  } }

  it("is retried with its async_operation_id and leaves exactly one resource", function()
    local emu = get()
    if not emu then return end
    local events = {}
    local c = S.connect(emu, { retry = { initial = 0.01, max = 0.05 }, on_event = function(ev)
      if ev.method == "CreateUser" then events[#events + 1] = ev.name end
    end })
    local resp, err, info = c:create_user{ spec = user_spec("once@example.com") }
    assert.is_nil(err)
    assert.equal(2, info.attempts)
    assert.same({ "UNAVAILABLE", "OK" }, events)
    assert(c:wait(resp, { min_poll = 0.01 }))
    assert.equal(1, users_with(c, "once@example.com"))
    c:close()
  end)

  it("is not retried without an async_operation_id: the client sees the error, the server applied it", function()
    local emu = get()
    if not emu then return end
    local c = S.connect(emu, { auto_operation_id = false, retry = { initial = 0.01, max = 0.05 } })
    local resp, err = c:create_service_account{ spec = { name = "sa-once",
      access = { account_access = { role = "ROLE_READ" } } } }
    assert.is_nil(resp)
    assert.equal("UNAVAILABLE", err.name)
    assert.equal(1, err.attempts)
    assert.is_false(err.retryable)
    local n = 0
    for sa in c:paginate("get_service_accounts") do
      if sa.spec.name == "sa-once" then n = n + 1 end
    end
    assert.equal(1, n)
    c:close()
  end)
end)

describe("against the emulator: a burst against a limited identity", function()
  local RATE, N = 20, 40
  local get = emulator{ rate_limits = { user = RATE, account = 0 } }

  local function burst(emu, rate_limit)
    local rejected, failed, first = 0, 0, nil
    local c, paused = S.helpers.connect_recording_pauses{
      endpoint = emu.endpoint, insecure = true, api_key = emu.api_key,
      rate_limit = rate_limit, retry = { initial = 0.02, max = 0.2 },
      on_event = function(ev)
        first = first or ev.duration
        if ev.code == codes.RESOURCE_EXHAUSTED then rejected = rejected + 1 end
      end }
    for _ = 1, N do
      if not c:get_regions{} then failed = failed + 1 end
    end
    c:close()
    -- Let the emulator's bucket fill up again for the next spec.
    require("cloudops.core").sleep(RATE / RATE + 0.05)
    return failed, rejected, paused, first
  end

  it("finishes with zero failures and nothing rejected with the client's bucket", function()
    local emu = get()
    if not emu then return end
    local failed, rejected, paused, first = burst(emu, RATE)
    assert.equal(0, failed)
    assert.equal(0, rejected)
    -- near the ideal time: the bucket paused no longer than N calls at RATE need after its burst,
    -- its schedule starting when the first answer came, plus its guard (its own decisions,
    -- whatever the load made of them)
    assert.is_true(paused.total <= (N - RATE) / RATE + first + 0.005 + 0.01,
      ("paused %.3f s, the first call took %.3f s"):format(paused.total, first))
  end)

  it("finishes with zero failures with backoff only, the server rejecting some", function()
    local emu = get()
    if not emu then return end
    local failed, rejected = burst(emu, false)
    assert.equal(0, failed)
    assert.is_true(rejected > 0)
  end)
end)

describe("against the emulator: waits", function()
  local get = emulator{ op_duration = 0.3, op_pending = 0.05, check_duration = 0.01, rate_limits = false,
    faults = {
      { method = "CreateUser", operation = "FAILED", reason = "seat limit" },
      { method = "CreateServiceAccount", operation = "REJECTED", reason = "not allowed" },
      { method = "CreateApiKey", operation = "CANCELLED", reason = "cancelled by an admin" },
    } }

  it("end FULFILLED, polling no more often than min_poll", function()
    local emu = get()
    if not emu then return end
    local polls = 0
    local c = S.connect(emu, { on_event = function(ev)
      if ev.method == "GetAsyncOperation" then polls = polls + 1 end
    end })
    local resp = assert(c:create_namespace{ spec = S.namespace_spec("waited") })
    local op, err = c:wait(resp, { min_poll = 0.1 })
    assert.is_nil(err)
    assert.equal("STATE_FULFILLED", op.state)
    assert.is_true(polls <= 5, "polls " .. polls)   -- 0.3 s / 0.1 s, plus one
    local ns = assert(c:get_namespace{ namespace = resp.namespace }).namespace
    assert.equal("RESOURCE_STATE_ACTIVE", ns.state)
    c:close()
  end)

  it("end in FAILED, REJECTED and CANCELLED as told, with their error names", function()
    local emu = get()
    if not emu then return end
    local c = S.connect(emu)
    local r1 = assert(c:create_user{ spec = user_spec("doomed@example.com") })
    local r2 = assert(c:create_service_account{ spec = { name = "doomed",
      access = { account_access = { role = "ROLE_READ" } } } })
    local r3 = assert(c:create_api_key{ spec = { owner_id = r2.service_account_id,
                                                 owner_type = "OWNER_TYPE_SERVICE_ACCOUNT",
      display_name = "k", expiry_time = os.time() + 86400 } })
    local cases = { { r1, "OPERATION_FAILED", "seat limit" }, { r2, "OPERATION_REJECTED", "not allowed" },
                    { r3, "OPERATION_CANCELLED", "cancelled by an admin" } }
    for _, case in ipairs(cases) do
      local op, err = c:wait(case[1].async_operation.id, { min_poll = 0.02 })
      assert.is_nil(op)
      assert.equal(case[2], err.name)
      assert.equal(case[3], err.message)
      assert.is_nil(err.code)
      assert.equal(case[1].async_operation.id, err.operation.id)
    end
    c:close()
  end)

  it("time out with DEADLINE_EXCEEDED", function()
    local emu = get()
    if not emu then return end
    local c = S.connect(emu)
    local resp = assert(c:create_namespace{ spec = S.namespace_spec("slow") })
    local op, err = c:wait(resp, { timeout = 0.05, min_poll = 0.01 })
    assert.is_nil(op)
    assert.equal("DEADLINE_EXCEEDED", err.name)
    assert.equal(4, err.code)
    assert.matches("^STATE_", err.operation.state)
    c:close()
  end)
end)

describe("against the emulator: updates and paging", function()
  local get = emulator{ op_duration = 0.05, op_pending = 0.01, seed = { users = 23 }, rate_limits = false }

  it("repeat a stale update, which then lands", function()
    local emu = get()
    if not emu then return end
    local c, other = S.connect(emu), S.connect(emu)
    local resp = assert(c:create_namespace{ spec = S.namespace_spec("contended") })
    assert(c:wait(resp, { min_poll = 0.01 }))
    local tries = 0
    local u, err = c:update("namespace", resp.namespace, function(ns)
      tries = tries + 1
      if tries == 1 then
        assert(other:update("namespace", resp.namespace, function(o) o.spec.retention_days = 14 end))
      end
      ns.spec.retention_days = 21
    end)
    assert.is_nil(err)
    assert.equal(2, tries)
    assert(c:wait(u, { min_poll = 0.01 }))
    assert.equal(21, assert(c:get_namespace{ namespace = resp.namespace }).namespace.spec.retention_days)
    c:close()
    other:close()
  end)

  it("page through every user, lazily", function()
    local emu = get()
    if not emu then return end
    local pages = 0
    local c = S.connect(emu, { on_event = function(ev)
      if ev.method == "GetUsers" and ev.code == 0 then pages = pages + 1 end
    end })
    local n = 0
    for u, err in c:paginate("GetUsers", { page_size = 10 }) do
      assert.is_nil(err)
      assert.is_string(u.spec.email)
      n = n + 1
    end
    assert.equal(23 + 3, n)
    assert.equal(3, pages)
    c:close()
  end)
end)
