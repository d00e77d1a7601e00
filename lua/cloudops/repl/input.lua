--- Where the REPL's lines come from: GNU readline through cloudops.readline (line editing,
-- completion, history kept in a file) when stdin is a terminal and the binding is built;
-- otherwise plain reads from stdin (piped input, or no binding), prompting only on a terminal.
local io_read, io_write, io_stdout = io.read, io.write, io.stdout
local pcall, require, type, setmetatable, os_execute, ipairs = pcall, require, type, setmetatable, os.execute, ipairs
local find, lower, gmatch, sub = string.find, string.lower, string.gmatch, string.sub

local input = {}
input.__index = input

local HISTORY_ENTRIES = 1000

-- Whether stdin is a terminal, without the binding: ask test(1), which inherits our stdin.
local function stdin_is_tty(rl)
  if rl then return rl.isatty(0) end
  local ok, how, code = os_execute("test -t 0")
  if type(ok) == "number" then return ok == 0 end -- Lua 5.1 / LuaJIT without 5.2 compat
  return ok == true and (how ~= "exit" or code == 0)
end

-- Whether an input holds a secret, and so stays out of the history (the file is plain text):
-- one of the known keys; a string literal given to a name such as api_key, token or password
-- (`api_key = "..."`, `["authorization"] = "Bearer ..."`); a bearer token; or a long token-like
-- string literal (a key pasted in). A line that only names such a thing (`api_key_auth = {
-- enabled = true }`, `k = emu.api_key`, a page_token) is kept.
local SECRET_NAMES = { "api_key", "apikey", "token", "secret", "password", "authorization", "bearer", "key" }
local NOT_SECRET = { page_token = true, next_page_token = true, key_id = true }
local function is_secret_name(name)
  name = lower(name)
  if NOT_SECRET[name] then return false end
  for _, s in ipairs(SECRET_NAMES) do
    if name == s or sub(name, -#s - 1) == "_" .. s then return true end
  end
  return false
end

local function holds_secret(chunk, known)
  for _, k in ipairs(known) do
    if #k >= 8 and find(chunk, k, 1, true) then return true end
  end
  -- name = "...", ["name"] = "...", name = [[...]]
  for name in gmatch(chunk, "([%a_][%w_]*)[\"']?%]?%s*=%s*[\"'%[]") do
    if is_secret_name(name) then return true end
  end
  if find(lower(chunk), "[\"']bearer%s") then return true end
  for literal in gmatch(chunk, "[\"']([%w%-_%.~+/=]+)[\"']") do
    if #literal >= 32 and not find(literal, "^%x+%-%x+%-%x+%-%x+%-%x+$") then return true end
  end
  return false
end
input.holds_secret = holds_secret

--- A line source. opts: readline (false: never use the binding), history (a file, or nil: no
-- history kept), complete (function(text, line, first, last) -> candidates),
-- word_breaks (the characters that end a word for completion), secrets (function returning
-- the keys in use, kept out of the history).
function input.new(opts)
  local self = setmetatable({ history = opts.history, secrets = opts.secrets }, input)
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

--- Remembers an input (a chunk: one line, or the lines of a statement typed over several),
-- as one entry, for the up arrow now and the history file later; not one holding a secret.
function input:remember(chunk)
  if not (self.rl and find(chunk, "%S") and chunk ~= self.last) then return end
  if holds_secret(chunk, self.secrets and self.secrets() or {}) then return end
  self.rl.add_history(chunk)
  self.last = chunk
end

--- Saves the history (its last 1000 entries). Returns true, or nil, err.
function input:close()
  if not (self.rl and self.history) then return true end
  return self.rl.write_history(self.history, HISTORY_ENTRIES)
end

--- Whether line editing (and so completion and history) is on.
function input:editing()
  return self.rl ~= nil
end

return input
