-- The retry contract every client keeps, whatever carries its attempts (issue 21, item 4):
-- which failures are retried, backoff with full jitter, server hints, max_elapsed, operation
-- ids, on_event. spec/04-helpers/retry_spec.lua runs it against the client on a fake
-- transport, spec/05-openresty/retry_contract_spec.lua against the OpenResty client through a
-- faked nginx thread pool: both in fake time.
--
--   require("04-helpers.retry_contract")(connect)
-- connect(handler, opts) -> client, clock, calls, as 04-helpers.support's fake_client.
local codes = require "cloudops.codes"
-- busted's API: the spec files' globals are not this module's
local busted = require "busted"
local describe, it, assert = busted.describe, busted.it, require "luassert"

-- A handler failing the first `n` attempts with `code`, then answering `resp` (or {}).
local function failing(n, code, resp, retry_delay, trailers)
  local seen = 0
  return function()
    seen = seen + 1
    if seen <= n then return nil, code, "failing " .. seen, retry_delay, trailers end
    return resp or {}
  end
end

local USER = { spec = { email = "a@example.com", access = { account_access = { role = "ROLE_READ" } } } }

return function(connect)
  describe("retries", function()
    it("retry RESOURCE_EXHAUSTED and UNAVAILABLE, then succeed, reporting the attempts", function()
      for _, code in ipairs{ codes.RESOURCE_EXHAUSTED, codes.UNAVAILABLE } do
        local c = connect(failing(3, code))
        local resp, err, info = c:get_namespaces{}
        assert.is_nil(err)
        assert.is_table(resp)
        assert.equal(4, info.attempts)
      end
    end)

    it("give up after max_attempts and say how many attempts were made", function()
      local c, _, calls = connect(failing(100, codes.UNAVAILABLE), { retry = { max_attempts = 4 } })
      local resp, err = c:get_namespaces{}
      assert.is_nil(resp)
      assert.equal("UNAVAILABLE", err.name)
      assert.equal(4, err.attempts)
      assert.is_true(err.retryable)
      assert.equal(4, #calls)
      assert.matches("after 4 attempts", tostring(err))
    end)

    it("do not retry other codes", function()
      for _, name in ipairs{ "INVALID_ARGUMENT", "NOT_FOUND", "PERMISSION_DENIED", "FAILED_PRECONDITION",
                             "UNAUTHENTICATED", "INTERNAL", "ALREADY_EXISTS", "ABORTED" } do
        local c, clock, calls = connect(failing(1, codes[name]))
        local resp, err = c:get_namespaces{}
        assert.is_nil(resp)
        assert.equal(name, err.name)
        assert.is_false(err.retryable)
        assert.equal(1, err.attempts)
        assert.equal(1, #calls)
        assert.equal(0, #clock.sleeps)
      end
    end)

    it("back off exponentially with full jitter, capped at max", function()
      local policy = { initial = 0.5, multiplier = 2, max = 3, max_attempts = 8, max_elapsed = 1000 }
      local maxima = { 0.5, 1, 2, 3, 3, 3, 3 }
      local seen = {}
      for _ = 1, 30 do
        local c, clock = connect(failing(100, codes.UNAVAILABLE), { retry = policy })
        c:get_namespaces{}
        assert.equal(7, #clock.sleeps)
        for i, d in ipairs(clock.sleeps) do
          assert.is_true(d >= 0 and d <= maxima[i], "delay " .. i .. " = " .. d)
          seen[#seen + 1] = d
        end
      end
      -- Full jitter: delays spread over [0, cap], not bunched at the cap.
      local low = 0
      for _, d in ipairs(seen) do if d < 0.25 then low = low + 1 end end
      assert.is_true(low > 5, "too few short delays: " .. low)
    end)

    it("honour a RetryInfo delay from the server, up to retry.max", function()
      local c, clock = connect(failing(2, codes.RESOURCE_EXHAUSTED, nil, 2.5),
                                     { retry = { initial = 0.01, max = 5 } })
      local resp, err = c:get_namespaces{}
      assert.is_nil(err)
      assert.is_table(resp)
      assert.equal(2, #clock.sleeps)
      for _, d in ipairs(clock.sleeps) do assert.is_true(d >= 2.5) end
      -- a longer hint waits retry.max, no more
      c, clock = connect(failing(1, codes.RESOURCE_EXHAUSTED, nil, 2.5), { retry = { initial = 0.01, max = 0.5 } })
      assert.is_table((c:get_namespaces{}))
      assert.same({ 0.5 }, clock.sleeps)
    end)

    it("honour a retry-after header", function()
      local c, clock = connect(failing(1, codes.UNAVAILABLE, nil, nil, { ["retry-after"] = "3" }),
                                     { retry = { initial = 0.01, max = 5 } })
      assert.is_table((c:get_namespaces{}))
      assert.equal(1, #clock.sleeps)
      assert.is_true(clock.sleeps[1] >= 3)
    end)

    it("retry DEADLINE_EXCEEDED for reads only", function()
      local c, _, calls = connect(failing(1, codes.DEADLINE_EXCEEDED))
      assert.is_table((c:get_namespaces{}))
      assert.equal(2, #calls)
      c, _, calls = connect(failing(1, codes.DEADLINE_EXCEEDED))
      local resp, err = c:create_user(USER)
      assert.is_nil(resp)
      assert.equal("DEADLINE_EXCEEDED", err.name)
      assert.is_false(err.retryable)
      assert.equal(1, #calls)
    end)

    it("retry a mutation with one async_operation_id, filled in before the first attempt", function()
      local c, _, calls = connect(failing(2, codes.UNAVAILABLE, { async_operation = { id = "x" } }))
      local req = { spec = USER.spec }
      assert.is_table((c:create_user(req)))
      assert.is_nil(req.async_operation_id) -- the caller's table is left alone
      assert.equal(3, #calls)
      local id = calls[1].req.async_operation_id
      assert.matches("^%x%x%x%x%x%x%x%x%-%x%x%x%x%-4%x%x%x%-[89ab]%x%x%x%-%x%x%x%x%x%x%x%x%x%x%x%x$", id)
      for _, call in ipairs(calls) do assert.equal(id, call.req.async_operation_id) end
      -- a fresh one for the next call
      c:create_user{ spec = USER.spec }
      assert.not_equal(id, calls[4].req.async_operation_id)
    end)

    it("keep the caller's async_operation_id", function()
      local c, _, calls = connect(failing(1, codes.UNAVAILABLE))
      c:create_user{ spec = USER.spec, async_operation_id = "mine-1" }
      assert.equal("mine-1", calls[1].req.async_operation_id)
      assert.equal("mine-1", calls[2].req.async_operation_id)
    end)

    it("do not retry a mutation without an async_operation_id", function()
      local c, _, calls = connect(failing(1, codes.UNAVAILABLE), { auto_operation_id = false })
      local resp, err = c:create_user{ spec = USER.spec }
      assert.is_nil(resp)
      assert.is_false(err.retryable)
      assert.equal(1, #calls)
      assert.is_nil(calls[1].req.async_operation_id)
      -- per call too, and an id given by the caller makes it retryable again
      c, _, calls = connect(failing(1, codes.UNAVAILABLE))
      assert.is_nil((c:create_user({ spec = USER.spec }, { auto_operation_id = false })))
      assert.equal(1, #calls)
      assert.is_table((c:create_user({ spec = USER.spec, async_operation_id = "given" },
                                     { auto_operation_id = false })))
    end)

    it("leave GetAsyncOperation alone (it is a read)", function()
      local c, _, calls = connect(failing(1, codes.DEADLINE_EXCEEDED))
      assert.is_table((c:get_async_operation{ async_operation_id = "op-1" }))
      assert.equal(2, #calls)
      assert.equal("op-1", calls[2].req.async_operation_id)
    end)

    it("can be turned off per client and per call, or changed per call", function()
      local c, _, calls = connect(failing(100, codes.UNAVAILABLE), { retry = false })
      local _, err = c:get_namespaces{}
      assert.equal(1, #calls)
      assert.is_false(err.retryable)
      _, err = c:get_namespaces({}, { retry = { max_attempts = 2 } })
      assert.equal(3, #calls)
      assert.equal(2, err.attempts)
      c, _, calls = connect(failing(100, codes.UNAVAILABLE))
      c:get_namespaces({}, { retry = false })
      assert.equal(1, #calls)
    end)
  end)

  describe("max_elapsed", function()
    it("bounds the whole call, sleeps included", function()
      local c, clock = connect(failing(1000, codes.UNAVAILABLE),
        { retry = { max_attempts = 1000, initial = 1, max = 4, max_elapsed = 10 } })
      local t0 = clock.t
      local _, err = c:get_namespaces{}
      assert.is_true(clock.t - t0 < 10)
      assert.is_true(err.attempts > 2)
      assert.matches("after " .. err.attempts .. " attempts", tostring(err))
    end)

    it("also bounds the attempts: each gets at most what is left", function()
      -- Every attempt hangs until its deadline.
      local function hang(_, _, ctx)
        ctx.clock.advance(ctx.timeout)
        return nil, codes.DEADLINE_EXCEEDED, "deadline"
      end
      local c, clock, calls = connect(hang, { timeout = 4, retry = { initial = 0.5, max = 0.5, max_elapsed = 10 } })
      local t0 = clock.t
      local _, err = c:get_namespaces{}
      assert.equal("DEADLINE_EXCEEDED", err.name)
      assert.is_true(clock.t - t0 <= 10 + 1e-9, "took " .. (clock.t - t0))
      assert.is_true(#calls >= 3)
      assert.equal(4, calls[1].timeout)
      assert.is_true(calls[#calls].timeout < 4)
    end)

    it("stops before a server's delay hint that would cross it", function()
      local c, clock, calls = connect(failing(5, codes.RESOURCE_EXHAUSTED, nil, 30),
                                            { retry = { max_elapsed = 20 } })
      local _, err = c:get_namespaces{}
      assert.equal("RESOURCE_EXHAUSTED", err.name)
      assert.equal(1, #calls)
      assert.equal(0, #clock.sleeps)
    end)
  end)

  describe("on_event", function()
    it("gets one table per attempt, with the delay before the next, and no secret", function()
      local events = {}
      local c = connect(failing(2, codes.UNAVAILABLE), { on_event = function(ev) events[#events + 1] = ev end,
                                                               metadata = { ["x-token"] = "secret-header-value" } })
      c:get_namespaces{}
      assert.equal(3, #events)
      for i, ev in ipairs(events) do
        assert.equal("GetNamespaces", ev.method)
        assert.equal(i, ev.attempt)
        assert.is_number(ev.duration)
        for k, v in pairs(ev) do
          assert.is_true(type(v) ~= "table" and type(v) ~= "function", "field " .. k)
          assert.not_matches("secret", tostring(v))
        end
      end
      assert.same({ 14, "UNAVAILABLE" }, { events[1].code, events[1].name })
      assert.is_number(events[1].delay)
      assert.is_number(events[2].delay)
      assert.same({ 0, "OK" }, { events[3].code, events[3].name })
      assert.is_nil(events[3].delay)
    end)

    it("reports a failing api_key function as an attempt", function()
      local events = {}
      local c = connect(failing(0), { api_key = function() return nil end,
                                            on_event = function(ev) events[#events + 1] = ev end })
      local _, err = c:get_namespaces{}
      assert.equal("API_KEY", err.name)
      assert.equal(1, #events)
      assert.equal("API_KEY", events[1].name)
    end)
  end)

  describe("refusals for the rate", function()
    it("are retried past max_attempts, until max_elapsed", function()
      local c, _, calls = connect(failing(5, codes.RESOURCE_EXHAUSTED, nil, 0.1), { retry = { max_attempts = 2 } })
      local resp, err, info = c:get_namespaces{}
      assert.is_nil(err)
      assert.is_table(resp)
      assert.equal(6, info.attempts)
      assert.equal(6, #calls)
    end)

    it("are told from the operation limit's, which counts against max_attempts as any failure", function()
      local seen = 0
      local c = connect(function()
        seen = seen + 1
        if seen <= 5 then
          return nil, codes.RESOURCE_EXHAUSTED, "too many async operations in flight: the limit is 10"
        end
        return { async_operation = { id = "op" } }
      end, { retry = { max_attempts = 2 }, max_operations = false })
      local resp, err = c:create_user(USER)
      assert.is_nil(resp)
      assert.equal("RESOURCE_EXHAUSTED", err.name)
      assert.equal(2, err.attempts)
    end)
  end)

  it("do not retry a connection that retrying cannot cure, and name its cause", function()
    local c, clock, calls = connect(function()
      return nil, codes.UNAVAILABLE, "failed to connect to all addresses; last error: UNKNOWN: " ..
        "ipv4:127.0.0.1:1: Failed to connect to remote host: Connection refused"
    end)
    local resp, err = c:get_namespaces{}
    assert.is_nil(resp)
    assert.equal("UNAVAILABLE", err.name)
    assert.is_false(err.retryable)
    assert.matches("^nothing accepts connections at the endpoint", err.message)
    assert.equal(1, #calls)
    assert.equal(0, #clock.sleeps)
  end)
end
