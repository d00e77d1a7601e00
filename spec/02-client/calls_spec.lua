local helpers = require "helpers"
local cloudops = require "cloudops"
local codes = cloudops.codes

describe("calls against a gRPC server", function()
  local server, client

  lazy_setup(function()
    server = helpers.test_server()
    client = assert(cloudops.connect{ endpoint = server.endpoint, insecure = true, api_key = "spec-key",
                                      rate_limit = false, retry = false, metadata = { ["x-team"] = "ops" } })
  end)

  lazy_teardown(function()
    if client then client:close() end
    if server then server.stop() end
    helpers.cleanup()
  end)

  it("sends the key, the API version, the user agent and extra metadata", function()
    local resp, err, info = client:get_namespaces({ page_size = 5 }, { metadata = { ["x-call"] = "1" } })
    assert.is_nil(err)
    assert.same({}, resp.namespaces)
    local t = info.trailers
    assert.equal("Bearer spec-key", t["x-echo-authorization"])
    assert.equal(cloudops.API_VERSION, t["x-echo-temporal-cloud-api-version"])
    assert.matches("^lua%-cloudops/" .. cloudops.VERSION:gsub("%.", "%%.") .. " grpc", t["x-echo-user-agent"])
    assert.equal("ops", t["x-echo-x-team"])
    assert.equal("1", t["x-echo-x-call"])
    assert.equal(1, info.attempts)
    assert.is_number(info.duration)
    assert.is_table(info.headers)
  end)

  it("prepends a user agent and overrides the API version per client and per call", function()
    local c = assert(cloudops.connect{ endpoint = server.endpoint, insecure = true, api_key = "k2",
                                       user_agent = "my-tool/2", api_version = "v0.3.0", rate_limit = false })
    local _, _, info = c:get_namespaces{}
    assert.matches("^my%-tool/2 lua%-cloudops/", info.trailers["x-echo-user-agent"])
    assert.equal("v0.3.0", info.trailers["x-echo-temporal-cloud-api-version"])
    _, _, info = c:get_namespaces({}, { api_version = "v0.4.0" })
    assert.equal("v0.4.0", info.trailers["x-echo-temporal-cloud-api-version"])
    c:close()
  end)

  it("calls an api_key function for every request", function()
    local n = 0
    local c = assert(cloudops.connect{ endpoint = server.endpoint, insecure = true, rate_limit = false,
                                       api_key = function() n = n + 1; return "rotating-" .. n end })
    local _, _, info1 = c:get_namespaces{}
    local _, _, info2 = c:call("GetNamespaces", {})
    assert.equal("Bearer rotating-1", info1.trailers["x-echo-authorization"])
    assert.equal("Bearer rotating-2", info2.trailers["x-echo-authorization"])
    c:close()
  end)

  it("returns an API_KEY error when the key function fails", function()
    for _, f in ipairs{ function() error("vault down") end, function() return nil end,
                        function() return 42 end, function() return "" end } do
      local c = assert(cloudops.connect{ endpoint = server.endpoint, insecure = true, rate_limit = false, api_key = f })
      local resp, err = c:get_namespaces{}
      assert.is_nil(resp)
      assert.equal("API_KEY", err.name)
      assert.is_nil(err.code)
      assert.equal("GetNamespaces", err.method)
      assert.matches("API_KEY", tostring(err))
      c:close()
    end
  end)

  it("decodes the response into plain tables", function()
    local resp, err = client:get_namespaces({}, { metadata = { ["x-test-items"] = "3" } })
    assert.is_nil(err)
    assert.equal(3, #resp.namespaces)
    assert.equal("ns-2", resp.namespaces[2].namespace)
    assert.equal("RESOURCE_STATE_ACTIVATING", resp.namespaces[2].state)
    assert.is_nil(getmetatable(resp))
    assert.is_nil(resp.next_page_token)
  end)

  it("maps every gRPC status code to an error table", function()
    for code = 1, 16 do
      local resp, err = client:get_namespaces({}, { metadata = { ["x-test-code"] = tostring(code) } })
      assert.is_nil(resp)
      assert.equal(code, err.code)
      assert.equal(codes[code], err.name)
      assert.equal("requested status " .. code, err.message)
      assert.equal("GetNamespaces", err.method)
      assert.is_table(err.trailers)
      assert.same({}, err.details)
      assert.is_false(err.retryable) -- this client has retry = false
      assert.equal(1, err.attempts)
      assert.equal("GetNamespaces: " .. codes[code] .. " (" .. code .. "): requested status " .. code, tostring(err))
    end
  end)

  it("decodes google.rpc.Status details from grpc-status-details-bin", function()
    local _, err = client:get_namespaces({}, { metadata = { ["x-test-code"] = "8", ["x-test-retry-after"] = "1.5" } })
    assert.equal("RESOURCE_EXHAUSTED", err.name)
    assert.equal(2, #err.details)
    assert.equal("google.rpc.RetryInfo", err.details[1]["@type"])
    assert.same({ seconds = 1, nanos = 500000000 }, err.details[1].retry_delay)
    assert.equal("google.rpc.ErrorInfo", err.details[2]["@type"])
    assert.equal("TEST", err.details[2].reason)
    assert.same({ a = "b" }, err.details[2].metadata)
  end)

  it("ends a call at its deadline", function()
    local core = require "cloudops.core"
    local t0 = core.now()
    local resp, err = client:get_namespaces({}, { timeout = 0.2, metadata = { ["x-test-delay"] = "60" } })
    assert.is_nil(resp)
    assert.equal("DEADLINE_EXCEEDED", err.name)
    assert.equal(4, err.code)
    -- at 0.2 s, not at the default timeout (30 s) nor at the answer (60 s): 10x is far from both
    assert.is_true(core.now() - t0 < 2)
  end)

  it("reports a malformed response as INTERNAL", function()
    local resp, err = client:get_namespaces({}, { metadata = { ["x-test-raw"] = "1" } })
    assert.is_nil(resp)
    assert.equal("INTERNAL", err.name)
    assert.matches("malformed response", err.message)
  end)

  it("refuses a response larger than max_receive_size", function()
    local c = assert(cloudops.connect{ endpoint = server.endpoint, insecure = true, api_key = "k",
                                       rate_limit = false, retry = false, max_receive_size = 1000 })
    local ok = c:get_namespaces({}, { metadata = { ["x-test-big"] = "500" } })
    assert.truthy(ok)
    local resp, err = c:get_namespaces({}, { metadata = { ["x-test-big"] = "5000" } })
    assert.is_nil(resp)
    assert.equal("RESOURCE_EXHAUSTED", err.name)
    c:close()
  end)

  it("reuses one connection for its calls", function()
    local peers = {}
    for _ = 1, 5 do
      local _, _, info = client:get_namespaces{}
      peers[info.trailers["x-echo-peer"]] = true
    end
    local n = 0
    for _ in pairs(peers) do n = n + 1 end
    assert.equal(1, n)
  end)

  it("goes on working after failures", function()
    for code = 1, 16 do client:get_namespaces({}, { metadata = { ["x-test-code"] = tostring(code) } }) end
    local resp, err = client:get_namespaces{}
    assert.is_nil(err)
    assert.is_table(resp)
  end)

  it("goes through an HTTP CONNECT proxy when told to", function()
    local proxy = helpers.spawn(helpers.LUA .. " " .. helpers.ROOT .. "spec/support/connect_proxy.lua",
                                "listening on 127%.0%.0%.1:(%d+)")
    finally(proxy.stop)
    local c = assert(cloudops.connect{ endpoint = server.endpoint, insecure = true, api_key = "k", rate_limit = false,
                                       proxy = "http://127.0.0.1:" .. proxy.match[1] })
    local resp, err = c:get_namespaces{}
    c:close()
    local log = helpers.read_file(proxy.log)
    assert.is_nil(err)
    assert.is_table(resp)
    assert.matches("CONNECT 127%.0%.0%.1:" .. server.port, log)
  end)
end)

describe("UNAVAILABLE", function()
  local server = helpers.block_test_server()

  it("from a server is retried with backoff, and says how many attempts were made", function()
    local events = {}
    local c = assert(cloudops.connect{ endpoint = server.endpoint, insecure = true, api_key = "secret-key-1",
                                       rate_limit = false, retry = { initial = 0.01, max = 0.02, max_attempts = 3 },
                                       on_event = function(ev) events[#events + 1] = ev end })
    local resp, err = c:get_namespaces({}, { metadata = { ["x-test-code"] = "14" } })
    assert.is_nil(resp)
    assert.equal("UNAVAILABLE", err.name)
    assert.is_true(err.retryable)
    assert.equal(3, err.attempts)
    assert.matches("after 3 attempts", tostring(err))
    assert.equal(3, #events)
    for i, ev in ipairs(events) do
      assert.equal("GetNamespaces", ev.method)
      assert.equal(i, ev.attempt)
      assert.equal(14, ev.code)
      assert.equal("UNAVAILABLE", ev.name)
      for _, v in pairs(ev) do assert.not_matches("secret%-key", tostring(v)) end
    end
    assert.is_number(events[1].delay)
    assert.is_nil(events[3].delay)
    c:close()
  end)

  it("from a port nobody listens on is not retried: retrying cannot help (connect_spec times it)", function()
    local events = {}
    local c = assert(cloudops.connect{ endpoint = "127.0.0.1:1", insecure = true, api_key = "secret-key-1",
                                       rate_limit = false, retry = { initial = 0.01, max = 0.02, max_attempts = 3 },
                                       on_event = function(ev) events[#events + 1] = ev end })
    local resp, err = c:get_namespaces{}
    assert.is_nil(resp)
    assert.equal("UNAVAILABLE", err.name)
    assert.is_false(err.retryable)
    assert.equal(1, err.attempts)
    assert.equal(1, #events)
    assert.is_nil(events[1].delay)
    c:close()
  end)
end)
