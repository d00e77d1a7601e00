-- cloudops.openresty outside nginx: ngx.run_worker_thread is faked the way lua-nginx-module
-- behaves (arguments and results copied as plain values, metatables dropped, functions and
-- full userdata refused, an error raised in the task turned into a string), with the task run
-- in this process against a spawned emulator. nginx_spec.lua runs the real thing.
require "helpers"
local core = require "cloudops.core"
local emulator = require "cloudops.emulator"
local openresty = require "cloudops.openresty"
local plain = require "cloudops.openresty.plain"

local SENTINELS = { [core.null] = true, [core.empty_array] = true }

-- A copy as lua-nginx-module makes one (ngx_http_lua_worker_thread.c): plain values only.
local function copy(v, depth)
  local t = type(v)
  if t == "table" then
    if depth > 100 then error("too deep", 0) end
    local out = {}
    for k, x in pairs(v) do out[copy(k, depth + 1)] = copy(x, depth + 1) end
    return out
  elseif t == "function" or (t == "userdata" and not SENTINELS[v]) or t == "thread" then
    error("unsupported Lua type: " .. t, 0)
  end
  return v
end

local function copy_all(...)
  local n, out = select("#", ...), {}
  for i = 1, n do out[i] = copy((select(i, ...)), 1) end
  return out, n
end

local unpack = table.unpack or unpack

-- A fake ngx with run_worker_thread; `hops` records each task, `refuse` makes the next
-- n hops fail with that message.
local function fake_ngx()
  local ngx = { hops = {}, refuse = {} }
  function ngx.run_worker_thread(pool, module, fname, ...)
    ngx.hops[#ngx.hops + 1] = { pool = pool, module = module, fname = fname }
    if #ngx.refuse > 0 then return false, table.remove(ngx.refuse, 1) end
    local okc, args, n = pcall(copy_all, ...)
    if not okc then return false, args .. " in the argument" end
    local fn = require(module)[fname]
    if type(fn) ~= "function" then return false, "invalid function" end
    local res = { pcall(fn, unpack(args, 1, n)) }
    if not res[1] then return false, type(res[2]) == "string" and res[2] or "" end
    local out, m = copy_all(unpack(res, 2, table.maxn and table.maxn(res) or #res))
    return true, unpack(out, 1, m)
  end
  return ngx
end

describe("cloudops.openresty (ngx.run_worker_thread faked)", function()
  local emu, ngx, saved
  setup(function()
    -- no rate limits: the calls here count attempts, and a refusal from an earlier spec's burst
    -- would add one
    emu = assert(emulator.spawn { seed = { namespaces = 3 }, op_duration = 0.2, op_pending = 0.05,
                                  rate_limits = false })
  end)
  teardown(function()
    if emu then emu.stop() end
  end)
  before_each(function()
    saved = rawget(_G, "ngx")
    ngx = fake_ngx()
    rawset(_G, "ngx", ngx)
  end)
  after_each(function()
    rawset(_G, "ngx", saved)
  end)

  local function connect(extra)
    local o = { endpoint = emu.endpoint, insecure = true, api_key = emu.api_key, rate_limit = false }
    for k, v in pairs(extra or {}) do o[k] = v end
    return openresty.connect(o)
  end

  it("calls through the pool: resp, nil, info as a client returns them", function()
    local co = assert(connect())
    local resp, err, info = co:get_namespaces { page_size = 2 }
    assert.is_nil(err)
    assert.equal(2, #resp.namespaces)
    assert.equal(1, info.attempts)
    assert.is_table(info.headers)
    local hop = ngx.hops[#ngx.hops]
    assert.same({ pool = "cloudops", module = "cloudops.openresty", fname = "thread_call" }, hop)
    resp = assert(co:call("GetNamespaces", { page_size = 1 }))
    assert.equal(1, #resp.namespaces)
    assert.equal("cloudops", connect()._pool)
    assert.equal("workers", connect { pool = "workers" }._pool)
  end)

  it("maps one method over a list of requests in one hop, results in the list's order", function()
    local co = assert(connect())
    local hops = #ngx.hops
    local reqs = { { namespace = "nope.emu01" }, { namespace = "missing.emu01" } }
    local list = assert(co:get_namespaces { page_size = 3 })
    for i, ns in ipairs(list.namespaces) do reqs[#reqs + 1] = { namespace = ns.namespace, _i = i } end
    for _, r in ipairs(reqs) do r._i = nil end
    hops = #ngx.hops
    local results, errs = co:map("get_namespace", reqs, { concurrency = 4 })
    assert.equal(hops + 1, #ngx.hops)
    assert.equal("thread_map", ngx.hops[#ngx.hops].fname)
    assert.is_nil(results[1])
    assert.equal("NOT_FOUND", errs[1].name)
    assert.equal("GetNamespace: NOT_FOUND (5): " .. errs[1].message, tostring(errs[1]))
    assert.equal("NOT_FOUND", errs[2].name)
    for i = 3, #reqs do
      assert.is_nil(errs[i])
      assert.equal(reqs[i].namespace, results[i].namespace.namespace)
    end
    -- mistakes raise in the request, before the hop
    hops = #ngx.hops
    assert.has_error(function() co:map("get_namespace", { { bogus = 1 } }) end)
    assert.has_error(function() co:map("NoSuchMethod", {}) end, "map: unknown method 'NoSuchMethod'")
    assert.equal(hops, #ngx.hops)
  end)

  it("rebuilds errors on the request side: a table with __tostring, its cause too", function()
    local co = assert(connect())
    local resp, err = co:get_namespace { namespace = "nope.emu01" }
    assert.is_nil(resp)
    assert.is_not_nil(getmetatable(err))
    assert.equal("NOT_FOUND", err.name)
    assert.equal(5, err.code)
    assert.equal("GetNamespace: NOT_FOUND (5): " .. err.message, tostring(err))
    local t = plain.error(setmetatable({ name = "A", message = "m", cause = plain.rebuild { name = "B", message = "n" } },
      getmetatable(err)))
    assert.is_nil(getmetatable(t))
    assert.is_nil(getmetatable(t.cause))
    local back = plain.rebuild(copy(t, 1))
    assert.equal("A: m", tostring(back))
    assert.equal("B: n", tostring(back.cause))
  end)

  it("raises a caller's mistakes at the caller's line, before any hop", function()
    local co = assert(connect())
    local hops = #ngx.hops
    local ok, err = pcall(function() co:get_namespaces { bogus = 1 } end)
    assert.is_false(ok)
    assert.matches("unknown field 'bogus'", err)
    ok, err = pcall(function() co:get_namespaces({}, { timeout = -1 }) end)
    assert.matches("openresty_spec.lua:%d+: opts.timeout must be a positive number", err)
    ok, err = pcall(function() co:call("NoSuchMethod") end)
    assert.matches("openresty_spec.lua:%d+: unknown method 'NoSuchMethod'", err)
    assert.equal(hops, #ngx.hops)
  end)

  it("keeps one client per thread VM and distinct settings", function()
    local before = openresty.cached_clients()
    local a = assert(connect { timeout = 7 })
    assert(a:get_namespaces())
    assert(a:get_namespaces())
    local b = assert(connect { timeout = 7 })   -- equal settings: the same client
    assert(b:get_namespaces())
    assert.equal(before + 1, openresty.cached_clients())
    local c = assert(connect { timeout = 8 })
    assert(c:get_namespaces())
    assert.equal(before + 2, openresty.cached_clients())
    assert.equal(plain.key { a = 1, b = { 2, 3 }, c = "x" }, plain.key { c = "x", b = { 2, 3 }, a = 1 })
    assert.not_equal(plain.key { a = 1 }, plain.key { a = "1" })
  end)

  it("calls an api_key function in the request, once per call", function()
    local calls = 0
    local co = assert(connect { api_key = function() calls = calls + 1 return emu.api_key end })
    assert(co:get_namespaces())
    assert(co:get_namespaces())
    assert.equal(2, calls)
    local bad = assert(connect { api_key = function() error("vault down") end })
    local resp, err = bad:get_namespaces()
    assert.is_nil(resp)
    assert.equal("API_KEY", err.name)
    assert.matches("vault down", err.message)
  end)

  it("calls on_event in the request, once per attempt made in the thread", function()
    local events = {}
    local co = assert(connect { on_event = function(ev) events[#events + 1] = ev end })
    assert(co:get_namespaces())
    assert.equal(1, #events)
    assert.equal("GetNamespaces", events[1].method)
    assert.equal("OK", events[1].name)
  end)

  it("refuses options that cannot cross into a thread, and bad pool, retry and timeout", function()
    local co, err = connect { metadata = { ["x-a"] = function() end } }
    assert.is_nil(co)
    assert.equal("INVALID_OPTION", err.name)
    assert.matches("options.metadata.x%-a: a function cannot cross into a worker thread", err.message)
    assert.is_nil((connect { pool = "" }))
    assert.is_nil((connect { retry = { bogus = 1 } }))
    assert.is_nil((connect { timeout = 0 }))
    assert.is_nil((connect { on_event = 1 }))
  end)

  it("reports what cloudops.connect refuses in the thread as every call's error", function()
    local co = assert(connect { bogus_option = true })
    local resp, err = co:get_namespaces()
    assert.is_nil(resp)
    assert.equal("INVALID_OPTION", err.name)
    assert.equal("unknown option 'bogus_option'", err.message)
  end)

  it("waits for a free thread VM in the request, and names a failed hop WORKER_THREAD", function()
    local co = assert(connect())
    ngx.refuse = { "no available Lua vm", "no available Lua vm" }
    local t0 = core.now()
    assert(co:get_namespaces())
    assert.is_true(core.now() - t0 >= 0.005)
    ngx.refuse = { "thread pool \"cloudops\" not found" }
    local resp, err = co:get_namespaces()
    assert.is_nil(resp)
    assert.equal("WORKER_THREAD", err.name)
    assert.matches('thread pool "cloudops" not found', err.message, 1, true)
  end)

  it("runs the helpers in the request, one hop per call: paginate, wait, update", function()
    local co = assert(connect())
    local n = 0
    for ns, err in co:paginate("get_namespaces", { page_size = 1 }) do
      assert(ns, tostring(err))
      n = n + 1
    end
    assert.is_true(n >= 3)
    local r = assert(co:create_namespace { spec = { name = "proxied", replicas = { { region = "aws-us-east-1" } },
      retention_days = 3, api_key_auth = { enabled = true } } })
    local op = assert(co:wait(r, { min_poll = 0.05 }))
    assert.equal("STATE_FULFILLED", op.state)
    local u = assert(co:update("namespace", r.namespace, function(ns) ns.spec.retention_days = 9 end))
    assert.is_string(u.async_operation.id)
  end)

  it("raises when there is no ngx.run_worker_thread", function()
    rawset(_G, "ngx", nil)
    local co = assert(connect())
    assert.has_error(function() co:get_namespaces() end)
  end)
end)

describe("cloudops.openresty.plain", function()
  it("accepts plain values and the core's sentinels, names what is not plain", function()
    assert.is_true(plain.check({ a = { 1, "x", true, core.null, core.empty_array } }, "v"))
    local ok, err = plain.check({ a = { io.stdout } }, "v")
    assert.is_nil(ok)
    assert.equal("v.a.1: a userdata cannot cross into a worker thread (plain values only)", err)
    local cyclic = {}
    cyclic.self = cyclic
    ok, err = plain.check(cyclic, "v")
    assert.is_nil(ok)
    assert.matches("nested too deeply %(or a cycle%)", err)
  end)
end)
