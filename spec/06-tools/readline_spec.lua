-- cloudops.readline, the REPL's binding to GNU readline: what can be checked without a
-- terminal (history in memory and in files, argument checks). Editing and completion through
-- a pseudo-terminal are in repl_spec. Built for Lua 5.4 only (the REPL's Lua).
local helpers = require "helpers"

-- The binding is built for Lua 5.4 (the REPL's Lua) whenever libreadline-dev is installed, as
-- bin/install-deps does: not loading it is a failure here, not a pending spec. On LuaJIT
-- there is nothing to test.
if jit then return end
local rl = require "cloudops.readline"

describe("cloudops.readline", function()
  lazy_teardown(helpers.cleanup)

  it("keeps history in memory and in a file, the last n entries", function()
    local file = helpers.tmpdir() .. "/history"
    rl.clear_history()
    for i = 1, 5 do rl.add_history("line " .. i) end
    assert.are.same({ "line 1", "line 2", "line 3", "line 4", "line 5" }, rl.history())
    assert.is_true(rl.write_history(file))
    rl.clear_history()
    assert.are.same({}, rl.history())
    assert.is_true(rl.read_history(file))
    assert.are.same({ "line 1", "line 2", "line 3", "line 4", "line 5" }, rl.history())
    assert.is_true(rl.write_history(file, 2))
    rl.clear_history()
    assert.is_true(rl.read_history(file))
    assert.are.same({ "line 4", "line 5" }, rl.history())
    rl.write_history(file, 1000000) -- lifts the bound again
    rl.clear_history()
  end)

  it("keeps an entry of several lines whole in the file", function()
    local file = helpers.tmpdir() .. "/history"
    rl.clear_history()
    rl.add_history("for i = 1, 2 do\n  print(i)\nend")
    rl.add_history("x = 1")
    assert.is_true(rl.write_history(file))
    rl.clear_history()
    assert.is_true(rl.read_history(file))
    assert.are.same({ "for i = 1, 2 do\n  print(i)\nend", "x = 1" }, rl.history())
    -- a file of plain lines (no timestamps) still reads one entry a line
    helpers.write_file(file, "a = 1\nb = 2\n")
    rl.clear_history()
    assert.is_true(rl.read_history(file))
    assert.are.same({ "a = 1", "b = 2" }, rl.history())
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
    assert.has_error(function() rl.set_completion(42) end,
      "bad argument #1 to 'set_completion' (function expected, got number)")
    assert.has_error(function() rl.add_history() end,
      "bad argument #1 to 'add_history' (string expected, got no value)")
    assert.has_error(function() rl.write_history("x", -1) end,
      "bad argument #2 to 'write_history' (a number of entries from 0 to 1000000)")
    rl.set_completion(function() return {} end)
    rl.set_completion(nil)
    rl.set_word_break_characters(" .:")
    assert.is_boolean(rl.isatty(0))
    assert.is_string(rl.READLINE_VERSION)
  end)
end)
