-- The in-memory model: one plain table (no functions, no metatables) so that it can be
-- saved to a file and loaded back as it is. Resources are stored as the proto tables the
-- API returns; what the API does not show (tokens, operation timings) sits beside them.
local util = require "cloudops.emulator.util"

local M = {}

-- Keyed collections of resources, each a map from id to the resource table.
M.collections = {
  "namespaces",        -- namespace id ("name.account") -> Namespace
  "users",             -- user id -> User
  "groups",            -- group id -> UserGroup
  "service_accounts",  -- service account id -> ServiceAccount
  "api_keys",          -- key id -> ApiKey
  "nexus",             -- endpoint id -> Endpoint
  "rules",             -- connectivity rule id -> ConnectivityRule
  "sinks",             -- "namespace/name" -> ExportSink
  "projects",          -- project id -> Project
  "custom_roles",      -- custom role id -> CustomRole
  "billing_reports",   -- billing report id -> BillingReport
  "audit_sinks",       -- audit log sink name -> AuditLogSink
}

function M.new(account_id, now)
  local st = {
    format = 1,
    account = {
      id = account_id,
      spec = {},
      resource_version = util.id(16),
      state = "RESOURCE_STATE_ACTIVE",
    },
    members = {},   -- group id -> { user id -> created seconds }
    tokens = {},    -- API key token -> key id
    ops = {},       -- async operation id -> internal operation record (operations.lua)
    active_ops = {},-- ids of operations not yet in a terminal state
    last_op = {},   -- "collection\0key" -> id of the last operation that changed it
    audit = {},     -- array of auditlog LogRecord tables, in emit order
    created = now,
  }
  for _, c in ipairs(M.collections) do st[c] = {} end
  return st
end

-- Adds the collections a state saved by an older emulator lacks.
function M.complete(st)
  for _, c in ipairs(M.collections) do st[c] = st[c] or {} end
  return st
end

-- The account is a singleton; every other collection is keyed.
function M.get(st, coll, key)
  if coll == "account" then return st.account end
  return st[coll][key]
end

function M.set(st, coll, key, res)
  if coll == "account" then st.account = res else st[coll][key] = res end
end

function M.version()
  return util.id(16)
end

return M
