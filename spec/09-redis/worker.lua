-- One process of a batch sharing an identity's limit (spec/09-redis and bench/redis_limit.lua):
-- N CreateUser calls, one after another, as a script on one host would send them.
--
--   lua worker.lua ENDPOINT API_KEY REDIS_URL|- RATE N START_AT NAME
--
-- With a Redis URL, every attempt goes through the shared bucket of cloudops.redis, driven
-- exactly as the client's call path drives a limiter (take, sleep, call, settle, then
-- succeeded or exhausted), around calls made with the client's own limiter and retries off.
-- With "-", the client's own token bucket at RATE and its default retries: what each host
-- does on its own. Waits until START_AT (core.time()) so that the processes start together,
-- then prints one line: "done attempts=A rejected=R failed=F started=S ended=E unavailable=U".
local dir = (arg and arg[0] or ""):match("^(.*)spec/09%-redis/worker%.lua$") or "./"
package.path = dir .. "lua/?.lua;" .. dir .. "lua/?/init.lua;" .. package.path
package.cpath = (os.getenv("CLOUDOPS_CORE_CPATH") or
  (dir .. (rawget(_G, "jit") and "build/luajit/lua/?.so" or "build/lua/?.so"))) .. ";" .. package.cpath

local cloudops = require "cloudops"
local core = require "cloudops.core"
local redis = require "cloudops.redis"
local retry = require "cloudops.retry"
local sleep = require "cloudops.sleep"
local new_uuid = require "cloudops.uuid"

local endpoint, api_key, url, rate, n, start_at, name =
  arg[1], arg[2], arg[3], tonumber(arg[4]), tonumber(arg[5]), tonumber(arg[6]), arg[7]
-- A call is given up after this long (the client's default retry.max_elapsed).
local MAX_ELAPSED = 120
-- Backoff for UNAVAILABLE: the server's hint alone (RetryInfo) is used for RESOURCE_EXHAUSTED.
local BACKOFF = retry.policy({ initial = 0.1, max = 2 })
local HINT_ONLY = { max = 0, initial = 0, multiplier = 1 }

local attempts, rejected, failed, unavailable = 0, 0, 0, 0
local shared = url ~= "-"

local client = assert(cloudops.connect{
  endpoint = endpoint, insecure = true, api_key = api_key,
  -- the shared bucket, or the client's own limiter and retries
  rate_limit = (not shared) and rate, retry = (not shared) and true,
  on_event = function(ev)
    if ev.method then
      attempts = attempts + 1
      if ev.name == "RESOURCE_EXHAUSTED" then rejected = rejected + 1 end
    end
  end,
})

local bucket
if shared then
  local settings = assert(redis.options{ redis = url, rate = rate })
  bucket = redis.new(settings, { on_event = function(ev)
    if ev.name == "REDIS_UNAVAILABLE" then unavailable = unavailable + 1 end
  end }):bucket()
end

local function wait_until(t)
  local d = t - core.time()
  if d > 0 then core.sleep(d) end
end

-- One call through the shared bucket: the call path of a client with a Redis limiter.
local function shared_call(req)
  local t0 = core.now()
  local attempt = 0
  while true do
    attempt = attempt + 1
    local wait, anchor = bucket:take()
    if wait > 0 then sleep(wait) end
    local resp, err = client:create_user(req)
    if anchor then bucket:settle(anchor) end
    if resp then
      bucket:succeeded()
      return resp
    end
    local delay
    if err.name == "RESOURCE_EXHAUSTED" then
      bucket:exhausted(retry.delay(HINT_ONLY, 1, err))
      delay = 0                             -- the bucket paces the next attempt
    elseif err.retryable ~= false and (err.name == "UNAVAILABLE" or err.name == "DEADLINE_EXCEEDED") then
      delay = retry.delay(BACKOFF, attempt, err)
    end
    if not delay or core.now() - t0 + delay > MAX_ELAPSED then return nil, err end
    sleep(delay)
  end
end

local sent_before = 0
if shared then
  local identity, sent = assert(redis.identity(client))
  sent_before = sent
  wait_until(start_at)
  bucket:start(identity, sent_before)
else
  wait_until(start_at)
end

local started = core.time()
for i = 1, n do
  local req = { async_operation_id = new_uuid(), spec = {
    email = string.format("%s-%d@example.com", name, i), access = { account_access = { role = "ROLE_READ" } } } }
  local resp, err
  if shared then resp, err = shared_call(req) else resp, err = client:create_user(req) end
  if not resp then
    failed = failed + 1
    io.stderr:write(name, ": failed: ", tostring(err), "\n")
  end
end
local ended = core.time()
client:close()
io.write(string.format("done attempts=%d rejected=%d failed=%d started=%.6f ended=%.6f unavailable=%d\n",
  attempts, rejected, failed, started, ended, unavailable))
