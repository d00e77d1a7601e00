-- The rate limit shared through Redis (cloudops.redis's bucket): GCRA on Redis' clock, the
-- identity's and the account's buckets taken together, every host seeing one bucket, the
-- rate lowered by RESOURCE_EXHAUSTED and climbing back, and calls going on at the same rate
-- when Redis dies or hangs. Each "host" is its own cloudops.redis object with its own
-- connection, as in separate processes. Pending only when redis-server is missing.
require "helpers"
local S = require "09-redis.support"
local core = require "cloudops.core"
local redis = require "cloudops.redis"
local endpoint = require "cloudops.redis.endpoint"

if not S.find() then
  describe("cloudops.redis bucket", function()
    it("needs redis-server", function() pending(select(2, S.find())) end)
  end)
  return
end

local GUARD = require("cloudops.redis.bucket").GUARD
local SA = { kind = "service_account", id = "sa-1", account_id = "emu01" }

-- One host's bucket: rate_limit settings (redis filled in), env extras; returns the bucket,
-- its shared object and the events it reported.
local function host(url, rl, env)
  rl = rl or {}
  rl.redis = url
  local events = {}
  env = env or {}
  env.on_event = function(ev) events[#events + 1] = ev end
  local shared = redis.new(assert(redis.options(rl)), env)
  return shared:bucket(), shared, events
end

-- What fn (a take, or anything else done to a bucket) reserved: the span of this host's clock
-- around it, moved by the wait fn returns (none but a take's). Redis's clock answered inside
-- that span, so on a loaded machine the waits shrink by the time the takes took, but the slots
-- they reserved stay put: specs judge the slots.
local function timed(fn, ...)
  local t0 = core.now()
  local w, anchor = fn(...)
  local t1 = core.now()
  w = type(w) == "number" and w or 0
  return { wait = w, lo = t0 + w, hi = t1 + w, anchor = anchor }
end

-- Asserts that slot s can be `expected` seconds after slot from, to within tol.
local function apart(from, s, expected, tol, what)
  local lo, hi = s.lo - from.hi, s.hi - from.lo
  assert(lo - tol <= expected and expected <= hi + tol,
    string.format("%s: %.4f to %.4f s after, expected %.4f", what or "slot", lo, hi, expected))
end

describe("cloudops.redis bucket", function()
  local fx = S.redis_for_tests(lazy_setup, lazy_teardown, before_each)

  it("lets a burst through, then paces every take 1/rate apart (reserve and wait)", function()
    local b = host(fx.r.url, { rate = 20, burst = 5 })
    b:start(SA)
    local first
    for i = 1, 5 do
      local t = timed(b.take, b)
      assert.equal(0, t.wait, "take " .. i)
      if i == 1 then assert.is_table(t.anchor) else assert.is_nil(t.anchor) end
      first = first or t
    end
    for i = 1, 6 do
      local t = timed(b.take, b)
      assert.is_true(t.wait > 0, "take " .. (5 + i))
      apart(first, t, i * 0.05 + GUARD, 0.01, "take " .. (5 + i))
    end
  end)

  it("is one bucket for every host of the identity", function()
    local a = host(fx.r.url, { rate = 10, burst = 2 })
    local b = host(fx.r.url, { rate = 10, burst = 2 })
    a:start(SA)
    b:start(SA)
    local takes = {}
    for i = 1, 6 do
      local h = i % 2 == 1 and a or b
      takes[i] = timed(h.take, h)
    end
    assert.same({ 0, 0 }, { takes[1].wait, takes[2].wait })
    for i = 3, 6 do apart(takes[1], takes[i], (i - 2) * 0.1 + GUARD, 0.01, "take " .. i) end
  end)

  it("takes the account's bucket with the identity's: two identities share the account's rate", function()
    local limits = { user = 100, service_account = 100, account = 10 }
    local a = host(fx.r.url, { burst = 1 }, { limits = limits })
    local b = host(fx.r.url, { burst = 1 }, { limits = limits })
    a:start({ kind = "user", id = "u-1", account_id = "emu01" })
    b:start({ kind = "service_account", id = "sa-2", account_id = "emu01" })
    local takes = {}
    for i = 1, 12 do
      local h = i % 2 == 1 and a or b
      takes[i] = timed(h.take, h)
    end
    -- each identity alone allows 100/s (0.01 s apart); the account's bucket (burst 10) lets
    -- ten through, then paces both identities together at 10/s
    for i = 1, 10 do assert.is_true(takes[i].wait < 0.06 + GUARD, "take " .. i .. " waited " .. takes[i].wait) end
    apart(takes[1], takes[11], 0.1 + GUARD, 0.01, "take 11")
    apart(takes[1], takes[12], 0.2 + GUARD, 0.01, "take 12")
    -- the identities' own buckets are apart: a third identity of another account is not paced
    local other = host(fx.r.url, { burst = 1 }, { limits = limits })
    other:start({ kind = "user", id = "u-9", account_id = "other" })
    assert.equal(0, other:take())
  end)

  it("keys every bucket of one account under one hash tag (one Redis Cluster slot)", function()
    local b, shared = host(fx.r.url, { rate = 10 })
    b:start(SA)
    b:take()
    shared:slots(3):acquire()
    local keys = fx.admin:command("KEYS", "*")
    table.sort(keys)
    assert.same({ "cloudops:{emu01}:ops", "cloudops:{emu01}:rate:account",
                  "cloudops:{emu01}:rate:service_account:sa-1" }, keys)
    -- an identity whose account id is unknown: one tag for the whole database
    local b2 = host(fx.r.url, { rate = 10 })
    b2:start({ kind = "user", id = "u-1" })
    b2:take()
    assert.equal(1, fx.admin:command("EXISTS", "cloudops:{account}:rate:user:u-1"))
  end)

  it("uses Redis' clock: a host whose own clock is far off paces the same", function()
    local skewed = 0
    local a = host(fx.r.url, { rate = 10, burst = 1 }, { clock = function() skewed = skewed + 3600 return skewed end })
    local b = host(fx.r.url, { rate = 10, burst = 1 })
    a:start(SA)
    b:start(SA)
    local first = timed(a.take, a)
    assert.equal(0, first.wait)
    apart(first, timed(b.take, b), 0.1 + GUARD, 0.01, "the other host's take")
    apart(first, timed(a.take, a), 0.2 + GUARD, 0.01, "the skewed host's second take")
  end)

  it("RESOURCE_EXHAUSTED halves the rate for every host, once per second, never below 1/s", function()
    local a = host(fx.r.url, { rate = 16 })
    local b = host(fx.r.url, { rate = 16 })
    a:start(SA)
    b:start(SA)
    a:take()
    a:exhausted()
    assert.equal(8, a:current_rate())
    -- the other host, refused in the same second: no second cut
    b:exhausted()
    assert.equal(8, b:current_rate())
    b:take()
    assert.equal(8, b:current_rate())
    -- a later refusal cuts again (the cut's time moved back, as if a second had passed)
    local key = "cloudops:{emu01}:rate:service_account:sa-1"
    for _ = 1, 5 do
      fx.admin:command("HSET", key, "cut", "0")
      a:exhausted()
    end
    assert.equal(1, a:current_rate())
  end)

  it("an exhausted bucket is empty for the server's RetryInfo delay", function()
    local b = host(fx.r.url, { rate = 10 })
    b:start(SA)
    local exhausted = timed(b.exhausted, b, 0.3)
    -- no sooner than the delay, and within one more take's pace
    apart(exhausted, timed(b.take, b), 0.35 + GUARD, 0.05 + GUARD, "the take after the refusal")
  end)

  it("OK answers bring the rate back gradually, never above where it started", function()
    local a = host(fx.r.url, { rate = 4 })
    local b = host(fx.r.url, { rate = 4 })
    a:start(SA)
    b:start(SA)
    a:exhausted()
    assert.equal(2, a:current_rate())
    b:take()
    a:succeeded()
    local after_one = a:current_rate()
    assert.is_true(after_one > 2 and after_one < 4, "rate " .. after_one)
    for _ = 1, 50 do a:succeeded() end
    assert.equal(4, a:current_rate())
    -- the other host sees the shared rate
    b:take()
    assert.equal(4, b:current_rate())
  end)

  it("settle starts a full bucket's refill when the first answer comes", function()
    local b = host(fx.r.url, { rate = 10, burst = 1 })
    b:start(SA)
    local w, anchor = b:take()
    assert.equal(0, w)
    assert.is_table(anchor)
    core.sleep(0.05)                  -- the first request's round trip
    local settled = timed(b.settle, b, anchor)
    -- without settle: 0.1 after the take (0.05 from now); with it, 0.1 after the settle
    apart(settled, timed(b.take, b), 0.1 + GUARD, 0.01, "the take after settle")
  end)

  it("start comes first: a take without an identity is a mistake", function()
    local b = host(fx.r.url, { rate = 10 })
    assert.has_error(function() b:take() end, "cloudops.redis: bucket:start(identity) must come before take()")
  end)

  it("starts at the identity's documented rate without `rate`", function()
    local b = host(fx.r.url)
    b:start(SA)
    assert.equal(redis.LIMITS.service_account, b:current_rate())
    local u = host(fx.r.url)
    u:start({ kind = "user", id = "u-1", account_id = "emu01" })
    assert.equal(redis.LIMITS.user, u:current_rate())
  end)

  it("books the requests sent before the identity was known", function()
    local b = host(fx.r.url, { rate = 10, burst = 3 })
    local t0 = core.now()
    b:start(SA, 2)
    local first = timed(b.take, b)
    first.lo = t0 -- the two booked requests' time is the start's
    assert.equal(0, first.wait)
    apart(first, timed(b.take, b), 0.1 + GUARD, 0.01, "the take after the booked ones")
  end)

  describe("when Redis goes away", function()
    it("goes on with a local bucket at the same rate, reports it, and comes back to Redis", function()
      local b, shared, events = host(fx.r.url, { rate = 20, burst = 1 }, { retry = 0.2 })
      b:start(SA)
      b:exhausted()                     -- the shared rate is now 10/s
      assert.equal(10, b:current_rate())
      local port = fx.r.port
      fx.r.stop("KILL")
      local t1 = timed(b.take, b)
      local took = t1.hi - t1.lo
      -- refused at once; at most its timeout (0.1 s): 10x is the bound (only the time can tell)
      assert.is_true(took < 1, "a take waited " .. took .. " s on a dead Redis")
      assert.equal(1, #events)
      assert.equal("REDIS_UNAVAILABLE", events[1].name)
      assert.equal("redis://127.0.0.1:" .. port, events[1].redis)
      assert.is_string(events[1].message)
      assert.equal(0.2, events[1].retry)
      assert.is_false(shared.store:up())
      -- paced locally at the shared rate it had (10/s), starting empty
      apart(t1, timed(b.take, b), 0.1, 0.02, "local pacing")
      assert.equal(1, #events, "one event per outage, not per take")
      -- Redis back (empty): after the retry delay the bucket is shared again
      fx.restart()
      S.until_true(function() b:take() return shared.store:up() end, 5)
      assert.is_true(shared.store:up())
      assert.equal("REDIS_AVAILABLE", events[#events].name)
      assert.equal(1, fx.admin:command("EXISTS", "cloudops:{emu01}:rate:service_account:sa-1"))
    end)

    it("a Redis that hangs costs each take at most the timeout, once per retry period", function()
      -- the real endpoint, its steps counted: those that went to Redis
      local ep = endpoint.new(assert(endpoint.parse(fx.r.url)), 0.1)
      local asked = 0
      local counting = {
        run = function(_, ...)
          asked = asked + 1
          return ep:run(...)
        end,
        close = function() return ep:close() end,
      }
      local b, shared, events = host(fx.r.url, { rate = 50, timeout = 0.1 }, { retry = 5, endpoint = counting })
      b:start(SA)
      b:take()
      os.execute("kill -STOP " .. fx.r.pid)
      finally(function() os.execute("kill -CONT " .. fx.r.pid) end)
      local t0 = core.now()
      local before = asked
      b:take()
      local first = core.now() - t0
      -- the first take after the hang asks Redis once, and waits its timeout (0.1 s): 10x is the
      -- bound (only the time can tell)
      assert.equal(before + 1, asked)
      assert.is_true(first < 1, "first take: " .. first)
      -- the next takes, within the retry period (5 s), do not ask Redis at all
      for _ = 1, 20 do b:take() end
      assert.equal(before + 1, asked)
      assert.equal("REDIS_UNAVAILABLE", events[1].name)
      assert.matches("timeout", events[1].message)
      assert.is_false(shared.store:up())
    end)
  end)
end)
