-- Checks several handler families share: access tables, namespace and project references.
local errors = require "cloudops.emulator.errors"
local auth = require "cloudops.emulator.auth"
local util = require "cloudops.emulator.util"
local grants = require "cloudops.emulator.grants"

local M = {}

M.ROLES = {
  ROLE_OWNER = true, ROLE_ADMIN = true, ROLE_DEVELOPER = true, ROLE_FINANCE_ADMIN = true,
  ROLE_READ = true, ROLE_METRICS_READ = true,
}
M.PERMISSIONS = { PERMISSION_ADMIN = true, PERMISSION_WRITE = true, PERMISSION_READ = true }

-- The project a create request names, or the Default Project when it names none ("New
-- resources are automatically placed in the Default Project unless you specify otherwise",
-- docs.temporal.io/cloud/projects). Without a Default Project, "API calls that do not
-- specify a Project will fail".
function M.project_of(ctx, pid)
  if pid == nil or pid == "" then
    pid = ctx.st.default_project
    if not pid then
      return errors.precondition("the account has no Default Project: project_id is required")
    end
  end
  local p = ctx.st.projects[pid]
  if not p then return errors.not_found("project not found: %s", pid) end
  if p.state == "RESOURCE_STATE_DELETING" then
    return errors.precondition("project %s is being deleted", pid)
  end
  return p
end

-- The account's quota of a kind: true while ctx.st[coll] holds fewer than ctx.cfg[max_key],
-- else FAILED_PRECONDITION naming the count and `what` ("projects"). (Projects, users and
-- Nexus endpoints: docs.temporal.io/evaluate/cloud/limits, raised by support.)
function M.check_quota(ctx, coll, max_key, what)
  local n = 0
  for _ in pairs(ctx.st[coll]) do n = n + 1 end
  if n >= ctx.cfg[max_key] then
    return errors.precondition("the account has %d %s, its limit; contact support to raise it", n, what)
  end
  return true
end

-- Whether a resource passes a list request's project_id filter (none: all do).
function M.in_project(res, pid)
  return pid == nil or pid == "" or res.project_id == pid
end

-- Project roles a principal may be given: "PROJECT_ROLE_DEVELOPER ... cannot be assigned
-- directly" (identity.v1.ProjectAccess).
M.ASSIGNABLE_PROJECT_ROLES = {}
for role in pairs(grants.PROJECT_ROLES) do
  if role ~= "PROJECT_ROLE_DEVELOPER" then M.ASSIGNABLE_PROJECT_ROLES[role] = true end
end

function M.check_project_access(ctx, pid, pa, what)
  if not ctx.st.projects[pid] then return errors.invalid("%s: project not found: %s", what, pid) end
  local role = pa and pa.role or "PROJECT_ROLE_UNSPECIFIED"
  if not M.ASSIGNABLE_PROJECT_ROLES[role] then
    return errors.invalid("%s[%s].role: %s cannot be assigned", what, pid, tostring(role))
  end
  return true
end

-- Custom roles named in an Access (account_access.custom_roles, or the pre-v0.13.0
-- custom_roles_deprecated) must exist.
local function check_custom_roles(ctx, list, what)
  for _, rid in ipairs(list or {}) do
    if not ctx.st.custom_roles[rid] then
      return errors.invalid("%s: custom role not found: %s", what, tostring(rid))
    end
  end
  return true
end

-- Checks an Access table (users, groups, account-scoped service accounts): an account
-- role is required (groups may have none), namespaces must exist, and only an owner may
-- hand out ownership or Finance Admin ("Only an Account Owner can assign Finance Admin to a
-- user, group, or Service Account", docs.temporal.io/cloud/manage-access/users). current:
-- the Access being replaced, if any (keeping a role is not assigning it).
function M.check_access(ctx, access, what, role_optional, current)
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
  if role == "ROLE_FINANCE_ADMIN" and ctx.identity.role ~= "ROLE_OWNER"
    and auth.role_of(current) ~= role then
    return errors.denied("permission denied: only an account owner can grant the finance admin role")
  end
  local ok, err = check_custom_roles(ctx, aa and aa.custom_roles, what .. ".access.account_access.custom_roles")
  if not ok then return nil, err end
  ok, err = check_custom_roles(ctx, access.custom_roles_deprecated, what .. ".access.custom_roles_deprecated")
  if not ok then return nil, err end
  for pid, pa in pairs(access.project_accesses or {}) do
    ok, err = M.check_project_access(ctx, pid, pa, what .. ".access.project_accesses")
    if not ok then return nil, err end
  end
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

-- Calls fn(access) for the Access of every user, group and account-scoped service account,
-- for what a removed resource takes out of them.
function M.each_access(st, fn)
  for _, coll in ipairs { "users", "groups", "service_accounts" } do
    for _, res in pairs(st[coll]) do
      if res.spec.access then fn(res.spec.access) end
    end
  end
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

-- A sink spec (export sinks, audit-log sinks): a name that is a path segment of the HTTP
-- API, and exactly one of the destinations `kinds` (in the order messages list them), with
-- the fields required[kind] names set.
function M.check_sink_spec(spec, kinds, required)
  if spec == nil then return errors.invalid("spec is required") end
  local name = spec.name or ""
  if not name:match("^[%a][%w_%-]*$") or #name > 63 then
    return errors.invalid("spec.name must start with a letter and hold letters, digits, '-' or '_' (at most 63)")
  end
  local list = table.concat(kinds, ", ", 1, #kinds - 1) .. " and " .. kinds[#kinds]
  local dest
  for _, kind in ipairs(kinds) do
    if spec[kind] then
      if dest then return errors.invalid("spec: only one of %s may be set", list) end
      dest = kind
    end
  end
  if not dest then return errors.invalid("spec: one of %s is required", list) end
  for _, f in ipairs(required[dest]) do
    if (spec[dest][f] or "") == "" then return errors.invalid("spec.%s.%s is required", dest, f) end
  end
  return true
end

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
