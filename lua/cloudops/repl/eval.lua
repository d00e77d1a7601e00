--- How the REPL runs what is typed: a chunk (one line, or the lines of a statement typed over
-- several) compiled as an expression first (so that `1 + 1` shows 2), else as statements. An
-- assignment from a call that failed (`c = cloudops.connect{...}` giving nil, err) assigns as
-- Lua does and hands back what it dropped, so that the err is shown rather than lost. Errors
-- name the line of the input they come from.
local type, select, load, pcall, tostring, tonumber = type, select, load, pcall, tostring, tonumber
local find, match, gmatch, gsub, format = string.find, string.match, string.gmatch, string.gsub, string.format
local unpack = table.unpack or unpack

local eval = {}

local function pack(...) return { n = select("#", ...), ... } end

-- A name a value can be assigned to: `x`, `t.k`, `local x`.
local function is_target(text)
  return match(text, "^%s*[%a_][%w_]*%s*$") ~= nil or match(text, "^%s*[%a_][%w_]*%.[%a_][%w_%.]*%s*$") ~= nil
end

-- `a, b.c = <expressions>`: the targets (their count) and the expressions, or nil.
local function assignment(text)
  local is_local, rest = match(text, "^%s*(local)%s+(.*)$")
  local targets, rhs = match(rest or text, "^([%w_%.,%s]+)=(.*)$")
  if not targets or find(rhs, "^=") then return nil end
  local n = 0
  for t in gmatch(targets .. ",", "([^,]*),") do
    if not is_target(t) or (is_local and find(t, ".", 1, true)) then return nil end
    n = n + 1
  end
  return (is_local and "local " or "") .. targets, n, rhs
end

--- The chunk name for input beginning at line `first` (nil: lines counted from the chunk's
-- own first line, as lua.c does at its prompt).
function eval.chunkname(first)
  return first and format("=stdin:%d", first) or "=stdin"
end

--- An error message with its position in the input: the chunks of piped input are named
-- "stdin:FIRST" (eval.chunkname), so that Lua's "stdin:FIRST:LINE:" becomes "stdin:N:"; a
-- message with no position of ours gets the chunk's first line.
function eval.where(message, first)
  if type(message) ~= "string" then message = tostring(message) end
  local fixed, n = gsub(message, "stdin:(%d+):(%d+):", function(a, b)
    return "stdin:" .. (tonumber(a) + tonumber(b) - 1) .. ":"
  end)
  if n == 0 and first and not find(message, "^stdin:%d+:") then fixed = "stdin:" .. first .. ": " .. message end
  return fixed
end

--- Compiles a chunk in env under chunkname. Returns a chunk to run, or nil, whether more
-- lines could complete it ("1 +", "for i = 1, 2 do"), and the message.
function eval.compile(text, env, chunkname)
  local fn, experr = load("return " .. text, chunkname, "t", env)
  if fn then return { fn = fn } end
  local targets, n, rhs = assignment(text)
  if targets then
    local values = load("return " .. rhs, chunkname, "t", env)
    local assign = values and load(targets .. " = ...", chunkname, "t", env)
    if assign then return { fn = values, assign = assign, targets = n } end
  end
  local err
  fn, err = load(text, chunkname, "t", env)
  if fn then return { fn = fn } end
  return nil, find(err, "<eof>$") ~= nil or find(experr, "<eof>$") ~= nil, err
end

--- Runs a compiled chunk. Returns true and the values to show ({ n = }: an expression's
-- values; an assignment's none, or, when its first value is nil, the values it dropped, the
-- err of a failed call), or false and the error raised.
function eval.run(chunk)
  local r = pack(pcall(chunk.fn))
  if not r[1] then return false, r[2] end
  local values = pack(unpack(r, 2, r.n))
  if not chunk.assign then return true, values end
  local ok, err = pcall(chunk.assign, unpack(values, 1, values.n))
  if not ok then return false, err end
  if values[1] ~= nil or values.n <= chunk.targets then return true, { n = 0 } end
  return true, pack(unpack(values, chunk.targets + 1, values.n)), true
end

return eval
