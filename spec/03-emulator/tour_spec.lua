-- The README's main command: examples/tour.lua against an emulator it starts.
local helpers = require "helpers"

describe("examples/tour.lua", function()
  it("runs to the end against the emulator", function()
    local out, ok = helpers.run(helpers.LUA .. " " .. helpers.sh_quote(helpers.ROOT .. "examples/tour.lua") .. " 2>&1")
    assert.is_true(ok, out)
    assert.matches("page 3: seed%-ns%-011", out)
    assert.matches("operation STATE_FULFILLED, namespace RESOURCE_STATE_ACTIVE", out, 1, true)
    assert.matches("authenticates as service account tour%-", out)
    assert.matches("rejected with RESOURCE_EXHAUSTED", out, 1, true)
    assert.matches("with rate_limit = 10: 30 calls in [%d.]+ s %(ideal 2.0 s%), 0 failures", out)
    -- 7. desired state (examples/desired_state.json): applied, then nothing left to plan
    assert.matches("cloudops.apply made 13 changes in [%d.]+ s", out)
    assert.matches("planned again: 0 changes", out, 1, true)
    assert.matches("Done%.", out)
  end)
end)
