--- The garbage collector as an attacker (issue 17's harness): the collector runs continuously
-- (a step at every allocation, each step a large share of a cycle, a new cycle at once), and a
-- pool of finalizers re-arms itself, so that some finalizer runs at almost every allocation the
-- C core makes. What a finalizer does is the caller's choice: `torture.target(t)` sets what the
-- pool acts on until `torture.target(nil)`:
--   t.close    a channel (or client, anything with :close()) to close
--   t.result   a call handle whose result to take (inside a pcall: it may be taken already)
--   t.grow     a table to add 5 metadata entries to
--   t.act      any function
--   t.skip     how many finalizer runs to let pass first (with a pool of 1, one runs at each
--              allocation: skip = k acts at the (k+1)th allocation after the target is set)
-- and `torture.hits` counts the finalizers that acted. Lua 5.4 and LuaJIT (whose tables have
-- no __gc: a newproxy there).
--
-- Stock Lua 5.4's collectgarbage("incremental", 0, 100) leaves the pause as it was (0 means
-- "unchanged" in lua_gc) and keeps a step multiplier in a byte (at most 1020), so that a step
-- of a small allocation does a sliver of a cycle: the pause is set with "setpause", and a
-- huge step size makes every step run its cycle to the end (the pause of 0 then starts the
-- next one at the next allocation).
local torture = { hits = 0 }

local newproxy = rawget(_G, "newproxy") -- LuaJIT's (Lua 5.4 has none)
local jit = rawget(_G, "jit") -- LuaJIT's
local is_luajit = jit ~= nil
local target, pool = nil, 0
local saved

local function act(t)
  if t.close then t.close:close() end
  if t.grow then for k = 1, 5 do t.grow["x-grown-" .. k] = "v" end end
  if t.result then pcall(t.result.result, t.result) end
  if t.act then t.act() end
end

-- An object whose finalizer acts on the target, if any, then makes another such object: the
-- pool stays the same size for as long as the torture runs.
local function arm()
  local function fin()
    local t = target
    if t and (t.skip or 0) > 0 then
      t.skip = t.skip - 1
    elseif t then
      torture.hits = torture.hits + 1
      local ok, err = pcall(act, t)
      -- A finalizer must not raise (LuaJIT passes the error on to whatever allocated).
      if not ok then torture.errors[#torture.errors + 1] = tostring(err) end
    end
    if pool > 0 then arm() end
  end
  if newproxy then
    getmetatable(newproxy(true)).__gc = fin
  else
    setmetatable({}, { __gc = fin })
  end
end

--- Starts: the collector continuous, `opts.pool` (default 16) finalizers always pending.
-- By default every allocation runs a whole cycle (the small heap of a child interpreter);
-- opts.light keeps the cycles going one after another but in small steps, for a large heap (a
-- busted process), where a whole cycle at every allocation would take hours.
function torture.start(opts)
  opts = opts or {}
  torture.hits, torture.errors = 0, {}
  if not saved then
    saved = {}
    if is_luajit then
      -- Compiled code steps the collector until the debt is paid, which a pause of 0 never
      -- allows: a trace then loops in the collector forever (LuaJIT 2.1 here). The interpreter
      -- takes one step per check, so the JIT is off while the torture lasts.
      saved.jit = jit.status()
      jit.off()
      jit.flush()
      saved.stepmul = collectgarbage("setstepmul", opts.light and 400 or 1000000)
    else
      -- the step size, log2 of bytes: 40 means no step ends before its cycle does
      saved.mode = collectgarbage("incremental", 0, 0, opts.light and 10 or 40)
    end
    saved.pause = collectgarbage("setpause", 0)
    -- A full cycle ends with the new pause: the debt the collector was left with (by the
    -- generational mode lua5.4 starts in) would otherwise hold the steps off for megabytes.
    collectgarbage("collect")
  end
  pool = opts.pool or 16
  for _ = 1, pool do arm() end
end

--- What the finalizers act on from now on (nil: nothing, they only re-arm).
function torture.target(t)
  target = t
end

--- Stops: the pool drains and the collector is as it was.
function torture.stop()
  target, pool = nil, 0
  if saved then
    collectgarbage("setpause", saved.pause)
    if is_luajit then
      collectgarbage("setstepmul", saved.stepmul)
      if saved.jit then jit.on() end
    else
      collectgarbage("incremental", 0, 0, 13) -- Lua 5.4's default step size
      if saved.mode == "generational" then collectgarbage("generational") end
    end
    saved = nil
  end
  collectgarbage("collect")
end

return torture
