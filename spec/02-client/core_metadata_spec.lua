-- Headers checked and copied once (issue 21, item 5): core.metadata(table) makes an object that
-- ch:call and ch:start take in the table's place (the client's own headers, made at connect),
-- and a blocking ch:call with it runs in its channel's spare call, reused from one call to the
-- next. Against spec/support/test_server.lua, which echoes each header it receives as an
-- x-echo-<name> trailer. The finalizer scenarios run in a child interpreter of their own (as
-- spec/07-reliability/gc_torture_spec.lua's do), under make test-asan's sanitizers and make
-- test-valgrind's valgrind.
local helpers = require "helpers"
local core = require "cloudops.core"
local schema = require "cloudops.schema"
local scenario = require "07-reliability.scenario"

local GET = schema.method("GetNamespaces")
local PAYLOAD = core.encode(GET.input, { page_size = 1 })

describe("core.metadata", function()
  local server = helpers.block_test_server()

  it("checks the table as a call would, once, and shows no value", function()
    assert.has_error(function() core.metadata{ ["Bad Name"] = "x" } end,
      "metadata name 'Bad Name' is not a valid lowercase header name")
    assert.has_error(function() core.metadata{ ["x-a"] = "line\nbreak" } end,
      "metadata value of 'x-a' holds characters a header cannot carry")
    assert.has_error(function() core.metadata{ ["x-a"] = 1 } end,
      "metadata must map names (strings) to values (strings)")
    local many = {}
    for i = 1, 33 do many["x-h" .. i] = "v" end
    assert.has_error(function() core.metadata(many) end, "at most 32 metadata entries per call")
    assert.error_matches(function() core.metadata("authorization: x") end, "table expected")
    assert.error_matches(function() core.metadata() end, "table expected")
    local md = core.metadata{ authorization = "Bearer sekrit-value", ["x-a"] = "1" }
    assert.equal("cloudops metadata (2 entries)", tostring(md))
    assert.equal("cloudops metadata (0 entries)", tostring(core.metadata{}))
  end)

  it("sends its headers from ch:call and ch:start, as the table would", function()
    local ch = core.channel(server.endpoint, { insecure = true })
    local md = core.metadata{ authorization = "Bearer spec", ["x-a"] = "1", ["x-b-bin"] = "\0\1\255" }
    for _ = 1, 3 do
      local resp, code, _, headers, trailers = ch:call(GET.index, PAYLOAD, 5, md)
      assert.is_table(resp)
      assert.equal(0, code)
      assert.is_table(headers)
      assert.equal("Bearer spec", trailers["x-echo-authorization"])
      assert.equal("1", trailers["x-echo-x-a"])
    end
    local h = ch:start(GET.index, PAYLOAD, 5, md)
    while not h:done() do core.poll(1) end
    local _, code, _, _, trailers = h:result()
    assert.equal(0, code)
    assert.equal("1", trailers["x-echo-x-a"])
    ch:close()
  end)

  it("stays alive for the calls that send it after its object is collected", function()
    local ch = core.channel(server.endpoint, { insecure = true })
    local handles = {}
    do
      local md = core.metadata{ ["x-a"] = "kept", ["x-test-delay"] = "0.2" }
      for i = 1, 5 do handles[i] = ch:start(GET.index, PAYLOAD, 5, md) end
    end
    collectgarbage()
    collectgarbage()
    for _, h in ipairs(handles) do
      while not h:done() do core.poll(1) end
      local _, code, _, _, trailers = h:result()
      assert.equal(0, code)
      assert.equal("kept", trailers["x-echo-x-a"])
    end
    ch:close()
  end)

  it("a blocking call with it fails like any call: timeouts, errors, a closed channel", function()
    local ch = core.channel(server.endpoint, { insecure = true })
    local slow = core.metadata{ ["x-test-delay"] = "2" }
    local resp, code = ch:call(GET.index, PAYLOAD, 0.2, slow)
    assert.is_nil(resp)
    assert.equal(4, code) -- DEADLINE_EXCEEDED
    resp, code = ch:call(GET.index, PAYLOAD, 5, core.metadata{ ["x-test-code"] = "5" })
    assert.is_nil(resp)
    assert.equal(5, code)
    assert.is_table(ch:call(GET.index, PAYLOAD, 5, core.metadata{})) -- and the channel goes on
    ch:close()
    assert.has_error(function() ch:call(GET.index, PAYLOAD, 5, core.metadata{}) end, "the client is closed")
  end)

  -- A scenario in a child interpreter (07-reliability.scenario); the counts it printed.
  local function run(body) return (scenario(body, server.endpoint)) end

  it("is made whole or refused while finalizers change its table", function()
    local n = run [[
      torture.start{ pool = 1 }
      for round = 1, 120 do
        local t = { ["x-a"] = "1" }
        torture.target{ grow = t, skip = round % 3 }
        local ok, md = pcall(core.metadata, t)
        torture.target(nil)
        if ok then
          local entries = tonumber(tostring(md):match("(%d+) entries"))
          assert(entries == 1 or entries == 6, "an object of " .. tostring(entries) .. " entries")
          count("made")
        else
          assert(tostring(md):find("the metadata table changed while it was being copied", 1, true), tostring(md))
          count("changed")
        end
      end
      torture.stop()
      report()
    ]]
    assert.is_true((n.made or 0) > 0, "no object was made")
    assert.is_true((n.changed or 0) > 0, "no finalizer changed the table while it was copied")
  end)

  it("blocking calls sharing their channel's spare call while finalizers call and close it", function()
    local n = run [[
      local md = core.metadata{ ["x-a"] = "1" }
      torture.start{ pool = 1 }
      for round = 1, 60 do
        local ch = core.channel(ENDPOINT, { insecure = true })
        -- a finalizer's own blocking call on the same channel, while another's result is
        -- pushed (the spare taken), then one closing the channel
        torture.target{ act = function()
          local ok, resp, code = pcall(ch.call, ch, GET.index, PAYLOAD, 5, md)
          if ok and code == 0 and type(resp) == "table" then count("nested") end
        end, skip = round % 5 }
        local ok, resp, code = pcall(ch.call, ch, GET.index, PAYLOAD, 5, md)
        assert(ok and code == 0 and type(resp) == "table", "the call: " .. tostring(resp) .. " " .. tostring(code))
        torture.target{ close = ch, skip = round % 7 }
        ok, resp, code = pcall(ch.call, ch, GET.index, PAYLOAD, 5, md)
        torture.target(nil)
        if ok then
          assert(code == 0 and type(resp) == "table", "code " .. tostring(code))
          count("answered")
        else
          assert(tostring(resp):find("the client is closed", 1, true), tostring(resp))
          count("refused")
        end
        ch:close()
      end
      torture.stop()
      report()
    ]]
    assert.is_true((n.nested or 0) > 0, "no finalizer made a call of its own meanwhile")
    assert.is_true((n.answered or 0) > 0, "no call was answered while a finalizer closed its channel")
    assert.is_true((n.hits or 0) > 0, "no finalizer ran")
  end)
end)

describe("core.encoder(type, true)", function()
  it("returns nil and the message where the plain encoder raises it", function()
    local raising, soft = core.encoder(GET.input), core.encoder(GET.input, true)
    assert.equal(raising{ page_size = 7 }, soft{ page_size = 7 })
    local ok, raised = pcall(raising, { page_sise = 7 })
    assert.is_false(ok)
    local bytes, message = soft{ page_sise = 7 }
    assert.is_nil(bytes)
    assert.equal(raised, message)
    assert.matches("did you mean 'page_size'", message)
    assert.has_error(function() soft() end) -- no request at all is a bad argument, raised
  end)
end)
