-- The identity an "auto" rate limit learns (issue 21, item 1): only when the limiter needs it
-- (busy enough for the rate to matter, or refused), off the path of the call that triggers
-- it, booked in the bucket; and a Redis limit's lookup, which nothing interrupted leaves
-- pending (issue 17, defect 6). In fake time, every attempt logged by the fake transport.
local S = require "04-helpers.support"
local cloudops = require "cloudops"
local codes = require "cloudops.codes"
local bucket = require "cloudops.limit.bucket"

local SA = { service_account = { id = "sa-1", spec = { name = "bot" } } }
local USER = { user = { id = "u-1", spec = { email = "a@example.com" } } }

-- A server answering GetCurrentIdentity as `who`, everything else with {} (or what `other` says).
local function server(who, other)
  return function(method, req, ctx)
    if method == "GetCurrentIdentity" then return who end
    if other then return other(method, req, ctx) end
    return {}
  end
end

local function count(calls, method)
  local n = 0
  for _, c in ipairs(calls) do if c.method == method then n = n + 1 end end
  return n
end

describe("an auto rate limit's identity", function()
  it("is not asked by a call on a fresh client: one call, one request", function()
    local c, _, calls = S.fake_client(server(SA), { rate_limit = "auto" })
    assert(c:get_regions{})
    assert.equal(1, #calls)
    assert.equal("GetRegions", calls[1].method)
    -- the bucket starts at the lowest documented rate, a user's
    assert.equal(cloudops.LIMITS.user, c._limiter:current_rate())
  end)

  it("is asked once the client is busy, off the path of the call, booked in the bucket", function()
    local clock = S.clock()
    local c, _, calls = S.fake_client(server(SA), { rate_limit = "auto" }, clock)
    local burst = cloudops.LIMITS.user
    -- half the burst at one instant: the rate matters now
    for _ = 1, burst * bucket.BUSY + 1 do assert(c:get_regions{}) end
    assert.equal(0, clock.slept())
    assert.equal(1, count(calls, "GetCurrentIdentity"))
    -- nothing waited for it: every call was sent at once, the lookup among them
    for _, call in ipairs(calls) do assert.equal(clock.t, call.at) end
    -- its answer is read at the next attempt: a service account's rate is twice a user's
    assert(c:get_regions{})
    assert.equal(cloudops.LIMITS.service_account, c._limiter:current_rate())
    -- booked like any call: of the service account's burst, the calls and the lookup are gone
    local sent = #calls
    local free = 0
    while c._limiter:take() == 0 do free = free + 1 end
    assert.equal(cloudops.LIMITS.service_account - sent, free)
    -- and never asked again
    for _ = 1, 50 do assert(c:get_regions{}) end
    assert.equal(1, count(calls, "GetCurrentIdentity"))
  end)

  it("keeps a user's rate for a user", function()
    local c, _, calls = S.fake_client(server(USER), { rate_limit = "auto" })
    for _ = 1, 30 do assert(c:get_regions{}) end
    assert.equal(1, count(calls, "GetCurrentIdentity"))
    assert.equal(cloudops.LIMITS.user, c._limiter:current_rate())
  end)

  it("is asked when the server refuses for the rate", function()
    local refused = false
    local c, _, calls = S.fake_client(server(SA, function()
      if not refused then
        refused = true
        return nil, codes.RESOURCE_EXHAUSTED, "rate limit exceeded", 0.05
      end
      return {}
    end), { rate_limit = "auto" })
    assert(c:get_regions{})
    assert(c:get_regions{})
    assert.equal(1, count(calls, "GetCurrentIdentity"))
  end)

  it("never swallows an api_key function's failure: the call that met it reports API_KEY", function()
    local fails = 1
    local c, _, calls = S.fake_client(server(SA), { rate_limit = "auto", api_key = function()
      if fails > 0 then fails = fails - 1 error("vault down") end
      return "key-0123"
    end })
    local resp, err = c:get_regions{}
    assert.is_nil(resp)
    assert.equal("API_KEY", err.name)
    assert.matches("vault down", err.message)
    assert.equal(0, #calls)
    assert(c:get_regions{})
    assert.equal(1, #calls)
  end)

  it("is reported to on_event as an attempt; an on_event that raises there leaves nothing half-done", function()
    local events, raise = {}, true
    local c, _, calls = S.fake_client(server(SA), { rate_limit = "auto", on_event = function(ev)
      events[#events + 1] = ev.method
      if ev.method == "GetCurrentIdentity" and raise then raise = false error("on_event broke") end
    end })
    local ok, err
    for _ = 1, 30 do
      ok, err = pcall(c.get_regions, c, {})
      if not ok then break end
    end
    assert.is_false(ok)
    assert.matches("on_event broke", err)
    -- the identity was taken before the event: the bucket runs at its rate, and maps go on
    assert.equal(cloudops.LIMITS.service_account, c._limiter:current_rate())
    local results = cloudops.map(function() return c:get_regions{} end, { 1, 2, 3 })
    for i = 1, 3 do assert.is_table(results[i]) end
    assert.equal(1, count(calls, "GetCurrentIdentity"))
  end)
end)

describe("a Redis limit's identity", function()
  -- Redis on a port nobody listens on: the limits run the same script in the process.
  local REDIS = { redis = "redis://127.0.0.1:1", timeout = 0.05 }

  it("is learnt at the first call; a refused key is that call's answer, sent once", function()
    local c, _, calls = S.fake_client(function(method)
      if method == "GetCurrentIdentity" then return nil, codes.UNAUTHENTICATED, "bad key" end
      return {}
    end, { rate_limit = REDIS, retry = false })
    local resp, err = c:get_regions{}
    assert.is_nil(resp)
    assert.equal("UNAUTHENTICATED", err.name)
    assert.equal(1, #calls)
  end)

  it("leaves nothing pending when the lookup is interrupted: later maps go on", function()
    local raise = true
    local c, _, calls = S.fake_client(server(SA, function(method)
      if method == "GetAccount" then return { account = { id = "acct-1" } } end
      return {}
    end), { rate_limit = REDIS, on_event = function(ev)
      if ev.method == "GetCurrentIdentity" and raise then raise = false error("interrupted!") end
    end })
    assert.has_error(function() c:get_regions{} end, "interrupted!")
    local results, errs = cloudops.map(function() return c:get_regions{} end, { 1, 2, 3, 4 })
    for i = 1, 4 do assert.is_table(results[i], tostring(errs[i])) end
    assert.equal(2, count(calls, "GetCurrentIdentity"))
    -- and once learnt, tasks that needed it meanwhile waited for the one lookup
    assert.equal(1, count(calls, "GetAccount"))
  end)
end)
