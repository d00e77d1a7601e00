-- Several processes of one service account sharing one bucket in Redis, against an emulator
-- that allows that account exactly the bucket's rate (spec/09-redis/worker.lua drives the
-- bucket around each call as the client's call path does): the server rejects nothing and
-- every call succeeds; with Redis killed in the middle, every call still succeeds.
-- bench/redis_limit.lua runs the full-size batch and the comparison without Redis.
local helpers = require "helpers"
local S = require "09-redis.support"
local batch = require "09-redis.batch"
local emulator = require "cloudops.emulator"

if not S.find() then
  describe("processes sharing a Redis bucket", function()
    it("needs redis-server", function() pending(select(2, S.find())) end)
  end)
  return
end

local RATE, PROCS, CALLS = 10, 4, 10

-- RESOURCE_EXHAUSTED answers to the batch's calls (CreateUser) in an emulator request log.
local function rejections(log)
  local n = 0
  for line in (helpers.read_file(log) or ""):gmatch("[^\n]+") do
    if line:find(" CreateUser RESOURCE_EXHAUSTED ", 1, true) then n = n + 1 end
  end
  return n
end

describe("processes of one identity sharing a Redis bucket", function()
  local r, emu, log
  lazy_setup(function()
    r = S.start_redis()
  end)
  lazy_teardown(function()
    if r then r.stop() end
    helpers.cleanup()
  end)
  before_each(function()
    log = helpers.tmpdir() .. "/requests.log"
    emu = assert(emulator.spawn{ rate_limits = { service_account = RATE }, op_duration = 0, op_pending = 0,
                                 log = log })
  end)
  after_each(function()
    if emu then emu.stop() end
  end)

  it("stay together within the identity's limit: no rejection, no failure, the full rate", function()
    local t = batch.run{ root = helpers.ROOT, lua = helpers.LUA, endpoint = emu.endpoint,
                         api_key = emu.keys.admin, redis = r.url, rate = RATE, procs = PROCS, calls = CALLS }
    assert.equal(0, t.failed, table.concat(t.outputs, "\n"))
    assert.equal(0, t.rejected)
    assert.equal(0, rejections(log))
    -- together at the shared rate, not slower: no process was held longer than the shared
    -- schedule of PROCS * CALLS calls at RATE asks (its burst of RATE, a second, is the slack
    -- for the schedule starting at the first answer); the limiter's own decisions, counted in
    -- each process, whatever the load made of them
    local ideal = PROCS * CALLS / RATE
    for i, p in ipairs(t.paused) do
      assert.is_true(p <= ideal, string.format("process %d paused %.2f s, ideal %.2f s", i, p, ideal))
    end
    assert.equal(PROCS, #t.paused)
    assert.equal(0, t.unavailable)
  end)

  it("starting together, cold, cause no refusal: one learns the identity for all, booked first", function()
    local t = batch.run{ root = helpers.ROOT, lua = helpers.LUA, endpoint = emu.endpoint, lead = 1,
                         api_key = emu.keys.admin, redis = r.url, rate = RATE, procs = PROCS, calls = CALLS,
                         cold = true }
    assert.equal(0, t.failed, table.concat(t.outputs, "\n"))
    assert.equal(0, t.rejected)
    local by_code, by_method = helpers.log_counts(log)
    -- nothing refused on the wire, the identity's requests included
    assert.is_nil(by_code.RESOURCE_EXHAUSTED)
    -- and the identity was asked once, for the four of them
    assert.equal(1, by_method.GetCurrentIdentity)
  end)

  it("lose no call when Redis is killed in the middle", function()
    local killed = false
    local t = batch.run{ root = helpers.ROOT, lua = helpers.LUA, endpoint = emu.endpoint,
                         api_key = emu.keys.admin, redis = r.url, rate = RATE, procs = 3, calls = 12,
                         during = function(elapsed)
                           if not killed and elapsed > 1.2 then
                             killed = true
                             r.stop("KILL")
                           end
                         end }
    assert.is_true(killed)
    assert.equal(0, t.failed, table.concat(t.outputs, "\n"))
    -- every process saw Redis go and said so (on_event)
    assert.equal(3, t.unavailable)
  end)
end)
