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
    local c = connect{ retry = { initial = 0.001, max = 0.5, max_attempts = 2, max_elapsed = 1 } }
    local t0 = core.now()
    local _, err = c:get_namespaces({}, { metadata = { ["x-test-code"] = "8", ["x-test-retry-after"] = "0.3" } })
    local elapsed = core.now() - t0
    assert.equal("RESOURCE_EXHAUSTED", err.name)
    -- 0.3 s apart within 1 s: three or four attempts, more than max_attempts allows other failures
    assert.is_true(err.attempts >= 3 and err.attempts <= 4, "attempts: " .. err.attempts)
    assert.is_true(elapsed >= 0.3 * (err.attempts - 1), "elapsed: " .. elapsed)
    assert.is_true(elapsed < 1.2, "elapsed: " .. elapsed)
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
    local c = connect{ timeout = 5, retry = { initial = 0.05, max = 0.05, max_attempts = 100, max_elapsed = 0.6 } }
    local t0 = core.now()
    local _, err = c:get_namespaces({}, { metadata = { ["x-test-delay"] = "2" } })
    local took = core.now() - t0
    assert.equal("DEADLINE_EXCEEDED", err.name)
    assert.is_true(took < 0.9, "took " .. took)
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
    local c = connect{ rate_limit = { rate = 20, burst = 2 } }
    local t0 = core.now()
    for _ = 1, 8 do assert(c:get_regions{}) end
    local took = core.now() - t0
    -- 2 at once, then 6 at 20/s: 0.3 s at least
    assert.is_true(took >= 0.3 - 1e-3, "took " .. took)
    assert.is_true(took < 0.6, "took " .. took)
    c:close()
  end)
end)
