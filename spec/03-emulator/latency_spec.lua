-- --latency: every answer is held back, as a distant server's would be, while the server
-- goes on serving the calls that arrive meanwhile.
local helpers = require "helpers"
local S = require "03-emulator.emu_support"
local emulator = require "cloudops.emulator"
local has_core, core = pcall(require, "cloudops.core")

describe("emulator latency", function()
  it("holds every answer back about S seconds, refusals included", function()
    local emu = S.new { latency = 0.2, rate_limits = { user = 2, service_account = 2, account = 100 } }
    local delays = {}
    for _ = 1, 3 do
      local _, _, info = emu.owner:call("GetRegions", {})
      delays[#delays + 1] = info.delay
    end
    local _, err, info = emu:call("GetRegions", {}, {})   -- no key: UNAUTHENTICATED
    assert.are.equal(16, err.code)
    delays[#delays + 1] = info.delay
    for i, d in ipairs(delays) do
      assert.is_true(d >= 0.18 and d <= 0.22, "answer " .. i .. " held " .. tostring(d) .. " s")
    end
    local _, _, plain = S.new().owner:call("GetRegions", {})
    assert.is_nil(plain.delay)   -- the default: no latency
  end)

  it("keeps answers in flight together: four calls sent at once are all served while the first is held", function()
    if not has_core then pending("needs the built core") return end
    local cloudops = require "cloudops"
    local S_HELD = 0.5
    local log = helpers.tmpdir() .. "/requests.log"
    local emu, c
    -- (one finally a test: busted keeps the last one given)
    finally(function()
      if c then c:close() end
      if emu then emu.stop() end
      helpers.cleanup()
    end)
    emu = assert(emulator.spawn { latency = S_HELD, rate_limits = false, log = log })
    c = assert(cloudops.connect { endpoint = emu.endpoint, insecure = true, api_key = emu.api_key,
                                  rate_limit = false, retry = false })
    -- four calls in flight at once (tasks of one map: nothing waits for an answer to send the next)
    local results, errs = cloudops.map(function()
      local t0 = core.now()
      local r, err = c:get_regions()
      return r and core.now() - t0, err
    end, { 1, 2, 3, 4 }, { concurrency = 4 })
    for i = 1, 4 do
      assert.is_number(results[i], tostring(errs[i]))
      -- each answer was held back (S give or take 10%): a lower bound, which load cannot break
      assert.is_true(results[i] >= 0.9 * S_HELD, "call " .. i .. " answered after " .. results[i] .. " s")
    end
    -- On the server's own clock (its request log: when each call was served, how long its
    -- answer was held): every call was served before the first answer held went out. A server
    -- that held one answer at a time would serve the second only S later.
    local together, n, why = helpers.all_in_flight(log, "GetRegions")
    assert.equal(4, n)
    assert.is_true(together, why)
  end)
end)
