--- Sleeping without busy-waiting (docs/reference.md "Concurrency"): inside a cloudops.map
-- task, a pause of that task alone (the others run meanwhile); ngx.sleep where nginx lets a
-- request yield; else a real sleep in the C core (also inside ngx.run_worker_thread VMs, which
-- have no ngx.sleep).
local core = require "cloudops.core"
local scheduler = require "cloudops.scheduler"

local rawget = rawget
local task_of, task_sleep = scheduler.task, scheduler.sleep

local YIELDABLE = { rewrite = true, access = true, content = true, timer = true,
                    ssl_cert = true, ssl_session_fetch = true, preread = true }

return function(seconds)
  if seconds <= 0 then return end
  local task = task_of()
  if task then return task_sleep(task, seconds) end
  local ngx = rawget(_G, "ngx")
  if ngx and ngx.sleep and ngx.get_phase and YIELDABLE[ngx.get_phase()] then
    return ngx.sleep(seconds)
  end
  return core.sleep(seconds)
end
