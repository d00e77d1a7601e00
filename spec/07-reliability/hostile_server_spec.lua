-- Whatever the server sends, a call returns nil, err: never a raise, never an abort (issue 11,
-- items 5-8). spec/support/hostile_server.py (Debian's python3-h2) sends the frames a real
-- gRPC server never would: trailers without grpc-status (libgrpc 1.51's own retry code aborted
-- the process on them), a gzip bomb (inflated to 1 GiB before max_receive_size was checked), a
-- length prefix longer than the message, status details whose Any has no type_url.
local helpers = require "helpers"
local cloudops = require "cloudops"
local core = require "cloudops.core"

local PY = "/usr/bin/python3"

-- This process's peak resident memory, in kB.
local function peak_kb()
  local status = helpers.read_file("/proc/self/status") or ""
  return tonumber(status:match("VmHWM:%s*(%d+)")) or 0
end

describe("a hostile server", function()
  local proc, endpoint
  lazy_setup(function()
    proc = helpers.spawn(PY .. " " .. helpers.sh_quote(helpers.ROOT .. "spec/support/hostile_server.py"),
      "listening on 127%.0%.0%.1:(%d+)", 10)
    endpoint = "127.0.0.1:" .. proc.match[1]
  end)
  lazy_teardown(function()
    if proc then proc.stop() end
    helpers.cleanup()
  end)

  local function connect()
    return assert(cloudops.connect{ endpoint = endpoint, insecure = true, api_key = "k", rate_limit = false,
                                    retry = false, timeout = 10 })
  end

  local function call(c, case)
    return c:get_namespaces({}, { metadata = { ["x-hostile"] = case } })
  end

  it("answers normally when asked to (the control)", function()
    local c = connect()
    local resp, err = call(c, "ok")
    assert.is_nil(err)
    assert.same({}, resp.namespaces)
    c:close()
  end)

  it("sending trailers without grpc-status gives an error, and the client goes on", function()
    local c = connect()
    for _ = 1, 3 do
      local resp, err = call(c, "no-status")
      assert.is_nil(resp)
      assert.is_table(err)
      assert.is_number(err.code)
    end
    assert(call(c, "ok"))
    c:close()
  end)

  it("ending a call in broken ways gives an error each time, and the client goes on", function()
    local c = connect()
    for _, case in ipairs { "no-message-no-status", "trailers-only-no-status", "v-500", "v-data-end",
                            "v-trailers-grpc-message", "v-rst", "v-empty-trailers", "v-headers-twice",
                            "v-pushback-no-status", "v-bad-status", "v-status-99", "v-trailers-only-pushback" } do
      local ok, resp, err = pcall(call, c, case)
      assert.is_true(ok, case .. ": " .. tostring(resp))
      assert.is_nil(resp, case)
      assert.is_table(err, case)
      assert.is_string(err.name, case)
    end
    assert(call(c, "ok"))
    c:close()
  end)

  it("a gzip bomb is refused without being inflated", function()
    local c = connect()
    local before = peak_kb()
    local t0 = core.now()
    local resp, err = call(c, "gzip-bomb")
    local grew = peak_kb() - before
    assert.is_nil(resp)
    assert.is_table(err)
    assert.is_true(grew < 100 * 1024, "peak memory grew by " .. grew .. " kB")
    assert.is_true(core.now() - t0 < 5)
    assert(call(c, "ok"))
    c:close()
  end)

  it("a message shorter than its length prefix says what was wrong", function()
    local c = connect()
    local resp, err = call(c, "short-message")
    assert.is_nil(resp)
    assert.is_table(err)
    assert.not_equal("", err.message)
    assert.not_matches("sent no response message$", err.message)
    c:close()
  end)

  it("an OK status without a message says so", function()
    local c = connect()
    local resp, err = call(c, "no-message")
    assert.is_nil(resp)
    assert.equal("INTERNAL", err.name)
    assert.matches("status OK but sent no complete response message", err.message)
    c:close()
  end)

  it("status details that are not what they claim decode to something, never raise", function()
    local c = connect()
    -- google.rpc.Status{ code = 8, details = { Any{ value = "\1\2" } } }: an Any without type_url
    local no_type_url = core.encode("google.rpc.Status", { code = 8, details = { { value = "\1\2" } } })
    local garbage = "\255\255\255"
    for _, bytes in ipairs { no_type_url, garbage } do
      local hex = bytes:gsub(".", function(ch) return string.format("%02x", ch:byte()) end)
      local ok, resp, err = pcall(call, c, "details:" .. hex)
      assert.is_true(ok, tostring(resp))
      assert.is_nil(resp)
      assert.equal("RESOURCE_EXHAUSTED", err.name)
      assert.is_table(err.details)
    end
    c:close()
  end)
end)
