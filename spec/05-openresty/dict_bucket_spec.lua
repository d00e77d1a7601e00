-- cloudops.limit.dict_bucket, the rate limit shared by nginx workers through a lua_shared_dict,
-- on a fake dict (the calls lua-nginx-module's ngx.shared.DICT answers) and a fake clock: the
-- bucket contract (04-helpers.bucket_contract), what the dict adds, and its hook in connect's
-- rate_limit option. spec/05-openresty/nginx_spec.lua runs it in nginx.
require "helpers"
local core = require "cloudops.core"
local cloudops = require "cloudops"
local dict_bucket = require "cloudops.limit.dict_bucket"

local GUARD = dict_bucket.GUARD

-- The subset of ngx.shared.DICT the limiter uses. Expiry follows `clock` (default: real time).
local function fake_dict(clock)
  clock = clock or core.now
  local d = { data = {}, expires = {}, ops = 0 }
  local function live(k)
    local e = d.expires[k]
    if e and e <= clock() then d.data[k], d.expires[k] = nil, nil end
    return d.data[k]
  end
  function d:get(k) self.ops = self.ops + 1 return live(k) end
  function d:set(k, v, exptime)
    self.ops = self.ops + 1
    self.data[k], self.expires[k] = v, (exptime and exptime > 0) and clock() + exptime or nil
    return true
  end
  function d:add(k, v, exptime)
    self.ops = self.ops + 1
    if live(k) ~= nil then return false, "exists" end
    return self:set(k, v, exptime)
  end
  function d:delete(k) self.data[k], self.expires[k] = nil, nil end
  return d
end

local function fake_clock(start)
  local c = { t = start or 5000 }
  function c.now() return c.t end
  function c.advance(s) c.t = c.t + s end
  return c
end

require("04-helpers.bucket_contract")("cloudops.limit.dict_bucket", function(rate, burst, clock)
  return assert(dict_bucket.new(fake_dict(clock), rate, burst, clock))
end, GUARD)

describe("cloudops.limit.dict_bucket", function()
  it("is one bucket for every limiter on the same dict (the workers of one nginx)", function()
    local clock, dict = fake_clock(), fake_dict()
    local a = assert(dict_bucket.new(dict, 4, 2, clock.now))
    local b = assert(dict_bucket.new(dict, 4, 2, clock.now))
    assert.equal(0, (a:take()))
    assert.equal(0, (b:take()))
    assert.near(0.25 + GUARD, a:take(), 1e-9)
    assert.near(0.50 + GUARD, b:take(), 1e-9)
    assert.near(0.75 + GUARD, a:take(), 1e-9)
    -- a limiter on another dict is another bucket
    assert.equal(0, (assert(dict_bucket.new(fake_dict(), 4, 2, clock.now)):take()))
  end)


  it("takes tokens under a lock, and takes over a lock left behind after its expiry", function()
    local clock = fake_clock()
    local dict = fake_dict()      -- expiry in real time
    local b = assert(dict_bucket.new(dict, 10, 1, clock.now))
    assert.is_true(dict:add(dict_bucket.LOCK_KEY, true, 0.05))  -- a worker died holding it
    local t0 = core.now()
    assert.equal(0, (b:take()))
    local waited = core.now() - t0
    -- until the lock's expiry (0.05 s), and not much longer: 20x that is far from it, and only
    -- the time can tell (the dict's expiry is in real time)
    assert.is_true(waited >= 0.04 and waited < 1, ("waited %.3f s for the lock"):format(waited))
    assert.is_nil(dict:get(dict_bucket.LOCK_KEY))               -- released
  end)

  it("starts afresh when the dict holds something else under its key", function()
    local clock = fake_clock()
    local dict = fake_dict()
    dict:set(dict_bucket.TAT_KEY, "not a time")
    local b = assert(dict_bucket.new(dict, 10, 1, clock.now))
    assert.equal(0, (b:take()))
    assert.is_number(dict:get(dict_bucket.TAT_KEY))
  end)

  it("raises for bad arguments and returns nil, err without ngx.shared or without the dict", function()
    assert.has_error(function() dict_bucket.new(fake_dict(), 0, 1) end,
      "dict_bucket.new: rate must be a positive number")
    assert.has_error(function() dict_bucket.new(fake_dict(), 1, 0.5) end, "dict_bucket.new: burst must be at least 1")
    assert.has_error(function() dict_bucket.new(42, 1, 1) end,
      "dict_bucket.new: expected a lua_shared_dict name, got number")
    local b, err = dict_bucket.new("limits", 10, 10)
    assert.is_nil(b)
    assert.matches("needs OpenResty", err)
    local saved = rawget(_G, "ngx")
    rawset(_G, "ngx", { shared = { other = fake_dict() } })
    local ok, why = pcall(function()
      local b2, err2 = dict_bucket.new("limits", 10, 10)
      assert.is_nil(b2)
      assert.equal("rate_limit.shared: no lua_shared_dict named 'limits'", err2)
    end)
    rawset(_G, "ngx", saved)
    assert(ok, why)
  end)
end)

describe("connect's rate_limit = { shared = }", function()
  local saved
  before_each(function() saved = rawget(_G, "ngx") end)
  after_each(function() rawset(_G, "ngx", saved) end)

  local function connect(rate_limit)
    return cloudops.connect { endpoint = "127.0.0.1:9", insecure = true, api_key = "k", rate_limit = rate_limit }
  end

  it("is an error outside OpenResty, and for a bad dict name", function()
    local c, err = connect { shared = "limits", rate = 10 }
    assert.is_nil(c)
    assert.equal("INVALID_OPTION", err.name)
    assert.matches("needs OpenResty", err.message)
    c, err = connect { shared = 5 }
    assert.is_nil(c)
    assert.equal("rate_limit.shared must be the name of a lua_shared_dict", err.message)
    rawset(_G, "ngx", { shared = {} })
    c, err = connect { shared = "limits" }
    assert.is_nil(c)
    assert.equal("rate_limit.shared: no lua_shared_dict named 'limits'", err.message)
  end)

  it("gives the client a bucket in that dict, with the rate and burst given (or 10/s)", function()
    local dict = fake_dict()
    rawset(_G, "ngx", { shared = { limits = dict } })
    local c = assert(connect { shared = "limits", rate = 4, burst = 2 })
    assert.equal(dict, c._limiter.dict)
    assert.equal(4, c._limiter:current_rate())
    local t0 = core.now()
    assert.equal(0, (c._limiter:take()))
    assert.equal(0, (c._limiter:take()))
    -- a burst of 2, then 4/s: the third's slot is 0.25 s after the first (real time, so judged
    -- with the time the takes took, which a loaded machine stretches)
    local slot = c._limiter:take() + core.now() - t0
    assert.is_true(slot >= 0.25, "the third take's slot: " .. slot .. " s")
    assert.is_number(dict:get(dict_bucket.TAT_KEY))
    dict.data = {}
    local d = assert(connect { shared = "limits" })
    assert.equal(10, d._limiter:current_rate())
    t0 = core.now()
    for _ = 1, 10 do assert.equal(0, (d._limiter:take())) end
    slot = d._limiter:take() + core.now() - t0
    assert.is_true(slot >= 0.1, "the eleventh take's slot: " .. slot .. " s")
    c:close(); d:close()
  end)
end)
