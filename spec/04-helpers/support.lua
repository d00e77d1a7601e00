-- What the helper specs share: a fake clock, clients whose channel is a Lua function (so the
-- retry loop, the limiter and the helpers run for real without a network, in fake time),
-- the in-process emulator behind such a channel, and the emulator as a child process.
local helpers = require "helpers"
local cloudops = require "cloudops"
local core = require "cloudops.core"
local client = require "cloudops.client"

local unpack = table.unpack or unpack

local S = {}

--- A clock that moves only when slept on (or advanced): { t, now(), sleep(s), sleeps = {} }.
function S.clock(start)
  local c = { t = start or 1000, sleeps = {} }
  function c.now() return c.t end
  function c.sleep(s)
    if s > 0 then
      c.sleeps[#c.sleeps + 1] = s
      c.t = c.t + s
    end
  end
  function c.advance(s) c.t = c.t + s end
  function c.slept()
    local total = 0
    for _, s in ipairs(c.sleeps) do total = total + s end
    return total
  end
  return c
end

-- The trailers of a failed call: RetryInfo in grpc-status-details-bin for `retry_delay`.
local function status_trailers(code, message, retry_delay)
  if not retry_delay then return {} end
  local s, n = core.parse_duration(retry_delay)
  return { ["grpc-status-details-bin"] = core.encode("google.rpc.Status", { code = code, message = message,
    details = { { type_url = "type.googleapis.com/google.rpc.RetryInfo",
                  value = core.encode("google.rpc.RetryInfo", { retry_delay = { seconds = s, nanos = n } }) } } }) }
end
S.status_trailers = status_trailers

--- A transport (cloudops.client.internal) whose every attempt goes to handler(method_name,
-- req, ctx) instead of the network; ctx = { timeout =, headers =, clock = }. The handler
-- returns a response table, or nil, code, message[, retry_delay seconds (sent as
-- RetryInfo)[, extra trailers]]. calls: a log of { method =, req =, timeout =, headers =, at = }.
function S.fake_transport(handler, clock, calls)
  local function call(_, m, payload, timeout, headers)
    local req = core.decode(m.input, payload)
    calls[#calls + 1] = { method = m.name, req = req, timeout = timeout, headers = headers, at = clock.t }
    local resp, code, message, retry_delay, trailers =
      handler(m.name, req, { timeout = timeout, headers = headers, clock = clock })
    if resp then
      -- As off the wire: every repeated field a table, enums as names.
      return core.decode(m.output, core.encode(m.output, resp)), nil, nil, {}, {}
    end
    local t = status_trailers(code, message, retry_delay)
    for k, v in pairs(trailers or {}) do t[k] = v end
    return nil, code, message or "", {}, t
  end
  return {
    call = call,
    -- an attempt nobody waits for: answered at once, read when the client looks
    start = function(self, m, payload, timeout, headers)
      local r = { call(self, m, payload, timeout, headers) }
      return { done = function() return true end, result = function() return unpack(r, 1, 5) end }
    end,
    close = function() end,
  }
end

--- A client whose every attempt goes to handler (see fake_transport), on a fake clock. `opts`
-- go to connect (rate_limit is off unless given; a rate_limit runs on the fake clock). Returns
-- client, clock, calls.
function S.fake_client(handler, opts, clock)
  clock = clock or S.clock()
  local o = { endpoint = "127.0.0.1:9", insecure = true, api_key = "secret-key-0123", rate_limit = false }
  for k, v in pairs(opts or {}) do o[k] = v end
  local calls = {}
  local c = assert(client.new(o, function() return S.fake_transport(handler, clock, calls) end,
                              { clock = clock.now, sleep = clock.sleep }))
  return c, clock, calls
end

--- The in-process emulator (its model, no gRPC) on the fake clock, as a handler for
-- fake_client: the answers go through the same encoding as on the wire. emu_opts go to
-- emulator.new (rate limits off unless given). Returns handler, emu.
function S.emulated(clock, emu_opts)
  local emulator = require "cloudops.emulator"
  local o = { clock = clock.now, rate_limits = false, op_duration = 1, op_pending = 0.25 }
  for k, v in pairs(emu_opts or {}) do o[k] = v end
  local emu = emulator.new(o)
  local function handler(method, req, ctx)
    local resp, err = emu:call(method, req, ctx.headers, { peer = "ipv4:127.0.0.1:1" })
    if resp then return resp end
    return nil, err.code, err.message, err.retry_delay
  end
  return handler, emu
end

--- The emulator as a child process (docs/reference.md "cloudops.emulator": emulator.spawn), or
-- nil, why when it cannot start.
function S.spawn_emulator(opts)
  local ok, emulator = pcall(require, "cloudops.emulator")
  if not ok then return nil, "no emulator: " .. tostring(emulator) end
  local o = { op_duration = 0.2, op_pending = 0.05, check_duration = 0.02 }
  for k, v in pairs(opts or {}) do o[k] = v end
  return emulator.spawn(o)
end

--- A client of a spawned emulator; opts go to connect.
function S.connect(emu, opts)
  local o = { endpoint = emu.endpoint, insecure = true, api_key = emu.api_key }
  for k, v in pairs(opts or {}) do o[k] = v end
  return assert(cloudops.connect(o))
end

--- A CreateNamespace spec the emulator accepts.
function S.namespace_spec(name)
  return { name = name, replicas = { { region = "aws-us-east-1" } }, retention_days = 7,
           api_key_auth = { enabled = true } }
end

S.helpers = helpers
return S
