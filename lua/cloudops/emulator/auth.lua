-- Who is calling and what they may do. The bearer token maps to an API key, the key to
-- its owner (a user or a service account); the account role and the namespace
-- permissions come from the owner's access and, for users, from their groups' access.
local errors = require "cloudops.emulator.errors"
local util = require "cloudops.emulator.util"

local M = {}

M.LEVEL = {
  ROLE_OWNER = 6, ROLE_ADMIN = 5, ROLE_DEVELOPER = 3, ROLE_FINANCE_ADMIN = 2,
  ROLE_READ = 1, ROLE_METRICS_READ = 1, ROLE_UNSPECIFIED = 0,
}
local DEPRECATED_ROLE = {
  owner = "ROLE_OWNER", admin = "ROLE_ADMIN", developer = "ROLE_DEVELOPER",
  financeadmin = "ROLE_FINANCE_ADMIN", read = "ROLE_READ", metricsread = "ROLE_METRICS_READ",
}
local DEPRECATED_PERMISSION = {
  admin = "PERMISSION_ADMIN", write = "PERMISSION_WRITE", read = "PERMISSION_READ",
}
M.PERMISSION_LEVEL = {
  PERMISSION_ADMIN = 3, PERMISSION_WRITE = 2, PERMISSION_READ = 1, PERMISSION_UNSPECIFIED = 0,
}

-- The account role of an Access table (the enum, or the pre-v0.3.0 string).
function M.role_of(access)
  local aa = access and access.account_access
  if not aa then return "ROLE_UNSPECIFIED" end
  if aa.role and aa.role ~= "ROLE_UNSPECIFIED" then return aa.role end
  return DEPRECATED_ROLE[aa.role_deprecated or ""] or "ROLE_UNSPECIFIED"
end

function M.permission_of(na)
  if not na then return "PERMISSION_UNSPECIFIED" end
  if na.permission and na.permission ~= "PERMISSION_UNSPECIFIED" then return na.permission end
  return DEPRECATED_PERMISSION[na.permission_deprecated or ""] or "PERMISSION_UNSPECIFIED"
end

local function merge_access(id, access)
  if access then id.accesses[#id.accesses + 1] = access end
  local role = M.role_of(access)
  if M.LEVEL[role] > M.LEVEL[id.role] then id.role = role end
  for ns, na in pairs(access and access.namespace_accesses or {}) do
    local p = M.permission_of(na)
    if M.PERMISSION_LEVEL[p] > M.PERMISSION_LEVEL[id.namespaces[ns] or "PERMISSION_UNSPECIFIED"] then
      id.namespaces[ns] = p
    end
  end
end

local function owner_kind(spec)
  if spec.owner_type == "OWNER_TYPE_USER" or spec.owner_type_deprecated == "user" then
    return "user"
  elseif spec.owner_type == "OWNER_TYPE_SERVICE_ACCOUNT"
    or spec.owner_type_deprecated == "service-account" then
    return "service_account"
  end
end
M.owner_kind = owner_kind

local USABLE = { RESOURCE_STATE_ACTIVE = true, RESOURCE_STATE_UPDATING = true }

-- The identity of the caller from the request metadata, or nil, UNAUTHENTICATED.
function M.identify(st, metadata, now)
  local h = metadata and metadata.authorization
  if h == nil or h == "" then
    return errors.unauthenticated("missing authorization header: expected 'Bearer <API key>'")
  end
  local token = h:match("^[Bb][Ee][Aa][Rr][Ee][Rr]%s+(%S+)%s*$")
  if not token then
    return errors.unauthenticated("malformed authorization header: expected 'Bearer <API key>'")
  end
  -- A twin's local keys (twin.lua) are listed nowhere, but authenticate as any key.
  local key = st.api_keys[st.tokens[token] or ""] or (st.twin_keys and st.twin_keys[token])
  if not key then return errors.unauthenticated("invalid API key") end
  if not USABLE[key.state] then
    return errors.unauthenticated("API key is not active (state %s)", tostring(key.state))
  end
  local spec = key.spec
  -- An enable or disable still in flight has not taken effect (handlers/api_keys.lua).
  local pending = st.key_status and st.key_status[key.id]
  local disabled = spec.disabled
  if pending then disabled = pending.disabled end
  if disabled then return errors.unauthenticated("API key is disabled") end
  if spec.expiry_time and util.to_seconds(spec.expiry_time) <= now then
    return errors.unauthenticated("API key has expired")
  end
  local kind = owner_kind(spec)
  local principal = kind == "user" and st.users[spec.owner_id]
    or kind == "service_account" and st.service_accounts[spec.owner_id] or nil
  if not principal or not USABLE[principal.state] then
    return errors.unauthenticated("the owner of this API key is not active")
  end
  local id = { kind = kind, id = principal.id, principal = principal, key = key,
               role = "ROLE_UNSPECIFIED", namespaces = {}, accesses = {} }
  local pspec = principal.spec
  if kind == "service_account" and pspec.namespace_scoped_access then
    -- "a Namespace-scoped Service Account must always have a Read Account Role"
    -- (docs.temporal.io/cloud/manage-access/service-accounts).
    local nsa = pspec.namespace_scoped_access
    id.namespaces[nsa.namespace] = M.permission_of(nsa.access)
    id.scoped = nsa.namespace
    id.role = "ROLE_READ"
  else
    merge_access(id, pspec.access)
  end
  if kind == "user" then
    for gid, members in pairs(st.members) do
      local g = st.groups[gid]
      if members[id.id] and g and USABLE[g.state] then merge_access(id, g.spec.access) end
    end
  end
  return id
end

function M.describe(id)
  if id.kind == "user" then
    return string.format("user %s (%s)", id.principal.spec.email or id.id, id.role)
  end
  return string.format("service account %s (%s)", id.principal.spec.name or id.id, id.role)
end

local function deny(id, action)
  return errors.denied("permission denied: %s is not allowed to %s", M.describe(id), action)
end

-- The caller's account role is at least `role`. id.grant: a custom or project role allows
-- this call (grants.bind), whatever the role.
function M.require_role(id, role, action)
  if id.grant or M.LEVEL[id.role] >= M.LEVEL[role] then return true end
  return deny(id, action)
end

-- Exactly one of the listed roles (e.g. usage is for owners, admins and finance admins).
function M.require_one_of(id, roles, action)
  if id.grant then return true end
  for _, r in ipairs(roles) do if id.role == r then return true end end
  return deny(id, action)
end

-- The permission the caller has on a namespace: account owners and admins have admin.
function M.ns_permission(id, ns)
  if M.LEVEL[id.role] >= M.LEVEL.ROLE_ADMIN then return "PERMISSION_ADMIN" end
  return id.namespaces[ns] or "PERMISSION_UNSPECIFIED"
end

function M.require_ns(id, ns, permission, action)
  if id.grant or M.PERMISSION_LEVEL[M.ns_permission(id, ns)] >= M.PERMISSION_LEVEL[permission] then
    return true
  end
  return deny(id, action)
end

-- Whether the caller can see a namespace: anyone with an account role reads the account;
-- a namespace-scoped service account sees its namespace only.
function M.can_see(id, ns)
  if M.LEVEL[id.role] >= M.LEVEL.ROLE_READ then return true end
  return id.namespaces[ns] ~= nil
end

return M
