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
      local dir = helpers.tmpdir()
      local script = dir .. "/call.lua"
      -- Each child waits for the same wall-clock instant, then makes one call and reports
      -- how long it took.
      helpers.write_file(script, string.format([[
        package.path = %q .. package.path
        package.cpath = %q .. package.cpath
        local cloudops = require "cloudops"
        local core = require "cloudops.core"
        local c = cloudops.connect { endpoint = %q, insecure = true, api_key = %q,
                                     rate_limit = false, retry = false }
        local start = tonumber(arg[1])
        while core.time() < start do core.sleep(0.005) end
        local t0 = core.now()
        local r, e = c:get_regions()
        io.write(string.format("%%s %%.3f\n", r and "ok" or e.name, core.now() - t0))
      ]], helpers.ROOT .. "lua/?.lua;" .. helpers.ROOT .. "lua/?/init.lua;", helpers.CORE_CPATH .. ";",
        emu.endpoint, emu.api_key))
      local start = core.time() + 1.5
      local children = {}
      for i = 1, 4 do
        children[i] = io.popen(helpers.LUA .. " " .. helpers.sh_quote(script) .. " " .. start, "r")
      end
      local longest, total = 0, 0
      for i = 1, 4 do
        local out = children[i]:read("*a")
        children[i]:close()
        local status, took = out:match("^(%S+) ([%d.]+)")
        assert.are.equal("ok", status, out)
        took = tonumber(took)
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
