local helpers = require "helpers"
local cloudops = require "cloudops"

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
    assert.is_true(core.now() - t0 < 1)
    c:close()
  end)

  it("closes once, by close(), and raises on a call after that", function()
    local c = assert(connect{ endpoint = "127.0.0.1:1", insecure = true })
    assert.matches("cloudops client %(127%.0%.0%.1:1%)", tostring(c))
    c:close()
    c:close()
    assert.matches("closed", tostring(c))
    assert.has_error(function() c:get_namespaces{} end, nil)
    local ok, err = pcall(c.get_namespaces, c, {})
    assert.is_false(ok)
    assert.matches("closed", err)
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
    assert.error_matches(function() c:get_namespaces("x") end, "must be a table")
    assert.error_matches(function() c:get_namespaces{ page_sise = 1 } end, "did you mean 'page_size'")
    assert.error_matches(function() c:get_namespaces({}, { timout = 1 }) end, "unknown call option 'timout'")
    assert.error_matches(function() c:get_namespaces({}, { metadata = { ["Bad"] = "v" } }) end, "lowercase")
    -- the error points at the caller's line, not inside the library
    local ok, err = pcall(function() c:get_namespaces("x") end)
    assert.is_false(ok)
    assert.matches("connect_spec%.lua:%d+:", err)
    c:close()
  end)
end)
