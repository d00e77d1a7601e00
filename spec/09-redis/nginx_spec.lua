-- Two nginx instances (examples/openresty) sharing one rate limit in Redis
-- (`rate_limit = { redis = ... }`): the tokens are taken in the requests over cosockets, and
-- a burst over both instances stays within the emulator's limit for that identity. Pending
-- when nginx, lua-nginx-module, resty.redis (lua-nginx-redis) or redis-server is missing.
local helpers = require "helpers"
local R = require "09-redis.support"
local N = require "05-openresty.support"
local core = require "cloudops.core"
local emulator = require "cloudops.emulator"

local env, missing = N.find()
if env and not R.find() then env, missing = nil, select(2, R.find()) end
if env and not helpers.read_file("/usr/share/lua/5.1/nginx/redis.lua")
   and not helpers.read_file("/usr/share/lua/5.1/resty/redis.lua") then
  env, missing = nil, "resty.redis is not installed (Debian: apt-get install lua-nginx-redis)"
end

if not env then
  describe("two nginx instances sharing a Redis bucket", function()
    it("needs nginx, lua-nginx-module, lua-nginx-redis and redis-server", function() pending(missing) end)
  end)
  return
end

local RATE = 10

describe("two nginx instances sharing a Redis bucket", function()
  local redis, emu, reqlog, a, b
  lazy_setup(function()
    assert(helpers.read_file(N.LUAJIT_CORE), "run `make LUA=luajit` first")
    redis = R.start_redis()
    reqlog = helpers.tmpdir() .. "/requests.log"
    -- the owner's key (a user) is the one the example endpoint uses
    emu = assert(emulator.spawn{ rate_limits = { user = RATE }, seed = { namespaces = 2 }, log = reqlog })
    local rl = string.format('{ redis = "%s", rate = %d }', redis.url, RATE)
    local o = { workers = 1, threads = 4, endpoint = emu.endpoint, api_key = emu.api_key, rate_limit = rl }
    a = N.start_nginx(env, o)
    b = N.start_nginx(env, o)
  end)
  lazy_teardown(function()
    if a then a.stop() end
    if b then b.stop() end
    if emu then emu.stop() end
    if redis then redis.stop() end
    helpers.cleanup()
  end)

  it("keep a burst over both within the identity's limit", function()
    -- Each worker asks the identity (two requests outside the bucket, booked once it is known)
    -- at its first call: one request each first, so that they are booked before the burst.
    for _, inst in ipairs { a, b } do
      local status, _, body = N.request(inst.port, "GET", "/namespaces", nil, 30)
      assert.equal(200, status, body)
    end
    -- 3 * RATE requests at once, half to each instance: more than the emulator's bucket holds
    local socks = {}
    local t0 = core.now()
    for i = 1, 3 * RATE do
      socks[i] = N.send(i % 2 == 0 and a.port or b.port, "GET", "/namespaces", nil, 60)
    end
    local attempts = 0
    for i, c in ipairs(socks) do
      local status, headers, body = N.receive(c)
      assert.equal(200, status, "request " .. i .. ": " .. tostring(body))
      attempts = attempts + tonumber(headers["x-cloudops-attempts"])
    end
    local wall = core.now() - t0
    -- every request was answered at its first attempt: the server refused nothing
    assert.equal(3 * RATE, attempts)
    local by_code = N.log_counts(reqlog)
    assert.is_nil(by_code.RESOURCE_EXHAUSTED)
    -- After the warm-up (six calls) the emulator's bucket holds about RATE - 6 tokens, so the
    -- burst takes about (3 * RATE - 4) / RATE s. Each instance on its own bucket at RATE would
    -- be done in about half a second (and be refused).
    assert.is_true(wall >= 2, "wall " .. wall)
    -- the tokens came from Redis: the identity's bucket is there
    local keys = R.connect(redis.port):command("KEYS", "cloudops:*")
    assert.is_true(#keys >= 2, "keys: " .. table.concat(keys, ", "))
    assert.equal("", (a.log() .. b.log()):match("%[error%][^\n]*") or "")
  end)
end)
