--- The tasks of cloudops.map: coroutines run over the C core's completion queue and timers.
--
-- One scheduler per Lua state (this module's upvalues). A task is a coroutine the scheduler
-- made; inside one, every wait of the library yields to the scheduler instead of blocking: a
-- call in flight (started with ch:start; the task resumes when core.poll returns its handle),
-- a pause (a timer in a binary heap), a condition (a slot freed, a group of tasks done).
-- Outside any task, and where a task cannot yield (a metamethod called from C, a finalizer),
-- the same waits block as before: callers ask `scheduler.task()` first.
--
-- The loop runs while a top-level cloudops.map waits for its tasks: resume the ready tasks,
-- then wait in core.poll for the first call to complete or the next timer to fall due.
local core = require "cloudops.core"

local co_create, co_resume, co_yield, co_running, co_isyieldable, co_status =
  coroutine.create, coroutine.resume, coroutine.yield, coroutine.running, coroutine.isyieldable,
  coroutine.status
local poll, now, sleep = core.poll, core.now, core.sleep
local setmetatable, error, tostring, pairs, pcall = setmetatable, error, tostring, pairs, pcall
local floor, min = math.floor, math.min

local scheduler = {}

-- What a task yields: only this, so that a stray coroutine.yield of a task's own is recognised.
local WAIT = setmetatable({}, { __tostring = function() return "cloudops scheduler wait" end })

local tasks = setmetatable({}, { __mode = "k" }) -- coroutine -> task
local ready, ready_head, ready_tail = {}, 1, 0    -- FIFO of tasks to resume
local calls = {}                                   -- call handle -> task waiting on it
local n_calls = 0
local timers = {}                                  -- binary heap of { due =, task = }

-- ---- timers (a binary heap on `due`) ---------------------------------------------------------

local function heap_push(t)
  local h = timers
  local i = #h + 1
  h[i] = t
  while i > 1 do
    local p = floor(i / 2)
    if h[p].due <= t.due then break end
    h[i], h[p] = h[p], t
    i = p
  end
end

local function heap_pop()
  local h = timers
  local top, n = h[1], #h
  h[1] = h[n]
  h[n] = nil
  n = n - 1
  local i = 1
  while true do
    local l, r, s = 2 * i, 2 * i + 1, i
    if l <= n and h[l].due < h[s].due then s = l end
    if r <= n and h[r].due < h[s].due then s = r end
    if s == i then break end
    h[i], h[s] = h[s], h[i]
    i = s
  end
  return top
end

-- ---- tasks -----------------------------------------------------------------------------------

local function wake(task)
  if task.queued or task.finished then return end
  task.queued = true
  ready_tail = ready_tail + 1
  ready[ready_tail] = task
end

local function pop_ready()
  if ready_head > ready_tail then return nil end
  local task = ready[ready_head]
  ready[ready_head] = nil
  ready_head = ready_head + 1
  if ready_head > ready_tail then ready_head, ready_tail = 1, 0 end
  task.queued = false
  return task
end

--- The running task, or nil outside one or where it cannot yield.
function scheduler.task()
  local co = co_running()
  local task = co and tasks[co]
  if task and co_isyieldable() then return task end
  return nil
end

-- Ends the running task's turn until something wakes it.
local function suspend()
  local v = co_yield(WAIT)
  return v
end

--- Makes a task that runs body() and queues it. A body must not raise: an error it lets
-- through stops the whole loop (cloudops.map catches the errors of its functions itself).
function scheduler.spawn(body)
  local task = { co = co_create(body) }
  tasks[task.co] = task
  wake(task)
  return task
end

local function resume(task)
  -- A running task can be woken (a condition it waited on before is signalled by itself) and
  -- end before its turn comes.
  if task.finished then return end
  local ok, v = co_resume(task.co)
  if co_status(task.co) == "dead" then
    task.finished = true
    -- A body lets through only what must stop everything (an interrupt, a bug of ours).
    if not ok then error(v, 0) end
    return
  end
  if v ~= WAIT then
    error("a cloudops.map task yielded " .. tostring(v) .. " itself: a task may not call " ..
      "coroutine.yield (run your own coroutines inside it instead)", 0)
  end
end

-- ---- waits (call them only through scheduler.task()) ------------------------------------------

--- Waits in the running task until the call handle h completes.
function scheduler.await_call(task, h)
  calls[h] = task
  n_calls = n_calls + 1
  repeat suspend() until calls[h] == nil
end

--- Pauses the running task for `seconds`.
function scheduler.sleep(task, seconds)
  local timer = { due = now() + seconds, task = task }
  heap_push(timer)
  repeat suspend() until timer.fired
end

--- A condition tasks wait on: cond:wait(task[, timeout]) until cond:signal() wakes every
-- waiter, or `timeout` seconds have passed. A waiter may also wake for another reason (a
-- signal meant for an earlier wait of its): callers check what they wait for, in a loop.
local Cond = {}
Cond.__index = Cond

function scheduler.condition()
  return setmetatable({ waiting = {} }, Cond)
end

function Cond:wait(task, timeout)
  local timer
  if timeout then
    if not (timeout > 0) then return end
    timer = { due = now() + timeout, task = task }
    heap_push(timer)
  end
  local w = self.waiting
  w[#w + 1] = task
  suspend()
  -- woken by a signal: the timer, still in the heap, wakes nobody
  if timer and not timer.fired then timer.task = nil end
end

function Cond:signal()
  local w = self.waiting
  if #w == 0 then return end
  self.waiting = {}
  for i = 1, #w do wake(w[i]) end
end

-- ---- the loop --------------------------------------------------------------------------------

-- Drops whatever an interrupted loop left: the calls are cancelled, the tasks forgotten.
local function reset()
  for h in pairs(calls) do pcall(h.cancel, h) end
  calls, n_calls, timers = {}, 0, {}
  ready, ready_head, ready_tail = {}, 1, 0
end

local function fire_timers()
  local t = now()
  while timers[1] and timers[1].due <= t do
    local timer = heap_pop()
    timer.fired = true
    if timer.task then wake(timer.task) end
  end
end

-- Wakes the tasks whose calls completed without core.poll returning them to us (code in a
-- task polled the core itself, or took a handle's result): returns how many it woke. A handle
-- whose result was taken raises on done(): its task wakes and meets that error itself.
local function wake_finished()
  local woke = 0
  for h, task in pairs(calls) do
    local ok, done = pcall(h.done, h)
    if not ok or done then
      calls[h] = nil
      n_calls = n_calls - 1
      wake(task)
      woke = woke + 1
    end
  end
  return woke
end

-- Seconds of polls that came back at once with nothing, no call ours completing, after which
-- the calls the tasks wait for are taken as lost (a state no core handle reaches: a handle
-- is in flight or done).
local LOST_AFTER = 2

local function run_ready()
  local task = pop_ready()
  while task do
    resume(task)
    task = pop_ready()
  end
end

--- Runs tasks until finished() is true.
function scheduler.run(finished)
  local idle, pause = 0, 0.001
  local ok, err = pcall(function()
    while true do
      run_ready()
      if finished() then return end
      fire_timers()
      if ready_head <= ready_tail then goto continue end
      do
        local next_timer = timers[1]
        local timeout = next_timer and next_timer.due - now() or -1
        if timeout < 0 and next_timer then timeout = 0 end
        if n_calls > 0 then
          local t0 = now()
          local done = poll(timeout)
          local woke = 0
          for i = 1, #done do
            local h = done[i]
            local task = calls[h]
            if task then
              calls[h] = nil
              n_calls = n_calls - 1
              wake(task)
              woke = woke + 1
            end
          end
          -- Nothing of ours came back: maybe someone else took our completions. Never spin on
          -- a poll that returns at once: look at the handles, and pause if that woke nobody.
          if woke == 0 and wake_finished() == 0 and now() - t0 < 0.001 and (timeout < 0 or timeout > 0.001) then
            idle = idle + pause
            if idle > LOST_AFTER then
              error("cloudops.map: " .. n_calls .. " task(s) wait for calls that are neither in flight " ..
                "nor done", 0)
            end
            sleep(pause)
            pause = min(pause * 2, 0.05)
          else
            idle, pause = 0, 0.001
          end
        elseif next_timer then
          sleep(timeout)
        else
          error("cloudops.map: every task is waiting and nothing can wake them", 0)
        end
      end
      ::continue::
    end
  end)
  if not ok then
    reset()
    error(err, 0)
  end
end

return scheduler
