local helpers = require "helpers"
local cloudops = require "cloudops"

-- The API key must show nowhere a user or a log can see: errors, tostring, info tables,
-- on_event tables, the emulator's request log. Every string reachable from each is searched.
local KEY = "sekrit-KEY-5f1c2b7e9a"

local function strings_in(v, out, seen)
  out, seen = out or {}, seen or {}
  if type(v) == "string" then
    out[#out + 1] = v
  elseif type(v) == "table" and not seen[v] then
    seen[v] = true
    for k, x in pairs(v) do
      strings_in(k, out, seen)
      strings_in(x, out, seen)
    end
    local mt = getmetatable(v)
    if mt and mt.__tostring then out[#out + 1] = tostring(v) end
  end
  return out
end

local function assert_no_key(v, what)
  for _, s in ipairs(strings_in(v)) do
    assert.is_nil(s:find(KEY, 1, true), what .. " holds the key: " .. s)
    assert.is_nil(s:find(KEY:sub(1, 12), 1, true), what .. " holds part of the key: " .. s)
  end
end

describe("secrets", function()
  local emulator = require "cloudops.emulator"
  local emu, log

  lazy_setup(function()
    log = helpers.tmpdir() .. "/requests.log"
    emu = assert(emulator.spawn{ api_key = KEY, log = log, op_duration = 0, op_pending = 0,
                                 rate_limits = { user = 5 } })
  end)

  lazy_teardown(function()
    if emu then emu.stop() end
    helpers.cleanup()
  end)

  it("appear in no error, info, event, tostring or emulator log line", function()
    local events = {}
    for _, key in ipairs{ KEY, function() return KEY end } do
      local c = assert(cloudops.connect{ endpoint = emu.endpoint, insecure = true, api_key = key,
                                         retry = false, rate_limit = false,
                                         on_event = function(ev) events[#events + 1] = ev end })
      assert_no_key(tostring(c), "tostring(client)")
      assert_no_key(c, "the client's own fields") -- what pairs() or a pretty-printer would show
      local resp, err, info = c:get_namespaces{} -- may be rate limited after the previous round
      assert.truthy(resp or err)
      assert_no_key({ resp, err, info }, "a response and its info")
      local outcomes = {}
      for _ = 1, 12 do -- a burst over the user's 5/s: RESOURCE_EXHAUSTED with details
        outcomes[#outcomes + 1] = { c:get_users{} }
      end
      outcomes[#outcomes + 1] = { c:get_namespace{ namespace = "nope.x" } }           -- NOT_FOUND
      outcomes[#outcomes + 1] = { c:get_namespaces{ page_size = 5000 } }              -- INVALID_ARGUMENT
      outcomes[#outcomes + 1] = { c:get_namespaces({}, { api_version = "" }) }        -- no version
      local exhausted = 0
      for _, o in ipairs(outcomes) do
        assert_no_key(o, "a call's results")
        if o[2] then
          assert_no_key(tostring(o[2]), "tostring(err)")
          if o[2].name == "RESOURCE_EXHAUSTED" then exhausted = exhausted + 1 end
        end
      end
      assert.is_true(exhausted > 0) -- the error paths above were really taken
      c:close()
    end
    local bad = assert(cloudops.connect{ endpoint = emu.endpoint, insecure = true, api_key = KEY .. "-wrong",
                                         retry = false, rate_limit = false })
    local _, err = bad:get_namespaces{}
    assert.equal("UNAUTHENTICATED", err.name)
    assert_no_key(err, "an UNAUTHENTICATED error")
    bad:close()
    assert.is_true(#events > 10)
    assert_no_key(events, "on_event tables")
    local text = helpers.read_file(log) or ""
    assert.is_true(#text > 0)
    assert.is_nil(text:find(KEY:sub(1, 12), 1, true), "the emulator's log holds the key")
  end)

  -- Runs a tool of bin/ with the key in the environment; returns all it printed.
  local function tool(cmd, stdin)
    local d = helpers.tmpdir()
    helpers.write_file(d .. "/in", stdin or "")
    local out = helpers.run("TEMPORAL_CLOUD_API_KEY=" .. KEY .. " CLOUDOPS_REPL_HISTORY=" .. d .. "/history " ..
      "lua5.4 " .. helpers.ROOT .. "bin/" .. cmd .. " < " .. d .. "/in 2>&1")
    return out .. (helpers.read_file(d .. "/history") or "")
  end

  it("appear in nothing the command line prints, on success or failure", function()
    local flags = " --insecure --endpoint " .. emu.endpoint .. " --no-retry "
    for _, args in ipairs{ "call GetNamespaces", "call GetNamespace '{\"namespace\":\"nope.x\"}'",
                           "call GetNamespaces '{\"pageSize\":5000}'", "list GetUsers", "wait no-such-op" } do
      local out = tool("cloudops" .. flags .. args)
      assert.is_true(#out > 0)
      assert.is_nil(out:find(KEY:sub(1, 12), 1, true), "cloudops " .. args .. " printed the key: " .. out)
    end
  end)

  it("appear in nothing the REPL echoes, even when asked for the client", function()
    local out = tool("cloudops-repl --no-readline --insecure --endpoint " .. emu.endpoint,
      "client\nprint(client)\nclient:get_namespaces{}\nclient:get_namespace{ namespace = 'nope.x' }\n" ..
      "for k, v in pairs(client) do print(k, v) end\nerror('boom')\n")
    assert.matches("NOT_FOUND", out)
    assert.is_nil(out:find(KEY:sub(1, 12), 1, true), "the REPL echoed the key: " .. out)
  end)
end)
