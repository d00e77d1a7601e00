-- Several processes of one identity, each running spec/09-redis/worker.lua, started together;
-- for spec/09-redis and bench/redis_limit.lua.
--
--   batch.run{ root =, lua =, endpoint =, api_key =, redis = url or nil, rate =, procs =,
--              calls =, cold = (the workers start without learning their identity first),
--              during = function(elapsed) end }
-- returns { wall =, attempts =, rejected =, failed =, unavailable =, paused = { seconds each
-- process's limiter asked it to wait, by process }, outputs = { ... } }.
-- `during` is called every 20 ms while the workers run (the specs kill Redis from there).
local core = require "cloudops.core"

local batch = {}

local function q(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end

local function read(path)
  local f = io.open(path, "rb")
  if not f then return "" end
  local s = f:read("*a")
  f:close()
  return s
end

function batch.run(o)
  local dir = os.tmpname()
  os.remove(dir)
  assert(os.execute("mkdir -p " .. q(dir)))
  -- Time for every worker to load, connect and learn its identity before they start.
  local start_at = core.time() + (o.lead or 1.5)
  local files = {}
  for i = 1, o.procs do
    local out = dir .. "/worker" .. i .. ".out"
    files[i] = out
    local cmd = table.concat({ o.lua, q(o.root .. "spec/09-redis/worker.lua"), q(o.endpoint), q(o.api_key),
      q(o.redis or "-"), tostring(o.rate), tostring(o.calls), string.format("%.6f", start_at),
      q("p" .. i .. "-" .. tostring(start_at):gsub("%.", "")), o.cold and "cold" or "warm" }, " ")
    assert(os.execute("sh -c " .. q(cmd .. " > " .. q(out) .. " 2>&1 &")))
  end
  local t = { attempts = 0, rejected = 0, failed = 0, unavailable = 0, paused = {}, outputs = {} }
  local deadline = core.time() + (o.timeout or 300)
  local started, ended = math.huge, 0
  while true do
    local done = 0
    for i = 1, o.procs do
      if read(files[i]):find("done attempts=", 1, true) then done = done + 1 end
    end
    if done == o.procs then break end
    assert(core.time() < deadline, "the workers did not finish:\n" .. read(files[1]))
    if o.during then o.during(core.time() - start_at) end
    core.sleep(0.02)
  end
  for i = 1, o.procs do
    local text = read(files[i])
    t.outputs[i] = text
    local a, r, f, s, e, u, p = text:match("done attempts=(%d+) rejected=(%d+) failed=(%d+) " ..
      "started=(%S+) ended=(%S+) unavailable=(%d+) paused=(%S+)")
    t.attempts, t.rejected, t.failed = t.attempts + a, t.rejected + r, t.failed + f
    t.unavailable = t.unavailable + u
    t.paused[i] = tonumber(p)
    started, ended = math.min(started, tonumber(s)), math.max(ended, tonumber(e))
  end
  t.wall = ended - started
  os.execute("rm -rf " .. q(dir))
  return t
end

return batch
