-- The conversion keeps working after errors raised halfway through a table, holds no memory
-- across calls, and neither crashes nor raises on hostile input (deep nesting, random bytes).
local helpers = require "helpers"
local core = require "cloudops.core"
local fill = require "support.fill"

local function lcg(seed)
  local state = seed
  return function(lo, hi)
    state = (state * 48271) % 2147483647 -- MINSTD: exact in doubles too (LuaJIT)
    return lo + state % (hi - lo + 1)
  end
end

local ld = helpers.ld

-- A Struct nested `depth` times: { a = { a = ... } }, as bytes (3 message levels per step).
local function nested_struct_bytes(depth)
  local inner = ""
  for _ = 1, depth do
    inner = ld("\10", ld("\10", "a") .. ld("\18", ld("\42", inner)))
  end
  return inner
end

-- A ListValue nested `depth` times: { { { ... } } }, as bytes (2 message levels per step).
local function nested_list_bytes(depth)
  local inner = ""
  for _ = 1, depth do inner = ld("\10", ld("\50", inner)) end
  return inner
end

-- How encode refuses Struct and ListValue values nested past its limit (after the path there).
local TOO_DEEP = ": nesting deeper than 100 levels (a table that contains itself?)"

local function nested_table(depth, key)
  local root = {}
  local cur = root
  for _ = 1, depth do
    local n = {}
    cur[key] = n
    cur = n
  end
  return root
end

describe("conversion robustness", function()
  local filler = fill.new(core)
  local big_name = "temporal.api.cloud.cloudservice.v1.GetNamespacesResponse"
  local big = filler:message(big_name)
  local big_bytes = core.encode(big_name, big)

  -- A table that fails late: deep inside the second element, after much has been built.
  local function failing()
    local t = filler:message(big_name)
    t.namespaces[2].spec.regions[2] = {}
    return t
  end

  it("encodes and decodes correctly after errors raised halfway, many times over", function()
    local expected_err
    for i = 1, 1500 do
      local ok, err = pcall(core.encode, big_name, failing())
      assert(not ok)
      expected_err = expected_err or err
      assert(err == expected_err, "error " .. i .. " changed: " .. tostring(err))
      ok, err = pcall(core.encode, "GetNamespacesRequest", { page_size = "x" })
      assert(not ok and tostring(err):find("^GetNamespacesRequest%.page_size:"), tostring(err))
      assert(core.encode(big_name, big) == big_bytes, "encoding changed after errors, at " .. i)
      local t = core.decode(big_name, big_bytes)
      assert(#t.namespaces == 2)
      local bad, derr = core.decode(big_name, big_bytes:sub(1, #big_bytes - 3))
      assert(bad == nil and derr)
    end
    assert.matches("GetNamespacesResponse.namespaces[2].spec.regions[2]: expected string, got table", expected_err,
      1, true)
  end)

  it("does not grow the Lua heap over thousands of failing and succeeding calls", function()
    local function round()
      for _ = 1, 200 do
        pcall(core.encode, big_name, failing())
        core.encode(big_name, big)
        core.decode(big_name, big_bytes)
        core.decode(big_name, "\255")
      end
    end
    round() -- warm up: interned strings, caches
    collectgarbage()
    collectgarbage()
    local before = collectgarbage("count")
    for _ = 1, 10 do round() end
    collectgarbage()
    collectgarbage()
    local growth = collectgarbage("count") - before
    assert(growth < 256, ("the Lua heap grew by %.0f KB over 2000 rounds"):format(growth))
  end)

  it("refuses a table that contains itself, without crashing", function()
    local t = {}
    t.a = t
    assert.has_error(function() core.encode("google.protobuf.Struct", t) end,
      "Struct" .. ('["a"]'):rep(100) .. TOO_DEEP)
    local list = {}
    list[1] = list
    assert.has_error(function() core.encode("google.protobuf.ListValue", list) end,
      "ListValue" .. ("[1]"):rep(100) .. TOO_DEEP)
    local spec = { spec = {} }
    spec.spec.lifecycle = spec -- a message table reused where another type is expected
    assert.has_error(function() core.encode("CreateNamespaceRequest", spec) end,
      "CreateNamespaceRequest.spec.lifecycle: unknown field 'spec' in temporal.api.cloud.namespace.v1.LifecycleSpec "
      .. "(did you mean 'enable_delete_protection'?)")
    assert(core.encode("GetNamespacesRequest", { page_size = 1 }) == "\8\1")
  end)

  it("encodes Struct and ListValue nesting up to its limit, and refuses deeper nesting", function()
    for _, depth in ipairs{ 30, 60, 98 } do
      local bytes = core.encode("google.protobuf.ListValue", nested_table(depth, 1))
      assert.is_string(bytes)
      bytes = core.encode("google.protobuf.Struct", nested_table(depth, "k"))
      assert.is_string(bytes)
    end
    -- refused where the 101st level begins, the path leading there
    assert.has_error(function() core.encode("google.protobuf.Struct", nested_table(150, "k")) end,
      "Struct" .. ('["k"]'):rep(100) .. TOO_DEEP)
    assert.has_error(function() core.encode("google.protobuf.ListValue", nested_table(150, 1)) end,
      "ListValue" .. ("[1]"):rep(100) .. TOO_DEEP)
  end)

  it("stays within the Lua stack on deep nesting, in a fresh coroutine (a child process, in case it crashes)",
     function()
    -- A new coroutine starts with a small Lua stack: a conversion that recurses without
    -- lua_checkstack writes past it and corrupts the heap.
    local script = [[
      package.cpath = arg[1] .. ";" .. package.cpath
      local core = require "cloudops.core"
      local function varint(n)
        local out = {}
        repeat
          local b = n % 128
          n = (n - b) / 128
          out[#out + 1] = string.char(n > 0 and b + 128 or b)
        until n == 0
        return table.concat(out)
      end
      local function ld(tag, s) return tag .. varint(#s) .. s end
      local struct = ""
      for _ = 1, 33 do struct = ld("\10", ld("\10", "a") .. ld("\18", ld("\42", struct))) end
      local list = ""
      for _ = 1, 49 do list = ld("\10", ld("\50", list)) end
      local function nested(depth, key)
        local root, cur = {}, nil
        cur = root
        for _ = 1, depth do local n = {}; cur[key] = n; cur = n end
        return root
      end
      for _ = 1, 20 do
        assert(coroutine.wrap(function() return core.decode("google.protobuf.Struct", struct) end)())
        assert(coroutine.wrap(function() return core.decode("google.protobuf.ListValue", list) end)())
        assert(coroutine.wrap(function() return core.encode("google.protobuf.ListValue", nested(90, 1)) end)())
        assert(coroutine.wrap(function() return core.encode("google.protobuf.Struct", nested(90, "k")) end)())
        collectgarbage()
      end
      print("nesting ok")
    ]]
    local path = helpers.tmpdir() .. "/nesting.lua"
    helpers.write_file(path, script)
    local out, ok, code = helpers.run(helpers.LUA .. " " .. helpers.sh_quote(path) .. " "
      .. helpers.sh_quote(helpers.CORE_CPATH) .. " 2>&1")
    helpers.cleanup()
    assert(ok and out:find("nesting ok", 1, true), "the child failed (exit " .. tostring(code) .. "):\n" .. out)
  end)

  it("decodes nested Struct and ListValue payloads within the depth limit", function()
    local t = assert(core.decode("google.protobuf.Struct", nested_struct_bytes(99)))
    local depth = 0
    while t.a do t, depth = t.a, depth + 1 end
    assert.are.equal(99, depth)
    t = assert(core.decode("google.protobuf.ListValue", nested_list_bytes(149)))
    depth = 1
    while type(t[1]) == "table" do t, depth = t[1], depth + 1 end
    assert.are.equal(149, depth)
  end)

  it("decodes whatever nesting it encodes", function()
    local function nested(depth, make)
      local t = {}
      for _ = 1, depth do t = make(t) end
      return t
    end
    for _, depth in ipairs{ 50, 98 } do
      local s = nested(depth, function(inner) return { a = inner } end)
      assert.truthy(core.decode("google.protobuf.Struct", core.encode("google.protobuf.Struct", s)))
      local l = nested(depth, function(inner) return { inner } end)
      assert.truthy(core.decode("google.protobuf.ListValue", core.encode("google.protobuf.ListValue", l)))
    end
  end)

  it("returns nil, err for payloads nested past the limit, however deep", function()
    for _, depth in ipairs{ 101, 300 } do
      local t, err = core.decode("google.protobuf.Struct", nested_struct_bytes(depth))
      assert.is_nil(t)
      assert.equal("malformed google.protobuf.Struct: nested deeper than 300 messages", err)
    end
    for _, depth in ipairs{ 151, 1000 } do
      local t, err = core.decode("google.protobuf.ListValue", nested_list_bytes(depth))
      assert.is_nil(t)
      assert.equal("malformed google.protobuf.ListValue: nested deeper than 300 messages", err)
    end
    -- 100,000 levels in 800 KB (lengths written as 3-byte varints, so every level is 8 bytes)
    local function varint3(v)
      return string.char(128 + v % 128, 128 + math.floor(v / 128) % 128, math.floor(v / 16384))
    end
    local function deep_list_bytes(n)
      local parts = {}
      for i = 1, n do
        local rest = (n - i) * 8
        parts[i] = "\10" .. varint3(rest + 4) .. "\50" .. varint3(rest)
      end
      return table.concat(parts)
    end
    local t = assert(core.decode("google.protobuf.ListValue", deep_list_bytes(3))) -- the form is valid
    assert.are.equal(core.empty_array, t[1][1][1])
    local err
    t, err = core.decode("google.protobuf.ListValue", deep_list_bytes(100000))
    assert.is_nil(t)
    assert.equal("malformed google.protobuf.ListValue: nested deeper than 300 messages", err)
  end)

  it("makes tables no bigger than the wire asks: an empty Namespace (2 bytes) takes under 800 bytes of heap", function()
    local n = 20000
    local bytes = ("\10\0"):rep(n)
    collectgarbage()
    collectgarbage("stop")
    local before = collectgarbage("count")
    local t = assert(core.decode(big_name, bytes))
    local per = (collectgarbage("count") - before) * 1024 / n
    collectgarbage("restart")
    assert.are.equal(n, #t.namespaces)
    -- every repeated and map field is a table (docs/reference.md "Messages as tables")
    assert.are.same({}, t.namespaces[n].tags)
    assert(per < 800, ("%.0f bytes of Lua heap per empty namespace"):format(per))
  end)

  it("returns nil, err for an answer that would decode into more than its bound, and decodes one within it", function()
    -- 200,000 empty namespaces: 400 KB on the wire, 2.4 million tables and values
    local t, err = core.decode(big_name, ("\10\0"):rep(200000))
    assert(t == nil, "decoded past the bound") -- (not is_nil: busted would print the whole table)
    assert.matches("2,000,000 Lua tables and values", err, 1, true)
    -- strings too: 2.1 million empty ones in one repeated field
    t, err = core.decode("NamespaceSpec", ("\18\0"):rep(2100000))
    assert(t == nil, "decoded past the bound")
    assert.matches("^malformed temporal%.api%.cloud%.namespace%.v1%.NamespaceSpec: it would decode into more than "
                   .. "2,000,000 Lua tables and values", err)
    t = assert(core.decode(big_name, ("\10\0"):rep(100000)))
    assert.are.equal(100000, #t.namespaces)
  end)

  it("never raises or crashes on random or mutated bytes", function()
    local rand = lcg(2024)
    local targets = { big_name, "google.protobuf.Struct", "temporal.api.cloud.namespace.v1.Namespace",
                      "AsyncOperation", "ResetOptions" }
    local seeds = {}
    for i, name in ipairs(targets) do seeds[i] = core.encode(name, filler:message(name)) end
    for i = 1, 3000 do
      local k = i % #targets + 1
      local bytes
      if i % 3 == 0 then -- random bytes
        local n = rand(0, 40)
        local b = {}
        for j = 1, n do b[j] = string.char(rand(0, 255)) end
        bytes = table.concat(b)
      else -- a valid encoding with a few bytes changed, or cut short
        bytes = seeds[k]
        for _ = 1, rand(1, 4) do
          local p = rand(1, #bytes)
          bytes = bytes:sub(1, p - 1) .. string.char(rand(0, 255)) .. bytes:sub(p + 1)
        end
        if i % 3 == 2 then bytes = bytes:sub(1, rand(0, #bytes)) end
      end
      local ok, t, err = pcall(core.decode, targets[k], bytes)
      assert(ok, "decode raised: " .. tostring(t))
      assert(t ~= nil or type(err) == "string")
    end
  end)
end)

describe("a call answered with a page that would decode past the bound", function()
  local s = require("01-core.support").test_server()
  lazy_setup(s.setup)
  lazy_teardown(s.teardown)

  it("returns nil, err, and the client goes on", function()
    local client = s.connect()
    local ok, resp, err = pcall(client.get_namespaces, client, {},
      { metadata = { ["x-test-answer-getnamespaces-bin"] = "\10\0", ["x-test-answer-repeat"] = "200000" } })
    assert(ok, "the call raised: " .. tostring(resp))
    assert(resp == nil, "decoded past the bound")
    assert.equal("INTERNAL", err.name)
    assert.matches("^malformed response: not a valid temporal%.api%.cloud%.cloudservice%.v1%.GetNamespacesResponse "
                   .. "%(it would decode into more than 2,000,000 Lua tables and values", err.message)
    assert(client:get_namespaces({}, { metadata = { ["x-test-items"] = "3" } }))
  end)
end)
