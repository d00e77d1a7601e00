local helpers = require "helpers"
local cloudops = require "cloudops"

-- Runs Lua code in a fresh interpreter with this one's paths and the environment settings env
-- ("NAME=value ..."): its output, stdout and stderr.
local function run_lua(env, code)
  return helpers.run(env .. " " .. helpers.LUA .. " -e " .. helpers.sh_quote("package.path = " ..
    ("%q"):format(package.path) .. "; package.cpath = " .. ("%q"):format(package.cpath)) ..
    " -e " .. helpers.sh_quote(code) .. " 2>&1")
end

describe("cloudops.connect", function()
  local function connect(opts)
    opts.api_key = opts.api_key or "spec-key"
    return cloudops.connect(opts)
  end

  it("names an unknown option", function()
    local c, err = connect{ endpiont = "127.0.0.1:1" }
    assert.is_nil(c)
    assert.equal("INVALID_OPTION", err.name)
    assert.matches("endpiont", tostring(err))
  end)

  it("rejects options of the wrong type", function()
    for _, opts in ipairs{ { timeout = "5" }, { timeout = -1 }, { insecure = "yes" }, { retry = 3 },
                           { retry = { max_attempts = 0 } }, { retry = { bogus = 1 } },
                           { rate_limit = -1 }, { rate_limit = { rate = 1, burst = 0 } },
                           { metadata = { ["X-Upper"] = "v" } }, { metadata = { a = 1 } },
                           { tls = { ca = "x" } }, { tls = { cert_file = "only-cert" } },
                           { api_key = 42 }, { on_event = true }, { keepalive = 5 }, { proxy = 1 } } do
      local c, err = connect(opts)
      assert.is_nil(c)
      assert.equal("INVALID_OPTION", err.name)
    end
  end)

  it("returns nil, err (never raises) for sizes, times and endpoints out of range, saying what to write", function()
    local cases = {
      { { max_receive_size = -1 }, "max_receive_size must be a positive whole number, got %-1" },
      { { max_receive_size = 0 / 0 }, "max_receive_size .* got NaN" },
      { { max_receive_size = 2 ^ 40 }, "at most 2147483647" },
      { { keepalive = { time = -5 } }, "keepalive%.time must be a positive number" },
      { { keepalive = { time = "x" } }, "keepalive%.time must be a positive number, got string" },
      { { keepalive = { tmie = 5 } }, "unknown keepalive setting 'tmie'" },
      { { timeout = 0 / 0 }, "timeout must be a positive number" },
      { { timeout = math.huge }, "timeout must be a positive number, got inf" },
      { { endpoint = "" }, "endpoint is empty; write \"host:port\"" },
      { { endpoint = ("h"):rep(300) .. ":443" }, "longer than 255" },
      { { endpoint = "127.0.0.1" }, "endpoint \"127%.0%.0%.1\" has no port; write \"127%.0%.0%.1:443\"" },
      { { endpoint = "http://127.0.0.1:7233" },
        "is a URL, not host:port; write \"127%.0%.0%.1:7233\" with insecure = true" },
      { { endpoint = "https://saas-api.tmprl.cloud:443/" }, "write \"saas%-api%.tmprl%.cloud:443\"$" },
      { { endpoint = "127.0.0.1:7233\0junk" }, "control character" },
      { { endpoint = "host:70000" }, "not 1 to 65535" },
      { { endpoint = "a b:1" }, "space" },
      { { api_key = "key\n" }, "newline at byte 4 %(read from a file%? strip the line end%)" },
      { { api_key = "k\1ey" }, "control character 1 at byte 2" },
      { { api_version = "v1\r\n" }, "api_version holds a carriage return" },
      { { metadata = { ["x-a"] = "\255" } }, "the value of 'x%-a' holds a non%-ASCII byte" },
      { { metadata = { ["x a"] = "v" } }, "not a header name" },
    }
    for _, c in ipairs(cases) do
      local ok, client, err = pcall(connect, c[1])
      assert.is_true(ok, client)
      assert.is_nil(client)
      assert.equal("INVALID_OPTION", err.name)
      assert.matches(c[2], err.message)
      assert.not_matches("key\n", err.message, 1, true) -- a key is never quoted back
    end
    -- binary values are fine under a -bin name, and a bracketed IPv6 address with a port is an endpoint
    local c = assert(connect{ metadata = { ["x-raw-bin"] = "\0\255" }, endpoint = "[::1]:7233" })
    assert.equal("[::1]:7233", c.endpoint)
    c:close()
  end)

  it("refuses, at the call, a key from the api_key function that a header cannot carry", function()
    local c = assert(connect{ api_key = function() return "key\n" end, endpoint = "127.0.0.1:1", insecure = true })
    local ok, resp, err = pcall(c.get_namespaces, c, {})
    assert.is_true(ok, resp)
    assert.is_nil(resp)
    assert.equal("API_KEY", err.name)
    assert.matches("newline", err.message)
    c:close()
  end)

  it("takes its default endpoint from TEMPORAL_CLOUD_ENDPOINT, checked like the option", function()
    local server = helpers.test_server()
    finally(server.stop)
    local code = [[
      local cloudops = require "cloudops"
      local c, err = cloudops.connect{ insecure = true, api_key = "k", retry = false }
      if not c then print(err) return end
      if c.endpoint:find("^127%.0%.0%.1:") then -- never a call to anything but the spec's server
        local resp, cerr = c:get_namespaces{}
        print(c.endpoint, resp and "ok" or tostring(cerr))
      else
        print(c.endpoint)
      end
    ]]
    local function run(env) return run_lua(env, code) end
    local out = run("TEMPORAL_CLOUD_ENDPOINT=" .. server.endpoint)
    local out_bad = run("TEMPORAL_CLOUD_ENDPOINT=127.0.0.1")
    local out_default = run("TEMPORAL_CLOUD_ENDPOINT=")
    assert.equal(server.endpoint .. "\tok\n", out)
    assert.matches("INVALID_OPTION: TEMPORAL_CLOUD_ENDPOINT \"127%.0%.0%.1\" has no port", out_bad)
    assert.equal("saas-api.tmprl.cloud:443\n", out_default) -- unset or empty: Temporal Cloud
  end)

  it("speaks plaintext with TEMPORAL_CLOUD_INSECURE=1, to a loopback endpoint only", function()
    local server = helpers.test_server()
    finally(server.stop)
    local code = [[
      local cloudops = require "cloudops"
      local endpoint = os.getenv("SPEC_ENDPOINT")
      local c, err = cloudops.connect{ endpoint = endpoint ~= "" and endpoint or nil, api_key = "k",
                                       retry = false, rate_limit = false }
      if not c then print(err) return end
      if c.endpoint:find("^127%.0%.0%.1:") then -- never a call to anything but the spec's server
        local resp, cerr = c:get_namespaces{}
        print(resp and "ok" or tostring(cerr.name))
      else
        print("connected", c.endpoint)
      end
    ]]
    local function run(env) return run_lua(env, code) end
    local plain = run("TEMPORAL_CLOUD_INSECURE=1 SPEC_ENDPOINT=" .. server.endpoint)
    local tls = run("TEMPORAL_CLOUD_INSECURE=0 SPEC_ENDPOINT=" .. server.endpoint)
    local unset = run("env -u TEMPORAL_CLOUD_INSECURE SPEC_ENDPOINT=" .. server.endpoint)
    local remote = run("TEMPORAL_CLOUD_INSECURE=1 SPEC_ENDPOINT=")
    local named = run("TEMPORAL_CLOUD_INSECURE=1 SPEC_ENDPOINT=192.0.2.1:7233")
    local local_name = run("TEMPORAL_CLOUD_INSECURE=1 SPEC_ENDPOINT=localhost:1")
    local typo = run("TEMPORAL_CLOUD_INSECURE=yess SPEC_ENDPOINT=" .. server.endpoint)
    assert.equal("ok\n", plain)
    assert.equal("UNAVAILABLE\n", tls)   -- TLS against the plaintext server: the key never sent
    assert.equal("UNAVAILABLE\n", unset)
    assert.matches("INVALID_OPTION: TEMPORAL_CLOUD_INSECURE=1 asks for plaintext, which is only allowed " ..
      "to a loopback endpoint %(127%.0%.0%.1, ::1, localhost%), not saas%-api%.tmprl%.cloud:443", remote)
    assert.matches("INVALID_OPTION: TEMPORAL_CLOUD_INSECURE=1 .* not 192%.0%.2%.1:7233", named)
    assert.equal("connected\tlocalhost:1\n", local_name)
    assert.matches("INVALID_OPTION: TEMPORAL_CLOUD_INSECURE must be 1 .* got \"yess\"", typo)
  end)

  it("fails at connect when tls.ca_file cannot be read", function()
    local c, err = connect{ tls = { ca_file = "/nonexistent/ca.pem" } }
    assert.is_nil(c)
    assert.matches("tls.ca_file", err.message)
  end)

  it("needs an API key, from the option or TEMPORAL_CLOUD_API_KEY", function()
    if os.getenv("TEMPORAL_CLOUD_API_KEY") then return end
    local c, err = cloudops.connect{ endpoint = "127.0.0.1:1", insecure = true }
    assert.is_nil(c)
    assert.matches("API key", err.message)
  end)

  it("does not block on the network", function()
    local core = require "cloudops.core"
    local t0 = core.now()
    local c = assert(connect{ endpoint = "192.0.2.1:443" }) -- TEST-NET-1: never answers
    -- connecting there would wait for a TCP timeout (20 s and more): 5 s is far from it and from
    -- the instant connect takes (nothing but the time can tell)
    assert.is_true(core.now() - t0 < 5)
    c:close()
  end)

  it("closes once, by close(), and raises on a call after that", function()
    local c = assert(connect{ endpoint = "127.0.0.1:1", insecure = true })
    assert.matches("cloudops client %(127%.0%.0%.1:1%)", tostring(c))
    c:close()
    c:close()
    assert.matches("closed", tostring(c))
    assert.has_error(function() c:get_namespaces{} end, "the client is closed")
  end)

  if _VERSION == "Lua 5.4" and not jit then
    it("closes a to-be-closed client", function()
      local chunk = assert(load([[
        local cloudops, holder = ...
        do
          local c <close> = assert(cloudops.connect{ endpoint = "127.0.0.1:1", insecure = true, api_key = "k" })
          holder.c = c
        end
      ]]))
      local holder = {}
      chunk(cloudops, holder)
      assert.matches("closed", tostring(holder.c))
    end)
  end
end)

describe("the RPCs", function()
  it("are all listed, 88 of them, and described", function()
    local names = cloudops.methods()
    assert.equal(88, #names)
    for _, name in ipairs(names) do
      local d = assert(cloudops.describe(name))
      assert.equal("method", d.kind)
      assert.equal(name, d.name)
      assert.truthy(cloudops.describe(d.input), d.input)
      assert.truthy(cloudops.describe(d.output), d.output)
      assert.matches("/" .. name .. "$", d.path)
    end
  end)

  it("are methods of a client, in snake_case", function()
    local c = assert(cloudops.connect{ endpoint = "127.0.0.1:1", insecure = true, api_key = "k" })
    local schema = require "cloudops.schema"
    for _, name in ipairs(cloudops.methods()) do
      local snake = schema.snake_case(name)
      assert.is_function(c[snake], snake)
    end
    assert.is_function(c.get_namespaces)
    assert.is_function(c.create_api_key)
    assert.is_function(c.get_namespace_capacity_info)
    c:close()
  end)

  it("raises for an unknown method, a bad request and bad call options", function()
    local c = assert(cloudops.connect{ endpoint = "127.0.0.1:1", insecure = true, api_key = "k" })
    assert.error_matches(function() c:call("GetNamespacez", {}) end, "unknown method 'GetNamespacez'")
    assert.has_error(function() c:get_namespaces("x") end,
      "GetNamespaces: the request must be a table or nil, got string")
    assert.error_matches(function() c:get_namespaces{ page_sise = 1 } end, "did you mean 'page_size'")
    assert.error_matches(function() c:get_namespaces({}, { timout = 1 }) end, "unknown call option 'timout'")
    assert.has_error(function() c:get_namespaces({}, { metadata = { ["Bad"] = "v" } }) end,
      "opts.metadata: header name 'Bad' must be lowercase")
    assert.error_matches(function() c.get_account({}) end,
      "GetAccount: call it as client:get_account(...), with a colon", 1, true)
    assert.error_matches(function() c.get_account() end, "call it as client:get_account", 1, true)
    -- the error points at the caller's line, not inside the library
    local ok, err = pcall(function() c:get_namespaces("x") end)
    assert.is_false(ok)
    assert.matches("connect_spec%.lua:%d+:", err)
    c:close()
  end)
end)

-- Mistakes a new user makes, which used to be retried for half a minute and then reported in
-- gRPC's words: each fails at its first attempt, its message led by the likely cause.
describe("a connection that cannot succeed", function()
  local s = helpers.tls_and_plain_servers()
  lazy_setup(s.start)
  lazy_teardown(s.stop)

  -- The failed call of a client with the default retry policy (8 attempts, 120 s).
  local function fails(opts)
    opts.api_key, opts.rate_limit = "k", false
    local c = assert(cloudops.connect(opts))
    local resp, err = c:get_namespaces{}
    c:close()
    assert.is_nil(resp)
    assert.equal("UNAVAILABLE", err.name)
    assert.equal(1, err.attempts)
    assert.is_false(err.retryable)
    return err
  end

  it("TLS against a plaintext server says to connect with insecure = true", function()
    local err = fails{ endpoint = s.plain_server.endpoint }
    assert.matches("^the server answered the TLS handshake in plaintext: .* connect with insecure = true", err.message)
    assert.matches("wrong version number", err.message) -- gRPC's own words follow
  end)

  it("plaintext against a TLS server says to drop insecure = true", function()
    local err = fails{ endpoint = s.tls_server.endpoint, insecure = true }
    assert.matches("connect without insecure = true", err.message)
  end)

  it("an untrusted certificate names tls.ca_file, a wrong name tls.server_name", function()
    assert.matches("give that CA as tls%.ca_file", fails{ endpoint = s.tls_server.endpoint }.message)
    assert.matches("tls%.server_name", fails{ endpoint = s.tls_server.endpoint,
      tls = { ca_file = s.certs.ca, server_name = "not-in-the-cert.test" } }.message)
  end)

  it("a port nobody listens on says so", function()
    assert.matches("^nothing accepts connections at the endpoint",
      fails{ endpoint = "127.0.0.1:1", insecure = true }.message)
  end)

  it("keeps retrying what the server itself reports as UNAVAILABLE, whatever its words", function()
    local retry = require "cloudops.retry"
    local read = { name = "GetNamespaces", mutation = false }
    assert.is_true(retry.retryable(14, read, {}, "upstream: Connection refused"))
    assert.is_false(retry.retryable(14, read, {}, "failed to connect to all addresses; last error: " ..
      "UNKNOWN: ipv4:127.0.0.1:1: Failed to connect to remote host: Connection refused"))
    local diagnosis = require "cloudops.diagnosis"
    assert.matches("host name does not resolve", diagnosis.cause(14, "DNS resolution failed for " ..
      "nope.invalid:443: C-ares status is not ARES_SUCCESS qtype=A name=nope.invalid is_balancer=0: " ..
      "Domain name not found"))
  end)
end)
