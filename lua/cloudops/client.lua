--- The client: connect's options, and calls with retries, rate limiting and operation ids.
--
-- A client is one attempts loop over a transport, the way pgmoon keeps its socket apart: the
-- loop (rate limit, operation slots, retries, hints, on_event, the identity an "auto" limit
-- learns) is here, once; what carries one attempt is the transport (cloudops.client.
-- grpc_transport through the C core; cloudops.openresty.transport through nginx's thread
-- pool). Helpers use the client's public methods and cloudops.client.internal.
local codes = require "cloudops.codes"
local core = require "cloudops.core"
local errors = require "cloudops.errors"
local retry = require "cloudops.retry"
local from_options = require "cloudops.limit.from_options"
local documented = require "cloudops.limit.documented"
local schema = require "cloudops.schema"
local sleep = require "cloudops.sleep"
local new_uuid = require "cloudops.uuid"
local secrets = require "cloudops.secrets"
local scheduler = require "cloudops.scheduler"
local identity = require "cloudops.identity"
local options = require "cloudops.options"
local received = require "cloudops.received"
local internal = require "cloudops.client.internal"
local grpc_transport = require "cloudops.client.grpc_transport"

local type, pairs, pcall, error, tostring, setmetatable, getmetatable, rawget =
  type, pairs, pcall, error, tostring, setmetatable, getmetatable, rawget
local min, max = math.min, math.max
local format = string.format
local now, getenv = core.now, os.getenv

local VERSION = "0.1.0"
local DEFAULT_ENDPOINT = "saas-api.tmprl.cloud:443"

local Client = {}
Client.__index = Client

-- The metatables of clients (Client, and the OpenResty client's, which adds to it).
local CLASSES = setmetatable({ [Client] = true }, { __mode = "k" })

local client = { VERSION = VERSION, LIMITS = documented, Client = Client }

-- ---- options -------------------------------------------------------------------------------

local CALL_OPTIONS = {
  timeout = true, metadata = true, retry = true, rate_limit = true, auto_operation_id = true,
  api_version = true,
}

local function bad(message)
  return nil, errors.new("INVALID_OPTION", message)
end

-- The headers of a call: the client's metadata, the call's, then ours (which win).
local function make_headers(self, key, extra, api_version)
  local md = {}
  for k, v in pairs(self._metadata or {}) do md[k] = v end
  for k, v in pairs(extra or {}) do md[k] = v end
  md.authorization = "Bearer " .. key
  md["temporal-cloud-api-version"] = api_version or self._api_version
  return md
end

-- The headers every attempt of a client sends, in the form its transport takes them: the gRPC
-- transport checks and copies them once (a core.metadata object), not at every call. Headers
-- it refuses stay a table, which each call then raises for, as it did before.
local function prepared_headers(transport, headers)
  if not transport.prepare then return headers end
  local ok, md = pcall(transport.prepare, transport, headers)
  return ok and md or headers
end

-- The settings of one call: the client's, overridden by the call's opts. Returns nil, message
-- for a bad option (a programming mistake: the caller raises it at the user's call site).
local function settings(self, opts)
  local d = rawget(self, "_defaults")
  if opts == nil then return d end
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
  local s = {}
  for k, x in pairs(d) do s[k] = x end
  if opts.retry ~= nil then
    local perr
    s.policy, perr = retry.policy(opts.retry, d.policy or nil)
    if s.policy == nil then return nil, perr end
  end
  if rl == false then s.limiter = false end
  if auto == false then s.auto_id = false end
  s.timeout = t or s.timeout
  -- Per-call headers are built for each attempt (attempt_headers).
  if opts.metadata or v then s.static_headers, s.metadata, s.api_version = false, opts.metadata, v end
  return s
end

-- The API key for one attempt, or nil, err (the API_KEY error of docs/reference.md).
local function attempt_key(self)
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

--- client.new(opts, make_transport, env) -> client | nil, err: a client on the transport that
-- make_transport(endpoint, channel_options) returns (or nil, message). connect's checks and
-- defaults (docs/reference.md "The client"); env (for cloudops.openresty and specs):
-- { clock = monotonic seconds, sleep = function(s), class = a metatable made by
-- client.subclass() }.
function client.new(opts, make_transport, env)
  opts = opts or {}
  if type(opts) ~= "table" then return bad("connect expects a table of options") end
  env = env or {}
  local clock, pause = env.clock or now, env.sleep or sleep
  local ok, err = options.check_types(opts)
  if not ok then return bad(err) end
  ok, err = options.check_metadata(opts.metadata, "metadata")
  if not ok then return bad(err) end
  local policy, perr = retry.policy(opts.retry)
  if policy == nil then return bad(perr) end
  local bucket, lerr = from_options.bucket(opts.rate_limit, opts.on_event, clock)
  if bucket == nil then return bad(lerr) end
  local ops, oerr = from_options.slots(opts.max_operations, bucket, clock)
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
  local transport, terr = make_transport(endpoint, chopts)
  if not transport then return bad(terr) end
  local timeout = opts.timeout or 30
  local self = setmetatable({
    endpoint = endpoint,
    -- docs/reference.md: tostring(client._limiter) shows the rate in use
    _limiter = bucket,
    _transport = transport,
    _api_version = opts.api_version or core.API_VERSION,
    _metadata = opts.metadata,
    _slots = ops,
    _on_event = opts.on_event or false, -- false, not nil: read at every attempt, found here
    _clock = clock,
    _sleep = pause,
  }, env.class or Client)
  -- The key, and the headers made from it, are kept out of the client's own fields.
  local static = type(api_key) == "string" and make_headers(self, api_key) or false
  secrets.set(self, { key = api_key, headers = static and prepared_headers(transport, static) })
  self._defaults = { policy = policy, timeout = timeout, limiter = bucket,
                     auto_id = opts.auto_operation_id ~= false, static_headers = static ~= false }
  internal.register(self, {
    clock = clock, sleep = pause, timeout = timeout, retry = policy, on_event = opts.on_event,
    check_options = function(o)
      local s, why = settings(self, o)
      return s ~= nil, why
    end,
    api_key = function() return attempt_key(self) end,
  })
  return self
end

--- cloudops.connect: docs/reference.md "The client".
function client.connect(opts)
  return client.new(opts, grpc_transport.new)
end

--- A metatable for clients with methods of their own on top of Client's (cloudops.openresty):
-- pass it to client.new as env.class.
function client.subclass(methods)
  local class = {}
  for k, v in pairs(Client) do class[k] = v end
  for k, v in pairs(methods) do class[k] = v end
  class.__index = class
  -- what Client does with a key it has not, the subclass does too
  setmetatable(class, getmetatable(Client))
  CLASSES[class] = true
  return class
end

-- ---- calls ---------------------------------------------------------------------------------

-- The headers of one attempt, or nil, err (API_KEY): the key function runs for every attempt.
local function attempt_headers(self, s)
  if s.static_headers then return secrets.get(self).headers end
  local key, err = attempt_key(self)
  if not key then return nil, err end
  return make_headers(self, key, s.metadata, s.api_version)
end

-- A mutation's request with a fresh async_operation_id when its own is empty (a copy), so
-- that every attempt, and the server, see one operation (docs/reference.md "Calls").
local function with_operation_id(req)
  if req ~= nil and (req.async_operation_id or "") ~= "" then return req end
  local copy = {}
  for k, v in pairs(req or {}) do copy[k] = v end
  copy.async_operation_id = new_uuid()
  return copy
end

-- One table per attempt for on_event; never the key nor the headers (docs/reference.md).
local function emit(self, m, attempt, code, name, duration, delay)
  local on_event = self._on_event
  if on_event then
    on_event({ method = m.name, attempt = attempt, code = code, name = name,
               duration = duration, delay = delay })
  end
end

-- ---- the identity an "auto" limit learns, off the path of the calls ------------------------

local GET_IDENTITY = schema.method("GetCurrentIdentity")
local GET_IDENTITY_PAYLOAD = GET_IDENTITY.encode(nil)
-- Lookups of an auto bucket's identity, at most, when they fail for a passing reason.
local IDENTITY_TRIES = 3
local PASSING = { [codes.UNAVAILABLE] = true, [codes.RESOURCE_EXHAUSTED] = true,
                  [codes.DEADLINE_EXCEEDED] = true }

-- The answer to a started lookup, when it has come: the bucket takes the identity's rate.
local function read_lookup(self, lim, lookup)
  if not lookup.h:done() then return end
  self._lookup = nil
  local ok, resp, code, message, _, trailers, failed = pcall(lookup.h.result, lookup.h)
  local t1 = self._clock()
  if not ok or failed then resp, code, message = nil, codes.INTERNAL, tostring(failed or resp) end
  local id = resp and identity.from_response(resp)
  if id then
    lim:start(id)
    lim:succeeded()
  else
    code = resp and codes.INTERNAL or code
    if code == codes.RESOURCE_EXHAUSTED then
      lim:exhausted(retry.hint(errors.from_status(GET_IDENTITY.name, code, message, trailers), retry.DEFAULTS.max))
    end
    self._lookups = (self._lookups or 0) + 1
    if self._lookups >= IDENTITY_TRIES or not PASSING[code] then lim:unknown_identity() end
  end
  emit(self, GET_IDENTITY, 1, code or 0, id and "OK" or codes[code] or "UNKNOWN", t1 - lookup.t0, nil)
end

-- The lookup an auto bucket wants: booked in the bucket like any call (its token reserved at
-- once), then started, when that token's time has come, as one attempt nobody waits for: its
-- answer is read at a later attempt. The calls go on meanwhile. A key that cannot be had now
-- (its function fails) is the calls' business; after IDENTITY_TRIES such tries the limit
-- keeps the user's rate.
local function learn_identity(self, lim)
  local lookup = rawget(self, "_lookup")
  if not lookup then
    local wait = lim:take()
    lim.identity_due = nil
    lookup = { at = self._clock() + wait }
    self._lookup = lookup
  end
  if lookup.h then return read_lookup(self, lim, lookup) end
  local t = self._clock()
  if t < lookup.at then return end
  local headers = attempt_headers(self, self._defaults)
  local transport = rawget(self, "_transport") -- nil once closed, by a finalizer too
  local h = headers and transport and transport:start(GET_IDENTITY, GET_IDENTITY_PAYLOAD, self._defaults.timeout,
    headers)
  if not h then
    self._lookup = nil
    self._lookups = (self._lookups or 0) + 1
    if not headers and self._lookups < IDENTITY_TRIES then lim.identity_due = true
    else lim:unknown_identity() end
    return
  end
  lookup.h, lookup.t0 = h, t
end

-- A Redis limit keys its buckets by the identity: it is needed before the first take, so the
-- first call of a client learns it (cloudops.redis: from Redis when another host asked, else
-- GetCurrentIdentity and GetAccount, booked before any other host takes a token). Tasks that
-- need it meanwhile wait for that call's answer. Whatever the lookup raises (an interrupt, an
-- on_event that raises), nothing is left pending. Returns true, or nil, err for an answer that
-- is the call's own (API_KEY, UNAUTHENTICATED: sending the call would only fail the same way).
local function learn_shared_identity(self, lim, s)
  local task = scheduler.task()
  local pending = rawget(self, "_identity_pending")
  if pending and task then
    repeat pending:wait(task) until not lim.needs_identity or rawget(self, "_identity_pending") == nil
    if not lim.needs_identity then return true end
  end
  pending = scheduler.condition()
  self._identity_pending = pending
  local ok, done, err = pcall(lim.learn, lim, self, { timeout = s.timeout,
    retry = s.policy and { max_elapsed = min(10, s.policy.max_elapsed) } or false },
    internal.of(self).api_key)
  self._identity_pending = nil
  pending:signal()
  if not ok then error(done, 0) end
  if done and self._slots then self._slots:start(lim.identity) end
  return done, err
end

-- ---- the attempts loop ---------------------------------------------------------------------

-- The err when the call's budget ran out before an attempt could be sent: `why` says what held it.
local function out_of_time(m, s, attempts, why)
  local budget = s.policy and ("retry.max_elapsed (" .. s.policy.max_elapsed .. " s)")
    or ("the timeout (" .. s.timeout .. " s)")
  return errors.new("DEADLINE_EXCEEDED", budget .. " ran out " .. why,
    { code = codes.DEADLINE_EXCEEDED, method = m.name, attempts = attempts, retryable = false })
end

-- Says on a failed call's err what became of the server's hint, when it asked for longer than
-- the client waits: longer than retry.max, or than what was left of the call's budget.
local function hint_too_long(err, asked, s, left)
  err.message = (err.message or "") .. format(" (the server asked to wait %.4g s before retrying: " ..
    "more than %s, or than what was left of this call's budget, %.3g s)", asked,
    s.policy and format("retry.max (%g s)", s.policy.max) or "the client waits", max(0, left))
  return err
end

-- The wait before the next attempt, or nil: out of attempts, or the wait would reach the
-- call's deadline (max_elapsed bounds the whole call, sleeps included). Refusals for the rate
-- (RESOURCE_EXHAUSTED) do not count against max_attempts:
-- they are retried until max_elapsed, and with a limiter, which slows down for them, after
-- the server's own delay only. hint: the server's, already within [0, retry.max].
local function next_delay(policy, attempt, refused, rate_refusal, hint, t, deadline, paced)
  local d
  if rate_refusal then
    d = paced and (hint or 0) or retry.backoff(policy, refused, hint)
  else
    if attempt - refused >= policy.max_attempts then return nil end
    d = retry.backoff(policy, attempt - refused, hint)
  end
  if t + d >= deadline then return nil end
  return d
end

-- The attempts of one call: rate limit, send, and on a retryable failure back off and go
-- again, within max_attempts (refusals for the rate aside) and the call's deadline (a clock
-- time: max_elapsed, or the timeout without retries, from the call's start). A refusal for
-- the operation limit ends the attempts when the call holds a slot (the caller waits for
-- another and sends again). Returns resp, nil, info or nil, err; `attempt0`: attempts made
-- before (an earlier round of a mutation that met the operation limit).
local function attempts(self, m, req, payload, s, started, deadline, attempt0, slotted)
  local clock, pause, policy, lim = self._clock, self._sleep, s.policy, s.limiter
  local attempt, refused, last, asked = attempt0, 0, nil, nil
  while true do
    attempt = attempt + 1
    local headers, kerr = attempt_headers(self, s)
    if not headers then
      kerr.method, kerr.attempts, kerr.retryable = m.name, attempt, false
      emit(self, m, attempt, nil, kerr.name, 0, nil)
      return nil, kerr
    end
    local anchor, t0
    if lim then
      local wait
      wait, anchor = lim:take()
      if wait > 0 then
        -- Checked before the pause: a limiter held back by a server's hint never makes a call
        -- sleep past its deadline.
        if clock() + wait >= deadline then
          if lim.refund then lim:refund() end
          if last then return nil, asked and hint_too_long(last, asked, s, deadline - clock()) or last end
          return nil, out_of_time(m, s, attempt - 1, format("waiting for the client's rate " ..
            "limiter, which would hold this call %.3g s", wait))
        end
        pause(wait)
      end
      if lim.identity_due or rawget(self, "_lookup") then learn_identity(self, lim) end
      t0 = clock()
    else
      t0 = attempt == 1 and started or clock()
    end
    local timeout = s.timeout
    if deadline - t0 < timeout then timeout = deadline - t0 end
    if timeout <= 0 then
      if last then return nil, asked and hint_too_long(last, asked, s, 0) or last end
      return nil, out_of_time(m, s, attempt - 1, "before an attempt could be sent")
    end
    -- Read again for each attempt: a finalizer (the client's own __gc among them) may have
    -- closed the client since the call began, which is the call's CANCELLED, as a close
    -- during an attempt is. (A field of the client's own while it is open: no rawget needed.)
    local transport = self._transport
    if not transport then
      local err = errors.from_status(m.name, codes.CANCELLED, "the client was closed")
      err.attempts, err.retryable = attempt - 1, false
      return nil, err
    end
    local resp, code, message, h, t, failed = transport:call(m, payload, timeout, headers)
    local t1 = clock()
    if failed then -- the transport itself failed (no attempt reached the server): not retried
      failed.attempts = attempt
      emit(self, m, attempt, nil, failed.name, t1 - t0, nil)
      return nil, failed
    end
    if anchor then lim:settle(anchor) end
    if resp then
      if lim then lim:succeeded() end
      if resp.async_operation then received.mark(resp, t1) end
      if self._on_event then emit(self, m, attempt, 0, "OK", t1 - t0, nil) end
      return resp, nil, { headers = h, trailers = t, attempts = attempt, duration = t1 - started }
    end
    local err = errors.from_status(m.name, code, message, t, h)
    err.attempts = attempt
    err.retryable = policy and retry.retryable(code, m, req, message) or false
    local hint
    hint, asked = retry.hint(err, policy and policy.max or retry.DEFAULTS.max)
    if hint and t1 + hint > deadline then asked = asked or hint end
    local paced, rate_refusal = false, false
    if code == codes.RESOURCE_EXHAUSTED then
      if retry.operation_limit(err) then
        if slotted then
          emit(self, m, attempt, code, err.name, t1 - t0, nil)
          err.operation_limit, err.hint = true, hint
          return nil, err
        end
      else
        rate_refusal, refused = true, refused + 1
        if lim then
          lim:exhausted(hint and min(hint, max(0, deadline - t1)))
          paced = true
        end
      end
    end
    local delay = err.retryable and next_delay(policy, attempt, refused, rate_refusal, hint, t1, deadline, paced) or nil
    emit(self, m, attempt, code, err.name, t1 - t0, delay)
    if not delay then
      if asked then hint_too_long(err, asked, s, deadline - t1) end
      return nil, err
    end
    last = err
    pause(delay)
  end
end

-- The mutations whose operations the service's limit counts (its documented subset): only
-- they take a slot, so a batch of group or project changes never waits for one.
local counted = require("cloudops.operation_limit").methods

-- A mutation: an operation slot first (waiting for one within the call's deadline), then
-- the attempts; a refusal for the server's operation limit gives the slot back, tells the
-- slots, and waits for another, within the same deadline.
local function mutate(self, ops, m, req, payload, s, started, deadline)
  local made = 0
  while true do
    local slot, serr = ops:acquire(self, deadline, m.name, s.limiter)
    if not slot then
      serr.attempts = made
      return nil, serr
    end
    local resp, err, info = attempts(self, m, req, payload, s, started, deadline, made, true)
    ops:release(slot, resp)
    if resp or not err.operation_limit then return resp, err, info end
    made = err.attempts
    ops:refused(err.hint)
    if self._clock() >= deadline then return nil, err end
  end
end

-- Each method's request encoder, returning nil, message for a request that does not fit (so
-- that a call raises it at the user's call site without a pcall).
local encoders = {}
for _, m in ipairs(schema.methods()) do encoders[m] = core.encoder(m.input, true) end

-- One call: method m resolved. Raises (level 2: the user's call site, since the methods
-- tail-call this) only for programming mistakes.
local function invoke(self, m, req, opts)
  -- An open client has its transport; anything else is told what it is (at most a closed
  -- client's metatable is looked up then, not an open one's at every call).
  if type(self) ~= "table" or not self._transport then
    if not CLASSES[getmetatable(self)] then
      error(m.name .. ": call it as client:" .. m.snake .. "(...), with a colon", 2)
    end
    error("the client is closed", 2)
  end
  if req ~= nil and type(req) ~= "table" then
    error(m.name .. ": the request must be a table or nil, got " .. type(req), 2)
  end
  local s = self._defaults
  if opts ~= nil then
    local serr
    s, serr = settings(self, opts)
    if not s then error(serr, 2) end
  end
  if m.mutation and s.auto_id then req = with_operation_id(req) end
  local payload, why = encoders[m](req)
  if not payload then error(why, 2) end
  local started = self._clock()
  local deadline = started + (s.policy and s.policy.max_elapsed or s.timeout)
  local lim = s.limiter
  if lim and lim.needs_identity then
    local known, ierr = learn_shared_identity(self, lim, s)
    if not known then
      ierr.method = ierr.method or m.name
      return nil, ierr
    end
  end
  local ops = self._slots
  if ops and counted[m.name] then return mutate(self, ops, m, req, payload, s, started, deadline) end
  local resp, err, info = attempts(self, m, req, payload, s, started, deadline, 0, false)
  if ops and resp and m.name == "GetAsyncOperation" then ops:observe(resp.async_operation) end
  return resp, err, info
end

--- client:call("GetNamespaces", req, opts) -> resp, nil, info | nil, err
function Client:call(method, req, opts)
  local m = schema.method(method) -- nil for anything but a method's name
  if not m then error("unknown method '" .. tostring(method) .. "'", 2) end
  return invoke(self, m, req, opts)
end

function Client:close()
  local transport = rawget(self, "_transport")
  if transport then
    self._transport = nil
    transport:close()
    -- An identity lookup nobody waited for ended with the channel: its completion is taken
    -- here, not left for someone's core.poll.
    local lookup = rawget(self, "_lookup")
    self._lookup = nil
    if lookup and lookup.h then pcall(lookup.h.result, lookup.h) end
  end
end

Client.__close = Client.close
Client.__gc = Client.close

function Client:__tostring()
  return "cloudops client (" .. self.endpoint .. (rawget(self, "_transport") and "" or ", closed") .. ")"
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
  local s, err = settings(self, call_opts)
  if not s then error("map: " .. err, 2) end
  return map(function(req) return invoke(self, m, req, call_opts) end, requests, map_opts)
end

-- The helpers of docs/reference.md "Helpers", each in its own module.
local paging = require "cloudops.paging"
Client.paginate = paging.paginate
Client.pages = paging.pages
Client.wait = require "cloudops.wait"
Client.update = require "cloudops.update"

-- A mistyped method raises naming the nearest one; any other unknown key is nil (cloudops.diagnosis).
setmetatable(Client, { __index = require("cloudops.diagnosis").missing_method })

return client
