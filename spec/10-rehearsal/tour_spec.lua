-- The `make demo` tour (examples/tour.lua) ends with a rehearsal of a small script against a
-- twin of the demo account, and prints its plan; the account itself is left as it was.
local helpers = require "helpers"

describe("examples/tour.lua's rehearsal", function()
  it("prints the plan of a script run on a twin of the demo account", function()
    local out, ok = helpers.run(helpers.LUA .. " " .. helpers.sh_quote(helpers.ROOT .. "examples/tour.lua") .. " 2>&1")
    assert.is_true(ok, out)
    local plan = assert(out:match("\n== 7%. Rehearse[^\n]*\n(.-)\nDone%."), out)
    assert.matches("^Changes: 1 to create, 1 to update, 0 to delete\n\nnamespace\n" ..
      "  ~ (tour%-%x+) %(tour%-%x+%.emu01%)\n      spec%.retention_days: 30 %-> 60\n\n" ..
      "user\n  %+ new%-hire@example%.com %(%x+%)\n", plan)
    assert.matches("\n    1 CreateUser%s+OK%s+STATE_FULFILLED\n    2 UpdateNamespace%s+OK%s+STATE_FULFILLED\n", plan)
    assert.matches("\nSummary: 1 to create, 1 to update, 0 to delete; %d+ calls, 0 refused", plan)
    assert.matches("\nthe account itself is as it was: tour%-%x+ keeps 30 days", plan)
  end)
end)
