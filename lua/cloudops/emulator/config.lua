-- The emulator's settings: defaults, and checks of what `new(opts)` is given (an unknown
-- option is an error naming it, like the client's connect).
local ratelimit = require "cloudops.emulator.ratelimit"
local profiles = require "cloudops.emulator.profiles"
local operation_limit = require "cloudops.operation_limit"

local M = {}

M.defaults = {
  host = "127.0.0.1",
  port = 0,                 -- 0: the OS picks a free port
  tls = nil,                -- { cert = pem, key = pem } or { cert_file =, key_file = }
  account_id = "emu01",
  api_key = nil,            -- the owner's API key token; random when nil
  op_pending = 0.5,         -- seconds an operation stays PENDING
  op_duration = 2,          -- seconds from start to the end state of an operation
  op_durations = nil,       -- { CreateNamespace = 5, ... }: per method
  check_duration = nil,     -- fixed check_duration hint; nil: the time left
  latency = 0,              -- seconds every answer is held back (within 10% either way), as
                            -- if the server were far away; other calls go on meanwhile
  rate_limits = nil,        -- { user =, service_account =, account =, burst = {...} } or false
  max_operations = operation_limit.per_account,
                            -- async operations in flight per account, of the RPCs the
                            -- limit counts (cloudops.operation_limit); false or 0: no limit
  default_page_size = 100,
  max_page_size = 1000,
  max_projects = 5,         -- projects per account (the Default Project included)
  max_users = 300,          -- users per account (the limits page's default)
  max_nexus_endpoints = 100,-- Nexus endpoints per account (the limits page's default)
  max_namespaces = 10,      -- the account's namespace allowance at start; it rises by itself
                            -- up to 100 while every namespace is in use (handlers/namespaces.lua)
  faults = nil,             -- array of fault rules (faults.lua)
  seed = nil,               -- { namespaces = n, users = n, service_accounts = n,
                            --   audit_logs = n }
  state_file = nil,         -- load at start when it exists, save on change and at exit
  twin = nil,               -- a snapshot (cloudops.snapshot) to serve, or its file (twin.lua)
  save_interval = 0.5,      -- seconds: changes are written at most this often
  log = nil,                -- request log: a path, "-" (stderr), a function(line) or nil
  profile = nil,            -- "fast" or "realistic" (profiles.lua): timings for the other options
  clock = nil,              -- function() -> seconds (wall clock); tests pass their own
  random = nil,             -- function(n) -> n random bytes; default /dev/urandom
  encode = nil,             -- function(type, tbl) -> bytes, for operation_input
  describe = nil,           -- function(type) -> the core's describe table: with it, a request
                            -- setting a field its API version lacks is INVALID_ARGUMENT
}

-- Every option name, also those whose default is nil (absent from the table above).
local KNOWN = {}
for _, k in ipairs { "host", "port", "tls", "account_id", "api_key", "op_pending",
  "op_duration", "op_durations", "check_duration", "latency", "rate_limits", "max_operations",
  "default_page_size", "max_page_size", "max_projects", "max_users", "max_nexus_endpoints",
  "max_namespaces", "faults", "seed", "state_file",
  "save_interval", "log", "profile", "clock", "random", "encode", "describe", "twin" } do KNOWN[k] = true end

local NUMBERS = {
  port = true, op_pending = true, op_duration = true, check_duration = true, latency = true,
  default_page_size = true, max_page_size = true, save_interval = true, max_projects = true,
  max_users = true, max_nexus_endpoints = true, max_namespaces = true,
}

function M.normalize(opts)
  opts = opts or {}
  if type(opts) ~= "table" then error("emulator options must be a table", 3) end
  if opts.profile ~= nil then opts = profiles.apply(opts.profile, opts) end
  local cfg = {}
  for k, v in pairs(M.defaults) do cfg[k] = v end
  for k, v in pairs(opts) do
    if not KNOWN[k] then
      error("unknown emulator option '" .. tostring(k) .. "'", 3)
    end
    if NUMBERS[k] and (type(v) ~= "number" or v < 0) then
      error("emulator option '" .. k .. "' must be a non-negative number", 3)
    end
    cfg[k] = v
  end
  if cfg.op_pending > cfg.op_duration then cfg.op_pending = cfg.op_duration end
  if cfg.default_page_size < 1 or cfg.default_page_size > cfg.max_page_size then
    error("emulator option 'default_page_size' must be within 1..max_page_size", 3)
  end
  if cfg.rate_limits == nil then cfg.rate_limits = ratelimit.defaults end
  local mo = cfg.max_operations
  if mo ~= false and (type(mo) ~= "number" or mo < 0 or mo ~= math.floor(mo)) then
    error("emulator option 'max_operations' must be a count or false", 3)
  end
  if mo == 0 then cfg.max_operations = false end
  cfg.seed = cfg.seed or {}
  cfg.op_durations = cfg.op_durations or {}
  return cfg
end

return M
