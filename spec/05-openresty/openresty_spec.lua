-- cloudops.openresty outside nginx: ngx.run_worker_thread faked as lua-nginx-module behaves
-- (05-openresty.support's fake_ngx), the tasks run in this process against a spawned
-- emulator. nginx_spec.lua runs the real thing; retry_contract_spec.lua the retry contract.
require "helpers"
local core = require "cloudops.core"
local emulator = require "cloudops.emulator"
local openresty = require "cloudops.openresty"
local plain = require "cloudops.openresty.plain"
local N = require "05-openresty.support"

local copy, fake_ngx = N.copy, N.fake_ngx

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
    -- one hop per attempt: the attempts loop is the request's
    assert.same({ pool = "cloudops", module = "cloudops.openresty", fname = "thread_attempt" }, hop)
    resp = assert(co:call("GetNamespaces", { page_size = 1 }))
    assert.equal(1, #resp.namespaces)
    assert.equal("cloudops", connect().pool)
    assert.equal("workers", connect { pool = "workers" }.pool)
  end)

  it("maps one method over a list of requests in one hop, results in the list's order", function()
    local co = assert(connect())
    local reqs = { { namespace = "nope.emu01" }, { namespace = "missing.emu01" } }
    local list = assert(co:get_namespaces { page_size = 3 })
    for i, ns in ipairs(list.namespaces) do reqs[#reqs + 1] = { namespace = ns.namespace, _i = i } end
    for _, r in ipairs(reqs) do r._i = nil end
    local hops = #ngx.hops
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
    assert.has_error(function() co:map("get_namespace", { { bogus = 1 } }) end, "map: requests[1]: "
      .. "GetNamespaceRequest: unknown field 'bogus' in temporal.api.cloud.cloudservice.v1.GetNamespaceRequest "
      .. "(did you mean 'namespace'?)")
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
    local cause = plain.rebuild { name = "B", message = "n" }
    local t = plain.error(setmetatable({ name = "A", message = "m", cause = cause },
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
    assert.is_false(ok)
    assert.matches("openresty_spec.lua:%d+: opts.timeout must be a positive number", err)
    ok, err = pcall(function() co:call("NoSuchMethod") end)
    assert.is_false(ok)
    assert.matches("openresty_spec.lua:%d+: unknown method 'NoSuchMethod'", err)
    assert.equal(hops, #ngx.hops)
  end)

  it("keeps one channel per thread VM and distinct channel settings", function()
    local before = openresty.cached_clients()
    local a = assert(connect { user_agent = "a" })
    assert(a:get_namespaces())
    assert(a:get_namespaces())
    local b = assert(connect { user_agent = "a", timeout = 8 })   -- the same channel: a timeout is per attempt
    assert(b:get_namespaces())
    assert.equal(before + 1, openresty.cached_clients())
    local c = assert(connect { user_agent = "c" })
    assert(c:get_namespaces())
    assert.equal(before + 2, openresty.cached_clients())
    assert.equal(plain.key { a = 1, b = { 2, 3 }, c = "x" }, plain.key { c = "x", b = { 2, 3 }, a = 1 })
    assert.not_equal(plain.key { a = 1 }, plain.key { a = "1" })
  end)

  it("calls an api_key function in the request, once per attempt", function()
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
    -- a map asks it once, in the request, and checks its key as a call does, before any hop
    local hops = #ngx.hops
    local sent_badly = assert(connect { api_key = function() return "key\nwith a newline" end })
    local results, errs = sent_badly:map("GetNamespace", { { namespace = "a" }, { namespace = "b" } })
    assert.same({}, results)
    assert.equal("API_KEY", errs[1].name)
    assert.equal("GetNamespace", errs[1].method)
    assert.matches("returned a key that cannot be sent", errs[2].message, 1, true)
    assert.equal(hops, #ngx.hops)
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

  it("refuses at connect what cloudops.connect refuses, before any hop", function()
    local hops = #ngx.hops
    local co, err = connect { bogus_option = true }
    assert.is_nil(co)
    assert.equal("INVALID_OPTION", err.name)
    assert.equal("unknown option 'bogus_option'", err.message)
    assert.equal(hops, #ngx.hops)
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

  it("takes an attempt's wait for a free thread VM out of its time, not on top of it", function()
    local GET = require("cloudops.schema").method("GetNamespaces")
    local out = openresty.thread_attempt("deadline-spec", emu.endpoint, { insecure = true }, GET.index,
      core.encode(GET.input, {}), 5, {}, core.now() - 0.001)
    assert.equal(4, out.code) -- DEADLINE_EXCEEDED, without a call
    assert.matches("waited for a free Lua VM", out.message, 1, true)
    -- a deadline nearer than the timeout bounds the call: an answer held 1 s back is cut short
    local server = require("helpers").test_server()
    finally(server.stop)
    local t0 = core.now()
    out = openresty.thread_attempt("deadline-spec-slow", server.endpoint, { insecure = true }, GET.index,
      core.encode(GET.input, {}), 5, { ["x-test-delay"] = "1" }, core.now() + 0.1)
    assert.equal(4, out.code)
    assert.is_true(core.now() - t0 < 0.9)
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
    assert.has_error(function() co:get_namespaces() end, "cloudops.openresty: ngx.run_worker_thread is not available "
      .. "here (it needs lua-nginx-module with thread support, on Linux, in a rewrite, access or content handler or "
      .. "a timer)")
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
