local helpers = require "helpers"
local cloudops = require "cloudops"
local core = require "cloudops.core"

-- Every fault must end in a clear nil, err within the call's deadline, and leave the client
-- able to make the next call.
describe("faults", function()
  lazy_teardown(helpers.cleanup)

  local function connect(endpoint, extra)
    local opts = { endpoint = endpoint, insecure = true, api_key = "fault-key", rate_limit = false,
                   retry = false, timeout = 2 }
    for k, v in pairs(extra or {}) do opts[k] = v end
    return assert(cloudops.connect(opts))
  end

  local function timed(f)
    local t0 = core.now()
    local a, b, c = f()
    return core.now() - t0, a, b, c
  end

  it("a server that is down: UNAVAILABLE at once", function()
    local c = connect("127.0.0.1:1")
    local took, resp, err = timed(function() return c:get_namespaces{} end)
    assert.is_nil(resp)
    assert.equal("UNAVAILABLE", err.name)
    assert.is_true(took < 2)
    c:close()
  end)

  it("a server that dies in the middle of a call, then comes back", function()
    local server = helpers.test_server()
    local c = connect(server.endpoint)
    assert.truthy(c:get_namespaces{})
    local took, resp, err = timed(function() return c:get_namespaces({}, { metadata = { ["x-test-die"] = "1" } }) end)
    assert.is_nil(resp)
    assert.equal("UNAVAILABLE", err.name)
    assert.is_true(took < 2.5)
    server.stop()
    -- the same client reaches a server that comes back on the same port
    local again = helpers.test_server{ port = server.port }
    local deadline = core.now() + 10
    local ok, last
    repeat
      ok, last = c:get_namespaces({}, { retry = { initial = 0.05, max = 0.2, max_attempts = 20 } })
    until ok or core.now() > deadline
    again.stop()
    c:close()
    assert.truthy(ok, tostring(last))
  end)

  it("a server that never answers: DEADLINE_EXCEEDED at the deadline, no later", function()
    local server = helpers.test_server()
    local c = connect(server.endpoint, { timeout = 0.3 })
    local took, resp, err = timed(function()
      return c:get_namespaces({}, { metadata = { ["x-test-delay"] = "30" } })
    end)
    assert.is_nil(resp)
    assert.equal("DEADLINE_EXCEEDED", err.name)
    assert.is_true(took < 1.3)
    assert.truthy(c:get_namespaces{})
    c:close()
    server.stop()
  end)

  it("a host name under .invalid: a clear error bounded by the deadline", function()
    local c = connect("cloudops-spec.invalid:443", { insecure = false, timeout = 1 })
    local took, resp, err = timed(function() return c:get_namespaces{} end)
    assert.is_nil(resp)
    assert.truthy(err.name == "UNAVAILABLE" or err.name == "DEADLINE_EXCEEDED", err.name)
    assert.is_true(took < 2.5)
    assert.not_matches("fault%-key", tostring(err))
    c:close()
  end)

  it("an answer larger than max_receive_size: RESOURCE_EXHAUSTED, and the next call works", function()
    local server = helpers.test_server()
    local c = connect(server.endpoint, { max_receive_size = 4096 })
    local resp, err = c:get_namespaces({}, { metadata = { ["x-test-big"] = "100000" } })
    assert.is_nil(resp)
    assert.equal("RESOURCE_EXHAUSTED", err.name)
    assert.truthy(c:get_namespaces{})
    c:close()
    server.stop()
  end)

  it("an api_key function that raises or returns no string: API_KEY, and the client goes on", function()
    local server = helpers.test_server()
    local n = 0
    local c = connect(server.endpoint, { api_key = function()
      n = n + 1
      if n == 1 then error("secret store down") end
      if n == 2 then return { "not", "a", "string" } end
      return "fault-key"
    end })
    local _, e1 = c:get_namespaces{}
    local _, e2 = c:get_namespaces{}
    assert.equal("API_KEY", e1.name)
    assert.matches("secret store down", e1.message)
    assert.equal("API_KEY", e2.name)
    assert.truthy(c:get_namespaces{})
    c:close()
    server.stop()
  end)
end)
