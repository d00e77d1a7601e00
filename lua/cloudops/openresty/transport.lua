--- The OpenResty client's transport (cloudops.client.internal): one attempt through nginx's
-- thread pool. A gRPC call blocks the thread that makes it, and a blocked nginx worker answers
-- nobody; so each attempt crosses to the pool with ngx.run_worker_thread (the request's
-- coroutine yields, the worker serves others, the answer resumes it), where the pool-thread VM
-- keeps one channel per endpoint and channel options and makes the call. Only plain values
-- cross: the method's index, the request's bytes, the timeout, the headers; the answer comes
-- back decoded (in the pool thread, so that a large page never holds the event loop).
--
-- Everything else of the call (the rate limit, operation slots, retries and their pauses,
-- on_event, the api_key function) is the client's one attempts loop, run in the request:
-- pauses are ngx.sleep, and no pool thread is held while a call waits.
local core = require "cloudops.core"
local errors = require "cloudops.errors"
local plain = require "cloudops.openresty.plain"
local sleep = require "cloudops.sleep"

local type, rawget, setmetatable, tostring, error = type, rawget, setmetatable, tostring, error
local min, now = math.min, core.now

-- The module whose functions the pool threads run (cloudops.openresty).
local MODULE = "cloudops.openresty"
-- What ngx.run_worker_thread says when every VM of the worker is taken (lua-nginx-module
-- binds a VM to a task when it is posted, not when a pool thread runs it), and the pauses
-- between tries then: short first (VMs free up as fast as calls end), at most 50 ms.
local NO_VM = "no available Lua vm"
local FIRST_PAUSE, MAX_PAUSE = 0.002, 0.05

local Transport = {}
Transport.__index = Transport

local transport = { MODULE = MODULE }

local function run_worker_thread()
  local ngx = rawget(_G, "ngx")
  local run = type(ngx) == "table" and ngx.run_worker_thread
  if not run then
    error("cloudops.openresty: ngx.run_worker_thread is not available here (it needs " ..
      "lua-nginx-module with thread support, on Linux, in a rewrite, access or content handler " ..
      "or a timer)", 0)
  end
  return run
end

--- Posts a task to `pool`, waiting (ngx.sleep) for a free VM of the worker within `budget`
-- seconds: true, out or false, the error text.
function transport.post(pool, budget, ...)
  local run = run_worker_thread()
  local deadline, pause = now() + budget, FIRST_PAUSE
  while true do
    local ok, out = run(pool, MODULE, ...)
    if ok or out ~= NO_VM or now() + pause > deadline then return ok, out end
    -- Every VM of the worker (lua_worker_thread_vm_pool_size) is running or queued for a
    -- pool thread: wait for one here, with ngx.sleep, within the call's time budget.
    sleep(pause)
    pause = min(pause * 2, MAX_PAUSE)
  end
end

--- The error of a failed hop into the pool: WORKER_THREAD, without a gRPC code.
function transport.hop_error(pool, method, why)
  return errors.new("WORKER_THREAD", "ngx.run_worker_thread(" .. pool .. "): " .. tostring(why),
    { method = method, retryable = false, attempts = 0 })
end

--- A transport through thread pool `pool` to endpoint, with the core's channel options
-- (plain values: they cross).
function transport.new(pool, endpoint, channel_options)
  return setmetatable({ pool = pool, endpoint = endpoint, options = channel_options,
                        key = plain.key({ endpoint, channel_options }) }, Transport)
end

-- The pool thread's answer as a call's values; a failed hop is the 6th value, an error the
-- client returns as it is.
local function answer(self, m, ok, out)
  if not ok or type(out) ~= "table" or out.raised then
    return nil, nil, nil, nil, nil, transport.hop_error(self.pool, m.name, ok and (out and out.raised) or out)
  end
  return out.resp, out.code, out.message, out.headers, out.trailers
end

function Transport:call(m, payload, timeout, headers)
  local ok, out = transport.post(self.pool, timeout, "thread_attempt", self.key, self.endpoint, self.options,
    m.index, payload, timeout, headers, now() + timeout)
  return answer(self, m, ok, out)
end

--- An attempt nobody waits for: run from an ngx.timer (which may post to the pool), its
-- answer kept for result(). nil where there are no timers.
function Transport:start(m, payload, timeout, headers)
  local ngx = rawget(_G, "ngx")
  local timer = type(ngx) == "table" and type(ngx.timer) == "table" and ngx.timer.at
  if not timer then return nil end
  local h = { finished = false }
  function h.done() return h.finished end
  function h.result() return answer(self, m, h.ok, h.out) end
  local ok = timer(0, function(premature)
    if not premature then
      -- post's own true, out or false, why; what it raised (no ngx.run_worker_thread) as a why
      local fine, ok, out = pcall(transport.post, self.pool, timeout, "thread_attempt", self.key, self.endpoint,
        self.options, m.index, payload, timeout, headers, now() + timeout)
      if fine then h.ok, h.out = ok, out else h.ok, h.out = false, ok end
    else
      h.ok, h.out = false, "the timer was cut short (the worker is exiting)"
    end
    h.finished = true
  end)
  return ok and h or nil
end

-- The channels live in the pool threads, for the worker's life: nothing to close here.
function Transport.close(_) end

return transport
