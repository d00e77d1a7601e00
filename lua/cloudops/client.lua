--- The client: connect's options, and calls with retries, rate limiting and operation ids.
local core = require "cloudops.core"
local codes = require "cloudops.codes"
local errors = require "cloudops.errors"
local retry = require "cloudops.retry"
local limiter = require "cloudops.limiter"
local schema = require "cloudops.schema"
local sleep = require "cloudops.sleep"
local new_uuid = require "cloudops.uuid"
local secrets = require "cloudops.secrets"
local scheduler = require "cloudops.scheduler"
local identity = require "cloudops.identity"
local options = require "cloudops.options"
local received = require "cloudops.received"

local type, pairs, pcall, error, tostring, setmetatable, getmetatable, rawget =
  type, pairs, pcall, error, tostring, setmetatable, getmetatable, rawget
local now, getenv = core.now, os.getenv

local VERSION = "0.1.0"
local DEFAULT_ENDPOINT = "saas-api.tmprl.cloud:443"
local LIMITS = require "cloudops.limits"

local Client = {}
Client.__index = Client

local client = { VERSION = VERSION, LIMITS = LIMITS }

-- ---- options -------------------------------------------------------------------------------

local CALL_OPTIONS = {
  timeout = true, metadata = true, retry = true, rate_limit = true, auto_operation_id = true,
  api_version = true,
}

local function bad(message)
  return nil, errors.new("INVALID_OPTION", message)
end

--- cloudops.connect: see API.md "Loading and connecting".
function client.connect(opts)
  opts = opts or {}
  if type(opts) ~= "table" then return bad("connect expects a table of options") end
  local ok, err = options.check_types(opts)
  if not ok then return bad(err) end
  ok, err = options.check_metadata(opts.metadata, "metadata")
  if not ok then return bad(err) end
  local policy, perr = retry.policy(opts.retry)
  if policy == nil then return bad(perr) end
  local bucket, lerr = limiter.bucket(opts.rate_limit, opts.on_event)
  if bucket == nil then return bad(lerr) end
  local ops, oerr = limiter.slots(opts.max_operations, bucket)
  if ops == nil then return bad(oerr) end
  local endpoint, eerr = options.endpoint(opts.endpoint, DEFAULT_ENDPOINT)
  if not endpoint then return bad(eerr) end
  local insecure, ierr = options.insecure(opts, endpoint)
  if insecure == nil then return bad(ierr) end
  local chopts, cerr = options.channel_options(opts, VERSION, insecure)
  if not chopts then return bad(cerr) end

  local api_key = opts.api_key
  if api_key == nil then api_key = getenv("TEMPORAL_CLOUD_API_KEY") end
  if api_key == nil or api_key == "" then
    return bad("no API key: pass api_key or set TEMPORAL_CLOUD_API_KEY")
  end
  local kproblem = type(api_key) == "string" and options.key_problem(api_key)
  if kproblem then return bad(kproblem) end
  local self = setmetatable({
    endpoint = endpoint,
    _ch = core.channel(endpoint, chopts),
    _api_version = opts.api_version or core.API_VERSION,
    _metadata = opts.metadata,
    _timeout = opts.timeout or 30,
    _retry = policy,
    _limiter = bucket,
    _slots = ops,
    _auto_id = opts.auto_operation_id ~= false,
    _on_event = opts.on_event,
    -- The clock and the sleep of the call path; specs replace them with fakes.
    _clock = now,
    _sleep = sleep,
  }, Client)
  -- The key, and the headers made from it, are kept out of the client's own fields.
  secrets.set(self, { key = api_key, headers = type(api_key) == "string" and self:_headers(api_key) or nil })
  return self
end

-- ---- calls ---------------------------------------------------------------------------------

-- The headers of a call: the client's metadata, the call's, then ours (which win).
function Client:_headers(key, extra, api_version)
  local md = {}
  for k, v in pairs(self._metadata or {}) do md[k] = v end
  for k, v in pairs(extra or {}) do md[k] = v end
  md.authorization = "Bearer " .. key
  md["temporal-cloud-api-version"] = api_version or self._api_version
  return md
end

-- The API key for one attempt, or nil, err (the API_KEY error of API.md).
function Client:_api_key()
  local key = secrets.get(self).key
  if type(key) == "string" then return key end
  local ok, v = pcall(key)
  if not ok then
    return nil, errors.new("API_KEY", "the api_key function raised an error: " .. tostring(v))
  end
  if type(v) ~= "string" or v == "" then
    return nil, errors.new("API_KEY", "the api_key function returned " ..
      (type(v) == "string" and "an empty string" or type(v)) .. ", not a key")
  end
  local problem = options.key_problem(v)
  if problem then return nil, errors.new("API_KEY", "the api_key function returned a key that " ..
    "cannot be sent: " .. problem:gsub("^the API key ", "it ")) end
  return v
end

-- The settings of one call: the client's, overridden by the call's opts. Returns nil, message
-- for a bad option (a programming mistake: the caller raises it at the user's call site).
function Client:_settings(opts)
  local hidden = secrets.get(self)
  local d = hidden.defaults
  -- The defaults are made once and kept (a table per call costs more than the comparisons),
  -- made again only if a field they come from was replaced since (specs do that).
  if not d or d.policy ~= self._retry or d.timeout ~= self._timeout or d.limiter ~= self._limiter
     or d.auto_id ~= self._auto_id then
    d = { policy = self._retry, timeout = self._timeout, limiter = self._limiter,
          auto_id = self._auto_id, headers = hidden.headers }
    hidden.defaults = d
  end
  if opts == nil then return d end
  local s = {}
  for k, v in pairs(d) do s[k] = v end
  if type(opts) ~= "table" then return nil, "call options must be a table" end
  for k in pairs(opts) do
    if not CALL_OPTIONS[k] then return nil, "unknown call option '" .. tostring(k) .. "'" end
  end
  local ok, err = options.check_metadata(opts.metadata, "opts.metadata")
  if not ok then return nil, err end
  local t = opts.timeout
  if t ~= nil and (type(t) ~= "number" or not (t > 0)) then return nil, "opts.timeout must be a positive number" end
  local rl, auto = opts.rate_limit, opts.auto_operation_id
  if rl ~= nil and type(rl) ~= "boolean" then return nil, "opts.rate_limit may only be false (or true)" end
  if auto ~= nil and type(auto) ~= "boolean" then return nil, "opts.auto_operation_id must be a boolean" end
  local v = opts.api_version
  if v ~= nil and type(v) ~= "string" then return nil, "opts.api_version must be a string" end
  if opts.retry ~= nil then
    local perr
    s.policy, perr = retry.policy(opts.retry, self._retry or nil)
    if s.policy == nil then return nil, perr end
  end
  if rl == false then s.limiter = false end
  if auto == false then s.auto_id = false end
  s.timeout = t or s.timeout
  -- Per-call headers are built for each attempt (_attempt_headers).
  if opts.metadata or v then s.headers, s.metadata, s.api_version = nil, opts.metadata, v end
  return s
end

--- Validates call options for the helpers (paginate, wait): nil, message when they are bad.
function Client:_check_options(opts)
  local s, err = self:_settings(opts)
  return s ~= nil, err
end

-- The headers of one attempt, or nil, err (API_KEY): the key function runs for every attempt.
function Client:_attempt_headers(s)
  if s.headers then return s.headers end
  local key, err = self:_api_key()
  if not key then return nil, err end
  return self:_headers(key, s.metadata, s.api_version)
end

-- A copy of req with a fresh async_operation_id when a mutation's is empty, so that every
-- attempt, and the server, see one operation (API.md "Helpers").
local function with_operation_id(m, req, auto_id)
  if not (auto_id and m.mutation) then return req end
  if req ~= nil and (req.async_operation_id or "") ~= "" then return req end
  local copy = {}
  for k, v in pairs(req or {}) do copy[k] = v end
  copy.async_operation_id = new_uuid()
  return copy
end

-- One table per attempt for on_event; never the key nor the headers (API.md "Calls").
local function emit(self, m, attempt, code, name, duration, delay)
  local on_event = self._on_event
  if on_event then
    on_event({ method = m.name, attempt = attempt, code = code, name = name,
               duration = duration, delay = delay })
  end
end

-- The wait before the next attempt, or nil when there is none: out of attempts, or the wait
-- would reach the call's deadline (max_elapsed bounds the whole call, sleeps included).
-- Refusals for the rate (RESOURCE_EXHAUSTED) do not count against max_attempts: they are
-- retried until max_elapsed (API.md), and with a limiter, which slows down for them, after
-- the server's own delay only.
local function next_delay(policy, attempt, refused, err, t, deadline, paced)
  local d
  if err.code == codes.RESOURCE_EXHAUSTED then
    d = paced and (retry.hint(err) or 0) or retry.delay(policy, refused, err)
  else
    if attempt - refused >= policy.max_attempts then return nil end
    d = retry.delay(policy, attempt - refused, err)
  end
  if t + d >= deadline then return nil end
  return d
end

-- The error when max_elapsed ran out before the first attempt could be sent (a long wait
-- for the client's own rate limiter).
local function out_of_time(m, policy)
  return errors.new("DEADLINE_EXCEEDED", "retry.max_elapsed (" .. policy.max_elapsed ..
    " s) ran out waiting for the client's rate limiter", { code = codes.DEADLINE_EXCEEDED,
    method = m.name, attempts = 0, retryable = false })
end

-- One attempt on the wire: inside a cloudops.map task the call is started and the task waits
-- for its completion while the others run; elsewhere the core blocks until it ends.
local task_of, await_call = scheduler.task, scheduler.await_call
local function send(ch, m, payload, timeout, headers)
  local task = task_of()
  if not task then return ch:call(m.index, payload, timeout, headers) end
  local h = ch:start(m.index, payload, timeout, headers)
  await_call(task, h)
  return h:result()
end

-- A limiter keyed by the identity (an auto rate limit: the documented rate of its kind; a
-- Redis one: its buckets and the account's) learns it once per client, before the first call
-- (tasks that need it meanwhile wait for the first one's answer). If it cannot be learnt, the
-- lower per-identity rate is used (the server's refusals then tune it) under an id of its own.
local IDENTITY_CALL = { rate_limit = false, retry = { max_elapsed = 10 } }
local function learn_identity(self, bucket)
  local pending = rawget(self, "_identity_pending")
  if pending then
    local task = task_of()
    while bucket.needs_identity and task do pending:wait(task) end
    if not bucket.needs_identity then return end
  end
  pending = scheduler.condition()
  self._identity_pending = pending
  local id, sent = identity.of(self, IDENTITY_CALL, bucket.wants_account)
  if type(id) ~= "table" then id, sent = { kind = "user", id = "unidentified" }, bucket.wants_account and 2 or 1 end
  self._identity = id
  bucket:start(id, sent)
  bucket.needs_identity = nil
  if self._slots then self._slots:start(id) end
  self._identity_pending = nil
  pending:signal()
end

-- The attempts of one call: rate limit, send, and on a retryable failure back off and go
-- again, within max_attempts (refusals for the rate aside) and max_elapsed.
local function attempts(self, ch, m, req, payload, s)
  local clock, pause, policy, lim = self._clock, self._sleep, s.policy, s.limiter
  local started = clock()
  local deadline = policy and started + policy.max_elapsed
  local attempt, refused, last = 0, 0, nil
  while true do
    attempt = attempt + 1
    local headers, kerr = self:_attempt_headers(s)
    if not headers then
      kerr.method, kerr.attempts, kerr.retryable = m.name, attempt, false
      emit(self, m, attempt, nil, kerr.name, 0, nil)
      return nil, kerr
    end
    local anchor, t0
    if lim then
      local wait
      wait, anchor = lim:take()
      if wait > 0 then pause(wait) end
      t0 = clock()
    else
      t0 = attempt == 1 and started or clock()
    end
    local timeout = s.timeout
    if deadline then
      if deadline - t0 < timeout then timeout = deadline - t0 end
      if timeout <= 0 then return nil, last or out_of_time(m, policy) end
    end
    local resp, code, message, h, t = send(ch, m, payload, timeout, headers)
    local t1 = clock()
    if anchor then lim:settle(anchor) end
    if resp then
      if lim and lim.succeeded then lim:succeeded() end
      received.mark(resp, t1)
      emit(self, m, attempt, 0, "OK", t1 - t0, nil)
      return resp, nil, { headers = h, trailers = t, attempts = attempt, duration = t1 - started }
    end
    local err = errors.from_status(m.name, code, message, t, h)
    err.attempts = attempt
    err.retryable = policy and retry.retryable(code, m, req, message) or false
    local paced = false
    if code == codes.RESOURCE_EXHAUSTED then
      refused = refused + 1
      if lim and lim.exhausted then
        lim:exhausted(retry.hint(err))
        paced = true
      end
    end
    local delay = err.retryable and next_delay(policy, attempt, refused, err, t1, deadline, paced) or nil
    emit(self, m, attempt, code, err.name, t1 - t0, delay)
    if not delay then return nil, err end
    last = err
    pause(delay)
  end
end

-- One call: method m resolved. Raises (level 2: the user's call site, since the methods
-- tail-call this) only for programming mistakes.
local function invoke(self, m, req, opts)
  if getmetatable(self) ~= Client then
    error(m.name .. ": call it as client:" .. m.snake .. "(...), with a colon", 2)
  end
  local ch = rawget(self, "_ch")
  if not ch then error("the client is closed", 2) end
  if req ~= nil and type(req) ~= "table" then
    error(m.name .. ": the request must be a table or nil, got " .. type(req), 2)
  end
  local s, serr = self:_settings(opts)
  if not s then error(serr, 2) end
  req = with_operation_id(m, req, s.auto_id)
  local ok, payload = pcall(m.encode, req)
  if not ok then error(payload, 2) end
  local lim = s.limiter
  if lim and lim.needs_identity then learn_identity(self, lim) end
  local ops = self._slots
  if ops and m.mutation then
    local budget = s.policy and s.policy.max_elapsed or s.timeout
    local slot, serr2 = ops:acquire(self, self._clock() + budget, m.name)
    if not slot then return nil, serr2 end
    local resp, err, info = attempts(self, ch, m, req, payload, s)
    ops:release(slot, resp)
    return resp, err, info
  end
  local resp, err, info = attempts(self, ch, m, req, payload, s)
  if ops and resp and m.name == "GetAsyncOperation" then ops:observe(resp.async_operation) end
  return resp, err, info
end

--- client:call("GetNamespaces", req, opts) -> resp, nil, info | nil, err
function Client:call(method, req, opts)
  local m = type(method) == "string" and schema.method(method)
  if not m then error("unknown method '" .. tostring(method) .. "'", 2) end
  return invoke(self, m, req, opts)
end

function Client:close()
  local ch = rawget(self, "_ch")
  if ch then
    self._ch = nil
    ch:close()
  end
end

Client.__close = Client.close
Client.__gc = Client.close

function Client:__tostring()
  return "cloudops client (" .. self.endpoint .. (rawget(self, "_ch") and "" or ", closed") .. ")"
end

-- One method per RPC, its name in snake_case: client:get_namespaces(req, opts).
for _, m in ipairs(schema.methods()) do
  Client[m.snake] = function(self, req, opts)
    return invoke(self, m, req, opts)
  end
end

--- client:map(method, requests, map_opts, call_opts): the same call for every request, run
-- as cloudops.map tasks; returns results and errs indexed like requests.
local map = require "cloudops.map"
function Client:map(method, requests, map_opts, call_opts)
  local m = type(method) == "string" and schema.method(method)
  if not m then error("map: unknown method '" .. tostring(method) .. "'", 2) end
  if type(requests) ~= "table" then error("map: expected a list of requests, got " .. type(requests), 2) end
  local ok, err = self:_check_options(call_opts)
  if not ok then error("map: " .. err, 2) end
  return map(function(req) return invoke(self, m, req, call_opts) end, requests, map_opts)
end

-- The helpers of API.md, each in its own module.
local paging = require "cloudops.paging"
Client.paginate = paging.paginate
Client.pages = paging.pages
Client.wait = require "cloudops.wait"
Client.update = require "cloudops.update"

-- A mistyped method raises naming the nearest one; any other unknown key is nil (cloudops.diagnosis).
setmetatable(Client, { __index = require("cloudops.diagnosis").missing_method })

client.Client = Client
client.invoke = invoke
client.with_operation_id = with_operation_id
return client
