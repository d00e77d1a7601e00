-- Checks several handler families share: access tables, namespace references, the
-- "projects are not implemented" answer.
local errors = require "cloudops.emulator.errors"
local auth = require "cloudops.emulator.auth"
local util = require "cloudops.emulator.util"

local M = {}

M.ROLES = {
  ROLE_OWNER = true, ROLE_ADMIN = true, ROLE_DEVELOPER = true, ROLE_FINANCE_ADMIN = true,
  ROLE_READ = true, ROLE_METRICS_READ = true,
}
M.PERMISSIONS = { PERMISSION_ADMIN = true, PERMISSION_WRITE = true, PERMISSION_READ = true }

function M.no_projects(what)
  return errors.unimplemented("%s: projects are not implemented by the emulator", what)
end

function M.project_check(req, what)
  if req.project_id ~= nil and req.project_id ~= "" then return M.no_projects(what) end
  return true
end

-- Checks an Access table (users, groups, account-scoped service accounts): an account
-- role is required (groups may have none), namespaces must exist, and only an owner may
-- hand out ownership.
function M.check_access(ctx, access, what, role_optional)
  if access == nil then
    if role_optional then return true end
    return errors.invalid("%s.access is required", what)
  end
  local role = auth.role_of(access)
  local aa = access.account_access
  if aa and aa.role and aa.role ~= "ROLE_UNSPECIFIED" and not M.ROLES[aa.role] then
    return errors.invalid("%s.access.account_access.role: unknown role %s", what, tostring(aa.role))
  end
  if role == "ROLE_UNSPECIFIED" and not role_optional then
    return errors.invalid("%s.access.account_access.role is required", what)
  end
  if role == "ROLE_OWNER" and ctx.identity.role ~= "ROLE_OWNER" then
    return errors.denied("permission denied: only an account owner can grant the owner role")
  end
  for _ in pairs(aa and aa.custom_roles or {}) do
    return errors.unimplemented("%s: custom roles are not implemented by the emulator", what)
  end
  for _ in pairs(access.project_accesses or {}) do return M.no_projects(what) end
  for ns, na in pairs(access.namespace_accesses or {}) do
    if not ctx.st.namespaces[ns] then
      return errors.invalid("%s.access.namespace_accesses: namespace not found: %s", what, ns)
    end
    if not M.PERMISSIONS[auth.permission_of(na)] then
      return errors.invalid("%s.access.namespace_accesses[%s]: a permission is required", what, ns)
    end
  end
  return true
end

-- The namespace a request names, which must exist and be visible to the caller.
function M.namespace(ctx, ns)
  if ns == nil or ns == "" then return errors.invalid("namespace is required") end
  local res = ctx.st.namespaces[ns]
  if not res then return errors.not_found("namespace not found: %s", ns) end
  if not auth.can_see(ctx.identity, ns) then
    return errors.denied("permission denied: %s cannot read namespace %s",
      auth.describe(ctx.identity), ns)
  end
  return res
end

-- Sets (or, with an empty permission, removes) one namespace's access in an Access table.
function M.set_namespace_access(access, ns, na)
  access.namespace_accesses = access.namespace_accesses or {}
  if auth.permission_of(na) == "PERMISSION_UNSPECIFIED" then
    access.namespace_accesses[ns] = nil
  else
    access.namespace_accesses[ns] = util.copy(na)
  end
end

function M.require_role(ctx, role)
  return auth.require_role(ctx.identity, role, ctx.method)
end

function M.require_ns_admin(ctx, ns)
  return auth.require_ns(ctx.identity, ns, "PERMISSION_ADMIN", ctx.method .. " on " .. ns)
end

M.EMAIL = "^[^@%s]+@[^@%s]+%.[^@%s]+$"

-- Returns a list of the values of `t`, sorted by `keyfn`, filtered by `keep`.
function M.list(t, keyfn, keep)
  local items, keys = {}, {}
  for k, v in pairs(t) do
    if not keep or keep(v, k) then
      items[#items + 1] = v
      keys[v] = keyfn(v, k)
    end
  end
  table.sort(items, function(a, b) return keys[a] < keys[b] end)
  return items, keys
end

-- Pages through a sorted list and returns copies of the page's items.
function M.page(ctx, items, keys)
  local page, token = ctx:page(items, keys)
  if not page then return nil, token end
  for i, v in ipairs(page) do page[i] = util.copy(v) end
  return page, token
end

function M.by_id(v) return v.id end

return M
