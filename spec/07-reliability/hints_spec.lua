-- A server's retry hints (google.rpc.RetryInfo, or a retry-after trailer) that no sane server
-- sends: 100,000 s, negative, NaN-like or infinite, past an int64's range, on every attempt.
-- Whatever they say, a call ends within its own budget with an err that says why, and the
-- client stays usable: its limiter is neither wedged for a day nor switched off (issue 17,
-- defect 4). Against spec/support/test_server.lua, which sends them as asked.
local helpers = require "helpers"
local core = require "cloudops.core"

-- Generous: the machine is shared, and a wedged client would be off by hours, not seconds.
local SLACK = 5

describe("absurd retry hints", function()
  local server = helpers.block_test_server()

  -- A client, and what it paused (helpers.connect_recording_pauses).
  local function connect(opts)
    local o = { endpoint = server.endpoint, insecure = true, api_key = "k", timeout = 5,
                retry = { initial = 0.01, max = 0.1, max_elapsed = 0.3 } }
    for k, v in pairs(opts or {}) do o[k] = v end
    return helpers.connect_recording_pauses(o)
  end

  -- A call the server refuses (RESOURCE_EXHAUSTED unless `code`) with these extra headers.
  local function refused(c, headers, code, opts)
    local md = { ["x-test-code"] = tostring(code or 8) }
    for k, v in pairs(headers) do md[k] = v end
    local o = { metadata = md }
    for k, v in pairs(opts or {}) do o[k] = v end
    local t0 = core.now()
    local resp, err = c:get_namespaces({}, o)
    return resp, err, core.now() - t0
  end

  -- The client still answers an ordinary call, within that call's own budget (its limiter,
  -- slowed down by the refusals, may hold it a moment: never for the server's 100,000 s).
  local function usable(c)
    local t0 = core.now()
    local resp, err = c:get_regions({}, { retry = { max_elapsed = 3 } })
    assert.is_table(resp, tostring(err))
    assert.is_true(core.now() - t0 < 3 + SLACK, "the next call took " .. (core.now() - t0) .. " s")
  end

  -- The server's refusal; or, once the refusals have slowed the limiter down below what the
  -- short budget allows, the end of that budget (the limiter's own end, saying so, or the last
  -- attempt's deadline, cut to what was left).
  local function refusal_or_limiter(err, name)
    if err.name ~= "DEADLINE_EXCEEDED" then assert.equal(name, err.name) end
  end

  -- What the limiter holds: a positive, finite rate (never NaN, never switched off).
  local function sane(c)
    local rate = c._limiter:current_rate()
    assert.is_true(rate > 0 and rate < math.huge, "rate " .. tostring(rate))
  end

  for _, rate_limit in ipairs { "auto", { rate = 50, burst = 5 } } do
    local kind = type(rate_limit) == "table" and "a fixed bucket" or "\"auto\""
    describe("with " .. kind, function()
      it("a RetryInfo of 100,000 s: the call ends within max_elapsed, saying why, and the next goes on", function()
        local c = connect { rate_limit = rate_limit }
        local resp, err, took = refused(c, { ["x-test-retry-after"] = "100000" })
        assert.is_nil(resp)
        assert.equal("RESOURCE_EXHAUSTED", err.name)
        assert.matches("the server asked to wait 1e%+05 s before retrying: more than retry.max %(0.1 s%)",
          err.message)
        assert.is_true(took < 1 + SLACK, "took " .. took)
        usable(c)
        sane(c)
        c:close()
      end)

      it("a call shorter than the hold the hint left fails at once, naming the limiter, and sleeps nothing", function()
        local c, paused = connect { rate_limit = rate_limit, retry = { initial = 0.01, max = 30, max_elapsed = 60 } }
        -- the hint (100,000 s) is kept to what that call could have waited (its timeout, 5 s,
        -- without retries): the limiter holds every sender that long
        assert.is_nil((refused(c, { ["x-test-retry-after"] = "100000" }, 8, { retry = false })))
        local pauses = paused.count
        local resp, err = c:get_regions({}, { retry = { max_elapsed = 2 } })
        assert.is_nil(resp)
        assert.equal("DEADLINE_EXCEEDED", err.name)
        assert.matches("retry.max_elapsed %(2 s%) ran out waiting for the client's rate limiter", err.message)
        assert.equal(pauses, paused.count, "it waited for the limiter before giving up")
        -- without retries, the timeout is the budget
        resp, err = c:get_regions({}, { retry = false, timeout = 1 })
        assert.is_nil(resp)
        assert.matches("the timeout %(1 s%) ran out waiting for the client's rate limiter", err.message)
        sane(c)
        c:close()
      end)

      it("a negative RetryInfo is no hint: the limiter is not switched off", function()
        local c = connect { rate_limit = rate_limit }
        for _, info in ipairs { "-5,0", "-100000,0", "0,-999999999", "-9223372036854775808,-999999999" } do
          local resp, err, took = refused(c, { ["x-test-retry-info"] = info })
          assert.is_nil(resp)
          refusal_or_limiter(err, "RESOURCE_EXHAUSTED")
          assert.is_true(took < 1 + SLACK, info .. " took " .. took)
          sane(c)
        end
        -- and it still paces: a bucket that let everything through would never wait
        local waited = false
        for _ = 1, 200 do
          if c._limiter:take() > 0 then waited = true break end
        end
        assert.is_true(waited)
        c:close()
      end)

      it("an int64 past any sane delay, and huge nanos, are kept to retry.max", function()
        local c = connect { rate_limit = rate_limit }
        for _, info in ipairs { "9223372036854775807,999999999", "315576000000,2147483647" } do
          local resp, err, took = refused(c, { ["x-test-retry-info"] = info })
          assert.is_nil(resp)
          refusal_or_limiter(err, "RESOURCE_EXHAUSTED")
          assert.is_true(took < 1 + SLACK, info .. " took " .. took)
        end
        usable(c)
        sane(c)
        c:close()
      end)

      it("a retry-after that is NaN, infinite, huge, negative or not a number", function()
        local c = connect { rate_limit = rate_limit }
        for i, ra in ipairs { "NaN", "inf", "-inf", "1e999", "-1e999", "-3", "0x7fffffffffffffff",
                              "Wed, 21 Oct 2015 07:28:00 GMT", "" } do
          for _, code in ipairs { i % 2 == 0 and 8 or 14 } do
            local resp, err, took = refused(c, { ["x-test-retry-after-header"] = ra }, code)
            assert.is_nil(resp)
            refusal_or_limiter(err, code == 8 and "RESOURCE_EXHAUSTED" or "UNAVAILABLE")
            assert.is_true(took < 1 + SLACK, ("retry-after %q took %.1f s"):format(ra, took))
            sane(c)
          end
        end
        usable(c)
        c:close()
      end)

      it("a hint on every attempt: the attempts stay within max_elapsed, and the client goes on", function()
        local c = connect { rate_limit = rate_limit }
        local resp, err, took = refused(c, { ["x-test-retry-after"] = "0.05" })
        assert.is_nil(resp)
        assert.is_true(err.attempts >= 2, "attempts " .. err.attempts)
        assert.is_true(took < 1 + SLACK, "took " .. took)
        -- UNAVAILABLE counts against max_attempts, its hints too
        resp, err, took = refused(c, { ["x-test-retry-after"] = "0.05" }, 14)
        assert.is_nil(resp)
        refusal_or_limiter(err, "UNAVAILABLE")
        assert.is_true(took < 1 + SLACK, "took " .. took)
        usable(c)
        sane(c)
        c:close()
      end)
    end)
  end
end)
