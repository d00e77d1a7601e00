-- Retries and the limiter over real gRPC, against spec/support/test_server.lua, in real time
-- (with delays tuned down).
local helpers = require "helpers"
local cloudops = require "cloudops"
local core = require "cloudops.core"

local FAST = { initial = 0.01, max = 0.02, max_attempts = 5 }

describe("retries over gRPC", function()
  local server = helpers.block_test_server()

  local function connect(opts)
    local o = { endpoint = server.endpoint, insecure = true, api_key = "spec-secret-key", rate_limit = false,
                retry = FAST }
    for k, v in pairs(opts or {}) do o[k] = v end
    return assert(cloudops.connect(o))
  end

  it("retry UNAVAILABLE until it passes", function()
    local c = connect()
    local resp, err, info = c:get_namespaces({}, { metadata = { ["x-test-fail-first"] = "r1:3:14" } })
    assert.is_nil(err)
    assert.is_table(resp)
    assert.equal(4, info.attempts)
    c:close()
  end)

  it("send one async_operation_id with every attempt of a mutation", function()
    local c = connect()
    local resp, err, info = c:create_user({ spec = { email = "x@example.com" } },
                                          { metadata = { ["x-test-fail-first"] = "m1:2:8" } })
    assert.is_nil(err)
    assert.equal(3, info.attempts)
    local id = resp.async_operation.id
    assert.matches("^%x+%-%x+%-4%x+%-%x+%-%x+$", id)
    local n = 0
    for line in server.requests():gmatch("[^\n]+") do
      if line:find("x-test-fail-first=m1:", 1, true) then
        n = n + 1
        assert.equal(id, line:match("request%.async_operation_id=(%S+)"))
      end
    end
    assert.equal(3, n)
    c:close()
  end)

  it("honour the server's RetryInfo, and retry refusals for the rate past max_attempts until max_elapsed", function()
    local events = {}
    local c = connect{ retry = { initial = 0.001, max = 0.5, max_attempts = 2, max_elapsed = 1 },
                       on_event = function(ev) events[#events + 1] = ev end }
    local t0 = core.now()
    local _, err = c:get_namespaces({}, { metadata = { ["x-test-code"] = "8", ["x-test-retry-after"] = "0.2" } })
    local elapsed = core.now() - t0
    assert.equal("RESOURCE_EXHAUSTED", err.name)
    -- more attempts than max_attempts allows other failures; at most as many as pauses of 0.2 s
    -- fit in max_elapsed (1 s)
    assert.is_true(err.attempts >= 3 and err.attempts <= 6, "attempts: " .. err.attempts)
    assert.equal(err.attempts, #events)
    -- every pause as long as the hint, and all of them within max_elapsed: the client's own
    -- accounting, which a slow machine cannot change; the last attempt is not followed by one
    local paused = 0
    for i = 1, #events - 1 do
      assert.is_true(events[i].delay >= 0.2, "pause " .. i .. ": " .. tostring(events[i].delay))
      paused = paused + events[i].delay
    end
    assert.is_nil(events[#events].delay)
    assert.is_true(paused <= 1, "paused " .. paused .. " s in all")
    assert.is_true(elapsed >= paused, "elapsed: " .. elapsed)
    c:close()
  end)

  it("retry DEADLINE_EXCEEDED for a read, not for a mutation", function()
    local c = connect{ timeout = 0.05, retry = { initial = 0.01, max = 0.01, max_attempts = 3 } }
    local _, err = c:get_namespaces({}, { metadata = { ["x-test-delay"] = "0.5" } })
    assert.equal("DEADLINE_EXCEEDED", err.name)
    assert.equal(3, err.attempts)
    _, err = c:create_user({ spec = { email = "y@example.com" } }, { metadata = { ["x-test-delay"] = "0.5" } })
    assert.equal("DEADLINE_EXCEEDED", err.name)
    assert.equal(1, err.attempts)
    c:close()
  end)

  it("end the whole call within max_elapsed, the attempts' own deadlines included", function()
    -- (retry_contract.lua checks each attempt's deadline on a fake clock; here gRPC applies it)
    local c = connect{ timeout = 30, retry = { initial = 0.05, max = 0.05, max_attempts = 100, max_elapsed = 0.6 } }
    local t0 = core.now()
    local _, err = c:get_namespaces({}, { metadata = { ["x-test-delay"] = "60" } })
    local took = core.now() - t0
    assert.equal("DEADLINE_EXCEEDED", err.name)
    -- An attempt with its own deadline (30 s) would have waited that long: 10x max_elapsed is
    -- far from both (nothing but the time can tell them apart).
    assert.is_true(took < 6, "took " .. took)
    c:close()
  end)

  it("report every attempt to on_event without the key", function()
    local events = {}
    local c = connect{ on_event = function(ev) events[#events + 1] = ev end }
    c:get_namespaces({}, { metadata = { ["x-test-fail-first"] = "e1:1:14" } })
    assert.equal(2, #events)
    assert.equal("UNAVAILABLE", events[1].name)
    assert.equal("OK", events[2].name)
    for _, ev in ipairs(events) do
      for _, v in pairs(ev) do assert.not_matches("spec%-secret%-key", tostring(v)) end
    end
    c:close()
  end)

  it("pace calls with the client's token bucket", function()
    local first
    local c, paused = helpers.connect_recording_pauses{
      endpoint = server.endpoint, insecure = true, api_key = "spec-secret-key", retry = FAST,
      rate_limit = { rate = 20, burst = 2 }, on_event = function(ev) first = first or ev.duration end }
    local t0 = core.now()
    for _ = 1, 8 do assert(c:get_regions{}) end
    local took = core.now() - t0
    -- 2 at once, then 6 at 20/s: 0.3 s at least
    assert.is_true(took >= 0.3 - 1e-3, "took " .. took)
    -- and the bucket paused no longer than that schedule asks, which starts when the first
    -- answer came (settle), plus its guard of 5 ms: its own accounting, whatever the load
    -- (its pauses end at the times it allows, the calls' own time taken off)
    assert.is_true(paused.total > 0 and paused.total <= 0.3 + first + 0.005 + 0.01,
      ("paused %.3f s in all, the first call took %.3f s"):format(paused.total, first))
    c:close()
  end)
end)
