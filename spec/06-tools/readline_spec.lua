-- cloudops.readline, the REPL's binding to GNU readline: what can be checked without a
-- terminal (history in memory and in files, argument checks). Editing and completion through
-- a pseudo-terminal are in repl_spec. Built for Lua 5.4 only (the REPL's Lua).
local helpers = require "helpers"

local ok, rl = pcall(require, "cloudops.readline")

describe("cloudops.readline", function()
  teardown(helpers.cleanup)

  if not ok then
    it("is built (make, with libreadline-dev)", function()
      pending(jit and "not built for LuaJIT (the REPL is Lua 5.4's)" or ("not loadable: " .. tostring(rl)))
    end)
    return
  end

  it("keeps history in memory and in a file, and truncates the file", function()
    local file = helpers.tmpdir() .. "/history"
    rl.clear_history()
    for i = 1, 5 do rl.add_history("line " .. i) end
    assert.are.same({ "line 1", "line 2", "line 3", "line 4", "line 5" }, rl.history())
    assert.is_true(rl.write_history(file))
    rl.clear_history()
    assert.are.same({}, rl.history())
    assert.is_true(rl.read_history(file))
    assert.are.same({ "line 1", "line 2", "line 3", "line 4", "line 5" }, rl.history())
    assert.is_true(rl.truncate_history(file, 2))
    rl.clear_history()
    assert.is_true(rl.read_history(file))
    assert.are.same({ "line 4", "line 5" }, rl.history())
    rl.clear_history()
  end)

  it("returns nil, err for history files it cannot use", function()
    local r, err = rl.read_history("/nonexistent/dir/history")
    assert.is_nil(r)
    assert.matches("cannot read history /nonexistent/dir/history", err)
    r, err = rl.write_history("/nonexistent/dir/history")
    assert.is_nil(r)
    assert.matches("cannot write history", err)
  end)

  it("checks its arguments", function()
    assert.has_error(function() rl.set_completion(42) end)
    assert.has_error(function() rl.add_history() end)
    assert.has_error(function() rl.truncate_history("x") end)
    rl.set_completion(function() return {} end)
    rl.set_completion(nil)
    rl.set_word_break_characters(" .:")
    assert.is_boolean(rl.isatty(0))
    assert.is_string(rl.READLINE_VERSION)
  end)
end)
