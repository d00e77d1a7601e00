--- Tab completion for the REPL, as a pure function of the line (so specs can check it without
-- a terminal): method names after `client:`, table keys after `name.`, message field names
-- inside a request's table constructor (`client:create_namespace{ spec = { na`), method and
-- type names inside `describe("` / `help("` / `call("`, and global names.
local schema = require "cloudops.schema"
local core = require "cloudops.core"

local type, pairs, ipairs, getmetatable, pcall, rawget = type, pairs, ipairs, getmetatable, pcall, rawget
local sub, find, match, gmatch = string.sub, string.find, string.match, string.gmatch
local sort = table.sort

local complete = {}

--- Characters that end the word being completed (given to readline).
complete.WORD_BREAKS = " \t\n\"\\'`@$><=;|&{}()[],+-*/%^~#.:"

local function starting_with(names, prefix)
  local out, seen = {}, {}
  for _, n in ipairs(names) do
    if type(n) == "string" and not seen[n] and sub(n, 1, #prefix) == prefix and match(n, "^[%a_][%w_]*$") then
      seen[n] = true
      out[#out + 1] = n
    end
  end
  sort(out)
  return out
end

-- ---- the names of the schema -----------------------------------------------------------------

local type_names -- every message and enum reachable from the service, short and full names
local function all_type_names()
  if type_names then return type_names end
  local seen, list = {}, {}
  local function visit(name)
    if not name or seen[name] then return end
    seen[name] = true
    local d = core.describe(name)
    if not d then return end
    list[#list + 1] = d.name
    list[#list + 1] = match(d.name, "([^%.]+)$")
    for _, f in ipairs(d.fields or {}) do visit(f.type_name) end
  end
  for _, m in ipairs(schema.methods()) do
    visit(m.input)
    visit(m.output)
  end
  type_names = list
  return list
end

local function method_names(paged_only)
  local names = {}
  for _, m in ipairs(schema.methods()) do
    if not paged_only or m.items then
      names[#names + 1] = m.name
      names[#names + 1] = m.snake
    end
  end
  return names
end

-- ---- values --------------------------------------------------------------------------------

-- The keys of v that completion offers: its own, and those of its __index chain (tables),
-- or what a metatable's __keys lists. Names starting with "_" are private.
local function keys_of(v)
  local names, depth = {}, 0
  while v ~= nil and depth < 8 do
    depth = depth + 1
    if type(v) == "table" then
      for k in pairs(v) do
        if type(k) == "string" and sub(k, 1, 1) ~= "_" then names[#names + 1] = k end
      end
    end
    local mt = getmetatable(v)
    if type(mt) ~= "table" then break end
    local lister = rawget(mt, "__keys")
    if type(lister) == "function" then
      local ok, more = pcall(lister, v)
      if ok and type(more) == "table" then
        for _, k in ipairs(more) do names[#names + 1] = k end
      end
    end
    local index = rawget(mt, "__index")
    if type(index) ~= "table" then break end
    v = index
  end
  return names
end

-- The value a dotted name ("cloudops.time") has in env, or nil. Indexing may run __index
-- metamethods: only plain lookups, never calls.
local function resolve(env, path)
  local v = env
  for part in gmatch(path, "[^%.:]+") do
    if type(v) ~= "table" then return nil end
    local ok, x = pcall(function() return v[part] end)
    if not ok then return nil end
    v = x
  end
  return v
end

-- ---- request tables ------------------------------------------------------------------------

-- The message type whose table constructor the end of `before` is inside, in key position,
-- or nil: follows `client:method{ a = { b = {` down the schema.
local function constructor_type(before)
  -- key position: right after "{" or "," (spaces allowed)
  if not match(before, "[{,]%s*$") then return nil end
  local stack = {}
  local i, n = 1, #before
  while i <= n do
    local c = sub(before, i, i)
    if c == '"' or c == "'" then
      local j = i + 1
      while j <= n do
        local d = sub(before, j, j)
        if d == "\\" then j = j + 1 elseif d == c then break end
        j = j + 1
      end
      i = j
    elseif c == "{" then
      local head = sub(before, 1, i - 1)
      local entry
      local method = match(head, "[:%.]([%a_][%w_]*)%s*%(?%s*$")
      local quoted = match(head, "[:%.]%a+%s*%(%s*[\"']([%w_]+)[\"']%s*,%s*$")
      local key = match(head, "([%a_][%w_]*)%s*=%s*$")
      if quoted and schema.method(quoted) then
        entry = { method = schema.method(quoted) }
      elseif method and schema.method(method) then
        entry = { method = schema.method(method) }
      elseif key then
        entry = { key = key }
      else
        entry = { element = true }
      end
      stack[#stack + 1] = entry
    elseif c == "}" then
      stack[#stack] = nil
    end
    i = i + 1
  end
  -- From the innermost request table outwards to the cursor.
  local start
  for k = #stack, 1, -1 do
    if stack[k].method then start = k break end
  end
  if not start then return nil end
  local ty, container = stack[start].method.input, nil
  for k = start + 1, #stack do
    local e = stack[k]
    if e.method then return nil end
    if container then
      if not e.element then return nil end -- `{ { ... } }` of a repeated field, `["k"] = {` of a map
      container = nil
    elseif e.key then
      local d = core.describe(ty)
      local field
      for _, f in ipairs(d and d.fields or {}) do if f.name == e.key then field = f end end
      if not field or field.type ~= "message" then return nil end
      ty = field.type_name
      if field.label ~= "singular" then container = true end
    else
      return nil
    end
  end
  if container or ty:find("^google%.protobuf%.") then return nil end
  return ty
end

local function field_names(type_name)
  local names = {}
  local d = core.describe(type_name)
  for _, f in ipairs(d and d.fields or {}) do names[#names + 1] = f.name end
  return names
end

--- The candidates replacing `line:sub(first, last)` (the word being completed), given the REPL's
-- environment.
function complete.candidates(env, line, first, last)
  local text = sub(line, first, last)
  local before = sub(line, 1, first - 1)
  -- a name inside a string argument
  local fn = match(before, "([%a_]+)%s*%(%s*[\"']$")
  if fn == "describe" or fn == "help" then
    local names = method_names(false)
    for _, n in ipairs(all_type_names()) do names[#names + 1] = n end
    local out = starting_with(names, text)
    -- full names have dots, which break words: offer what follows the typed prefix
    return out
  elseif fn == "call" then
    return starting_with(method_names(false), text)
  elseif fn == "paginate" or fn == "pages" then
    return starting_with(method_names(true), text)
  end
  -- a field or method of a value
  local path, sep = match(before, "([%a_][%w_%.:]*)([%.:])$")
  if path and not find(path, "[%.:]$") then
    local v = resolve(env, path)
    if v == nil then return {} end
    local names = keys_of(v)
    if sep == ":" then
      local funcs = {}
      for _, k in ipairs(names) do
        local ok, x = pcall(function() return v[k] end)
        if ok and type(x) == "function" then funcs[#funcs + 1] = k end
      end
      names = funcs
    end
    return starting_with(names, text)
  end
  -- a field of the request being written
  local ty = constructor_type(before)
  if ty then return starting_with(field_names(ty), text) end
  -- a global name
  local names = keys_of(env)
  for k in pairs(_G) do names[#names + 1] = k end
  return starting_with(names, text)
end

return complete
