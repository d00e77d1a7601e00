-- Strips the REST/OpenAPI annotations from a .proto file, so that protoc-c can compile it
-- without the google.api and grpc-gateway option schemas.
--
--   lua proto/strip.lua IN OUT
--
-- Removes `import "google/api/..."` / `import "protoc-gen-openapiv2/..."` lines and every
-- `option (google.api.*) = ...;` / `option (grpc.gateway.*) = ...;` statement, whatever its
-- value spans. sed cannot do this safely: values hold braces inside strings
-- ("/cloud/users/{user_id}") and comments hold apostrophes, so this walks the text as tokens,
-- skipping strings and comments, and matches braces.

local sub, find, match = string.sub, string.find, string.match

local STRIPPED_IMPORT = { "^google/api/", "^protoc%-gen%-openapiv2/" }
local STRIPPED_OPTION = { "^google%.api%.", "^grpc%.gateway%." }

local function matches_any(s, patterns)
  for _, p in ipairs(patterns) do
    if find(s, p) then return true end
  end
  return false
end

-- Returns the position just past the string literal that opens at i.
local function skip_string(src, i)
  local quote = sub(src, i, i)
  local j = i + 1
  while true do
    local c = sub(src, j, j)
    if c == "" then error("unterminated string starting at byte " .. i) end
    if c == "\\" then
      j = j + 2
    elseif c == quote then
      return j + 1
    else
      j = j + 1
    end
  end
end

-- Returns the position past the comment opening at i, or nil when i opens no comment.
local function skip_comment(src, i)
  local two = sub(src, i, i + 1)
  if two == "//" then
    local e = find(src, "\n", i, true)
    return e and e + 1 or #src + 1
  elseif two == "/*" then
    local _, e = find(src, "*/", i + 2, true)
    if not e then error("unterminated comment starting at byte " .. i) end
    return e + 1
  end
end

-- Skips whitespace and comments from i.
local function skip_blank(src, i)
  while true do
    local _, e = find(src, "^%s+", i)
    if e then i = e + 1 end
    local past = skip_comment(src, i)
    if not past then return i end
    i = past
  end
end

-- Returns the position just past the option value starting at i and its closing ';'.
local function skip_value(src, i)
  local depth = 0
  while i <= #src do
    local c = sub(src, i, i)
    local past = skip_comment(src, i)
    if past then
      i = past
    elseif c == '"' or c == "'" then
      i = skip_string(src, i)
    elseif c == "{" or c == "[" then
      depth, i = depth + 1, i + 1
    elseif c == "}" or c == "]" then
      depth, i = depth - 1, i + 1
      if depth < 0 then error("unbalanced '" .. c .. "' at byte " .. (i - 1)) end
    elseif c == ";" and depth == 0 then
      return i + 1
    else
      i = i + 1
    end
  end
  error("option value not terminated by ';'")
end

-- If an annotation to strip starts at i (at a word boundary), returns the position past it.
local function stripped_statement_end(src, i)
  local path, e = match(src, '^import%s+"([^"]*)"%s*;()', i)
  if path then
    return matches_any(path, STRIPPED_IMPORT) and e or nil
  end
  local name, after = match(src, "^option%s*%(%s*([%w_%.]+)%s*%)()", i)
  if name and matches_any(name, STRIPPED_OPTION) then
    local j = skip_blank(src, after)
    if sub(src, j, j) ~= "=" then error("expected '=' after option (" .. name .. ")") end
    return skip_value(src, j + 1)
  end
end

-- Calls visit(i) at each word start outside comments and strings; visit returns the position
-- to go on from when it consumed a statement there, or nil.
local function scan(src, visit)
  local i, at_word_start = 1, true
  while i <= #src do
    local c = sub(src, i, i)
    local past = skip_comment(src, i)
    if past then
      i, at_word_start = past, true
    elseif c == '"' or c == "'" then
      i, at_word_start = skip_string(src, i), false
    else
      local e = at_word_start and visit(i)
      if e then
        i, at_word_start = e, true
      else
        at_word_start = not match(c, "[%w_%.]")
        i = i + 1
      end
    end
  end
end

local function strip(src)
  local out, n = {}, 0
  local copied_to = 1
  scan(src, function(i)
    local e = stripped_statement_end(src, i)
    if not e then return nil end
    n = n + 1
    -- a statement alone on its line takes the whole line with it, to keep the output tidy
    local kept = sub(src, copied_to, i - 1)
    out[n] = match(kept, "^(.*\n)[ \t]*$") or (find(kept, "^[ \t]*$") and "") or kept
    local _, eol = find(src, "^[ \t]*\n", e)
    copied_to = eol and eol + 1 or e
    return copied_to
  end)
  n = n + 1
  out[n] = sub(src, copied_to)
  return table.concat(out)
end

-- The files a .proto imports (`import "x";`, `import public "x";`, `import weak "x";`), in
-- order, those in comments and strings left out.
local function imports(src)
  local list = {}
  scan(src, function(i)
    local path, e = match(src, '^import%s+%a*%s*"([^"]*)"%s*;()', i)
    if path then list[#list + 1] = path end
    return e
  end)
  return list
end

local M = { strip = strip, imports = imports }

--- Whether an import is one of the annotation schemas strip removes.
function M.stripped_import(path)
  return matches_any(path, STRIPPED_IMPORT)
end

if arg and arg[0] and match(arg[0], "strip%.lua$") then
  local input, output = arg[1], arg[2]
  if not input or not output then
    io.stderr:write("usage: lua strip.lua IN.proto OUT.proto\n")
    os.exit(2)
  end
  local f = assert(io.open(input, "rb"))
  local src = f:read("*a")
  f:close()
  local ok, result = pcall(strip, src)
  if not ok then
    io.stderr:write(input, ": ", result, "\n")
    os.exit(1)
  end
  local o = assert(io.open(output, "wb"))
  o:write(result)
  o:close()
end

return M
