--- cloudops.openresty: the Cloud Ops client in nginx (lua-nginx-module, OpenResty) without
-- blocking a worker's event loop.
--
-- A gRPC call blocks the thread that makes it, and a blocked nginx worker answers nobody. So
-- every call runs in an nginx thread pool, through ngx.run_worker_thread: the request's
-- coroutine yields, the worker goes on serving other requests, and the call's answer resumes
-- it. Retries and rate-limit waits inside the call happen in the pool thread and sleep through
-- the C core (those VMs have no ngx.sleep); the helpers' own waits (wait's polling, update's
-- loop, paging) run in the request and sleep with ngx.sleep, holding no pool thread.
--
--   # nginx.conf
--   thread_pool cloudops threads=8;          # main context; the pool's name is `pool` below
--   env TEMPORAL_CLOUD_API_KEY;              # if the key comes from the environment
--   http {
--     lua_shared_dict cloudops_limit 64k;    # for rate_limit.shared (optional)
--     init_by_lua_block { require "cloudops.openresty" }  -- optional preload: never connects
--     server { location = /namespaces { content_by_lua_block {
--       local openresty = require "cloudops.openresty"
--       local co = openresty.connect{ endpoint = "saas-api.tmprl.cloud:443",
--         rate_limit = { shared = "cloudops_limit", rate = 10 } }  -- once per worker is enough
--       local resp, err = co:get_namespaces{ page_size = 10 }
--       ...
--
-- openresty.connect(opts) -> client | nil, err
--   opts: cloudops.connect's options (API.md), plus `pool` (the thread_pool's name, default
--   "cloudops"). They must be plain values (strings, numbers, booleans, tables of those): they
--   are copied into the pool threads, where each VM keeps one real client per distinct set of
--   options (their canonical text is the cache key), made at its first call there and
--   reused after. Two exceptions run on the request side: `api_key` may be a function, called
--   once per call (not per attempt) in the request, its result passed to the thread; and
--   `on_event` is called in the request, after the call, once per attempt made in the thread.
--   connect makes no channel and may run anywhere (init_by_lua, init_worker_by_lua, module
--   level). It checks `pool`, `retry`, `timeout`, `api_key`, `on_event` and that the rest is
--   plain; cloudops.connect checks the rest in the thread at the first call, and a bad option
--   then makes every call return that INVALID_OPTION error.
--
-- The client has the methods of a cloudops client (API.md "Calls" and "Helpers"):
-- client:call(method, req, opts), client:<snake_case>(req, opts), paginate, pages, wait,
-- update, close (a no-op: the real clients live in the pool threads, for the worker's life).
-- They may be called where ngx.run_worker_thread may: rewrite, access and content handlers
-- and ngx.timer callbacks (lua-nginx-module 0.10.23, on Linux). Requests, options and answers cross as plain values; errors are rebuilt as the
-- usual error values (a table with __tostring). A call's mistakes (unknown method, a request
-- that does not fit the schema, bad call options) raise in the request, at the caller's line.
-- A failed hop into the pool (no thread_pool by that name, its queue full) is an error named
-- WORKER_THREAD, without a gRPC code.
--
-- Rate limits: `rate_limit = { shared = "dict", rate =, burst = }` is one bucket for every
-- worker and pool thread (cloudops.shared_limit). ngx.shared is reachable in the pool
-- threads, so the token is taken there, before each attempt, retries included; its wait
-- holds that pool thread (size the pool for it: threads >= the calls you want in flight).
-- A plain `rate_limit = N` would be a bucket per pool-thread VM, which no account limit is.
--
-- Calls in flight: lua-nginx-module binds a VM to a call when it is posted (while it waits
-- for a pool thread too), and a worker has lua_worker_thread_vm_pool_size VMs (default 10).
-- A call that finds none free waits for one here, in the request (ngx.sleep, within the
-- call's time budget: retry.max_elapsed, or timeout without retries). Each VM keeps its own
-- clients, so one VM per pool thread is the natural size; more only queue in the pool, each
-- with one more channel.
--
-- gRPC is initialised by the first channel (src/grpc_util.c), in the pool thread of a worker:
-- never in the master, so loading this module in init_by_lua is safe (the nginx spec checks
-- that the master keeps a single thread and the workers answer).
local client = require "cloudops.client"
local core = require "cloudops.core"
local errors = require "cloudops.errors"
local retry = require "cloudops.retry"
local schema = require "cloudops.schema"
local sleep = require "cloudops.sleep"
local secrets = require "cloudops.secrets"
local plain = require "cloudops.openresty.plain"
local paging = require "cloudops.paging"
local redis_openresty = require "cloudops.redis.openresty"

local type, pairs, ipairs, pcall, error, tostring, setmetatable, rawget, next =
  type, pairs, ipairs, pcall, error, tostring, setmetatable, rawget, next
local encode, now = core.encode, core.now
local min = math.min
local Client = client.Client

local MODULE = "cloudops.openresty"
local DEFAULT_POOL = "cloudops"
-- Clients kept per pool-thread VM: one per distinct settings; more means the settings vary
-- per request (a key per tenant, say), and the least recently used channel is closed.
local MAX_CLIENTS = 8
-- What ngx.run_worker_thread says when every VM of the worker is taken (lua-nginx-module
-- binds a VM to a task when it is posted, not when a pool thread runs it), and the pauses
-- between tries then: short first (VMs free up as fast as calls end), at most 50 ms.
local NO_VM = "no available Lua vm"
local FIRST_PAUSE, MAX_PAUSE = 0.002, 0.05

local openresty = { DEFAULT_POOL = DEFAULT_POOL, MAX_CLIENTS = MAX_CLIENTS }

-- ---- the request side ----------------------------------------------------------------------

local Proxy = {}
Proxy.__index = Proxy

local function bad(message)
  return nil, errors.new("INVALID_OPTION", message)
end

--- openresty.connect(opts): see the top of this file.
function openresty.connect(opts)
  opts = opts or {}
  if type(opts) ~= "table" then return bad("connect expects a table of options") end
  local pool = opts.pool or DEFAULT_POOL
  if type(pool) ~= "string" or pool == "" then return bad("pool must be the name of a thread_pool") end
  local on_event, api_key = opts.on_event, opts.api_key
  if on_event ~= nil and type(on_event) ~= "function" then return bad("on_event must be a function") end
  if api_key ~= nil and type(api_key) ~= "string" and type(api_key) ~= "function" then
    return bad("api_key must be a string or a function returning one")
  end
  if opts.timeout ~= nil and (type(opts.timeout) ~= "number" or not (opts.timeout > 0)) then
    return bad("timeout must be a positive number")
  end
  local policy, perr = retry.policy(opts.retry)
  if policy == nil then return bad(perr) end
  -- A Redis-shared limit is taken in the request, over cosockets (cloudops.redis.openresty).
  local shared_rl, rerr = redis_openresty.configure(opts.rate_limit)
  if rerr then return bad(rerr) end
  -- What crosses into the threads: the options but those handled here.
  local config = {}
  for k, v in pairs(opts) do config[k] = v end
  config.pool, config.on_event = nil, nil
  if shared_rl then config.rate_limit = false end
  if type(api_key) == "function" then config.api_key = nil end
  local ok, why = plain.check(config, "options")
  if not ok then return bad(why) end
  -- A key function's clients differ from the environment's (api_key absent) ones.
  local key = plain.key(config) .. (type(api_key) == "function" and "+key function" or "")
  -- A map runs in one pool thread with a client of its own there, which takes its tokens
  -- itself: from the Redis bucket too (over lua-socket, in the thread), so it keeps the
  -- rate_limit as given.
  local map_config, map_key = config, key
  if shared_rl then
    map_config = {}
    for k, v in pairs(config) do map_config[k] = v end
    map_config.rate_limit = opts.rate_limit
    map_key = plain.key(map_config) .. (type(api_key) == "function" and "+key function" or "")
  end
  local proxy = setmetatable({
    endpoint = opts.endpoint or "saas-api.tmprl.cloud:443",
    _pool = pool,
    _dynamic_key = type(api_key) == "function",
    _on_event = on_event,
    -- What the shared helpers (paging, wait, update) and Client._settings read.
    _retry = policy,
    _timeout = opts.timeout or 30,
    _limiter = false,
    _auto_id = opts.auto_operation_id ~= false,
    _clock = core.now,
    _sleep = sleep,
    _redis = shared_rl,
  }, Proxy)
  -- The key, and the config and cache key that hold it, are kept out of the proxy's fields.
  secrets.set(proxy, { key = api_key, config = config, cache_key = key, map_config = map_config,
                       map_cache_key = map_key, headers = {} })
  return proxy
end

--- Validates call options as the client does: true, or nil, message.
function Proxy:_check_options(opts)
  local s, err = Client._settings(self, opts)
  return s ~= nil, err
end

local function run_worker_thread()
  local ngx = rawget(_G, "ngx")
  local run = type(ngx) == "table" and ngx.run_worker_thread
  if not run then
    error("cloudops.openresty: ngx.run_worker_thread is not available here (it needs " ..
      "lua-nginx-module with thread support, on Linux, in a rewrite, access or content handler " ..
      "or a timer)", 3)
  end
  return run
end

-- Posts a task to the pool, waiting (ngx.sleep) for a free VM of the worker within `budget`
-- seconds: true, out or false, the error text.
local function post(self, budget, ...)
  local run = run_worker_thread()
  local deadline, pause = now() + budget, FIRST_PAUSE
  while true do
    local ok, out = run(self._pool, MODULE, ...)
    if ok or out ~= NO_VM or now() + pause > deadline then return ok, out end
    -- Every VM of the worker (lua_worker_thread_vm_pool_size) is running or queued for a
    -- pool thread: wait for one here, with ngx.sleep, within the call's time budget.
    sleep(pause)
    pause = min(pause * 2, MAX_PAUSE)
  end
end

-- One task through the pool for method m, with the API key of this call when the proxy has a
-- key function, within `budget` seconds. Replays the thread's events to on_event and raises
-- what the thread raised (a caller's mistake), at the caller's caller. Returns the thread's
-- plain table, or nil and a WORKER_THREAD error (or the API_KEY error).
local function hop(self, m, budget, fname, cache_key, config, ...)
  local key
  if self._dynamic_key then
    local kerr
    key, kerr = Client._api_key(self)
    if not key then
      kerr.method, kerr.attempts, kerr.retryable = m.name, 0, false
      return nil, kerr
    end
  end
  local ok, out = post(self, budget, fname, cache_key, config, key, m.name, ...)
  if not ok or type(out) ~= "table" then
    return nil, errors.new("WORKER_THREAD", "ngx.run_worker_thread(" .. self._pool .. "): " .. tostring(out),
      { method = m.name, retryable = false, attempts = 0 })
  end
  local on_event = self._on_event
  if on_event and out.events then
    for _, ev in ipairs(out.events) do on_event(ev) end
  end
  if out.raised then error(out.raised, 3) end
  return out
end

-- One call through the pool: method m resolved. Raises (level 2: the user's call site, as the
-- methods tail-call this) only for programming mistakes, as a client does.
local function invoke(self, m, req, opts)
  if req ~= nil and type(req) ~= "table" then
    error(m.name .. ": the request must be a table or nil, got " .. type(req), 2)
  end
  local s, serr = Client._settings(self, opts)
  if not s then error(serr, 2) end
  -- Checked here so that a request that does not fit raises at the caller's line, not as a
  -- message from the thread.
  local fits, why = pcall(encode, m.input, req)
  if not fits then error(why, 2) end
  if self._redis and not (opts and opts.rate_limit == false) then return redis_openresty.call(self, m, req, opts) end
  local hidden = secrets.get(self)
  local out, herr = hop(self, m, s.policy and s.policy.max_elapsed or s.timeout, "thread_call",
    hidden.cache_key, hidden.config, req, opts, self._on_event ~= nil)
  if not out then return nil, herr end
  if out.err then return nil, plain.rebuild(out.err) end
  return out.resp, nil, out.info
end

--- client:call("GetNamespaces", req, opts) -> resp, nil, info | nil, err
function Proxy:call(method, req, opts)
  local m = type(method) == "string" and schema.method(method)
  if not m then error("unknown method '" .. tostring(method) .. "'", 2) end
  return invoke(self, m, req, opts)
end

for _, m in ipairs(schema.methods()) do
  Proxy[m.snake] = function(self, req, opts)
    return invoke(self, m, req, opts)
  end
end

--- client:map(method, requests, map_opts, call_opts): the same call for every request, run
-- concurrently by cloudops.map in one pool thread (its VM cannot run closures of the request's
-- VM, so the method and the plain requests cross, not a function), while the request waits on
-- the thread without blocking the worker. Returns results and errs indexed like requests.
function Proxy:map(method, requests, map_opts, call_opts)
  local m = type(method) == "string" and schema.method(method)
  if not m then error("map: unknown method '" .. tostring(method) .. "'", 2) end
  if type(requests) ~= "table" then error("map: expected a list of requests, got " .. type(requests), 2) end
  local s, serr = Client._settings(self, call_opts)
  if not s then error("map: " .. serr, 2) end
  for i = 1, #requests do
    local fits, why = pcall(encode, m.input, requests[i])
    if not fits then error("map: requests[" .. i .. "]: " .. tostring(why), 2) end
  end
  local mok, merr = plain.check(map_opts, "map options")
  if not mok then error("map: " .. merr, 2) end
  local hidden = secrets.get(self)
  local out, herr = hop(self, m, s.policy and s.policy.max_elapsed or s.timeout, "thread_map",
    hidden.map_cache_key, hidden.map_config, requests, map_opts, call_opts, self._on_event ~= nil)
  local errs = {}
  for i = 1, #requests do
    local e = out and out.errs[i] or herr -- the hop failed: every request with its error
    if type(e) == "table" and not errors.is(e) then e = plain.rebuild(e) end
    errs[i] = e
  end
  return out and out.results or {}, errs
end

-- The helpers run here, in the request: each RPC they make is one hop, and their pauses are
-- ngx.sleep (cloudops.sleep picks it in a request), so a long wait holds no pool thread.
Proxy.paginate = paging.paginate
Proxy.pages = paging.pages
Proxy.wait = require "cloudops.wait"
Proxy.update = require "cloudops.update"

function Proxy:close() end

function Proxy:__tostring()
  return "cloudops openresty client (" .. self.endpoint .. ", thread pool " .. self._pool .. ")"
end

-- ---- the pool-thread side ------------------------------------------------------------------
-- Runs in the pool threads' VMs. A VM runs one task at a time, so the per-call state below
-- (the key of this call, the events it collects) is never shared by two calls.

local clients = {}        -- cache key -> client
local recent = {}         -- cache keys, most recently used last
local call_key = nil      -- the API key of the running call, for clients with a key function
local call_events = nil   -- the events of the running call, when the request wants them

local function touch(key)
  for i = #recent, 1, -1 do
    if recent[i] == key then table.remove(recent, i) break end
  end
  recent[#recent + 1] = key
end

local function thread_client(key, config, dynamic)
  local c = clients[key]
  if c then
    touch(key)
    return c
  end
  local o = {}
  for k, v in pairs(config) do o[k] = v end
  o.on_event = function(ev)
    if call_events then call_events[#call_events + 1] = ev end
  end
  if dynamic then o.api_key = function() return call_key end end
  local err
  c, err = client.connect(o)
  if not c then return nil, err end
  if #recent >= MAX_CLIENTS then
    local old = table.remove(recent, 1)
    clients[old]:close()
    clients[old] = nil
  end
  clients[key] = c
  recent[#recent + 1] = key
  return c
end

-- Runs body(client) in a pool thread with this VM's client for these settings, the call's
-- key and its events collected; body returns the plain table to send back. A raise (a
-- caller's mistake) comes back as { raised = message }, a client that could not be made as
-- failed(plain error).
local function in_thread(cache_key, config, api_key, want_events, body, failed)
  call_key, call_events = api_key, want_events and {} or nil
  local out
  local c, cerr = thread_client(cache_key, config, api_key ~= nil)
  if not c then
    out = failed(plain.error(cerr))
  else
    local ok, res = pcall(body, c)
    out = ok and res or { raised = tostring(res) }
  end
  out.events = call_events
  call_key, call_events = nil, nil
  return out
end

--- The task run by ngx.run_worker_thread (not for direct use). Returns one plain table:
-- { resp =, info = } or { err = } or { raised = message }, with `events` when asked for.
function openresty.thread_call(cache_key, config, api_key, method, req, opts, want_events)
  return in_thread(cache_key, config, api_key, want_events, function(c)
    local resp, err, info = c:call(method, req, opts)
    if resp then return { resp = resp, info = info } end
    return { err = plain.error(err) }
  end, function(err) return { err = err } end)
end

--- The task of Proxy:map (not for direct use): cloudops.map over the requests, with this VM's
-- client. Returns { results =, errs = (plain errors) } or { raised = message }, with `events`.
function openresty.thread_map(cache_key, config, api_key, method, requests, map_opts, call_opts, want_events)
  return in_thread(cache_key, config, api_key, want_events, function(c)
    local results, errs = c:map(method, requests, map_opts, call_opts)
    for i = 1, #requests do
      if errs[i] ~= nil then errs[i] = errors.is(errs[i]) and plain.error(errs[i]) or tostring(errs[i]) end
    end
    return { results = results, errs = errs }
  end, function(err)
    local errs = {}
    for i = 1, #requests do errs[i] = err end
    return { results = {}, errs = errs }
  end)
end

--- How many clients this VM holds (for specs and diagnostics).
function openresty.cached_clients()
  local n = 0
  for _ in next, clients do n = n + 1 end
  return n
end

openresty.Proxy = Proxy
return openresty
