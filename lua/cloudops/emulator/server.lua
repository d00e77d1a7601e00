-- The gRPC side: the core's server binding around an emulator instance. One thread, one
-- loop: wait for a call at most until the next timer (a delayed answer, an operation
-- moving on, a state save), serve it, fire due timers. A delayed answer is kept and
-- finished later from the loop, so it never holds up other calls.
local core = require "cloudops.core"
local methods = require "cloudops.emulator.methods"
local util = require "cloudops.emulator.util"

local min, pcall, tostring = math.min, pcall, tostring

local M = {}
local Server = {}
Server.__index = Server

local PATH = "^/temporal%.api%.cloud%.cloudservice%.v1%.CloudService/(%w+)$"
-- Upper bound of one wait, so that an interrupt (SIGINT) is seen soon.
local MAX_WAIT = 0.25

local function read_file(path)
  local f, err = io.open(path, "rb")
  if not f then return nil, err end
  local s = f:read("*a")
  f:close()
  return s
end

-- tls: { cert = pem, key = pem } or { cert_file =, key_file = }.
local function tls_of(tls)
  if not tls then return nil end
  local cert, key = tls.cert, tls.key
  local err
  if not cert and tls.cert_file then
    cert, err = read_file(tls.cert_file)
    if not cert then return nil, "cannot read TLS certificate: " .. tostring(err) end
  end
  if not key and tls.key_file then
    key, err = read_file(tls.key_file)
    if not key then return nil, "cannot read TLS key: " .. tostring(err) end
  end
  if not cert or not key then return nil, "TLS needs both a certificate and a key" end
  return { cert = cert, key = key }
end

-- Starts listening. Returns the server object or nil, err.
function M.start(emu, opts)
  opts = opts or {}
  local tls, terr = tls_of(opts.tls or emu.cfg.tls)
  if terr then return nil, terr end
  local host = opts.host or emu.cfg.host
  local port = opts.port or emu.cfg.port
  local srv, err = core.server { address = host .. ":" .. port, tls = tls }
  if not srv then return nil, err end
  local self = setmetatable({ emu = emu, srv = srv, port = srv.port, host = host,
                              pending = {}, tls = tls ~= nil }, Server)
  return self
end

function Server:endpoint() return self.host .. ":" .. self.port end

local function retry_info(seconds)
  return {
    type_url = "type.googleapis.com/google.rpc.RetryInfo",
    value = core.encode("google.rpc.RetryInfo", { retry_delay = util.duration(seconds) }),
  }
end

-- The status details sent with an error: RetryInfo for a rate limit, and whatever Any
-- tables the handler attached.
local function status_details(err)
  local details = {}
  if err.retry_delay then details[#details + 1] = retry_info(err.retry_delay) end
  for _, d in ipairs(err.details or {}) do details[#details + 1] = d end
  if #details == 0 then return nil end
  return core.encode("google.rpc.Status", { code = err.code, message = err.message,
                                            details = details })
end

-- Serves one received call: decode, the emulator's pipeline, encode. Returns the
-- arguments of call:finish.
function Server:answer(req)
  local name = req.method:match(PATH)
  if not name or not methods.by_name[name] then
    return 12, "unknown method " .. tostring(req.method)
  end
  local m = core.method(name)
  local tbl, derr = core.decode(m.input, req.payload or "")
  if not tbl then return 3, "malformed request: " .. tostring(derr) end
  local resp, err, info = self.emu:call(name, tbl, req.metadata or {},
    { payload = req.payload, peer = req.peer })
  local delay = info and info.delay
  if resp then
    local ok, bytes = pcall(core.encode, m.output, resp)
    if ok then return 0, "", bytes, delay end
    return 13, "emulator error: cannot encode response: " .. tostring(bytes), nil, delay
  end
  local ok, details = pcall(status_details, err)
  return err.code, err.message or "", nil, delay, ok and details or nil
end

local function finish(call, code, message, bytes, details)
  -- A client that went away makes finish fail; nothing else is to be done then.
  pcall(call.finish, call, code, message, bytes, nil, details)
end

-- One turn of the loop: waits at most `wait` seconds (default: until the next timer).
function Server:step(wait)
  local emu = self.emu
  local now = core.now()
  local timeout = wait or MAX_WAIT
  local due = emu:next_deadline()
  if due then timeout = min(timeout, due - emu.clock()) end
  for _, p in ipairs(self.pending) do timeout = min(timeout, p.due - now) end
  if timeout < 0 then timeout = 0 end
  local req = self.srv:next(timeout)
  if req then
    local code, message, bytes, delay, details = self:answer(req)
    if delay and delay > 0 then
      self.pending[#self.pending + 1] = { due = core.now() + delay, call = req.call, code = code,
                                          message = message, bytes = bytes, details = details }
    else
      finish(req.call, code, message, bytes, details)
    end
  end
  self:flush()
  emu:tick()
  return req ~= nil
end

-- Finishes the delayed answers whose time has come.
function Server:flush()
  local now, keep = core.now(), {}
  for _, p in ipairs(self.pending) do
    if p.due <= now then finish(p.call, p.code, p.message, p.bytes, p.details)
    else keep[#keep + 1] = p end
  end
  self.pending = keep
end

-- Serves until stop() is called, `should_stop()` (checked after every turn, at least
-- every 0.25 s) returns a reason, or an interrupt (SIGINT raises "interrupted!" in the
-- standalone interpreters) ends the loop. Returns how it ended.
function Server:run(should_stop)
  self.running = true
  local ok, err = pcall(function()
    while self.running do
      self:step()
      if core.caught_signal then
        local sig = core.caught_signal()
        if sig then return "signal " .. sig end
      end
      local why = should_stop and should_stop()
      if why then return why end
    end
  end)
  return ok and (err or "stopped") or tostring(err)
end

function Server:stop() self.running = false end

-- Answers what is still held back, stops listening, saves the state.
function Server:shutdown()
  for _, p in ipairs(self.pending) do finish(p.call, p.code, p.message, p.bytes, p.details) end
  self.pending = {}
  self.srv:shutdown()
  self.emu:close()
  if self.emu.cfg.state_file then return self.emu:save() end
  return true
end

M.Server = Server
return M
