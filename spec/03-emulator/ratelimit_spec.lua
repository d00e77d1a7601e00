-- Rate limits: token buckets per user, per service account and per account.
local S = require "03-emulator.emu_support"
local ratelimit = require "cloudops.emulator.ratelimit"

describe("emulator rate limits", function()
  it("default to the documented 40/80/160 requests per second", function()
    assert.are.same({ user = 40, service_account = 80, account = 160 }, ratelimit.defaults)
    local emu = S.new { rate_limits = ratelimit.defaults }
    for _ = 1, 40 do S.ok(emu.owner:call("GetRegions", {})) end
    local err = S.fails("RESOURCE_EXHAUSTED", emu.owner:call("GetRegions", {}))
    assert.matches("rate limit exceeded for principal type=user", err.message)
    assert.is_true(err.retry_delay > 0 and err.retry_delay <= 1 / 40)
    -- another principal still has its own tokens; service accounts have 80
    for _ = 1, 80 do S.ok(emu.admin:call("GetRegions", {})) end
    err = S.fails("RESOURCE_EXHAUSTED", emu.admin:call("GetRegions", {}))
    assert.matches("type=serviceaccount", err.message)
    -- the account's 160 is shared: 40 + 80 taken, 40 left for the other users
    for _ = 1, 40 do S.ok(emu.developer:call("GetRegions", {})) end
    err = S.fails("RESOURCE_EXHAUSTED", emu.reader:call("GetRegions", {}))
    assert.matches("for account", err.message)
  end)

  it("refill with time", function()
    local emu = S.new { rate_limits = { user = 10, service_account = 20, account = 40 } }
    for _ = 1, 10 do S.ok(emu.owner:call("GetRegions", {})) end
    S.fails("RESOURCE_EXHAUSTED", emu.owner:call("GetRegions", {}))
    emu.advance(0.11)
    S.ok(emu.owner:call("GetRegions", {}))
    S.fails("RESOURCE_EXHAUSTED", emu.owner:call("GetRegions", {}))
  end)

  it("share one account bucket between principals", function()
    local emu = S.new { rate_limits = { user = 100, service_account = 100, account = 5 } }
    for _ = 1, 3 do S.ok(emu.owner:call("GetRegions", {})) end
    for _ = 1, 2 do S.ok(emu.admin:call("GetRegions", {})) end
    local err = S.fails("RESOURCE_EXHAUSTED", emu.reader:call("GetRegions", {}))
    assert.matches("for account", err.message)
  end)

  it("do not take a token from the account for a request the principal's bucket refused", function()
    local b = ratelimit.new { user = 1, service_account = 1, account = 2 }
    assert.is_true(b:take("user", "u", 0))
    assert.is_false(b:take("user", "u", 0))
    assert.is_false(b:take("user", "u", 0))
    assert.is_true(b:take("service_account", "s", 0))   -- the account still had one
  end)

  it("can be turned off, or one limit set to 0", function()
    local emu = S.new { rate_limits = false }
    for _ = 1, 100 do S.ok(emu.owner:call("GetRegions", {})) end
    emu = S.new { rate_limits = { user = 0, account = 0 } }
    for _ = 1, 100 do S.ok(emu.owner:call("GetRegions", {})) end
  end)
end)
