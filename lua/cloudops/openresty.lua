--- cloudops.openresty: the Cloud Ops client in nginx (lua-nginx-module, OpenResty) without
-- blocking a worker's event loop.
--
-- A gRPC call blocks the thread that makes it, and a blocked nginx worker answers nobody. So
-- the OpenResty client is a client (cloudops.client) whose transport is nginx's thread pool
-- (cloudops.openresty.transport): every attempt runs in a pool thread, through
-- ngx.run_worker_thread; the request's coroutine yields, the worker goes on serving other
-- requests, and the answer resumes it. The rest of a call is the client's own attempts loop,
-- run in the request: the rate limit, operation slots, retries, their pauses (ngx.sleep),
-- on_event and the api_key function, exactly as for any client; and the helpers (wait, update,
-- paging) likewise. No pool thread is held while a call waits.
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
--   opts: cloudops.connect's options (docs/reference.md), plus `pool` (the thread_pool's name,
--   default "cloudops"), checked as connect checks them. connect makes no channel and may run
--   anywhere (init_by_lua, init_worker_by_lua, module level): each pool-thread VM opens its
--   channel at its first attempt and keeps it. For client:map, which runs whole in a pool
--   thread with a client of that VM's, the options must be plain values (they cross), except
--   `api_key` (a function is called once per map, in the request) and `on_event` (called in
--   the request, once per attempt the map made).
--
-- The client is a cloudops client (docs/reference.md "Calls" and "Helpers"), with the same
-- methods: call, <snake_case>, map, paginate, pages, wait, update, close (which leaves the pool
-- threads' channels open, for the worker's life). They may be called where
-- ngx.run_worker_thread may: rewrite, access and content handlers and ngx.timer callbacks
-- (lua-nginx-module 0.10.23, on Linux). A failed hop into the pool (no thread_pool by that
-- name, its queue full) is an error named WORKER_THREAD, without a gRPC code.
--
-- Rate limits: they are the request's, as every other part of the call. `rate_limit = {
-- shared = "dict", rate =, burst = }` is one bucket for every worker (cloudops.limit.
-- dict_bucket); `{ redis = ... }` one for every host, over cosockets (cloudops.redis); a plain
-- rate or "auto" a bucket per worker, which no account limit is when there are several.
--
-- Calls in flight: lua-nginx-module binds a VM to a task when it is posted (while it waits
-- for a pool thread too), and a worker has lua_worker_thread_vm_pool_size VMs (default 10).
-- An attempt that finds none free waits for one here, in the request (ngx.sleep, within the
-- attempt's timeout). Each VM keeps its own channels, so one VM per pool thread is the
-- natural size.
--
-- gRPC is initialised by the first channel (src/grpc_util.c), in the pool thread of a worker:
-- never in the master, so loading this module in init_by_lua is safe (the nginx spec checks
-- that the master keeps a single thread and the workers answer).
local client = require "cloudops.client"
local core = require "cloudops.core"
local codes = require "cloudops.codes"
local errors = require "cloudops.errors"
local schema = require "cloudops.schema"
local secrets = require "cloudops.secrets"
local internal = require "cloudops.client.internal"
local plain = require "cloudops.openresty.plain"
local transport = require "cloudops.openresty.transport"

local type, pairs, ipairs, pcall, error, tostring, next =
  type, pairs, ipairs, pcall, error, tostring, next
local encode = core.encode

local DEFAULT_POOL = "cloudops"
-- Clients and channels kept per pool-thread VM: one per distinct settings; more means the
-- settings vary per request (a key per tenant, say), and the least recently used is closed.
local MAX_CLIENTS = 8

local openresty = { DEFAULT_POOL = DEFAULT_POOL, MAX_CLIENTS = MAX_CLIENTS }

-- ---- the request side ----------------------------------------------------------------------

local function bad(message)
  return nil, errors.new("INVALID_OPTION", message)
end

local OpenRestyClient

--- openresty.connect(opts): see the top of this file. env: for specs (client.new's).
function openresty.connect(opts, env)
  opts = opts or {}
  if type(opts) ~= "table" then return bad("connect expects a table of options") end
  local pool = opts.pool or DEFAULT_POOL
  if type(pool) ~= "string" or pool == "" then return bad("pool must be the name of a thread_pool") end
  -- o: the client's options (but pool); config: what crosses into a pool thread for
  -- client:map, the options but those handled here (on_event, an api_key function)
  local o, config = {}, {}
  for k, v in pairs(opts) do
    if k ~= "pool" then
      o[k] = v
      if k ~= "on_event" and not (k == "api_key" and type(v) == "function") then config[k] = v end
    end
  end
  local ok, why = plain.check(config, "options")
  if not ok then return bad(why) end
  local e = { class = OpenRestyClient }
  for k, v in pairs(env or {}) do e[k] = v end
  local c, err = client.new(o, function(endpoint, channel_options)
    return transport.new(pool, endpoint, channel_options)
  end, e)
  if not c then return nil, err end
  c.pool = pool
  -- The config (and the cache key made from it) hold the key: kept with the client's secrets.
  local hidden = secrets.get(c)
  hidden.map_config = config
  hidden.map_cache_key = plain.key(config) .. (type(o.api_key) == "function" and "+key function" or "")
  return c
end

--- client:map(method, requests, map_opts, call_opts): the same call for every request, run
-- concurrently by cloudops.map in one pool thread (its VM cannot run closures of the request's
-- VM, so the method and the plain requests cross, not a function), while the request waits on
-- the thread without blocking the worker. Returns results and errs indexed like requests.
local function map(self, method, requests, map_opts, call_opts)
  local m = type(method) == "string" and schema.method(method)
  if not m then error("map: unknown method '" .. tostring(method) .. "'", 2) end
  if type(requests) ~= "table" then error("map: expected a list of requests, got " .. type(requests), 2) end
  local house = internal.of(self)
  local ok, serr = house.check_options(call_opts)
  if not ok then error("map: " .. serr, 2) end
  for i = 1, #requests do
    local fits, why = pcall(encode, m.input, requests[i])
    if not fits then error("map: requests[" .. i .. "]: " .. tostring(why), 2) end
  end
  local mok, merr = plain.check(map_opts, "map options")
  if not mok then error("map: " .. merr, 2) end
  local hidden = secrets.get(self)
  local function every(e)
    local errs = {}
    for i = 1, #requests do errs[i] = e end
    return {}, errs
  end
  local key
  if type(hidden.key) == "function" then -- asked here, once for the whole map, as an attempt asks
    local kerr
    key, kerr = house.api_key()
    if not key then
      kerr.method, kerr.attempts, kerr.retryable = m.name, 0, false
      return every(kerr)
    end
  end
  local budget = house.retry and house.retry.max_elapsed or house.timeout
  local on_event = house.on_event
  local hok, out = transport.post(self.pool, budget, "thread_map", hidden.map_cache_key, hidden.map_config, key,
    m.name, requests, map_opts, call_opts, on_event ~= nil)
  if not hok or type(out) ~= "table" then return every(transport.hop_error(self.pool, m.name, out)) end
  if on_event and out.events then
    for _, ev in ipairs(out.events) do on_event(ev) end
  end
  if out.raised then error(out.raised, 2) end
  local errs = {}
  for i = 1, #requests do
    local e = out.errs[i]
    if type(e) == "table" and not errors.is(e) then e = plain.rebuild(e) end
    errs[i] = e
  end
  return out.results, errs
end

OpenRestyClient = client.subclass {
  map = map,
  __tostring = function(self)
    return "cloudops openresty client (" .. self.endpoint .. ", thread pool " .. self.pool .. ")"
  end,
}

-- ---- the pool-thread side ------------------------------------------------------------------
-- Runs in the pool threads' VMs. A VM runs one task at a time, so the per-task state below
-- (the key of this map, the events it collects) is never shared by two tasks.

local channels = {}       -- cache key -> channel (thread_attempt)
local channel_keys = {}   -- their keys, most recently used last
local clients = {}        -- cache key -> client (thread_map)
local client_keys = {}
local call_key = nil      -- the API key of the running map, for clients with a key function
local call_events = nil   -- the events of the running map, when the request wants them

-- The entry of `cache` for key (made by make() when absent), the least recently used one
-- closed past MAX_CLIENTS.
local function cached(cache, keys, key, make)
  local v = cache[key]
  if v then
    for i = #keys, 1, -1 do
      if keys[i] == key then table.remove(keys, i) break end
    end
    keys[#keys + 1] = key
    return v
  end
  local err
  v, err = make()
  if not v then return nil, err end
  if #keys >= MAX_CLIENTS then
    local old = table.remove(keys, 1)
    cache[old]:close()
    cache[old] = nil
  end
  cache[key], keys[#keys + 1] = v, key
  return v
end

--- The task of one attempt (cloudops.openresty.transport; not for direct use): the call on
-- this VM's channel to endpoint, within `timeout` seconds and by `deadline` (core.now's
-- clock, which every thread of the process shares: the time the attempt waited for a free VM
-- is its own). Returns { resp =, code =, message =, headers =, trailers = }.
function openresty.thread_attempt(cache_key, endpoint, channel_options, index, payload, timeout, headers, deadline)
  local left = deadline and deadline - core.now()
  if left and left <= 0 then
    return { code = codes.DEADLINE_EXCEEDED, message = "the attempt's time went by while it waited for a free Lua VM" }
  end
  if left and left < timeout then timeout = left end
  local ch = cached(channels, channel_keys, cache_key, function()
    return core.channel(endpoint, channel_options)
  end)
  local resp, code, message, h, t = ch:call(index, payload, timeout, headers)
  return { resp = resp, code = code, message = message, headers = h, trailers = t }
end

local function thread_client(key, config, dynamic)
  return cached(clients, client_keys, key, function()
    local o = {}
    for k, v in pairs(config) do o[k] = v end
    o.on_event = function(ev)
      if call_events then call_events[#call_events + 1] = ev end
    end
    if dynamic then o.api_key = function() return call_key end end
    return client.connect(o)
  end)
end

--- The task of client:map (not for direct use): cloudops.map over the requests, with this VM's
-- client for these settings. Returns { results =, errs = (plain errors) } or { raised =
-- message }, with `events` when asked for.
function openresty.thread_map(cache_key, config, api_key, method, requests, map_opts, call_opts, want_events)
  call_key, call_events = api_key, want_events and {} or nil
  local out
  local c, cerr = thread_client(cache_key, config, api_key ~= nil)
  if not c then
    local errs = {}
    for i = 1, #requests do errs[i] = plain.error(cerr) end
    out = { results = {}, errs = errs }
  else
    local ok, results, errs = pcall(c.map, c, method, requests, map_opts, call_opts)
    if ok then
      for i = 1, #requests do
        if errs[i] ~= nil then errs[i] = errors.is(errs[i]) and plain.error(errs[i]) or tostring(errs[i]) end
      end
      out = { results = results, errs = errs }
    else
      out = { raised = tostring(results) }
    end
  end
  out.events = call_events
  call_key, call_events = nil, nil
  return out
end

--- How many clients and channels this VM holds (for specs and diagnostics).
function openresty.cached_clients()
  local n = 0
  for _ in next, clients do n = n + 1 end
  for _ in next, channels do n = n + 1 end
  return n
end

return openresty
