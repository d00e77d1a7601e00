-- cloudops.map (docs/reference.md "Concurrency"): tasks over the completion queue, results in
-- the order of the list, a raising task ending alone, nesting, several clients, and every wait
-- of the library yielding inside a task (calls, pauses, retries' backoff, paging). Against
-- spec/support/test_server.lua, whose x-test-delay answers later without holding up others.
local helpers = require "helpers"
local cloudops = require "cloudops"
local core = require "cloudops.core"

describe("cloudops.map", function()
  local server = helpers.block_test_server()

  -- Calls in flight at once, counted by the client's own hooks: its api_key function runs just
  -- before each attempt is sent, on_event just after the attempt's answer. Calls that blocked
  -- instead of yielding to the other tasks would never overlap (most = 1), however fast or busy
  -- the machine.
  local function in_flight()
    local f = { now = 0, most = 0 }
    f.opts = {
      api_key = function()
        f.now = f.now + 1
        if f.now > f.most then f.most = f.now end
        return "spec-key"
      end,
      on_event = function() f.now = f.now - 1 end,
    }
    return f
  end

  local function connect(opts, flight)
    local o = { endpoint = server.endpoint, insecure = true, api_key = "spec-key", rate_limit = false }
    for k, v in pairs(flight and flight.opts or {}) do o[k] = v end
    for k, v in pairs(opts or {}) do o[k] = v end
    return assert(cloudops.connect(o))
  end

  local function delayed(seconds, extra)
    local md = { ["x-test-delay"] = tostring(seconds) }
    for k, v in pairs(extra or {}) do md[k] = v end
    return { metadata = md }
  end

  it("runs the calls side by side and returns results in the order of the list", function()
    local flight = in_flight()
    local c = connect(nil, flight)
    -- later items answer sooner: the order of the results is the list's, not the answers'
    local delays = { 0.5, 0.4, 0.3, 0.2, 0.1, 0.05, 0.3, 0.2 }
    local results, errs = cloudops.map(function(d, i)
      local resp, err = c:get_namespaces({ page_size = i }, delayed(d))
      if not resp then return nil, err end
      return i, d
    end, delays, { concurrency = 8 })
    assert.equal(8, flight.most)
    for i, d in ipairs(delays) do
      assert.equal(i, results[i])
      assert.equal(d, errs[i])
    end
    c:close()
  end)

  it("keeps at most `concurrency` tasks running", function()
    local c = connect()
    local running, most = 0, 0
    local items = {}
    for i = 1, 9 do items[i] = i end
    local t0 = core.now()
    local results = cloudops.map(function()
      running = running + 1
      if running > most then most = running end
      local resp = c:get_namespaces({}, delayed(0.2))
      running = running - 1
      return resp ~= nil
    end, items, { concurrency = 3 })
    local elapsed = core.now() - t0
    assert.equal(3, most)
    assert.is_true(elapsed >= 0.55, "elapsed " .. elapsed)  -- three rounds of 0.2 s, at the least
    for i = 1, 9 do assert.is_true(results[i]) end
    c:close()
  end)

  it("ends a raising task alone: its result is nil and its error the raised value", function()
    local c = connect()
    local results, errs = cloudops.map(function(x)
      if x == 2 then error({ why = "boom" }) end
      if x == 3 then error("plain message", 0) end
      local resp = c:get_namespaces({}, delayed(0.05))
      return x * 10, resp and "ok"
    end, { 1, 2, 3, 4 })
    assert.same({ 10, nil, nil, 40 }, { results[1], results[2], results[3], results[4] })
    assert.equal("ok", errs[1])
    assert.same({ why = "boom" }, errs[2])
    assert.equal("plain message", errs[3])
    assert.equal("ok", errs[4])
    c:close()
  end)

  it("nests: a map inside a task runs its tasks on the same scheduler", function()
    local flight = in_flight()
    local c = connect(nil, flight)
    local results = cloudops.map(function(group)
      local inner = cloudops.map(function(item)
        local resp = c:get_namespaces({}, delayed(0.2))
        return resp and (group * 10 + item)
      end, { 1, 2, 3 }, { concurrency = 3 })
      return inner
    end, { 1, 2 }, { concurrency = 2 })
    assert.same({ { 11, 12, 13 }, { 21, 22, 23 } }, results)
    assert.equal(6, flight.most)  -- the six calls together
    c:close()
  end)

  it("works with several clients of the state at once", function()
    local flight = in_flight()
    local a, b = connect(nil, flight), connect({ user_agent = "second" }, flight)
    local results = cloudops.map(function(x)
      local cl = x % 2 == 0 and a or b
      local resp, err, info = cl:get_namespaces({}, delayed(0.3))
      assert(resp, tostring(err))
      return info.trailers["x-echo-user-agent"]:match("^second") and "b" or "a"
    end, { 1, 2, 3, 4 })
    assert.same({ "b", "a", "b", "a" }, results)
    assert.equal(4, flight.most)
    a:close()
    b:close()
  end)

  it("yields during a retry's backoff and a pause: the other tasks go on", function()
    local attempts = 0
    local c = connect{ retry = { initial = 0.3, max = 0.3, multiplier = 1 },
                       on_event = function() attempts = attempts + 1 end }
    local order = {}
    cloudops.map(function(x)
      if x == 1 then
        -- fails twice (UNAVAILABLE) with a RetryInfo of 0.2 s: each backoff is at least that
        -- (jitter alone could be next to nothing), so the other task's pause ends first
        local resp = c:get_namespaces({}, { metadata = { ["x-test-fail-first"] = "map-backoff:2:14",
                                                         ["x-test-retry-after"] = "0.2" } })
        order[#order + 1] = resp and "retried" or "failed"
      else
        require("cloudops.sleep")(0.05)
        order[#order + 1] = "slept"
      end
    end, { 1, 2 })
    assert.same({ "slept", "retried" }, order)
    assert.equal(3, attempts)
    c:close()
  end)

  it("yields while paging: pages of two listings are fetched side by side", function()
    local flight = in_flight()
    local c = connect(nil, flight)
    local results = cloudops.map(function()
      local n = 0
      for resp, err in c:pages("get_namespaces", {}, delayed(0.2, { ["x-test-items"] = "2" })) do
        assert(resp, tostring(err))
        n = n + #resp.namespaces
      end
      return n
    end, { 1, 2, 3 })
    assert.same({ 2, 2, 2 }, results)
    assert.equal(3, flight.most)
    c:close()
  end)

  it("leaves code outside a task unchanged: calls block as before", function()
    local c = connect()
    local t0 = core.now()
    assert(c:get_namespaces({}, delayed(0.1)))
    assert(c:get_namespaces({}, delayed(0.1)))
    assert.is_true(core.now() - t0 >= 0.2)
    c:close()
  end)

  it("client:map runs one method over a list of requests", function()
    local flight = in_flight()
    local c = connect(nil, flight)
    local reqs = { { page_size = 1 }, { page_size = 2 }, { page_size = 3 } }
    local results, errs = c:map("get_namespaces", reqs, { concurrency = 3 }, delayed(0.2))
    assert.equal(3, flight.most)
    for i = 1, 3 do
      assert.is_table(results[i])
      assert.is_nil(errs[i])
    end
    assert.has_error(function() c:map("no_such_method", reqs) end, "map: unknown method 'no_such_method'")
    c:close()
  end)

  it("returns empty arrays for an empty list and refuses bad arguments", function()
    local results, errs = cloudops.map(function() error("never") end, {})
    assert.same({}, results)
    assert.same({}, errs)
    assert.has_error(function() cloudops.map("f", {}) end, "cloudops.map: expected a function, got string")
    assert.has_error(function() cloudops.map(print, 5) end, "cloudops.map: expected a list (table), got number")
    assert.has_error(function() cloudops.map(print, {}, { concurrency = 0 }) end,
      "cloudops.map: concurrency must be a whole number, at least 1")
    assert.has_error(function() cloudops.map(print, {}, { workers = 2 }) end, "cloudops.map: unknown option 'workers'")
  end)

  it("says so when a task yields by itself", function()
    assert.has_error(function()
      cloudops.map(function() coroutine.yield("mine") end, { 1 })
    end, "a cloudops.map task yielded mine itself: a task may not call coroutine.yield (run your own "
      .. "coroutines inside it instead)")
  end)

  it("goes on when code in a task polls the core itself, taking the other tasks' completions", function()
    -- In a child process, bounded: the scheduler used to spin at 100% CPU, forever, on calls
    -- whose completions someone else had taken (issue 17, defect 7).
    local path = helpers.script(table.concat({
      "local cloudops = require 'cloudops'",
      "local core = require 'cloudops.core'",
      "local c = assert(cloudops.connect{ endpoint = " .. string.format("%q", server.endpoint) ..
        ", insecure = true, api_key = 'k', rate_limit = false })",
      "local md = { metadata = { ['x-test-delay'] = '0.2' } }",
      "local cpu0, t0 = os.clock(), core.now()",
      "local results, errs = cloudops.map(function(i)",
      "  if i < 4 then return c:get_namespaces({}, md) end",
      "  -- the last task polls the core, without yielding, until the others' calls are done",
      "  local deadline = core.now() + 0.6",
      "  while core.now() < deadline do core.poll(0.05) end",
      "  return 'polled'",
      "end, { 1, 2, 3, 4 }, { concurrency = 4 })",
      "for i = 1, 3 do assert(results[i], tostring(errs[i])) end",
      "assert(results[4] == 'polled')",
      "print(string.format('done cpu=%.3f wall=%.3f', os.clock() - cpu0, core.now() - t0))",
    }, "\n"))
    local out, ok = helpers.run("timeout 20 " .. helpers.LUA .. " " .. helpers.sh_quote(path) .. " 2>&1")
    assert.is_true(ok, out)
    local cpu, wall = out:match("done cpu=([%d.]+) wall=([%d.]+)")
    assert.is_string(cpu, out)
    -- most of it waiting, not computing (a spin would burn the whole wall time and more)
    assert.is_true(tonumber(cpu) < tonumber(wall), out)
  end)

  it("raises, rather than spin, when the calls its tasks wait for are neither in flight nor done", function()
    local scheduler = require "cloudops.scheduler"
    -- a handle that never completes and that the core does not know: what no core call is
    local stuck = { done = function() return false end, cancel = function() end }
    local t0 = core.now()
    assert.has_error(function()
      cloudops.map(function() scheduler.await_call(scheduler.task(), stuck) end, { 1 })
    end, "cloudops.map: 1 task(s) wait for calls that are neither in flight nor done")
    -- at once, not after a long wait (nothing else can tell): 10 s is many times what it takes
    assert.is_true(core.now() - t0 < 10)
  end)

  it("a task's own coroutines still work, their calls blocking inside them", function()
    local c = connect()
    local results = cloudops.map(function()
      local gen = coroutine.wrap(function()
        local resp = c:get_namespaces({}, delayed(0.05))
        coroutine.yield(resp and "inner")
      end)
      return gen()
    end, { 1, 2 })
    assert.same({ "inner", "inner" }, results)
    c:close()
  end)
end)
