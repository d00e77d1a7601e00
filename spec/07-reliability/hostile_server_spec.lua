-- Whatever the server sends, a call returns nil, err within its deadline, and the client goes
-- on: never a raise, never an abort, never a client left unusable (issue 11, items 5-8; issue
-- 17). spec/support/hostile_server.py (Debian's python3-h2) sends the frames a real
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

  -- Far off: a call that ends before it ends by what the server sent (an error other than
  -- DEADLINE_EXCEEDED), which no load on the machine can delay that long.
  local TIMEOUT = 30

  local function connect()
    return assert(cloudops.connect{ endpoint = endpoint, insecure = true, api_key = "k", rate_limit = false,
                                    retry = false, timeout = TIMEOUT })
  end

  local function call(c, case)
    return c:get_namespaces({}, { metadata = { ["x-hostile"] = case } })
  end

  -- A broken answer, then a good one: the broken call returns with the error the server's
  -- answer makes, not at its deadline, and the client goes on (the good call succeeds).
  local function broken_then_good(c, case)
    local ok, resp, err = pcall(call, c, case)
    assert.is_true(ok, case .. " raised: " .. tostring(resp))
    assert.is_nil(resp, case)
    assert.is_table(err, case)
    assert.not_equal("DEADLINE_EXCEEDED", err.name, case .. " ended at its deadline: " .. tostring(err))
    local good, gerr = call(c, "ok")
    assert(good, case .. ": the next call failed: " .. tostring(gerr))
    return err
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
      local err = broken_then_good(c, "no-status")
      assert.equal(2, err.code)
      assert.equal("UNKNOWN", err.name)
      assert.equal("No status received", err.message)
    end
    c:close()
  end)

  -- What gRPC 1.51 makes of each broken ending: { case, code, name, message (a pattern) }.
  local ENDINGS = {
    { "no-message-no-status", 2, "UNKNOWN", "^No status received$" },
    { "trailers-only-no-status", 2, "UNKNOWN", "^No status received$" },
    { "v-500", 2, "UNKNOWN", "^Received http2 header with status: 500$" },
    { "v-data-end", 2, "UNKNOWN", "^Stream removed$" },
    { "v-trailers-grpc-message", 2, "UNKNOWN", "^No status received$" },
    { "v-rst", 13, "INTERNAL", "^Received RST_STREAM with error code 0$" },
    { "v-empty-trailers", 2, "UNKNOWN", "^Stream removed$" },
    { "v-headers-twice", 14, "UNAVAILABLE", "^Socket closed$" },
    { "v-pushback-no-status", 2, "UNKNOWN", "^No status received$" },
    { "v-bad-status", 2, "UNKNOWN", "^UNKNOWN:Error received from peer .*grpc_status:2[,}]" },
    { "v-status-99", 2, "UNKNOWN", "^UNKNOWN:Error received from peer .*grpc_status:99[,}]" },
    { "v-trailers-only-pushback", 2, "UNKNOWN", "^No status received$" },
  }

  it("ending a call in broken ways gives the error gRPC makes of it, within the deadline, and the client goes on",
     function()
    local c = connect()
    for _, e in ipairs(ENDINGS) do
      local case, code, name, message = e[1], e[2], e[3], e[4]
      local err = broken_then_good(c, case)
      assert.equal(code, err.code, case)
      assert.equal(name, err.name, case)
      assert.matches(message, err.message, nil, false, case)
      -- a status that is no gRPC code is UNKNOWN, the value sent kept apart
      assert.equal(case == "v-status-99" and 99 or nil, err.raw_code, case)
      local prefix = ("GetNamespaces: %s (%d): "):format(name, code)
      assert.equal(prefix, tostring(err):sub(1, #prefix), case)
    end
    c:close()
  end)

  it("absurd retry hints are an error like any, within the deadline, and the client goes on", function()
    -- The pause a hint asks for is the retry policy's and the limiter's to bound (retry and
    -- rate limit are off here): the call itself returns at once, the hint readable.
    local c = connect()
    for _, seconds in ipairs { "100000", "-5", "0", "4611686018427387904" } do
      local err = broken_then_good(c, "hint:" .. seconds)
      assert.equal("RESOURCE_EXHAUSTED", err.name)
      if tonumber(seconds) > 0 then -- longer than the call's budget: the err says what was asked
        assert.matches("^slow down %(the server asked to wait [%de.+]+ s before retrying: more than", err.message)
      else
        assert.equal("slow down", err.message)
      end
      assert.equal("google.rpc.RetryInfo", err.details[1]["@type"])
      -- (past 2^53 LuaJIT gives the decimal string)
      assert.equal(seconds, tostring(err.details[1].retry_delay.seconds or 0))
    end
    for _, value in ipairs { "100000", "-5", "soon", ("9"):rep(40) } do
      local err = broken_then_good(c, "retry-after:" .. value)
      assert.equal("RESOURCE_EXHAUSTED", err.name)
      assert.equal(value, err.trailers["retry-after"])
    end
    c:close()
  end)

  it("a gzip bomb is refused without being inflated", function()
    local c = connect()
    local before = peak_kb()
    local resp, err = call(c, "gzip-bomb")
    local grew = peak_kb() - before
    assert.is_nil(resp)
    -- refused for its compression, before any inflating (the channel enables none: src/channel.c)
    assert.equal("UNIMPLEMENTED", err.name)
    assert.equal("Compression algorithm 'gzip' is disabled.", err.message)
    assert.is_true(grew < 100 * 1024, "peak memory grew by " .. grew .. " kB")
    assert(call(c, "ok"))
    c:close()
  end)

  it("a message shorter than its length prefix says what was wrong", function()
    local c = connect()
    local resp, err = call(c, "short-message")
    assert.is_nil(resp)
    assert.equal("INTERNAL", err.name)
    assert.equal("the server ended the call with status OK but sent no complete response message (none, or one "
                 .. "shorter than its length prefix said)", err.message)
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
    -- (docs/reference.md "Errors": a detail that does not decode is its @type, empty here, and
    -- its bytes; bytes that are no google.rpc.Status give no details)
    for _, case in ipairs { { no_type_url, { { ["@type"] = "", value = "\1\2" } } }, { garbage, {} } } do
      local bytes, details = case[1], case[2]
      local hex = bytes:gsub(".", function(ch) return string.format("%02x", ch:byte()) end)
      local ok, resp, err = pcall(call, c, "details:" .. hex)
      assert.is_true(ok, tostring(resp))
      assert.is_nil(resp)
      assert.equal("RESOURCE_EXHAUSTED", err.name)
      assert.equal("refused", err.message)
      assert.same(details, err.details)
    end
    c:close()
  end)
end)
