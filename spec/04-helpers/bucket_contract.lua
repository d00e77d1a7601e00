-- What every rate-limit bucket of the client does (issue 20, item 8): the client's own
-- (cloudops.limit.bucket) and the one nginx workers share in a lua_shared_dict
-- (cloudops.limit.dict_bucket) keep one contract, both being cloudops.limit.gcra's bucket.
-- spec/04-helpers/bucket_spec.lua and spec/05-openresty/dict_bucket_spec.lua run it.
--
--   require("04-helpers.bucket_contract")(name, new)
-- new(rate, burst, clock) -> a bucket on that clock (a function of monotonic seconds).
local busted = require "busted"
local assert = require "luassert"
local describe, it = busted.describe, busted.it

local function fake_clock(start)
  local c = { t = start or 5000 }
  function c.now() return c.t end
  function c.advance(s) c.t = c.t + s end
  return c
end

return function(name, new, guard)
  describe(name .. " (the bucket contract)", function()
    it("lets a burst through, then one request per 1/rate", function()
      local clock = fake_clock()
      local b = new(10, 3, clock.now)
      for _ = 1, 3 do assert.equal(0, (b:take())) end
      assert.near(0.1 + guard, b:take(), 1e-9)
      assert.near(0.2 + guard, b:take(), 1e-9)
      clock.advance(0.2)
      -- two tokens leaked out meanwhile; the reservations made are kept
      assert.near(0.1 + guard, b:take(), 1e-9)
    end)

    it("queues reservations: callers sharing it get successive slots", function()
      local clock = fake_clock()
      local b = new(4, 1, clock.now)
      assert.equal(0, (b:take()))
      assert.near(0.25 + guard, b:take(), 1e-9)
      assert.near(0.50 + guard, b:take(), 1e-9)
      assert.near(0.75 + guard, b:take(), 1e-9)
    end)

    it("refills up to the burst only", function()
      local clock = fake_clock()
      local b = new(10, 2, clock.now)
      b:take(); b:take()
      clock.advance(1000)
      assert.equal(0, (b:take()))
      assert.equal(0, (b:take()))
      assert.is_true(b:take() > 0)
    end)

    it("reports a take from a full bucket; settle() starts the refill after the answer", function()
      local clock = fake_clock()
      local b = new(10, 2, clock.now)
      local wait, anchor = b:take()
      assert.equal(0, wait)
      assert.equal(clock.t, anchor)
      clock.advance(0.05)           -- the answer took 50 ms
      b:settle(anchor)
      local w2, a2 = b:take()
      assert.equal(0, w2)
      assert.is_nil(a2)             -- not full any more
      -- without settle, 0.5 token would have leaked out; with it, none: the next waits 0.1 s
      assert.near(0.1 + guard, b:take(), 1e-9)
    end)

    it("holds every sender back for the server's RetryInfo delay", function()
      local clock = fake_clock()
      local b = new(10, 5, clock.now)
      b:exhausted(2)
      local wait = b:take()
      assert.is_true(wait >= 2, "wait " .. wait)
      assert.is_true(wait < 2 + 0.1 + guard + 1e-9, "wait " .. wait)
      assert.is_false(b:available())
      clock.advance(10)
      assert.is_true(b:available())
      -- no delay: nothing held
      b = new(10, 5, clock.now)
      b:exhausted(nil)
      assert.equal(0, (b:take()))
    end)

    it("tells whether a token is at hand, and its rate", function()
      local clock = fake_clock()
      local b = new(4, 1, clock.now)
      assert.is_true(b:available())
      b:take()
      assert.is_false(b:available())
      clock.advance(0.25)
      assert.is_true(b:available())
      assert.equal(4, b:current_rate())
    end)
  end)
end
