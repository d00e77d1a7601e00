--- JSON text -> Lua values, with lua-cjson (Debian's lua-cjson 2.1) doing the parsing.
-- cjson decodes [] and {} to the same empty table, but a google.protobuf.Struct must tell an
-- empty list from an empty object: each empty array is first rewritten to hold one marker
-- string (chosen so that it cannot occur in the text), and the marked tables become
-- cloudops.empty_array after parsing. JSON null becomes cloudops.null.
local cjson = require "cjson"
local core = require "cloudops.core"

local type, pairs, pcall, tostring = type, pairs, pcall, tostring
local find, sub, match = string.find, string.sub, string.match
local concat = table.concat
local null, empty_array = core.null, core.empty_array

local reader = {}

-- Our own instance: settings changed here never reach other users of cjson.
local decoder = cjson.new()
decoder.decode_invalid_numbers(false) -- NaN, Infinity, hex: not JSON
local cjson_null = decoder.null

local MARKER = "cloudops-empty-array-"

-- The text with every empty array (outside strings) given one marker element.
local function mark_empty_arrays(text, marker_json)
  local out, n, last, pos = {}, 0, 1, 1
  while true do
    local s = find(text, '[%["]', pos)
    if not s then break end
    if sub(text, s, s) == '"' then
      -- skip the string: to the next quote not escaped by a backslash
      local i = s + 1
      while true do
        local q = find(text, '["\\]', i)
        if not q then return text end -- unterminated: let cjson report it
        if sub(text, q, q) == "\\" then i = q + 2 else pos = q + 1 break end
      end
    else
      pos = s + 1
      if match(text, "^%s*%]", pos) then
        n = n + 1
        out[n] = sub(text, last, s) .. marker_json
        last = pos
      end
    end
  end
  if n == 0 then return text end
  out[n + 1] = sub(text, last)
  return concat(out)
end

-- Marked tables -> empty_array, cjson's null -> cloudops.null, throughout the tree.
local function unmark(v, marker)
  if v == cjson_null then return null end
  if type(v) ~= "table" then return v end
  if v[1] == marker and v[2] == nil then return empty_array end
  for k, x in pairs(v) do
    local y = unmark(x, marker)
    if y ~= x then v[k] = y end
  end
  return v
end

--- The Lua value of JSON text, or nil, message.
function reader.decode(text)
  -- The marker: a name the text does not hold, behind a control character no JSON string
  -- holds unescaped.
  local k = 1
  while find(text, MARKER .. k, 1, true) do k = k + 1 end
  local marker = "\1" .. MARKER .. k
  local marked = text
  if find(text, "%[%s*%]") then
    marked = mark_empty_arrays(text, '"\\u0001' .. MARKER .. k .. '"')
  end
  local ok, v = pcall(decoder.decode, marked)
  if not ok then return nil, "invalid JSON: " .. tostring(v) end
  return unmark(v, marker)
end

return reader
