-- One process of a batch sharing an identity's limit (spec/09-redis and bench/redis_limit.lua):
-- N CreateUser calls, one after another, as a script on one host would send them.
--
--   lua worker.lua ENDPOINT API_KEY REDIS_URL|- RATE N START_AT NAME [cold]
--
-- With a Redis URL, the client's limiter is `rate_limit = { redis = URL, rate = RATE }`: one
-- bucket shared by every process of the identity. With "-", the client's own token bucket at
-- RATE: what each host does on its own. Waits until START_AT (core.time()) so that the
-- processes start together (warmed up: the client has learnt its identity before; "cold": the
-- batch's first call learns it, as hosts starting together do), then prints one line:
-- "done attempts=A rejected=R failed=F started=S ended=E unavailable=U paused=P" (P: the
-- seconds the client's limiter asked this process to wait, in all).
local dir = (arg and arg[0] or ""):match("^(.*)spec/09%-redis/worker%.lua$") or "./"
package.path = dir .. "lua/?.lua;" .. dir .. "lua/?/init.lua;" .. package.path
package.cpath = (os.getenv("CLOUDOPS_CORE_CPATH") or
  (dir .. (rawget(_G, "jit") and "build/luajit/lua/?.so" or "build/lua/?.so"))) .. ";" .. package.cpath

local client_of = require "cloudops.client"
local grpc_transport = require "cloudops.client.grpc_transport"
local core = require "cloudops.core"
local sleep = require "cloudops.sleep"

local endpoint, api_key, url, rate, n, start_at, name, cold =
  arg[1], arg[2], arg[3], tonumber(arg[4]), tonumber(arg[5]), tonumber(arg[6]), arg[7], arg[8] == "cold"

local attempts, rejected, failed, unavailable, paused = 0, 0, 0, 0, 0
local shared = url ~= "-"

-- cloudops.connect's client, its pauses counted (client.new's sleep)
local client = assert(client_of.new({
  endpoint = endpoint, insecure = true, api_key = api_key,
  rate_limit = shared and { redis = url, rate = rate } or rate,
  on_event = function(ev)
    if ev.name == "REDIS_UNAVAILABLE" then unavailable = unavailable + 1 end
    if ev.method == "CreateUser" then
      attempts = attempts + 1
      if ev.name == "RESOURCE_EXHAUSTED" then rejected = rejected + 1 end
    end
  end,
}, grpc_transport.new, { sleep = function(s)
  paused = paused + s
  return sleep(s)
end }))

local function wait_until(t)
  local d = t - core.time()
  if d > 0 then core.sleep(d) end
end

-- Warmed up before the batch, as a long-running host is, unless cold: the first call learns
-- the identity (with Redis, one host asks for all of them and books its requests before the
-- others take a token).
if not cold then assert(client:get_current_identity()) end
wait_until(start_at)

local started = core.time()
for i = 1, n do
  local req = { spec = {
    email = string.format("%s-%d@example.com", name, i), access = { account_access = { role = "ROLE_READ" } } } }
  local resp, err = client:create_user(req)
  if not resp then
    failed = failed + 1
    io.stderr:write(name, ": failed: ", tostring(err), "\n")
  end
end
local ended = core.time()
client:close()
io.write(string.format("done attempts=%d rejected=%d failed=%d started=%.6f ended=%.6f unavailable=%d " ..
  "paused=%.6f\n", attempts, rejected, failed, started, ended, unavailable, paused))
