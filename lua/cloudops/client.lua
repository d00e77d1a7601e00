--- The client: connect's options, and calls with retries, rate limiting and operation ids.
local core = require "cloudops.core"
local codes = require "cloudops.codes"
local errors = require "cloudops.errors"
local retry = require "cloudops.retry"
local ratelimit = require "cloudops.ratelimit"
local schema = require "cloudops.schema"
local sleep = require "cloudops.sleep"
local new_uuid = require "cloudops.uuid"

local type, pairs, pcall, error, tostring, setmetatable, rawget =
  type, pairs, pcall, error, tostring, setmetatable, rawget
local now, encode, getenv = core.now, core.encode, os.getenv
local open = io.open

local VERSION = "0.1.0"
local DEFAULT_ENDPOINT = "saas-api.tmprl.cloud:443"

local Client = {}
Client.__index = Client

local client = { VERSION = VERSION }

-- ---- options -------------------------------------------------------------------------------

local OPTIONS = {
  api_key = true, endpoint = true, api_version = true, insecure = true, tls = true, timeout = true,
  retry = true, rate_limit = true, auto_operation_id = true, user_agent = true, metadata = true,
  keepalive = true, max_receive_size = true, proxy = true, on_event = true,
}
local TLS_OPTIONS = { ca_file = true, server_name = true, cert_file = true, key_file = true }
local CALL_OPTIONS = {
  timeout = true, metadata = true, retry = true, rate_limit = true, auto_operation_id = true,
  api_version = true,
}

local function bad(message)
  return nil, errors.new("INVALID_OPTION", message)
end

local function read_file(path, what)
  local f, err = open(path, "rb")
  if not f then return nil, "cannot read " .. what .. ": " .. tostring(err) end
  local text = f:read("*a")
  f:close()
  return text
end

local function check_metadata(md, what)
  if md == nil then return true end
  if type(md) ~= "table" then return nil, what .. " must be a table of header names to values" end
  for k, v in pairs(md) do
    if type(k) ~= "string" or type(v) ~= "string" then
      return nil, what .. " must map header names (strings) to values (strings)"
    end
    if k ~= k:lower() then return nil, what .. ": header name '" .. k .. "' must be lowercase" end
  end
  return true
end

-- The channel options for the C core from connect's options, or nil, err.
local function channel_options(o)
  local ch = { insecure = o.insecure == true, proxy = o.proxy }
  local tls = o.tls or {}
  if type(tls) ~= "table" then return nil, "tls must be a table" end
  for k in pairs(tls) do
    if not TLS_OPTIONS[k] then return nil, "unknown tls option '" .. tostring(k) .. "'" end
  end
  if tls.ca_file then
    local pem, err = read_file(tls.ca_file, "tls.ca_file")
    if not pem then return nil, err end
    ch.root_certs = pem
  end
  if (tls.cert_file == nil) ~= (tls.key_file == nil) then
    return nil, "tls.cert_file and tls.key_file go together"
  end
  if tls.cert_file then
    local cert, err = read_file(tls.cert_file, "tls.cert_file")
    if not cert then return nil, err end
    local key, kerr = read_file(tls.key_file, "tls.key_file")
    if not key then return nil, kerr end
    ch.cert_chain, ch.private_key = cert, key
  end
  ch.server_name = tls.server_name
  ch.user_agent = (o.user_agent and (o.user_agent .. " ") or "") .. "lua-cloudops/" .. VERSION
  local ka = o.keepalive
  if ka == nil then ka = { time = 30, timeout = 15 } end
  if ka then
    if type(ka) ~= "table" then return nil, "keepalive must be a table or false" end
    ch.keepalive_time, ch.keepalive_timeout = ka.time or 30, ka.timeout or 15
  end
  ch.max_receive_size = o.max_receive_size or 128 * 1024 * 1024
  return ch
end

local function check_types(o)
  local expect = {
    endpoint = "string", api_version = "string", insecure = "boolean", timeout = "number",
    auto_operation_id = "boolean", user_agent = "string", max_receive_size = "number",
    on_event = "function",
  }
  for k, t in pairs(expect) do
    if o[k] ~= nil and type(o[k]) ~= t then return nil, k .. " must be a " .. t end
  end
  if o.timeout and o.timeout <= 0 then return nil, "timeout must be positive" end
  if o.proxy ~= nil and o.proxy ~= false and type(o.proxy) ~= "string" then
    return nil, "proxy must be a URL string or false"
  end
  local k = o.api_key
  if k ~= nil and type(k) ~= "string" and type(k) ~= "function" then
    return nil, "api_key must be a string or a function returning one"
  end
  return true
end

-- The limiter for a rate_limit option: a bucket, false, or nil, err.
local function limiter(opt)
  if opt == false then return false end
  if opt == nil then opt = 10 end
  local rate, burst = opt, nil
  if type(opt) == "table" then
    for k in pairs(opt) do
      if k ~= "rate" and k ~= "burst" and k ~= "shared" then
        return nil, "unknown rate_limit setting '" .. tostring(k) .. "'"
      end
    end
    if opt.shared then return nil, "rate_limit.shared needs OpenResty (cloudops.openresty)" end
    rate, burst = opt.rate or 10, opt.burst
  end
  if type(rate) ~= "number" or rate <= 0 then return nil, "rate_limit must be a positive rate, a table or false" end
  burst = burst or rate
  if type(burst) ~= "number" or burst < 1 then return nil, "rate_limit.burst must be at least 1" end
  return ratelimit.new(rate, burst, now)
end

--- cloudops.connect: see API.md "Loading and connecting".
function client.connect(opts)
  opts = opts or {}
  if type(opts) ~= "table" then return bad("connect expects a table of options") end
  for k in pairs(opts) do
    if not OPTIONS[k] then return bad("unknown option '" .. tostring(k) .. "'") end
  end
  local ok, err = check_types(opts)
  if not ok then return bad(err) end
  ok, err = check_metadata(opts.metadata, "metadata")
  if not ok then return bad(err) end
  local policy, perr = retry.policy(opts.retry)
  if policy == nil then return bad(perr) end
  local bucket, lerr = limiter(opts.rate_limit)
  if bucket == nil then return bad(lerr) end
  local chopts, cerr = channel_options(opts)
  if not chopts then return bad(cerr) end

  local api_key = opts.api_key
  if api_key == nil then api_key = getenv("TEMPORAL_CLOUD_API_KEY") end
  if api_key == nil or api_key == "" then
    return bad("no API key: pass api_key or set TEMPORAL_CLOUD_API_KEY")
  end
  local endpoint = opts.endpoint or DEFAULT_ENDPOINT
  local self = setmetatable({
    endpoint = endpoint,
    _ch = core.channel(endpoint, chopts),
    _key = api_key,
    _api_version = opts.api_version or core.API_VERSION,
    _metadata = opts.metadata,
    _timeout = opts.timeout or 30,
    _retry = policy,
    _limiter = bucket,
    _auto_id = opts.auto_operation_id ~= false,
    _on_event = opts.on_event,
  }, Client)
  if type(api_key) == "string" then self._md = self:_headers(api_key, nil, nil) end
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
  local key = self._key
  if type(key) == "string" then return key end
  local ok, v = pcall(key)
  if not ok then
    return nil, errors.new("API_KEY", "the api_key function raised an error: " .. tostring(v))
  end
  if type(v) ~= "string" or v == "" then
    return nil, errors.new("API_KEY", "the api_key function returned " ..
      (type(v) == "string" and "an empty string" or type(v)) .. ", not a key")
  end
  return v
end

local function check_call_options(opts)
  if type(opts) ~= "table" then error("call options must be a table", 3) end
  for k in pairs(opts) do
    if not CALL_OPTIONS[k] then error("unknown call option '" .. tostring(k) .. "'", 3) end
  end
  local ok, err = check_metadata(opts.metadata, "opts.metadata")
  if not ok then error(err, 3) end
  if opts.timeout ~= nil and (type(opts.timeout) ~= "number" or opts.timeout <= 0) then
    error("opts.timeout must be a positive number", 3)
  end
end

local function emit(self, m, attempt, code, started, delay)
  local on_event = self._on_event
  if on_event then
    on_event({ method = m.name, attempt = attempt, code = code, name = codes[code] or code,
               duration = now() - started, delay = delay })
  end
end

-- One call: method m resolved, request validated. Raises (level 3: the user's call site) only
-- for programming mistakes.
local function invoke(self, m, req, opts)
  local ch = rawget(self, "_ch")
  if not ch then error("the client is closed", 2) end
  if req ~= nil and type(req) ~= "table" then
    error(m.name .. ": the request must be a table or nil, got " .. type(req), 2)
  end
  local policy, timeout, md, api_version = self._retry, self._timeout, self._md, nil
  local limited, auto_id = self._limiter, self._auto_id
  if opts ~= nil then
    check_call_options(opts)
    if opts.retry ~= nil then
      local perr
      policy, perr = retry.policy(opts.retry, self._retry or nil)
      if policy == nil then error(perr, 2) end
    end
    if opts.rate_limit == false then limited = false end
    if opts.auto_operation_id == false then auto_id = false end
    timeout = opts.timeout or timeout
    api_version = opts.api_version
    if opts.metadata or api_version then md = nil end
  end
  if auto_id and m.mutation and (req == nil or (req.async_operation_id or "") == "") then
    -- So that every attempt, and the server, see one operation (API.md "Helpers").
    local copy = {}
    for k, v in pairs(req or {}) do copy[k] = v end
    copy.async_operation_id = new_uuid()
    req = copy
  end
  local ok, payload = pcall(encode, m.input, req)
  if not ok then error(payload, 2) end

  local started = now()
  local attempt = 0
  while true do
    attempt = attempt + 1
    local t0 = now()
    local headers
    if not md then
      local key, kerr = self:_api_key()
      if not key then
        kerr.method, kerr.attempts = m.name, attempt
        return nil, kerr
      end
      headers = self:_headers(key, opts and opts.metadata, api_version)
    else
      headers = md
    end
    if limited then
      local wait = limited:take()
      if wait > 0 then sleep(wait) end
    end
    local resp, code, message, h, t = ch:call(m.index, payload, timeout, headers)
    if resp then
      emit(self, m, attempt, 0, t0, nil)
      return resp, nil, { headers = h, trailers = t, attempts = attempt, duration = now() - started }
    end
    local err = errors.from_status(m.name, code, message, t, h)
    err.attempts = attempt
    err.retryable = policy and retry.retryable(code, m, req) or false
    local delay
    if err.retryable and attempt < policy.max_attempts then
      delay = retry.delay(policy, attempt, err)
      if now() + delay - started > policy.max_elapsed then delay = nil end
    end
    emit(self, m, attempt, code, t0, delay)
    if not delay then return nil, err end
    sleep(delay)
  end
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

client.Client = Client
client.invoke = invoke
return client
