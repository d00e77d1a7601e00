-- What a fresh emulator holds: the principals whose API keys it prints (an owner, a
-- read-only user, a developer, an admin service account), and on request seeded
-- namespaces, users, service accounts and audit log records.
local util = require "cloudops.emulator.util"
local uuid = require "cloudops.uuid"
local audit = require "cloudops.emulator.audit"
local users = require "cloudops.emulator.handlers.users"
local service_accounts = require "cloudops.emulator.handlers.service_accounts"
local api_keys = require "cloudops.emulator.handlers.api_keys"
local namespaces = require "cloudops.emulator.handlers.namespaces"
local projects = require "cloudops.emulator.handlers.projects"
local statelib = require "cloudops.emulator.state"

local format, ts = string.format, util.ts

local M = {}

local YEAR = 365 * 86400

-- name, kind, principal spec; the keys of the bootstrap table, in the order printed.
M.PRINCIPALS = {
  { name = "owner", kind = "user", email = "owner@example.com", role = "ROLE_OWNER" },
  { name = "admin", kind = "service_account", sa = "emulator-admin", role = "ROLE_ADMIN" },
  { name = "developer", kind = "user", email = "developer@example.com", role = "ROLE_DEVELOPER" },
  { name = "reader", kind = "user", email = "reader@example.com", role = "ROLE_READ" },
}

local function key_spec(owner_id, kind, name, now)
  return {
    owner_id = owner_id,
    owner_type = kind == "user" and "OWNER_TYPE_USER" or "OWNER_TYPE_SERVICE_ACCOUNT",
    owner_type_deprecated = kind == "user" and "user" or "service-account",
    display_name = name .. " (emulator)",
    expiry_time = ts(now + YEAR),
    disabled = false,
  }
end

-- Creates the bootstrap principals and the Default Project on a fresh state; binds
-- cfg.api_key to the owner. Returns { owner = token, admin = token, developer = token,
-- reader = token }.
function M.bootstrap(st, cfg, now)
  projects.bootstrap(statelib.complete(st), now)
  st.bootstrap = st.bootstrap or {}
  local b = st.bootstrap
  for _, p in ipairs(M.PRINCIPALS) do
    if not b[p.name] then
      local access = { account_access = { role = p.role }, namespace_accesses = {} }
      local owner
      if p.kind == "user" then
        owner = users.build(st, now, { email = p.email, access = access })
      else
        owner = service_accounts.build(st, now, { name = p.sa, access = access,
          description = "the emulator's bootstrap service account" })
      end
      local token = (p.name == "owner" and cfg.api_key) or api_keys.new_token(cfg.random)
      api_keys.build(st, now, key_spec(owner.id, p.kind, p.name, now), token)
      b[p.name] = token
    end
  end
  if cfg.api_key and b.owner ~= cfg.api_key then
    st.tokens[cfg.api_key], st.tokens[b.owner] = st.tokens[b.owner], nil
    b.owner = cfg.api_key
  end
  return util.copy(b)
end

local REGIONS = { "aws-us-east-1", "aws-us-west-2", "aws-eu-west-1", "gcp-us-central1" }
local ROLES = { "ROLE_READ", "ROLE_DEVELOPER", "ROLE_ADMIN" }
local OPERATIONS = { "CreateNamespaceAPI", "UpdateNamespaceAPI", "CreateUserAPI", "CreateAPIKey",
                     "SetUserNamespaceAccessAPI", "CreateServiceAccount" }

-- Seeds what cfg.seed asks for; names already present are left alone, so a loaded state
-- is not seeded twice.
function M.fill(st, cfg, now)
  local s = cfg.seed
  for i = 1, s.namespaces or 0 do
    local name = format("seed-ns-%03d", i)
    if not st.namespaces[name .. "." .. st.account.id] then
      namespaces.build(st, now, {
        name = name, replicas = { { region = REGIONS[(i - 1) % #REGIONS + 1] } },
        retention_days = 30, api_key_auth = { enabled = true },
      }, { env = i % 2 == 0 and "prod" or "dev" }, now - 90 * 86400)   -- they have a history
    end
  end
  local emails = {}
  for _, u in pairs(st.users) do emails[u.spec.email] = true end
  for i = 1, s.users or 0 do
    local email = format("user%03d@example.com", i)
    if not emails[email] then
      users.build(st, now, { email = email, access = {
        account_access = { role = ROLES[(i - 1) % 2 + 1] }, namespace_accesses = {} } })
    end
  end
  local names = {}
  for _, sa in pairs(st.service_accounts) do names[sa.spec.name] = true end
  for i = 1, s.service_accounts or 0 do
    local name = format("seed-sa-%03d", i)
    if not names[name] then
      service_accounts.build(st, now, { name = name, access = {
        account_access = { role = ROLES[(i - 1) % #ROLES + 1] }, namespace_accesses = {} } })
    end
  end
  local n = s.audit_logs or 0
  if n > 0 and not st.audit_seeded then
    st.audit_seeded = true
    local owner_key = st.api_keys[st.tokens[st.bootstrap.owner] or ""]
    local owner = owner_key and st.users[owner_key.spec.owner_id]
    for i = 1, n do
      local t = now - 7 * 86400 + (i - 1) * (7 * 86400 / n)
      local rec = audit.record(st, t, {
        operation = OPERATIONS[(i - 1) % #OPERATIONS + 1],
        identity = owner and { kind = "user", id = owner.id, principal = owner, key = owner_key },
        details = { seeded = true }, peer_ip = "127.0.0.1",
      })
      rec.async_operation_id = uuid()
    end
    table.sort(st.audit, function(a, b) return util.to_seconds(a.emit_time) < util.to_seconds(b.emit_time) end)
  end
end

return M
