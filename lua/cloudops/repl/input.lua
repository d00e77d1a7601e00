--- Where the REPL's lines come from: GNU readline through cloudops.readline (line editing,
-- completion, history kept in a file) when stdin is a terminal and the binding is built;
-- otherwise plain reads from stdin (piped input, or no binding), prompting only on a terminal.
local io_read, io_write, io_stdout = io.read, io.write, io.stdout
local pcall, require, type, setmetatable, os_execute = pcall, require, type, setmetatable, os.execute

local input = {}
input.__index = input

local HISTORY_LINES = 1000

-- Whether stdin is a terminal, without the binding: ask test(1), which inherits our stdin.
local function stdin_is_tty(rl)
  if rl then return rl.isatty(0) end
  local ok, how, code = os_execute("test -t 0")
  if type(ok) == "number" then return ok == 0 end -- Lua 5.1 / LuaJIT without 5.2 compat
  return ok == true and (how ~= "exit" or code == 0)
end

--- A line source. opts: readline (false: never use the binding), history (a file, or nil: no
-- history kept), complete (function(text, line, first, last) -> candidates),
-- word_breaks (the characters that end a word for completion).
function input.new(opts)
  local self = setmetatable({ history = opts.history }, input)
  local rl
  if opts.readline ~= false then
    local ok, mod = pcall(require, "cloudops.readline")
    if ok then rl = mod end
  end
  self.interactive = stdin_is_tty(rl)
  if rl and self.interactive then
    self.rl = rl
    rl.catch_interrupts() -- Ctrl-C stops the running line with an error, not the REPL
    if opts.word_breaks then rl.set_word_break_characters(opts.word_breaks) end
    if opts.complete then rl.set_completion(opts.complete) end
    if self.history then rl.read_history(self.history) end -- no file yet on the first run
  end
  return self
end

--- The next line; nil at the end of input; nil, "interrupted" when Ctrl-C dropped the line.
function input:read(prompt)
  if self.rl then return self.rl.readline(prompt) end
  if self.interactive then
    io_write(prompt)
    io_stdout:flush()
  end
  return io_read("l")
end

--- Remembers a line entered (for the up arrow now, and the history file later).
function input:remember(line)
  if self.rl and line:find("%S") and line ~= self.last then
    self.rl.add_history(line)
    self.last = line
  end
end

--- Saves the history (keeping its last 1000 lines). Returns true, or nil, err.
function input:close()
  if not (self.rl and self.history) then return true end
  local ok, err = self.rl.write_history(self.history)
  if not ok then return nil, err end
  return self.rl.truncate_history(self.history, HISTORY_LINES)
end

--- Whether line editing (and so completion and history) is on.
function input:editing()
  return self.rl ~= nil
end

return input
