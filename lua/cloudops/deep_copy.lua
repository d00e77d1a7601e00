--- deep_copy(v): a copy of v with its tables copied all the way down (keys as they are; no
-- metatables, no cycles). One module of its own so that the emulator's model, which runs
-- without the C core, and the client's helpers share it.
local pairs, type = pairs, type

local function deep_copy(v)
  if type(v) ~= "table" then return v end
  local t = {}
  for k, x in pairs(v) do t[k] = deep_copy(x) end
  return t
end

return deep_copy
