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

  it("keeps answers in flight together: four calls sent at once each take S, not up to 4S", function()
    if not has_core then pending("needs the built core") return end
    local emu = assert(emulator.spawn { latency = 0.5, rate_limits = false })
    local ok, err = pcall(function()
      local start = core.time() + 1.5
      local children = {}
      for i = 1, 4 do children[i] = S.call_in_child(emu, "get_regions", start) end
      local longest, total = 0, 0
      for i = 1, 4 do
        local status, took, out = S.call_result(children[i])
        assert.are.equal("ok", status, out)
        assert.is_true(took >= 0.44, "call " .. i .. " answered after " .. took .. " s")
        longest, total = math.max(longest, took), total + took
      end
      -- One after the other they would take 0.5, 1.0, 1.5 and 2.0 s (5 s in all).
      assert.is_true(longest < 1.3, "the slowest call took " .. longest .. " s")
      assert.is_true(total < 3.5, "the four calls took " .. total .. " s in all")
    end)
    emu.stop()
    helpers.cleanup()
    assert(ok, err)
  end)
end)
