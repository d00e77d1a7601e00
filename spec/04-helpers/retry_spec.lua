-- The call path's retries, in fake time: the retry contract (04-helpers.retry_contract) on a
-- client whose transport is a Lua function, and the retry policy's own checks.
local S = require "04-helpers.support"
local retry = require "cloudops.retry"

local function answer() return {} end

require("04-helpers.retry_contract")(S.fake_client)

describe("the retry policy", function()
  it("checks its settings", function()
    assert.is_false(retry.policy(false))
    assert.equal(retry.DEFAULTS, retry.policy(nil))
    local p = assert(retry.policy{ max_attempts = 3 })
    assert.equal(3, p.max_attempts)
    assert.equal(retry.DEFAULTS.initial, p.initial)
    for _, bad in ipairs{ { max_attempts = 0 }, { max_attempts = 2.5 }, { initial = -1 }, { multiplier = 0.5 },
                          { max_elapsed = 0 }, { bogus = 1 }, { max = "1" }, { initial = 0 / 0 } } do
      local q, err = retry.policy(bad)
      assert.is_nil(q)
      assert.is_string(err)
    end
    assert.is_nil((retry.policy("often")))
  end)

  it("raises bad per-call options at the caller's line", function()
    local c = S.fake_client(answer)
    local line = debug.getinfo(1, "l").currentline
    local ok, err = pcall(c.get_namespaces, c, {}, { retry = { max_attempts = 0 } })
    assert.is_false(ok)
    assert.matches("max_attempts", err)
    ok, err = pcall(function() c:get_namespaces({}, { rate_limit = 5 }) end)
    assert.is_false(ok)
    assert.matches("retry_spec.lua:" .. (line + 4) .. ": .*rate_limit", err)
    ok, err = pcall(function() c:get_namespaces({}, { retyr = {} }) end)
    assert.is_false(ok)
    assert.matches("retry_spec.lua:" .. (line + 7) .. ": unknown call option 'retyr'", err)
  end)
end)
