local helpers = require "helpers"
local cloudops = require "cloudops"
local core = require "cloudops.core"

-- Every fault must end in a clear nil, err within the call's deadline, and leave the client
-- able to make the next call. A fault the client sees ends the call with its own error: with a
-- deadline far off (30 s), an error other than DEADLINE_EXCEEDED shows that the call did not
-- wait for it. Only where the deadline itself must end the call is the call timed.
describe("faults", function()
  lazy_teardown(helpers.cleanup)

  -- The test servers the running test started, stopped after it whether it passed or not.
  local started = {}
  after_each(function()
    for _, server in ipairs(started) do server.stop() end
    started = {}
  end)
  local function test_server(opts)
    local server = helpers.test_server(opts)
    started[#started + 1] = server
    return server
  end

  local function connect(endpoint, extra)
    local opts = { endpoint = endpoint, insecure = true, api_key = "fault-key", rate_limit = false,
                   retry = false, timeout = 30 }
    for k, v in pairs(extra or {}) do opts[k] = v end
    return assert(cloudops.connect(opts))
  end

  -- A client that records the attempts on_event reports.
  local function connect_counting(endpoint, extra)
    local attempts = {}
    local opts = { on_event = function(ev) attempts[#attempts + 1] = ev end }
    for k, v in pairs(extra or {}) do opts[k] = v end
    return connect(endpoint, opts), attempts
  end

  it("a server that is down: UNAVAILABLE at once, saying so, in one attempt", function()
    local c, attempts = connect_counting("127.0.0.1:1")
    local resp, err = c:get_namespaces{}
    assert.is_nil(resp)
    assert.equal("UNAVAILABLE", err.name)
    assert.matches("^nothing accepts connections at the endpoint: is the server running", err.message)
    assert.equal(1, #attempts)
    assert.equal("UNAVAILABLE", attempts[1].name)
    c:close()
  end)

  it("a server that dies in the middle of a call, then comes back", function()
    local server = test_server()
    local c = connect(server.endpoint)
    assert.truthy(c:get_namespaces{})
    local resp, err = c:get_namespaces({}, { metadata = { ["x-test-die"] = "1" } })
    assert.is_nil(resp)
    assert.equal("UNAVAILABLE", err.name) -- the death, not the 30 s deadline
    server.stop()
    -- the same client reaches a server that comes back on the same port
    test_server{ port = server.port }
    local deadline = core.now() + 10
    local ok, last
    repeat
      ok, last = c:get_namespaces({}, { retry = { initial = 0.05, max = 0.2, max_attempts = 20 } })
    until ok or core.now() > deadline
    c:close()
    assert.truthy(ok, tostring(last))
  end)

  it("a server that never answers: DEADLINE_EXCEEDED at the deadline, no later", function()
    local server = test_server()
    local c = connect(server.endpoint, { timeout = 0.3 })
    local t0 = core.now()
    local resp, err = c:get_namespaces({}, { metadata = { ["x-test-delay"] = "30" } })
    local took = core.now() - t0
    assert.is_nil(resp)
    assert.equal("DEADLINE_EXCEEDED", err.name)
    -- Only time tells "at the deadline" from "when the server answers": the deadline is 0.3 s,
    -- the answer would come after 30 s; 3 s, 10 times the deadline, leaves room for a loaded
    -- machine.
    assert.is_true(took < 3, "took " .. took .. " s")
    assert.truthy(c:get_namespaces{})
    c:close()
  end)

  it("a host name under .invalid: a clear error bounded by the deadline", function()
    local c = connect("cloudops-spec.invalid:443", { insecure = false, timeout = 0.3 })
    local t0 = core.now()
    local resp, err = c:get_namespaces{}
    local took = core.now() - t0
    assert.is_nil(resp)
    if err.name == "UNAVAILABLE" then -- the resolver answered
      assert.matches("^the endpoint's host name does not resolve: check its spelling", err.message)
    else -- it did not, within the deadline
      assert.equal("DEADLINE_EXCEEDED", err.name)
    end
    -- Only time tells a call bounded by its deadline from one that waits for the resolver (whose
    -- timeouts are seconds long): 3 s is 10 times the 0.3 s deadline.
    assert.is_true(took < 3, "took " .. took .. " s")
    assert.not_matches("fault%-key", tostring(err))
    c:close()
  end)

  it("an answer larger than max_receive_size: RESOURCE_EXHAUSTED, and the next call works", function()
    local server = test_server()
    local c = connect(server.endpoint, { max_receive_size = 4096 })
    local resp, err = c:get_namespaces({}, { metadata = { ["x-test-big"] = "100000" } })
    assert.is_nil(resp)
    assert.equal("RESOURCE_EXHAUSTED", err.name)
    assert.matches("^Received message larger than max %(%d+ vs%. 4096%)$", err.message)
    assert.truthy(c:get_namespaces{})
    c:close()
  end)

  it("an api_key function that raises or returns no string: API_KEY, and the client goes on", function()
    local server = test_server()
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
    assert.matches("^the api_key function raised an error: .*secret store down$", e1.message)
    assert.equal("API_KEY", e2.name)
    assert.equal("the api_key function returned table, not a key", e2.message)
    assert.truthy(c:get_namespaces{})
    c:close()
  end)
end)
