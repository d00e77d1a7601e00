-- max_operations (docs/reference.md "Limits that follow the service") against the emulator's
-- own limit of async operations in flight per account: mutations wait for a slot (yielding, in
-- a task) instead of meeting the server's refusal; the slots come back as the client sees
-- operations end, learnt concurrently and sooner than their check_duration while mutations
-- wait (issue 21, item 3); and the server's refusal for its limit holds the client to the
-- operations it knows are running. bench/slots_batch.lua measures the full-size batch.
local helpers = require "helpers"
local cloudops = require "cloudops"
local core = require "cloudops.core"
local emulator = require "cloudops.emulator"

local function user_spec(tag, i)
  return { email = string.format("%s-%d@example.com", tag, i), access = { account_access = { role = "ROLE_READ" } } }
end

local function range(n)
  local t = {}
  for i = 1, n do t[i] = i end
  return t
end

describe("operation slots", function()
  local emu
  before_each(function()
    emu = assert(emulator.spawn{ op_duration = 0.4, op_pending = 0.05, max_operations = 10,
                                 rate_limits = { user = 1000, service_account = 1000, account = 1000 } })
  end)
  after_each(function()
    if emu then emu.stop() end
    helpers.cleanup()
  end)

  -- A client counting the outcomes of CreateUser and the polls it makes (and, with
  -- `recording`, its pauses: helpers.connect_recording_pauses).
  local function connect(opts, recording)
    local seen = { refused = 0, polls = 0, messages = {} }
    local o = { endpoint = emu.endpoint, insecure = true, api_key = emu.keys.admin, rate_limit = false,
                on_event = function(ev)
                  if ev.method == "CreateUser" and ev.name == "RESOURCE_EXHAUSTED" then
                    seen.refused = seen.refused + 1
                  end
                  if ev.method == "GetAsyncOperation" then seen.polls = seen.polls + 1 end
                end }
    for k, v in pairs(opts or {}) do o[k] = v end
    if recording then
      local c, paused = helpers.connect_recording_pauses(o)
      return c, seen, paused
    end
    return assert(cloudops.connect(o)), seen
  end

  it("keep 25 concurrent mutations within the account's 10 operations: none refused", function()
    local c, seen = connect()
    local results, errs = cloudops.map(function(i) return c:create_user{ spec = user_spec("slots", i) } end,
                                       range(25), { concurrency = 16 })
    for i = 1, 25 do assert.is_table(results[i], tostring(errs[i])) end
    assert.equal(0, seen.refused)
    assert.is_true(seen.polls > 0)  -- the client looked at the oldest operations itself
    c:close()
  end)

  it("are taken only by the mutations the service's limit counts: group changes never wait", function()
    local polls = 0
    local c = connect{ max_operations = 1, on_event = function(ev)
      if ev.method == "GetAsyncOperation" then polls = polls + 1 end
    end }
    -- one counted operation holds the only slot...
    assert(c:create_user{ spec = user_spec("held", 1) })
    -- ...and five group creations go on beside it, with no poll for a slot
    local results, errs = cloudops.map(function(i)
      return c:create_user_group{ spec = { display_name = "group-" .. i, cloud_group = {},
                                           access = { account_access = { role = "ROLE_READ" } } } }
    end, range(5), { concurrency = 5 })
    for i = 1, 5 do assert.is_table(results[i], tostring(errs[i])) end
    assert.equal(0, polls)
    -- the next counted mutation waits for the slot: it polls the held operation until it ends
    assert(c:create_user{ spec = user_spec("held", 2) })
    assert.is_true(polls > 0)
    c:close()
  end)

  it("without them (max_operations = false) the emulator refuses the 11th, naming its limit", function()
    local c = connect{ max_operations = false, retry = false }
    local results, errs = cloudops.map(function(i) return c:create_user{ spec = user_spec("free", i) } end,
                                       range(16), { concurrency = 16 })
    local refused = 0
    for i = 1, 16 do
      if not results[i] then
        assert.equal("RESOURCE_EXHAUSTED", errs[i].name)
        assert.matches("10", errs[i].message)
        refused = refused + 1
      end
    end
    assert.equal(6, refused)
    c:close()
  end)

  it("hold a mutation beyond max_operations until one of the client's operations ends", function()
    local c = connect{ max_operations = 3 }
    local t0 = core.now()
    local results = cloudops.map(function(i) return c:create_user{ spec = user_spec("three", i) } end,
                                 range(9), { concurrency = 9 })
    local elapsed = core.now() - t0
    for i = 1, 9 do assert.is_table(results[i]) end
    -- three at a time, each operation 0.4 s: at least two rounds of waiting
    assert.is_true(elapsed >= 0.8, "elapsed " .. elapsed)
    c:close()
  end)

  it("are freed by wait and any GetAsyncOperation answer, and work outside tasks (blocking)", function()
    local c, seen, paused = connect({ max_operations = 2 }, true)
    local a = assert(c:create_user{ spec = user_spec("blocking", 1) })
    local b = assert(c:create_user{ spec = user_spec("blocking", 2) })
    assert(c:wait(a, { min_poll = 0.05 }))
    assert(c:wait(b, { min_poll = 0.05 }))
    local polls, pauses = seen.polls, paused.count
    -- both slots are free again: no wait, no poll of an old operation
    assert(c:create_user{ spec = user_spec("blocking", 3) })
    assert(c:create_user{ spec = user_spec("blocking", 4) })
    assert.equal(polls, seen.polls)
    assert.equal(pauses, paused.count)
    -- the next one waits for an operation of its own to end, polling it
    assert(c:create_user{ spec = user_spec("blocking", 5) })
    assert.is_true(seen.polls > polls)
    assert.equal(0, seen.refused)
    c:close()
  end)

  it("learn the ends of the running operations concurrently, sooner than their check_duration", function()
    emu.stop()
    local log = helpers.tmpdir() .. "/requests.log"
    -- answers 0.1 s away; operations end on their own after 0.3 s; an idle watcher's hint of 5 s
    emu = assert(emulator.spawn{ op_duration = 0.3, op_pending = 0.05, check_duration = 5, latency = 0.1,
                                 max_operations = 10, log = log,
                                 rate_limits = { user = 1000, service_account = 1000, account = 1000 } })
    local c, seen = connect{ max_operations = 3, rate_limit = 80 }
    local results, errs = cloudops.map(function(i) return c:create_user{ spec = user_spec("ends", i) } end,
                                       range(9), { concurrency = 9 })
    for i = 1, 9 do assert.is_table(results[i], tostring(errs[i])) end
    assert.equal(0, seen.refused)
    -- from the log: when the first mutation and the polls reached the emulator
    local first_create, polls = nil, {}
    for line in (helpers.read_file(log) or ""):gmatch("[^\n]+") do
      local stamp, method = line:match("^(%S+) %S+ (%S+) ")
      local t = core.parse_rfc3339(stamp) + tonumber(stamp:match("%.(%d+)Z$") or "0") / 1000
      if method == "CreateUser" and not first_create then first_create = t end
      if method == "GetAsyncOperation" then polls[#polls + 1] = t end
    end
    table.sort(polls)
    assert.is_true(#polls > 0)
    -- polled long before the 5 s hint: mutations were waiting, and the rate had room
    assert.is_true(polls[1] - first_create < 5, "first poll after " .. (polls[1] - first_create) .. " s")
    -- and side by side: two polls reached it closer together than one poll's answer takes
    local closest = math.huge
    for i = 2, #polls do closest = math.min(closest, polls[i] - polls[i - 1]) end
    assert.is_true(closest < 0.1, "the closest two polls were " .. closest .. " s apart")
    c:close()
  end)

  it("take the server's refusal for its operation limit as a signal, not only as a retryable error", function()
    emu.stop()
    -- the account holds fewer operations than the client's max_operations thinks (others run some)
    emu = assert(emulator.spawn{ op_duration = 0.3, op_pending = 0.05, check_duration = 5, max_operations = 3,
                                 rate_limits = { user = 1000, service_account = 1000, account = 1000 } })
    local c, seen = connect{ max_operations = 10 }
    local results, errs = cloudops.map(function(i) return c:create_user{ spec = user_spec("signal", i) } end,
                                       range(12), { concurrency = 8 })
    for i = 1, 12 do assert.is_table(results[i], tostring(errs[i])) end
    -- the first burst (8 sent, 3 accepted) is refused; after it, the client keeps to the
    -- operations it knows of, probing one more now and then (retrying blindly: 12 refusals)
    assert.is_true(seen.refused >= 5 and seen.refused <= 9, seen.refused .. " refusals")
    c:close()
  end)

  it("give up within the call's budget when no slot comes free", function()
    emu.stop()
    emu = assert(emulator.spawn{ op_duration = 30, op_pending = 30, max_operations = 10 }) -- slow operations
    local c = connect{ max_operations = 1, retry = { max_elapsed = 0.3 } }
    assert(c:create_user{ spec = user_spec("stuck", 1) })
    local t0 = core.now()
    local resp, err = c:create_user{ spec = user_spec("stuck", 2) }
    assert.is_nil(resp)
    assert.equal("DEADLINE_EXCEEDED", err.name)
    assert.matches("no operation slot came free in time", err.message)
    -- within max_elapsed (0.3 s), not when the operation ends (30 s): 10x is far from both
    assert.is_true(core.now() - t0 < 3)
    c:close()
  end)
end)
