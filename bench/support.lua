--- What the bench scripts share: the tree's modules and core on the paths, emulators and
-- clients that count what a batch met, batches through cloudops.map, and each figure printed
-- beside its target. A script starts with
--
--   local B = dofile((arg[0]:match("^(.*)bench/[^/]+$") or "./") .. "bench/support.lua")
--
-- and ends with os.exit(B.finish()): 0 when every target it reported was met.
local root = (arg and arg[0] or ""):match("^(.*)bench/[^/]+$") or "./"
package.path = root .. "lua/?.lua;" .. root .. "lua/?/init.lua;" .. root .. "spec/?.lua;" .. package.path
package.cpath = (os.getenv("CLOUDOPS_CORE_CPATH") or
  (root .. (rawget(_G, "jit") and "build/luajit/lua/?.so" or "build/lua/?.so"))) .. ";" .. package.cpath

local cloudops = require "cloudops"
local emulator = require "cloudops.emulator"
local core = require "cloudops.core"

local format = string.format

local B = { ROOT = root, cloudops = cloudops, core = core, format = format }

local missed = 0

--- An emulator for one batch (emulator.spawn's options); stopped by B.stop_all at the latest.
local running = {}
function B.emulator(opts)
  local emu = assert(emulator.spawn(opts))
  running[#running + 1] = emu
  return emu
end

--- Stops what B.emulator started.
function B.stop_all()
  for _, emu in ipairs(running) do emu.stop() end
  running = {}
end

--- A CreateUser request, its email unique per tag and i.
function B.user(tag, i)
  return { spec = { email = format("bench-%s-%d@example.com", tag, i),
                    access = { account_access = { role = "ROLE_READ" } } } }
end

--- A client of emu (insecure, the admin's key: a service account) with connect's `opts` on
-- top, and the counts of what its calls of `method` met: { attempts =, rejected =, polls = }.
-- Without a method, every call of every method counts (its polls among them; polls stays 0).
function B.client(emu, opts, method)
  local n = { attempts = 0, rejected = 0, polls = 0 }
  local o = { endpoint = emu.endpoint, insecure = true, api_key = emu.keys.admin }
  for k, v in pairs(opts or {}) do o[k] = v end
  o.on_event = function(ev)
    if method == nil or ev.method == method then
      n.attempts = n.attempts + 1
      if ev.name == "RESOURCE_EXHAUSTED" then n.rejected = n.rejected + 1 end
    elseif ev.method == "GetAsyncOperation" then
      n.polls = n.polls + 1
    end
  end
  return assert(cloudops.connect(o)), n
end

--- Runs fn(i) for i = 1..n with cloudops.map, `concurrency` tasks; returns the seconds it
-- took and how many returned no result (their errors on stderr).
function B.map_batch(n, concurrency, fn)
  local items = {}
  for i = 1, n do items[i] = i end
  local t0 = core.now()
  local results, errs = cloudops.map(fn, items, { concurrency = concurrency })
  local wall = core.now() - t0
  local failed = 0
  for i = 1, n do
    if not results[i] then
      failed = failed + 1
      io.stderr:write("failed: ", tostring(errs[i]), "\n")
    end
  end
  return wall, failed
end

--- Prints one figure beside its target: "  what: measured (target: ...) MET|NOT MET".
function B.figure(what, measured, target, met)
  if not met then missed = missed + 1 end
  print(format("  %s: %s   (target: %s)  %s", what, measured, target, met and "MET" or "NOT MET"))
end

--- The exit status of the script: 0 when every figure met its target.
function B.finish()
  B.stop_all()
  return missed == 0 and 0 or 1
end

return B
