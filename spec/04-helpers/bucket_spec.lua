-- The client's token bucket (cloudops.limit.bucket): the bucket contract, and in front of the
-- emulator's limiter, in fake time.
local S = require "04-helpers.support"
local bucket = require "cloudops.limit.bucket"
local codes = require "cloudops.codes"

local GUARD = bucket.GUARD

require("04-helpers.bucket_contract")("cloudops.limit.bucket", bucket.new, bucket.GUARD)

-- A batch of n GetRegions through the client against the in-process emulator limiting at
-- server_rate per user; each call has a one-way latency of `latency(i)` seconds each way.
local function batch(n, client_opts, server_rate, latency)
  local clock = S.clock()
  local handler, emu = S.emulated(clock, { rate_limits = { user = server_rate, account = 0 } })
  local i = 0
  local function slow(method, req, ctx)
    i = i + 1
    local l = latency(i)
    ctx.clock.advance(l)
    local resp, code, message, delay = handler(method, req, ctx)
    ctx.clock.advance(l)
    return resp, code, message, delay
  end
  local rejected = 0
  local opts = { api_key = emu.keys.owner, on_event = function(ev)
    if ev.code == codes.RESOURCE_EXHAUSTED then rejected = rejected + 1 end
  end }
  for k, v in pairs(client_opts) do opts[k] = v end
  local c = S.fake_client(slow, opts, clock)
  local t0, failed = clock.t, 0
  for _ = 1, n do
    if not c:get_regions{} then failed = failed + 1 end
  end
  return { wall = clock.t - t0, rejected = rejected, failed = failed }
end

describe("a rate-limited batch in fake time", function()
  -- The first request is slow (a new connection), the rest jitter between 0.1 and 1.9 ms.
  local function jitter(i)
    if i == 1 then return 0.02 end
    return 0.001 + 0.0009 * math.sin(i * 7.3)
  end

  it("with the client's bucket: near the ideal time and nothing rejected", function()
    local r = batch(100, { rate_limit = 10 }, 10, jitter)
    assert.equal(0, r.failed)
    assert.equal(0, r.rejected)
    local ideal = 100 / 10
    assert.is_true(r.wall <= 1.05 * ideal, "wall " .. r.wall)
    assert.is_true(r.wall >= (100 - 10) / 10, "faster than the server allows: " .. r.wall)
  end)

  it("with a burst smaller than the server's, and a slower client: nothing rejected", function()
    assert.equal(0, batch(60, { rate_limit = { rate = 10, burst = 2 } }, 10, jitter).rejected)
    assert.equal(0, batch(60, { rate_limit = 8 }, 10, jitter).rejected)
  end)

  it("with backoff only: all succeed, but the server rejects many", function()
    local r = batch(100, { rate_limit = false }, 10, jitter)
    assert.equal(0, r.failed)
    assert.is_true(r.rejected > 10, "rejected " .. r.rejected)
  end)

  it("can be skipped per call", function()
    local clock = S.clock()
    local c = S.fake_client(function() return {} end, { rate_limit = { rate = 1, burst = 1 } }, clock)
    c:get_regions{}
    c:get_regions({}, { rate_limit = false })
    assert.equal(0, clock.slept())
    c:get_regions{}
    assert.near(1 + GUARD, clock.slept(), 1e-9)
  end)
end)
