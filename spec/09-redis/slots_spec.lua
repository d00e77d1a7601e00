-- max_operations across hosts (cloudops.redis's slots): leases in Redis that every host of the
-- account counts together, freed when an operation ends, and given back when a host dies
-- without freeing them. Pending only when redis-server is missing.
require "helpers"
local S = require "09-redis.support"
local core = require "cloudops.core"
local redis = require "cloudops.redis"

if not S.find() then
  describe("cloudops.redis slots", function()
    it("needs redis-server", function() pending(select(2, S.find())) end)
  end)
  return
end

local SA = { kind = "service_account", id = "sa-1", account_id = "emu01" }

-- One host's slots: at most `max` for the account, leases of `lease` seconds; `pause` is the
-- wait between polls (the real sleep unless given).
local function host(url, max, lease, pause)
  local shared = redis.new(assert(redis.options{ redis = url, rate = 10 }), { retry = 0.2 })
  local s = require("cloudops.redis.slots").new(shared, max, lease, pause)
  s:start(SA)
  return s, shared
end

describe("cloudops.redis slots", function()
  local fx = S.redis_for_tests(lazy_setup, lazy_teardown, before_each)

  it("counts the account's operations of every host together", function()
    local a = host(fx.r.url, 3)
    local b = host(fx.r.url, 3)
    local s1 = a:acquire()
    a:started(s1, "op-1")
    b:acquire()
    a:acquire()
    assert.equal(3, a:count())
    assert.equal(3, b:count())
    local members = fx.admin:command("ZRANGE", "cloudops:{emu01}:ops", 0, -1)
    assert.is_truthy(table.concat(members, " "):find("op-1", 1, true))
  end)

  it("a host waits for a slot until another host's operation ends", function()
    local polls = 0
    local b = host(fx.r.url, 2)
    local a = host(fx.r.url, 2, nil, function(seconds)
      polls = polls + 1
      assert.is_true(seconds > 0 and seconds <= 1)
      -- while `a` waits, the other host's operation ends
      if polls == 3 then b:ended("op-b") end
    end)
    local s = b:acquire()
    b:started(s, "op-b")
    b:started(b:acquire(), "op-c")
    local slot = a:acquire()
    assert.equal(3, polls)
    assert.matches("^slot:", slot)
    assert.equal(2, a:count())
  end)

  it("the leases of a host that died come back when they expire", function()
    local dead = host(fx.r.url, 2, 0.2)
    dead:started(dead:acquire(), "op-x")
    dead:acquire()
    -- `dead` never calls again; a live host gets its slots once the leases run out
    local live = host(fx.r.url, 2, 0.2)
    local t0 = core.now()
    live:acquire()
    live:acquire()
    local waited = core.now() - t0
    -- until the leases (0.2 s) ran out, not much longer: 10x is the bound (only the time can tell)
    assert.is_true(waited >= 0.15 and waited < 2, "waited " .. waited)
  end)

  it("a host that keeps calling keeps its leases", function()
    local a = host(fx.r.url, 1, 0.3)
    a:started(a:acquire(), "op-long")
    for _ = 1, 4 do
      core.sleep(0.1)
      a:renew()
    end
    -- 0.4 s after the start, the 0.3 s lease is still live: renewed
    assert.equal(1, a:count())
    a:ended("op-long")
    assert.equal(0, a:count())
  end)

  it("ended also frees a slot whose mutation started no operation", function()
    local a = host(fx.r.url, 1)
    local s = a:acquire()
    a:ended(s)
    assert.equal(0, a:count())
    a:acquire()
    assert.equal(1, a:count())
  end)

  it("counts this host's operations alone while Redis is down", function()
    local a, shared = host(fx.r.url, 2)
    a:acquire()
    fx.r.stop("KILL")
    assert.equal(0, a:count())          -- the local fallback knows no other host
    assert.is_false(shared.store:up())
    local s = a:acquire()
    a:acquire()
    assert.equal(2, a:count())
    a:ended(s)
    assert.equal(1, a:count())
  end)
end)
