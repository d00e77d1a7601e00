-- The emulator as a process, over gRPC, with the module's own client.
local helpers = require "helpers"
local S = require "03-emulator.emu_support"
local emulator = require "cloudops.emulator"
local core = require "cloudops.core"
local cloudops = require "cloudops"

local connect = require("03-emulator.emu_support").connect

local function wait_op(c, id)
  local deadline = core.now() + 5
  while core.now() < deadline do
    local r = assert(c:get_async_operation { async_operation_id = id })
    local s = r.async_operation.state
    if s ~= "STATE_PENDING" and s ~= "STATE_IN_PROGRESS" then return r.async_operation end
    core.sleep(0.02)
  end
  error("operation did not finish")
end

describe("emulator process", function()
  local emu
  after_each(function()
    if emu then emu.stop() end
    emu = nil
    helpers.cleanup()
  end)

  it("prints its address first and serves paging and operations over gRPC", function()
    emu = assert(emulator.spawn { op_duration = 0.2, op_pending = 0.05, seed = { namespaces = 5 },
                                  rate_limits = false })
    assert.matches("^127%.0%.0%.1:%d+$", emu.endpoint)
    assert.is_string(emu.keys.reader)
    local c = connect(emu)
    local names, token = {}, nil
    repeat
      local r = assert(c:get_namespaces { page_size = 2, page_token = token })
      for _, ns in ipairs(r.namespaces) do names[#names + 1] = ns.namespace end
      token = r.next_page_token
    until token == nil or token == ""   -- an empty string is absent on the wire
    assert.are.equal(5, #names)
    local r = assert(c:create_namespace { spec = { name = "e2e", replicas = { { region = "aws-us-east-1" } },
      retention_days = 7, api_key_auth = { enabled = true } } })
    assert.are.equal("STATE_PENDING", r.async_operation.state)
    assert.are.equal("type.googleapis.com/temporal.api.cloud.cloudservice.v1.CreateNamespaceRequest",
      r.async_operation.operation_input.type_url)
    local op = wait_op(c, r.async_operation.id)
    assert.are.equal("STATE_FULFILLED", op.state)
    local ns = assert(c:get_namespace { namespace = r.namespace }).namespace
    assert.are.equal("RESOURCE_STATE_ACTIVE", ns.state)
  end)

  it("answers UNAUTHENTICATED for a wrong key and PERMISSION_DENIED for a reader's mutation", function()
    emu = assert(emulator.spawn {})
    local _, err = connect(emu, { api_key = "wrong" }):get_regions()
    assert.are.equal("UNAUTHENTICATED", err.name)
    _, err = connect(emu, { api_key = emu.keys.reader }):create_user { spec = { email = "a@example.com",
      access = { account_access = { role = "ROLE_READ" } } } }
    assert.are.equal("PERMISSION_DENIED", err.name)
  end)

  it("requires the version header, bounds page sizes and rejects a stale resource_version", function()
    emu = assert(emulator.spawn { op_duration = 0, op_pending = 0, rate_limits = false })
    local c = connect(emu)
    local _, err = c:get_regions({}, { api_version = "" })
    assert.are.equal("INVALID_ARGUMENT", err.name)
    assert.matches("temporal%-cloud%-api%-version", err.message)
    _, err = c:get_users { page_size = 1001 }
    assert.are.equal("INVALID_ARGUMENT", err.name)
    assert.truthy(c:get_users { page_size = 1000 })
    local r = assert(c:create_user {
      spec = { email = "v@example.com", access = { account_access = { role = "ROLE_READ" } } } })
    wait_op(c, r.async_operation.id)
    local u = assert(c:get_user { user_id = r.user_id }).user
    local spec = u.spec
    spec.access.account_access.role = "ROLE_DEVELOPER"
    r = assert(c:update_user { user_id = u.id, spec = spec, resource_version = u.resource_version })
    wait_op(c, r.async_operation.id)
    _, err = c:update_user { user_id = u.id, spec = spec, resource_version = u.resource_version } -- stale now
    assert.are.equal("FAILED_PRECONDITION", err.name)
  end)

  it("answers RESOURCE_EXHAUSTED with RetryInfo over the limit", function()
    emu = assert(emulator.spawn { rate_limits = { user = 2, service_account = 2, account = 100 } })
    local c = connect(emu)
    assert(c:get_regions())
    assert(c:get_regions())
    local _, err = c:get_regions()
    assert.are.equal("RESOURCE_EXHAUSTED", err.name)
    assert.matches("rate limit exceeded", err.message)
    assert.are.equal("google.rpc.RetryInfo", err.details[1]["@type"])
    local d = err.details[1].retry_delay
    assert.is_true((d.seconds or 0) == 0 and d.nanos > 0)   -- a zero field is absent
  end)

  it("applies a mutation once when the answer was lost and the client retried", function()
    emu = assert(emulator.spawn { op_duration = 0.1, op_pending = 0,
      faults = { { method = "CreateUser", code = "UNAVAILABLE", when = "after" } } })
    local c = connect(emu, { retry = { max_attempts = 3, initial = 0.01, max = 0.05 } })
    local r, err, info = c:create_user { spec = { email = "once@example.com",
      access = { account_access = { role = "ROLE_READ" } } } }
    assert.is_nil(err)
    assert.are.equal(2, info.attempts)
    local users = assert(c:get_users { email = "once@example.com" }).users
    assert.are.equal(1, #users)
    assert.are.equal(r.user_id, users[1].id)
  end)

  it("holds a delayed answer back without holding up other calls", function()
    local log = helpers.tmpdir() .. "/requests.log"
    emu = assert(emulator.spawn { rate_limits = false, log = log,
      faults = { { method = "GetAccount", delay = 1.5 } } })
    local slow = S.call_in_child(emu, "get_account")
    -- the slow call reaches the server first: the log has its line once it is held back
    assert.is_true(helpers.eventually(function()
      return (helpers.read_file(log) or ""):find("GetAccount OK [%d.]+ms .* delayed=1%.500s") ~= nil
    end, 10), "the slow call did not reach the emulator")
    local c = connect(emu)
    for _ = 1, 5 do assert(c:get_regions()) end
    local status, took, out = S.call_result(slow)
    assert.are.equal("ok", status)
    assert.is_true(took >= 1.2, out)
    -- On the server's own clock (its request log): the five calls were all served while the
    -- delayed answer was held, not after it went out.
    local held_until, during = nil, 0
    for _, e in ipairs(helpers.served(log)) do
      if e.method == "GetAccount" then
        held_until = e.at + e.held
      elseif e.method == "GetRegions" and held_until and e.at < held_until then
        during = during + 1
      end
    end
    assert.are.equal(5, during)
  end)

  it("serves TLS from certificate files", function()
    local certs = helpers.make_certs()
    emu = assert(emulator.spawn { tls = { cert_file = certs.cert, key_file = certs.key } })
    local c = assert(cloudops.connect { endpoint = emu.endpoint, api_key = emu.api_key,
      tls = { ca_file = certs.ca }, rate_limit = false, retry = false })
    assert(c:get_regions())
  end)

  it("saves its state when stopped and writes a request log without tokens", function()
    local dir = helpers.tmpdir()
    local state, log = dir .. "/state.lua", dir .. "/requests.log"
    emu = assert(emulator.spawn { state_file = state, log = log })
    local c = connect(emu)
    assert(c:create_user { spec = { email = "kept@example.com",
      access = { account_access = { role = "ROLE_READ" } } } })
    local key = emu.api_key
    emu.stop()
    emu = nil
    assert.matches("kept@example.com", helpers.read_file(state), 1, true)
    local text = helpers.read_file(log)
    assert.matches("CreateUser OK", text, 1, true)
    assert.is_nil(text:find(key, 1, true))
    -- a new emulator on the same state accepts the same key
    emu = assert(emulator.spawn { state_file = state })
    assert.are.equal(key, emu.api_key)
    assert.are.equal(1, #assert(connect(emu):get_users { email = "kept@example.com" }).users)
  end)

  it("launcher: --help and bad flags", function()
    local bin = helpers.sh_quote(helpers.ROOT .. "bin/cloudops-emulator")
    local out, ok = helpers.run(helpers.LUA .. " " .. bin .. " --help")
    assert.is_true(ok)
    assert.matches("usage: cloudops%-emulator", out)
    local _, bad, code = helpers.run(helpers.LUA .. " " .. bin .. " --frobnicate 2>/dev/null")
    assert.is_false(bad)
    assert.are.equal(2, code)
  end)

  it("ends by itself when the process that spawned it dies without stopping it", function()
    local script = helpers.script([[
      local emu = assert(require("cloudops.emulator").spawn {})
      print(emu.pid)
      os.exit(0, false)   -- no stop(), no __gc
    ]])
    local pid = assert(tonumber(helpers.run(helpers.LUA .. " " .. helpers.sh_quote(script)):match("%d+")))
    local function running() return helpers.alive(pid) end
    finally(function() if running() then os.execute("kill -KILL " .. pid) end end)
    local deadline = core.now() + 3
    while running() and core.now() < deadline do core.sleep(0.05) end
    assert.is_false(running())
  end)

  it("ends, and lets the process that spawned it end, when a script ends without stopping it", function()
    -- (under LuaJIT a table has no finalizer: the emulator's popen handle, closed as the state
    -- closes, used to wait for an emulator that waited for this process to end)
    local script = helpers.script([[
      local emu = assert(require("cloudops.emulator").spawn {})
      print(emu.pid)
    ]])
    local out, ok = helpers.run("timeout 20 " .. helpers.LUA .. " " .. helpers.sh_quote(script))
    local pid = tonumber(out:match("^(%d+)"))
    finally(function() if pid and helpers.alive(pid) then os.execute("kill -KILL " .. pid) end end)
    assert.is_true(ok, "the script did not end: " .. out)
    assert.is_number(pid, out)
    assert.is_false(helpers.alive(pid))
  end)

  it("launcher: a port in use is an error", function()
    emu = assert(emulator.spawn {})
    local second, err = emulator.spawn { port = emu.port }
    if second then second.stop() end -- the core's server must not share a port (SO_REUSEPORT)
    assert.is_nil(second)
    assert.matches("cannot listen", err)
  end)
end)
