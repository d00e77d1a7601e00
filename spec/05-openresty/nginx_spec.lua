-- cloudops.openresty in a real nginx with lua-nginx-module: the example endpoint of
-- examples/openresty against a spawned emulator, a slow upstream call that must not stall the
-- worker, and the shared limiter keeping a burst over two workers under the emulator's limit.
-- Pending only when nginx or lua-nginx-module is not installed.
local helpers = require "helpers"
local S = require "05-openresty.support"
local cjson = require "cjson"
local socket = require "socket"
local core = require "cloudops.core"
local emulator = require "cloudops.emulator"

local env, missing = S.find()

if not env then
  describe("cloudops.openresty in nginx", function()
    it("needs nginx and lua-nginx-module", function() pending(missing) end)
  end)
  return
end

-- The emulator and nginx of one describe block; stopped in teardown, also when a test fails.
local function start(emu_opts, nginx_opts)
  assert(helpers.read_file(S.LUAJIT_CORE),
    "nginx loads the LuaJIT build of the core: run `make LUA=luajit` first (" .. S.LUAJIT_CORE .. ")")
  local t = { reqlog = helpers.tmpdir() .. "/requests.log" }
  emu_opts.log = t.reqlog
  t.emu = assert(emulator.spawn(emu_opts))
  local ok, err = pcall(function()
    nginx_opts.endpoint, nginx_opts.api_key = t.emu.endpoint, t.emu.api_key
    t.nginx = S.start_nginx(env, nginx_opts)
  end)
  if not ok then t.emu.stop() error(err, 0) end
  function t.stop()
    t.nginx.stop()
    t.emu.stop()
    helpers.cleanup()
  end
  return t
end

-- Lines of nginx's error log that say something went wrong.
local function bad_log_lines(log)
  local bad = {}
  for line in log:gmatch("[^\n]+") do
    if line:find("%[alert%]") or line:find("%[emerg%]") or line:find("%[crit%]") or
       line:find("%[error%]") or line:find("exited on signal") then
      bad[#bad + 1] = line
    end
  end
  return table.concat(bad, "\n")
end

describe("examples/openresty, one worker", function()
  local t
  lazy_setup(function()
    t = start({ seed = { namespaces = 3 }, op_duration = 0.3, op_pending = 0.05,
                faults = { { method = "GetNamespaces", code = "UNAVAILABLE", times = 1 } } },
              { workers = 1, threads = 4,
                rate_limit = '{ shared = "cloudops_limit", rate = 50, burst = 50 }' })
  end)
  lazy_teardown(function()
    if t then t.stop() end
  end)

  it("GET /namespaces lists them as JSON, retrying an UNAVAILABLE from the request", function()
    local status, headers, body = S.request(t.nginx.port, "GET", "/namespaces")
    assert.equal(200, status, body)
    assert.matches("application/json", headers["content-type"], 1, true)
    -- the emulator's fault failed the first attempt; the client retried it, pausing with
    -- ngx.sleep in the request, each attempt a hop into the pool
    assert.equal("2", headers["x-cloudops-attempts"])
    local doc = cjson.decode(body)
    assert.equal(3, #doc.namespaces)
    local ns = doc.namespaces[1]
    assert.matches("^seed%-ns%-001%.", ns.namespace)
    assert.equal("RESOURCE_STATE_ACTIVE", ns.state)
    assert.equal("aws-us-east-1", ns.regions[1])
    assert.is_number(ns.retention_days)
    assert.matches("^%d%d%d%d%-%d%d%-%d%dT", ns.created)
  end)

  it("POST /namespaces creates one and returns its operation id", function()
    local status, _, body = S.request(t.nginx.port, "POST", "/namespaces",
      cjson.encode { name = "from-nginx", regions = { "aws-us-east-1" }, retention_days = 7 })
    assert.equal(202, status, body)
    local doc = cjson.decode(body)
    assert.is_string(doc.operation_id)
    assert.is_true(#doc.operation_id > 0)
    assert.matches("^from%-nginx%.", doc.namespace)
    -- and it is there
    local _, _, list = S.request(t.nginx.port, "GET", "/namespaces")
    assert.matches('"namespace":"' .. doc.namespace:gsub("%p", "%%%0") .. '"', list)
  end)

  it("POST /namespaces?wait=1 waits for the operation from the request (ngx.sleep between polls)", function()
    local t0 = core.now()
    local status, _, body = S.request(t.nginx.port, "POST", "/namespaces?wait=1",
      cjson.encode { name = "waited", regions = { "aws-us-east-1" }, retention_days = 3 })
    assert.equal(201, status, body)
    local doc = cjson.decode(body)
    assert.equal("STATE_FULFILLED", doc.state)
    assert.is_string(doc.operation_id)
    assert.is_true(core.now() - t0 >= 0.25, "the operation takes 0.3 s in the emulator")
  end)

  it("answers a failed call with the status of its code", function()
    local body = cjson.encode { name = "twice", regions = { "aws-us-east-1" }, retention_days = 3 }
    assert.equal(202, (S.request(t.nginx.port, "POST", "/namespaces", body)))
    local status, _, answer = S.request(t.nginx.port, "POST", "/namespaces", body)
    assert.equal(409, status, answer)
    local doc = cjson.decode(answer)
    assert.equal("ALREADY_EXISTS", doc.error)
    -- the error was rebuilt on the request side: its __tostring names method and code
    assert.matches("CreateNamespace: ALREADY_EXISTS (6)", doc.message, 1, true)
  end)

  it("refuses a body that does not fit the schema (raised in the request) and other methods", function()
    local status, _, body = S.request(t.nginx.port, "POST", "/namespaces", '{"name": 5, "regions": "x"}')
    assert.equal(400, status, body)
    assert.matches("expected", cjson.decode(body).message)
    status = S.request(t.nginx.port, "POST", "/namespaces", "not json")
    assert.equal(400, status)
    status = S.request(t.nginx.port, "DELETE", "/namespaces")
    assert.equal(405, status)
  end)

  it("loaded in init_by_lua, does not start gRPC in the master, and the workers keep working", function()
    -- grpc_init starts threads; the master must still have its one thread, else the
    -- workers would have forked from an initialised gRPC
    assert.equal(1, S.threads(t.nginx.pid))
    local workers = t.nginx.workers()
    assert.equal(1, #workers)
    -- the worker has the pool's threads, and gRPC's, by now
    assert.is_true(S.threads(workers[1]) > 4)
    assert.equal("", bad_log_lines(t.nginx.log()))
  end)
end)

describe("cloudops.openresty, one worker and a slow upstream call", function()
  local t
  lazy_setup(function()
    -- the first GetNamespaces is answered after 2 s (a timer in the emulator's loop)
    t = start({ seed = { namespaces = 2 }, faults = { { method = "GetNamespaces", delay = 2, times = 1 } } },
              { workers = 1, threads = 4, rate_limit = "false" })
  end)
  lazy_teardown(function()
    if t then t.stop() end
  end)

  it("keeps answering other requests meanwhile", function()
    local port = t.nginx.port
    local t0 = core.now()
    local slow = S.send(port, "GET", "/namespaces")
    finally(function() slow:close() end)
    -- the slow call reaches the emulator (and takes the delay) before the others: its line is
    -- in the request log once the emulator holds its answer back
    assert.is_true(helpers.eventually(function()
      return (helpers.read_file(t.reqlog) or ""):find("GetNamespaces OK [%d.]+ms .* delayed=2%.000s") ~= nil
    end, 10), "the slow call did not reach the emulator")
    local s1, _, b1 = S.request(port, "GET", "/namespaces")
    local s2 = S.request(port, "GET", "/health")
    local s3, _, b3 = S.request(port, "POST", "/namespaces",
      cjson.encode { name = "meanwhile", regions = { "aws-us-east-1" }, retention_days = 1 })
    local fast_done = core.now()
    local s0, _, b0 = S.receive(slow)
    local slow_done = core.now()
    assert.equal(200, s1, b1)
    assert.equal(200, s2)
    assert.equal(202, s3, b3)
    assert.equal(200, s0, b0)
    assert.equal(2, #cjson.decode(b0).namespaces)
    assert.is_true(slow_done - t0 >= 1.9, ("the slow one took %.2f s"):format(slow_done - t0))
    assert.is_true(fast_done < slow_done)
    -- on the emulator's clock: the other two calls reached it while it held the slow answer
    local held_until, during = nil, 0
    for _, e in ipairs(helpers.served(t.reqlog)) do
      if e.held then
        held_until = e.at + e.held
      elseif held_until and e.at < held_until then
        during = during + 1
      end
    end
    assert.equal(2, during)
  end)
end)

describe("cloudops.openresty, client:map in one pool thread", function()
  local t
  local LATENCY, NAMES = 1, 8
  lazy_setup(function()
    -- every answer 1 s away: eight creations one after another would take 8 s
    t = start({ latency = LATENCY, op_duration = 0.1, op_pending = 0.01 },
              { workers = 1, threads = 2, rate_limit = '{ shared = "cloudops_limit", rate = 50, burst = 50 }' })
  end)
  lazy_teardown(function()
    if t then t.stop() end
  end)

  it("POST /namespaces/batch creates them side by side, and the worker keeps answering", function()
    local port = t.nginx.port
    local names = {}
    for i = 1, NAMES do names[i] = "batch-" .. i end
    -- warmed up: the pool thread's client is connected and knows the limiter
    assert.equal(200, (S.request(port, "GET", "/namespaces")))
    local pending = S.send(port, "POST", "/namespaces/batch",
      cjson.encode { names = names, regions = { "aws-us-east-1" }, retention_days = 1 })
    finally(function() pending:close() end)
    local hs = S.request(port, "GET", "/health")
    -- /health was answered while the batch (a second at the least) was still unanswered: a
    -- worker blocked by the batch would have written the batch's answer first
    local batch_answered = #(socket.select({ pending }, nil, 0)) > 0
    local status, _, body = S.receive(pending)
    assert.equal(200, status, body)
    assert.equal(200, hs)
    local doc = cjson.decode(body).namespaces
    assert.equal(NAMES, #doc)
    for i, n in ipairs(doc) do
      assert.equal(names[i], n.name)
      assert.matches("^batch%-" .. i .. "%.", n.namespace)
      assert.is_string(n.operation_id)
    end
    -- side by side: on the emulator's clock, all eight reached it before the first answer went out
    local together, n, why = helpers.all_in_flight(t.reqlog, "CreateNamespace")
    assert.equal(NAMES, n)
    assert.is_true(together, why)
    assert.is_false(batch_answered, "the worker answered /health only once the batch was done")
    -- a mistake in one request is that request's error, not the batch's
    local s2, _, b2 = S.request(port, "POST", "/namespaces/batch",
      cjson.encode { names = { "ok-name", "1bad" }, regions = { "aws-us-east-1" }, retention_days = 1 })
    assert.equal(200, s2, b2)
    local d2 = cjson.decode(b2).namespaces
    assert.is_string(d2[1].operation_id)
    assert.equal("INVALID_ARGUMENT", d2[2].error)
    assert.equal("", bad_log_lines(t.nginx.log()))
  end)
end)

-- Sends n GET /namespaces at once; returns the answers, the set of workers that answered,
-- and the seconds it took.
local function burst(port, n)
  local t0 = core.now()
  local socks = {}
  for i = 1, n do socks[i] = S.send(port, "GET", "/namespaces") end
  local answers, pids = {}, {}
  for i = 1, n do
    local status, headers, body = S.receive(socks[i])
    answers[i] = { status = status, body = body }
    pids[headers["x-worker-pid"] or "?"] = true
  end
  return answers, pids, core.now() - t0
end

local function count(set)
  local n = 0
  for _ in pairs(set) do n = n + 1 end
  return n
end

-- The emulator's limit, and the workers' (a tenth under it: a request's hop from the bucket to
-- the emulator, through a pool thread, is seldom as quick on a busy machine as the one before).
local N, RATE, WORKERS_RATE = 30, 10, 9

describe("cloudops.openresty, two workers, rate_limit.shared", function()
  local t
  lazy_setup(function()
    -- the emulator allows the owner (a user) 10 requests/s, in bursts of 10
    t = start({ seed = { namespaces = 2 }, rate_limits = { user = RATE, account = 4 * RATE } },
              { workers = 2, threads = 4,
                rate_limit = ('{ shared = "cloudops_limit", rate = %d, burst = %d }'):format(WORKERS_RATE,
                                                                                              WORKERS_RATE) })
  end)
  lazy_teardown(function()
    if t then t.stop() end
  end)

  it("keeps a burst spread over both workers under the emulator's limit: no RESOURCE_EXHAUSTED", function()
    local answers, pids, elapsed = burst(t.nginx.port, N)
    for i, a in ipairs(answers) do assert.equal(200, a.status, "request " .. i .. ": " .. tostring(a.body)) end
    assert.equal(2, count(pids), "both workers answered some of the requests")
    local by_code, by_method = S.log_counts(t.reqlog)
    assert.equal(0, by_code.RESOURCE_EXHAUSTED or 0)
    assert.equal(N, by_method.GetNamespaces)
    -- the limiter did pace them: 30 requests at 9/s after a burst of 9 take 2.3 s at the least
    -- (that it waits no longer than its schedule is the bucket contract's, in fake time:
    -- dict_bucket_spec.lua)
    assert.is_true(elapsed >= (N - WORKERS_RATE) / WORKERS_RATE - 0.2, ("the burst took %.2f s"):format(elapsed))
  end)
end)

describe("cloudops.openresty, two workers, without rate_limit.shared (the control)", function()
  local t
  lazy_setup(function()
    t = start({ seed = { namespaces = 2 }, rate_limits = { user = RATE, account = 4 * RATE } },
              { workers = 2, threads = 4,
                rate_limit = ('{ rate = %d, burst = %d }'):format(WORKERS_RATE, WORKERS_RATE) })
  end)
  lazy_teardown(function()
    if t then t.stop() end
  end)

  it("the same burst meets RESOURCE_EXHAUSTED: a bucket per worker is no account limit", function()
    local answers, pids = burst(t.nginx.port, N)
    -- the client's retries get most through; within the example's budget (3 attempts) some
    -- are answered 429
    for i, a in ipairs(answers) do
      assert.is_true(a.status == 200 or a.status == 429, "request " .. i .. ": " .. tostring(a.body))
    end
    assert.equal(2, count(pids))
    local by_code = S.log_counts(t.reqlog)
    assert.is_true((by_code.RESOURCE_EXHAUSTED or 0) > 0, "the emulator rejected none: the check above proves nothing")
  end)
end)

describe("examples/openresty with the Cloud Ops API failing", function()
  local t
  lazy_setup(function()
    t = start({ faults = { { method = "GetNamespaces", code = "UNAVAILABLE", times = math.huge } } },
              { workers = 1, threads = 2, rate_limit = "false" })
  end)
  lazy_teardown(function()
    if t then t.stop() end
  end)

  it("answers 503 within the example's budget (3 attempts, 10 s), not the library's 120 s", function()
    local t0 = core.now()
    local status, _, body = S.request(t.nginx.port, "GET", "/namespaces")
    local took = core.now() - t0
    assert.equal(503, status, body)
    local doc = cjson.decode(body)
    assert.equal("UNAVAILABLE", doc.error)
    assert.matches("[after 3 attempts]", doc.message, 1, true)
    -- within the example's 10 s, far from the library's 120 s (only the time tells them apart)
    assert.is_true(took < 10 + 2, ("the request took %.1f s"):format(took))
    local _, by_method = S.log_counts(t.reqlog)
    assert.equal(3, by_method.GetNamespaces)
  end)
end)
