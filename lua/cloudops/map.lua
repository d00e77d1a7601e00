--- cloudops.map(fn, list, { concurrency = 8 }) (docs/reference.md "Concurrency"): fn(list[i],
-- i) for every item, each in a task, at most `concurrency` at once; returns results and errs,
-- indexed like list, the first two values each call returned (or nil and the raised value).
--
-- `concurrency` tasks each take the next item until none is left, so items start in list
-- order. Called inside a task (a nested map), the new tasks join the running scheduler and
-- the calling task waits for them; outside, this runs the scheduler until they are done.
local scheduler = require "cloudops.scheduler"

local type, pairs, pcall, error, tostring = type, pairs, pcall, error, tostring
local min, floor = math.min, math.floor
local find = string.find

local DEFAULT_CONCURRENCY = 8

local function concurrency_of(opts)
  if opts == nil then return DEFAULT_CONCURRENCY end
  if type(opts) ~= "table" then error("cloudops.map: options must be a table, got " .. type(opts), 3) end
  for k in pairs(opts) do
    if k ~= "concurrency" then error("cloudops.map: unknown option '" .. tostring(k) .. "'", 3) end
  end
  local c = opts.concurrency
  if c == nil then return DEFAULT_CONCURRENCY end
  if type(c) ~= "number" or c < 1 or c ~= floor(c) then
    error("cloudops.map: concurrency must be a whole number, at least 1", 3)
  end
  return c
end

-- The interpreters raise "interrupted!" (Ctrl-C) wherever Lua runs, a task included: that
-- stops the whole map, not one task.
local function interrupt(e)
  return type(e) == "string" and find(e, "interrupted!$") ~= nil
end

return function(fn, list, opts)
  if type(fn) ~= "function" then error("cloudops.map: expected a function, got " .. type(fn), 2) end
  if type(list) ~= "table" then error("cloudops.map: expected a list (table), got " .. type(list), 2) end
  local concurrency = concurrency_of(opts)
  local n = #list
  local results, errs = {}, {}
  if n == 0 then return results, errs end
  local next_item, active = 1, 0
  local all_done = scheduler.condition()
  local function worker()
    while next_item <= n do
      local i = next_item
      next_item = i + 1
      local ok, a, b = pcall(fn, list[i], i)
      if ok then
        results[i], errs[i] = a, b
      elseif interrupt(a) then
        error(a, 0)
      else
        errs[i] = a
      end
    end
    active = active - 1
    if active == 0 then all_done:signal() end
  end
  active = min(concurrency, n)
  for _ = 1, active do scheduler.spawn(worker) end
  local parent = scheduler.task()
  if parent then
    while active > 0 do all_done:wait(parent) end
  else
    scheduler.run(function() return active == 0 end)
  end
  return results, errs
end
