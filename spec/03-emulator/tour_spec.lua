-- The README's main command: examples/tour.lua against an emulator it starts, run once; it ends
-- with a rehearsal of a small script against a twin of the demo account and prints its plan,
-- the account itself left as it was.
local helpers = require "helpers"

describe("examples/tour.lua", function()
  local out

  lazy_setup(function()
    local ok
    out, ok = helpers.run(helpers.LUA .. " " .. helpers.sh_quote(helpers.ROOT .. "examples/tour.lua") .. " 2>&1")
    assert.is_true(ok, out)
  end)

  it("runs to the end against the emulator", function()
    assert.matches("page 3: seed%-ns%-011", out)
    assert.matches("operation STATE_FULFILLED, namespace RESOURCE_STATE_ACTIVE", out, 1, true)
    assert.matches("authenticates as service account tour%-", out)
    assert.matches("rejected with RESOURCE_EXHAUSTED", out, 1, true)
    assert.matches("with rate_limit = 10: 30 calls in [%d.]+ s %(ideal 2.0 s%), 0 failures", out)
    assert.matches("Done%.", out)
  end)

  it("applies a desired state (examples/desired_state.json), then has nothing left to plan", function()
    assert.matches("cloudops.apply made 13 changes in [%d.]+ s", out)
    assert.matches("planned again: 0 changes", out, 1, true)
  end)

  it("ends with the plan of a script rehearsed on a twin of the demo account", function()
    local plan = assert(out:match("\n== 8%. Rehearse[^\n]*\n(.-)\nDone%."), out)
    assert.matches("^Changes: 1 to create, 1 to update, 0 to delete\n\nnamespace\n" ..
      "  ~ (tour%-%x+) %(tour%-%x+%.emu01%)\n      spec%.retention_days: 30 %-> 60\n\n" ..
      "user\n  %+ new%-hire@example%.com %(%x+%)\n", plan)
    assert.matches("\n    1 CreateUser%s+OK%s+STATE_FULFILLED\n    2 UpdateNamespace%s+OK%s+STATE_FULFILLED\n", plan)
    assert.matches("\nSummary: 1 to create, 1 to update, 0 to delete; %d+ calls, 0 refused", plan)
    assert.matches("\nthe account itself is as it was: tour%-%x+ keeps 30 days", plan)
  end)
end)
