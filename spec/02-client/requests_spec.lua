-- What reaches the wire (issue 21, item 1), counted in the emulator's request log: one call on
-- a fresh client is one request, with a good key or a bad one, a key function or a string,
-- plaintext or not; an api_key function that fails sends nothing and reports API_KEY; and
-- bin/cloudops sends one request per RPC, within --timeout when --no-retry.
local helpers = require "helpers"
local cloudops = require "cloudops"
local core = require "cloudops.core"
local emulator = require "cloudops.emulator"

-- The emulator's log lines, as { method =, outcome = }.
local function requests(log)
  local out = {}
  for line in (helpers.read_file(log) or ""):gmatch("[^\n]+") do
    local method, outcome = line:match("^%S+ %S+ (%S+) (%S+)")
    if method then out[#out + 1] = { method = method, outcome = outcome } end
  end
  return out
end

describe("requests on the wire", function()
  local emu, log, seen
  lazy_setup(function()
    log = helpers.tmpdir() .. "/requests.log"
    emu = assert(emulator.spawn{ log = log, op_duration = 0, op_pending = 0 })
  end)
  lazy_teardown(function()
    if emu then emu.stop() end
    helpers.cleanup()
  end)
  before_each(function() seen = #requests(log) end)

  -- The requests logged since the test began.
  local function sent()
    local all, out = requests(log), {}
    for i = seen + 1, #all do out[#out + 1] = all[i] end
    return out
  end

  local function connect(opts)
    local o = { endpoint = emu.endpoint, insecure = true, api_key = emu.keys.admin }
    for k, v in pairs(opts or {}) do o[k] = v end
    return assert(cloudops.connect(o))
  end

  it("one call on a fresh client is one request, with the default limits", function()
    local c = connect()
    assert(c:get_account())
    local r = sent()
    assert.equal(1, #r)
    assert.same({ method = "GetAccount", outcome = "OK" }, r[1])
    c:close()
  end)

  it("a bad key is sent once", function()
    local c = connect { api_key = "not-a-key" }
    local resp, err = c:get_account()
    assert.is_nil(resp)
    assert.equal("UNAUTHENTICATED", err.name)
    local r = sent()
    assert.equal(1, #r)
    assert.same({ method = "GetAccount", outcome = "UNAUTHENTICATED" }, r[1])
    c:close()
  end)

  it("a key from a function is sent once; a function that fails sends nothing and reports API_KEY", function()
    local calls = 0
    local c = connect { api_key = function() calls = calls + 1 return emu.keys.admin end }
    assert(c:get_account())
    assert.equal(1, #sent())
    assert.equal(1, calls)
    local failing = connect { api_key = function() error("the vault is down") end }
    local resp, err = failing:get_account()
    assert.is_nil(resp)
    assert.equal("API_KEY", err.name)
    assert.matches("the vault is down", err.message)
    assert.equal(1, #sent())
    c:close(); failing:close()
  end)

  it("plaintext (insecure) sends the key once", function()
    local c = connect { insecure = true, rate_limit = "auto", max_operations = 10 }
    assert(c:get_current_identity())
    assert.equal(1, #sent())
    c:close()
  end)

  describe("bin/cloudops", function()
    local function cli(argv, env)
      local parts = { helpers.LUA, helpers.sh_quote(helpers.ROOT .. "bin/cloudops") }
      for _, a in ipairs(argv) do parts[#parts + 1] = helpers.sh_quote(a) end
      local cmd = "TEMPORAL_CLOUD_API_KEY=" .. helpers.sh_quote(env.key) .. " " .. table.concat(parts, " ") ..
        " --endpoint " .. helpers.sh_quote(env.endpoint) .. " --insecure 2>&1; echo \"status=$?\""
      local t0 = core.now()
      local out = helpers.run(cmd)
      return out, tonumber(out:match("status=(%d+)%s*$")), core.now() - t0
    end

    it("makes one request per RPC", function()
      local out, status = cli({ "call", "GetAccount" }, { key = emu.keys.admin, endpoint = emu.endpoint })
      assert.equal(0, status, out)
      local r = sent()
      assert.equal(1, #r)
      assert.equal("GetAccount", r[1].method)
    end)

    it("bounds everything it sends by --timeout with --no-retry", function()
      -- a slow server: every answer held back 30 s
      local slow_log = helpers.tmpdir() .. "/slow.log"
      local slow = assert(emulator.spawn{ log = slow_log, latency = 30 })
      finally(slow.stop)
      local out, status, took = cli({ "call", "GetAccount", "--timeout", "0.5", "--no-retry" },
        { key = slow.keys.admin, endpoint = slow.endpoint })
      assert.equal(3, status, out)
      assert.matches("DEADLINE_EXCEEDED", out)
      assert.equal(1, #requests(slow_log))
      -- nothing waited past 0.5 s: 10x that (the interpreter's start included) is far from the
      -- 30 s an unbounded call would wait (nothing but the time can tell)
      assert.is_true(took < 5, ("took %.2f s"):format(took))
    end)
  end)
end)
