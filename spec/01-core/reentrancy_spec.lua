-- Conversions started in the middle of another one, by a finalizer (a __gc; a userdata's on
-- LuaJIT) or by a metamethod the encoder calls: each has its own state, so that the outer one
-- gives what it would have given alone (issue 11.1). Run under `make test-asan` too, where
-- sharing the state shows as a use after free.
local helpers = require "helpers"
local core = require "cloudops.core"
local cloudops = require "cloudops"
local fill = require "support.fill"
local S = require "01-core.support"

local PAGE = "GetNamespacesResponse"

-- A page of n namespaces, every field filled, told apart by their names.
local function page_bytes(n, token)
  local filler = fill.new(core)
  local ns = {}
  for i = 1, n do
    ns[i] = filler:message("temporal.api.cloud.namespace.v1.Namespace")
    ns[i].namespace = "ns-" .. i
  end
  return cloudops.encode(PAGE, { namespaces = ns, next_page_token = token })
end

-- An object whose finalizer is f (tables have none on LuaJIT: a userdata there).
local function with_finalizer(f)
  if newproxy then
    local p = newproxy(true)
    getmetatable(p).__gc = f
    return p
  end
  return setmetatable({}, { __gc = f })
end

-- Runs f with the collector stopped, so that no finalizer can run during it.
local function alone(f)
  collectgarbage("collect")
  collectgarbage("stop")
  local r = f()
  collectgarbage("restart")
  return r
end

describe("a conversion interrupted by another", function()
  local inner = { namespaces = { { namespace = "inner", spec = { regions = { "r" } } } },
                  next_page_token = "inner-token" }
  local inner_bytes = cloudops.encode(PAGE, inner)
  local bad = { namespaces = { { spec = { regions = { "ok", {} } } } } } -- fails deep inside
  local inside, ran_inside, wrong = false, 0, {}

  -- What each finalizer does: an encode, a decode, an encode that fails halfway. A finalizer
  -- must not raise (LuaJIT passes the error on to whatever allocated), so it records.
  local function convert_inside()
    if inside then ran_inside = ran_inside + 1 end
    if core.encode(PAGE, inner) ~= inner_bytes then wrong[#wrong + 1] = "inner encode" end
    local t = core.decode(PAGE, inner_bytes)
    if not (t and t.next_page_token == "inner-token" and t.namespaces[1].spec.regions[1] == "r") then
      wrong[#wrong + 1] = "inner decode"
    end
    local ok, err = pcall(core.encode, PAGE, bad)
    if ok or not tostring(err):find("^GetNamespacesResponse%.namespaces%[1%]%.spec%.regions%[2%]") then
      wrong[#wrong + 1] = "inner error: " .. tostring(err)
    end
  end

  before_each(function()
    inside, ran_inside, wrong = false, 0, {}
  end)

  it("decodes a large page exactly while finalizers encode and decode", function()
    local bytes = page_bytes(400, "outer-token")
    local expected = alone(function() return assert(core.decode(PAGE, bytes)) end)
    for _ = 1, 12 do
      for _ = 1, 2000 do with_finalizer(convert_inside) end
      inside = true
      local t, err = core.decode(PAGE, bytes)
      inside = false
      assert(t, err)
      assert(helpers.deep_equal(expected, t))
    end
    collectgarbage("collect")
    assert.are.same({}, wrong)
    assert(ran_inside > 0, "no finalizer ran during a decode: the spec tests nothing")
  end)

  it("encodes a large page exactly while finalizers encode and decode", function()
    local t = assert(core.decode(PAGE, page_bytes(400, "outer-token")))
    local expected = alone(function() return core.encode(PAGE, t) end) -- (map entries in t's order)
    for _ = 1, 12 do
      for _ = 1, 2000 do with_finalizer(convert_inside) end
      inside = true
      local bytes = core.encode(PAGE, t)
      -- and a decode, so that the collector runs during this round's conversions
      local back = core.decode(PAGE, bytes)
      inside = false
      assert(bytes == expected, "the page encoded differently")
      assert(helpers.deep_equal(t, back))
    end
    collectgarbage("collect")
    assert.are.same({}, wrong)
    assert(ran_inside > 0, "no finalizer ran during a conversion: the spec tests nothing")
  end)

  it("names the right path in an error when a __tostring it calls encodes meanwhile", function()
    local calls = 0
    local key = setmetatable({}, { __tostring = function()
      calls = calls + 1
      assert(core.encode(PAGE, inner) == inner_bytes)
      assert(not pcall(core.encode, "GetNamespacesRequest", { page_size = "x" }))
      return "odd-key"
    end })
    for _ = 1, 50 do
      local ok, err = pcall(core.encode, "CreateNamespaceRequest", { spec = { regions = { [key] = "a" } } })
      assert.is_false(ok)
      assert.matches("^CreateNamespaceRequest%.spec%.regions: expected an array %(keys 1%.%.n%), "
                     .. "found key odd%-key", err)
      -- and the state is whole afterwards
      assert.are.equal(inner_bytes, core.encode(PAGE, inner))
    end
    assert(calls >= 50)
  end)
end)

describe("a client call whose decode is interrupted by a finalizer that calls", function()
  local s = S.test_server()
  lazy_setup(s.setup)
  lazy_teardown(s.teardown)

  it("gets its 20,000 items, and the finalizers their answers", function()
    local client = s.connect()
    local inside, ran_inside, answers, failures = false, 0, 0, {}
    local function call_inside()
      if not inside then return end
      ran_inside = ran_inside + 1
      local resp, err = client:get_users{}
      if resp and type(resp.users) == "table" then answers = answers + 1
      else failures[#failures + 1] = tostring(err) end
    end
    local opts = { metadata = { ["x-test-items"] = "20000" }, timeout = 60 }
    for _ = 1, 3 do
      for _ = 1, 500 do with_finalizer(call_inside) end
      inside = true
      local resp, err = client:get_namespaces({}, opts)
      inside = false
      assert(resp, tostring(err))
      assert.are.equal(20000, #resp.namespaces)
      for i = 1, 20000, 997 do
        assert.are.equal("ns-" .. i, resp.namespaces[i].namespace)
        assert.are.equal("RESOURCE_STATE_ACTIVATING", resp.namespaces[i].state)
      end
      assert.are.equal("ns-20000", resp.namespaces[20000].namespace)
    end
    collectgarbage("collect")
    assert.are.same({}, failures)
    assert(ran_inside > 0 and answers == ran_inside,
      ("%d finalizers ran during a call, %d got answers"):format(ran_inside, answers))
  end)
end)
