-- What the emulator's specs share: an emulator on a test clock, callers, assertions.
local helpers = require "helpers"   -- also: paths to lua/ and the built core
local emulator = require "cloudops.emulator"

local M = {}

-- An in-process emulator whose clock only moves when the spec says so. Rate limits are
-- off unless asked for, operations take 1 s (0.25 s PENDING) unless a profile says otherwise.
function M.new(opts)
  local clock = { t = 1767225600 }   -- 2026-01-01T00:00:00Z
  local o = { clock = function() return clock.t end, rate_limits = false }
  if not (opts and opts.profile) then o.op_duration, o.op_pending = 1, 0.25 end
  for k, v in pairs(opts or {}) do o[k] = v end
  local emu = emulator.new(o)
  emu.test_clock = clock
  function emu.advance(s) clock.t = clock.t + s end
  emu.owner = emu:client("owner")
  emu.admin = emu:client("admin")
  emu.developer = emu:client("developer")
  emu.reader = emu:client("reader")
  return emu
end

-- Asserts success and returns the response.
function M.ok(resp, err)
  if not resp then
    error(string.format("expected success, got %s: %s", tostring(err and err.code),
      tostring(err and err.message)), 2)
  end
  return resp
end

-- Asserts an error with this code name and returns it.
function M.fails(code_name, resp, err)
  local codes = require("cloudops.emulator.errors").codes
  if resp or not err then error("expected " .. code_name .. ", got success", 2) end
  if err.code ~= codes[code_name] then
    error(string.format("expected %s, got %d: %s", code_name, err.code, tostring(err.message)), 2)
  end
  return err
end

-- A namespace spec of the current API version; extra.regions (a list of region ids) is
-- given as replicas, since the regions field ended at v0.15.0.
function M.namespace_spec(name, extra)
  local spec = { name = name, replicas = { { region = "aws-us-east-1" } }, retention_days = 7,
                 api_key_auth = { enabled = true } }
  for k, v in pairs(extra or {}) do
    if k == "regions" then
      spec.replicas = {}
      for i, r in ipairs(v) do spec.replicas[i] = { region = r } end
    else
      spec[k] = v
    end
  end
  return spec
end

-- Creates a namespace, lets its operation finish, returns the namespace table.
function M.namespace(emu, name, extra)
  local r = M.ok(emu.owner:call("CreateNamespace", { spec = M.namespace_spec(name, extra) }))
  emu.advance(2)
  return M.ok(emu.owner:call("GetNamespace", { namespace = r.namespace })).namespace
end

M.CA = "-----BEGIN CERTIFICATE-----\nMIIBemulator\n-----END CERTIFICATE-----\n"

-- Starts, in another process, one call of `method` (snake_case) to a spawned emulator, at the
-- wall-clock time `start` if given (so that several children call at once). Returns the
-- child's pipe; M.call_result(pipe) reads its outcome ("ok" or the error name) and seconds.
function M.call_in_child(emu, method, start)
  local script = helpers.tmpdir() .. "/call.lua"
  helpers.write_file(script, string.format([[
    package.path = %q .. package.path
    package.cpath = %q .. package.cpath
    local cloudops = require "cloudops"
    local core = require "cloudops.core"
    local c = cloudops.connect { endpoint = %q, insecure = true, api_key = %q,
                                 rate_limit = false, retry = false }
    local start = tonumber(arg[1])
    while start and core.time() < start do core.sleep(0.005) end
    local t0 = core.now()
    local r, e = c[%q](c)
    io.write(string.format("%%s %%.3f\n", r and "ok" or e.name, core.now() - t0))
  ]], helpers.ROOT .. "lua/?.lua;" .. helpers.ROOT .. "lua/?/init.lua;", helpers.CORE_CPATH .. ";",
    emu.endpoint, emu.api_key, method))
  return io.popen(helpers.LUA .. " " .. helpers.sh_quote(script) .. " " .. tostring(start or ""), "r")
end

function M.call_result(pipe)
  local out = pipe:read("*a")
  pipe:close()
  local status, took = out:match("^(%S+) ([%d.]+)")
  return status, tonumber(took), out
end

function M.year_from(emu)
  return { seconds = math.floor(emu.test_clock.t) + 365 * 86400, nanos = 0 }
end

-- A client of a spawned emulator: plaintext, the owner's key, no retries nor client-side
-- rate limit (a spec asks for what it tests); `extra` overrides connect's options.
function M.connect(emu, extra)
  local opts = { endpoint = emu.endpoint, insecure = true, api_key = emu.api_key,
                 rate_limit = false, retry = false, timeout = 10 }
  for k, v in pairs(extra or {}) do opts[k] = v end
  return assert(require("cloudops").connect(opts))
end

-- A principal made by the owner, with an API key; returns its id and a caller using the key.
-- kind: "user" (spec: a UserSpec) or "service_account" (a ServiceAccountSpec).
function M.principal(emu, kind, spec)
  local user = kind == "user"
  local r = M.ok(emu.owner:call(user and "CreateUser" or "CreateServiceAccount", { spec = spec }))
  local id = user and r.user_id or r.service_account_id
  local k = M.ok(emu.owner:call("CreateApiKey", { spec = { owner_id = id, display_name = "key of " .. id,
    owner_type = user and "OWNER_TYPE_USER" or "OWNER_TYPE_SERVICE_ACCOUNT", expiry_time = M.year_from(emu) } }))
  emu.advance(2)
  return id, emu:client(k.token)
end

return M
