-- The C core's asynchronous calls (issue 10): ch:start, core.poll, call handles, cancelling,
-- closing a channel with calls in flight, handles collected in flight, and a blocking ch:call
-- sharing the queue with started calls. Against spec/support/test_server.lua, whose
-- x-test-delay answers later without holding up other calls.
local helpers = require "helpers"
local core = require "cloudops.core"
local schema = require "cloudops.schema"

local GET = schema.method("GetNamespaces")
local PAYLOAD = core.encode(GET.input, { page_size = 1 })

describe("asynchronous calls in the core", function()
  local server = helpers.block_test_server()

  local function channel()
    return core.channel(server.endpoint, { insecure = true })
  end

  local function md(t)
    local m = { authorization = "Bearer spec" }
    for k, v in pairs(t or {}) do m[k] = v end
    return m
  end

  -- Polls until every handle of `want` came back; returns them in the order they came.
  local function poll_all(want, limit)
    local got, deadline = {}, core.now() + (limit or 10)
    while #got < want and core.now() < deadline do
      for _, h in ipairs(core.poll(0.5)) do got[#got + 1] = h end
    end
    return got
  end

  it("runs calls side by side: started together, they end in the order of their delays", function()
    local ch = channel()
    assert(ch:call(GET.index, PAYLOAD, 5, md()))  -- connected: the three requests go out together
    -- The server holds each answer from when it reads the request. One after another, the calls
    -- would end in the order they were started (slow, fast, medium); side by side, the shortest
    -- delay first. The delays are 0.35 s or more apart: the server reads the three requests in
    -- far less than that, even on a loaded machine.
    local slow = ch:start(GET.index, PAYLOAD, 5, md{ ["x-test-delay"] = "0.8" })
    local fast = ch:start(GET.index, PAYLOAD, 5, md{ ["x-test-delay"] = "0.05" })
    local medium = ch:start(GET.index, PAYLOAD, 5, md{ ["x-test-delay"] = "0.4" })
    assert.is_false(slow:done())
    local got = poll_all(3)
    assert.equal(3, #got)
    assert.is_true(got[1] == fast and got[2] == medium and got[3] == slow,
      "the calls did not end in the order of their delays (fast, medium, slow)")
    for _, h in ipairs { slow, fast, medium } do
      assert.is_true(h:done())
      local resp, code, message, headers, trailers = h:result()
      assert.is_table(resp)
      assert.equal(0, code)
      assert.is_nil(message)
      assert.is_table(headers)
      assert.equal("Bearer spec", trailers["x-echo-authorization"])
    end
    ch:close()
  end)

  it("gives a result once, and refuses it while the call is in flight", function()
    local ch = channel()
    local h = ch:start(GET.index, PAYLOAD, 5, md{ ["x-test-delay"] = "0.2" })
    assert.has_error(function() h:result() end, "the call is still in flight (wait for core.poll to return it)")
    assert.equal(1, #poll_all(1))
    assert.is_table((h:result()))
    assert.has_error(function() h:result() end, "this call's result was already taken")
    assert.matches("released", tostring(h))
    ch:close()
  end)

  it("reports a failed call like ch:call does", function()
    local ch = channel()
    local h = ch:start(GET.index, PAYLOAD, 5, md{ ["x-test-code"] = "5" })
    poll_all(1)
    local resp, code, message, _, trailers = h:result()
    assert.is_nil(resp)
    assert.equal(5, code)
    assert.equal("requested status 5", message)
    assert.is_table(trailers)
    ch:close()
  end)

  it("cancels a call: it completes at once with CANCELLED", function()
    local ch = channel()
    local h = ch:start(GET.index, PAYLOAD, 120, md{ ["x-test-delay"] = "60" })
    h:cancel()
    -- Only time tells "at once" from "when the server answers": the cancel completes in
    -- milliseconds, the server answers after 60 s; 5 s leaves room for a loaded machine.
    assert.equal(1, #poll_all(1, 5))
    local resp, code = h:result()
    assert.is_nil(resp)
    assert.equal(1, code) -- CANCELLED
    ch:close()
  end)

  it("times a started call out at its deadline", function()
    local ch = channel()
    local h = ch:start(GET.index, PAYLOAD, 0.2, md{ ["x-test-delay"] = "3" })
    poll_all(1)
    local _, code = h:result()
    assert.equal(4, code) -- DEADLINE_EXCEEDED
    ch:close()
  end)

  it("closing a channel cancels and drains its calls; their handles report CANCELLED", function()
    local ch = channel()
    local hs = {}
    for i = 1, 5 do hs[i] = ch:start(GET.index, PAYLOAD, 120, md{ ["x-test-delay"] = "60" }) end
    local t0 = core.now()
    ch:close()
    -- Only time tells a close that cancels from one that waits for the answers: the cancels end
    -- in milliseconds, the server answers after 60 s; 5 s leaves room for a loaded machine.
    assert.is_true(core.now() - t0 < 5, "close took " .. (core.now() - t0))
    for _, h in ipairs(hs) do
      assert.is_true(h:done())
      local resp, code, message = h:result()
      assert.is_nil(resp)
      assert.equal(1, code)
      assert.equal("the client was closed", message)
    end
    assert.has_error(function() ch:start(GET.index, PAYLOAD, 1) end, "the client is closed")
  end)

  it("a handle collected in flight cancels its call, which the server then sees go", function()
    local ch = channel()
    do ch:start(GET.index, PAYLOAD, 30, md{ ["x-test-delay"] = "10", ["x-test-key"] = "orphan" }) end
    collectgarbage()
    collectgarbage()
    -- Nothing is left to report, and nothing waits: the orphan was freed when its
    -- cancellation completed (ASan and valgrind check the freeing).
    local t0 = core.now()
    while core.now() - t0 < 1 do assert.same({}, core.poll(0.05)) end
    -- the channel still works
    local resp, code = ch:call(GET.index, PAYLOAD, 5, md())
    assert.equal(0, code)
    assert.is_table(resp)
    ch:close()
  end)

  it("closing a channel whose calls' handles were collected in flight waits for those calls", function()
    -- Each completion frees its call (nobody holds it): the close must not look at a call after
    -- its completion (ASan and valgrind saw a use after free there, issue 17).
    local ch = channel()
    local kept = {}
    for i = 1, 20 do
      local h = ch:start(GET.index, PAYLOAD, 120, md{ ["x-test-delay"] = "60" })
      if i % 2 == 1 then kept[#kept + 1] = h end -- the last started, first on the live list, dropped
    end
    collectgarbage()
    collectgarbage()
    local t0 = core.now()
    ch:close()
    -- (as above: the cancels end in milliseconds, the answers would come after 60 s)
    assert.is_true(core.now() - t0 < 5, "close took " .. (core.now() - t0))
    for _, h in ipairs(kept) do
      local _, code, message = h:result()
      assert.equal(1, code)
      assert.equal("the client was closed", message)
    end
    assert.same({}, core.poll(0))
    local again = channel()
    assert.equal(0, select(2, again:call(GET.index, PAYLOAD, 5, md())))
    again:close()
  end)

  it("a blocking call in between leaves the started calls' completions for poll", function()
    local ch = channel()
    local h = ch:start(GET.index, PAYLOAD, 5, md())
    -- h is answered as soon as the server reads it, before the request sent after it on the
    -- same connection, whose answer is held 0.3 s more: h's completion comes while ch:call waits
    local resp, code = ch:call(GET.index, PAYLOAD, 5, md{ ["x-test-delay"] = "0.3" })
    assert.equal(0, code)
    assert.is_table(resp)
    assert.is_true(h:done())
    assert.same({ h }, core.poll(0))
    assert.is_table((h:result()))
    ch:close()
  end)

  it("two channels share the state's queue", function()
    local a, b = channel(), channel()
    local ha = a:start(GET.index, PAYLOAD, 5, md{ ["x-test-delay"] = "0.1" })
    local hb = b:start(GET.index, PAYLOAD, 5, md{ ["x-test-delay"] = "0.1" })
    local got = poll_all(2)
    assert.equal(2, #got)
    assert.is_true((got[1] == ha and got[2] == hb) or (got[1] == hb and got[2] == ha))
    a:close()
    b:close()
  end)

  it("poll returns at once when nothing is in flight, and within its timeout otherwise", function()
    -- Only time tells these apart: a poll that waited would take its 30 s here, and the call's
    -- 30 s below; 3 s (for a return expected at once) and 2 s (for 0.2 s) leave room for a loaded
    -- machine. A poll does not return before its timeout: that bound is exact.
    local t0 = core.now()
    assert.same({}, core.poll(30))
    assert.is_true(core.now() - t0 < 3, "returned after " .. (core.now() - t0))
    local ch = channel()
    local h = ch:start(GET.index, PAYLOAD, 60, md{ ["x-test-delay"] = "30" })
    t0 = core.now()
    assert.same({}, core.poll(0.2))
    local waited = core.now() - t0
    assert.is_true(waited >= 0.15 and waited < 2, "waited " .. waited)
    h:cancel()
    poll_all(1)
    ch:close()
  end)

  it("refuses bad arguments before starting anything", function()
    local ch = channel()
    assert.has_error(function() ch:start(0, PAYLOAD, 5) end, "bad argument #1 to 'start' (no such method index)")
    -- a call without a deadline could wait forever: the timeout is required
    assert.has_error(function() ch:start(GET.index, PAYLOAD) end,
      "bad argument #3 to 'start' (number expected, got no value)")
    assert.has_error(function() ch:call(GET.index, PAYLOAD) end,
      "bad argument #3 to 'call' (number expected, got no value)")
    assert.has_error(function() ch:call(GET.index, PAYLOAD, -1) end,
      "bad argument #3 to 'call' (the timeout must be a positive number of seconds)")
    assert.has_error(function() ch:start(GET.index, PAYLOAD, 5, { ["Bad Name"] = "x" }) end,
      "metadata name 'Bad Name' is not a valid lowercase header name")
    assert.has_error(function() core.poll(0 / 0) end, "bad argument #1 to 'poll' (timeout must be a number of seconds)")
    assert.same({}, core.poll(0))
    ch:close()
  end)
end)
