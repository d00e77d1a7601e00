--- "Did you mean": the known name nearest to a mistyped one, for the hints of the JSON mapping
-- (fields, enum values), the client's methods and the command line's. Case is ignored.
local ipairs, type = ipairs, type
local lower, sub, find = string.lower, string.sub, string.find
local min, max, floor, huge = math.min, math.max, math.floor, math.huge

local nearest = {}

-- Levenshtein distance, case ignored; names are short.
local function distance(a, b)
  a, b = lower(a), lower(b)
  local prev = {}
  for j = 0, #b do prev[j] = j end
  for i = 1, #a do
    local cur = { [0] = i }
    local ca = sub(a, i, i)
    for j = 1, #b do
      cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca == sub(b, j, j) and 0 or 1))
    end
    prev = cur
  end
  return prev[#b]
end
nearest.distance = distance

-- How one name holds the other, case ignored: 1 when one begins with the other
-- (`retention` -> `retention_days`), 2 when one holds the other elsewhere (`ACTIVE` ->
-- `RESOURCE_STATE_ACTIVE`), nil otherwise or when the shorter has fewer than 4 characters
-- (`ns` is in too many names to point at one).
local function holding(key, name)
  local a, b = lower(key), lower(name)
  if #a > #b then a, b = b, a end
  if #a < 4 then return nil end
  if sub(b, 1, #a) == a then return 1 end
  if find(b, a, 1, true) then return 2 end
  return nil
end

--- The name of the list `names` nearest to `key`, or nil when none is near. Near means within
-- max(2, #key / 3) edits (the fewest edits win, then the closest length: `get_namespacez` ->
-- `get_namespaces`); failing that, a name beginning with the key or the key with it, then one
-- holding it or held by it (the fewest edits deciding among them).
function nearest.name(key, names)
  if type(key) ~= "string" or key == "" then return nil end
  local bound = max(2, floor(#key / 3))
  local best, best_d, best_len = nil, huge, huge
  local held, held_rank = nil, huge
  for _, name in ipairs(names) do
    if name ~= key then
      local d = distance(key, name)
      local len = #name > #key and #name - #key or #key - #name
      if d <= bound and (d < best_d or (d == best_d and len < best_len)) then
        best, best_d, best_len = name, d, len
      end
      local tier = holding(key, name)
      if tier and tier * 1000 + d < held_rank then held, held_rank = name, tier * 1000 + d end
    end
  end
  return best or held
end

--- " (did you mean 'x'?)" for the name nearest to key, or "" when none is near.
function nearest.hint(key, names)
  local near = nearest.name(key, names)
  return near and (" (did you mean '" .. near .. "'?)") or ""
end

return nearest
