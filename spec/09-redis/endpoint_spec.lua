-- The Redis client under the shared limits (cloudops.redis.resp over lua-socket, and
-- cloudops.redis.endpoint: URLs, EVALSHA with NOSCRIPT, bounded waits) against a real
-- redis-server that the spec starts and stops. Pending only when redis-server is missing.
local helpers = require "helpers"
local S = require "09-redis.support"
local core = require "cloudops.core"
local endpoint = require "cloudops.redis.endpoint"

if not S.find() then
  describe("cloudops.redis endpoint", function()
    it("needs redis-server", function() pending(select(2, S.find())) end)
  end)
  return
end

describe("cloudops.redis.endpoint.parse", function()
  it("reads host, port, database and password", function()
    local w = assert(endpoint.parse("redis://127.0.0.1:6380/2"))
    assert.same({ "127.0.0.1", 6380, 2 }, { w.host, w.port, w.db })
    w = assert(endpoint.parse("redis://:s3cret@cache.internal"))
    assert.same({ "cache.internal", 6379, "s3cret" }, { w.host, w.port, w.password })
    assert.is_nil(w.user)
    w = assert(endpoint.parse("redis://ops:pw@[::1]:7000"))
    assert.same({ "::1", 7000, "ops", "pw" }, { w.host, w.port, w.user, w.password })
  end)

  it("refuses what is not a redis:// URL, saying what to write", function()
    local w, err = endpoint.parse("127.0.0.1:6379")
    assert.is_nil(w)
    assert.matches("redis://host:port", err, 1, true)
    assert.is_nil((endpoint.parse(6379)))
    assert.is_nil((endpoint.parse("redis://")))
  end)
end)

describe("cloudops.redis with a real Redis", function()
  local r
  lazy_setup(function() r = S.start_redis() end)
  lazy_teardown(function()
    if r then r.stop() end
    helpers.cleanup()
  end)

  it("resp: replies of every kind, and an error reply that leaves the connection usable", function()
    local c = S.connect(r.port)
    assert.equal("OK", c:command("SET", "k", "v"))
    assert.equal("v", c:command("GET", "k"))
    assert.is_false(c:command("GET", "absent"))
    assert.equal(3, c:command("RPUSH", "l", "a", "b", "c"))
    assert.same({ "a", "b", "c" }, c:command("LRANGE", "l", 0, -1))
    local v, err = c:command("INCR", "k")
    assert.is_nil(v)
    assert.is_true(err.redis)
    assert.matches("not an integer", err.message)
    assert.equal("PONG", c:command("PING"))
    assert.equal(2, c:command("DEL", "k", "l"))
    c:close()
  end)

  it("runs the script's steps with EVALSHA, and loads the script again after SCRIPT FLUSH", function()
    local ep = endpoint.new(assert(endpoint.parse(r.url)), 1)
    local reply = assert(ep:run({ "spec:{t}:ops" }, "count"))
    assert.equal(0, reply)
    local sha = ep.sha
    assert.matches("^%x+$", sha)
    S.connect(r.port):command("SCRIPT", "FLUSH")
    -- NOSCRIPT: loaded again, and the step still answers
    assert.equal(0, assert(ep:run({ "spec:{t}:ops" }, "count")))
    assert.equal(sha, ep.sha)
    ep:close()
  end)

  it("a refused connection fails at once, as a returned error", function()
    local port = r.port
    local ep = endpoint.new(assert(endpoint.parse("redis://127.0.0.1:" .. (port == 65535 and 1 or port + 1))), 5)
    local t0 = core.now()
    local v, err = ep:run({ "k" }, "count")
    assert.is_nil(v)
    assert.is_string(err)
    -- at once, not after its timeout (5 s): only the time can tell them apart
    assert.is_true(core.now() - t0 < 2.5)
  end)

  it("a Redis that stops answering costs at most the timeout per step", function()
    local ep = endpoint.new(assert(endpoint.parse(r.url)), 0.1)
    assert(ep:run({ "spec:{t}:ops" }, "count"))
    os.execute("kill -STOP " .. r.pid)
    finally(function() os.execute("kill -CONT " .. r.pid) end)
    local t0 = core.now()
    local v, err = ep:run({ "spec:{t}:ops" }, "count")
    local took = core.now() - t0
    os.execute("kill -CONT " .. r.pid)
    assert.is_nil(v)
    assert.matches("timeout", err)
    -- the timeout (0.1 s), not for as long as Redis stays stopped: 10x is the bound (only the
    -- time can tell)
    assert.is_true(took < 1, "waited " .. took .. " s")
    -- a fresh connection once Redis answers again
    assert.equal(0, S.until_true(function() return ep:run({ "spec:{t}:ops" }, "count") end, 5))
  end)

  it("AUTH with the URL's password, and SELECT of its database", function()
    local c = S.connect(r.port)
    assert.equal("OK", c:command("CONFIG", "SET", "requirepass", "pw"))
    local ok, why = pcall(function()
      local bad = endpoint.new(assert(endpoint.parse(r.url)), 1)
      local v, err = bad:run({ "k" }, "count")
      assert.is_nil(v)
      assert.matches("NOAUTH", err)
      local ep = endpoint.new(assert(endpoint.parse("redis://:pw@127.0.0.1:" .. r.port .. "/3")), 1)
      local k = "spec:{t}:ops"
      assert(ep:run({ k }, "acquire", 5, 10e6, "m"))
      assert.equal(1, ep:command("EXISTS", k))
      ep:close()
    end)
    assert.equal("OK", c:command("AUTH", "pw"))
    assert.equal("OK", c:command("SELECT", 3))
    assert.equal(1, c:command("DEL", "spec:{t}:ops"))
    assert.equal("OK", c:command("CONFIG", "SET", "requirepass", ""))
    c:close()
    assert(ok, why)
  end)
end)
