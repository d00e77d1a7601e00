-- Service accounts: account-scoped (with an Access), namespace-scoped (one namespace) or
-- project-scoped (one project).
local errors = require "cloudops.emulator.errors"
local auth = require "cloudops.emulator.auth"
local R = require "cloudops.emulator.resource"
local ops = require "cloudops.emulator.operations"
local api_keys = require "cloudops.emulator.handlers.api_keys"
local C = require "cloudops.emulator.handlers.common"
local P = require "cloudops.emulator.handlers.principal"

local H = {}

-- Account admins manage every service account; a namespace admin manages those scoped to
-- that namespace ("Namespace-scoped Service Accounts can be created and managed by
-- Namespace Admins", docs.temporal.io/cloud/manage-access/service-accounts).
local function authorize(ctx, spec)
  local nsa = spec and spec.namespace_scoped_access
  if nsa and nsa.namespace and nsa.namespace ~= "" then
    return C.require_ns_admin(ctx, nsa.namespace)
  end
  return C.require_role(ctx, "ROLE_ADMIN")
end

local SERVICE_ACCOUNT = { coll = "service_accounts", id_field = "service_account_id",
                          field = "service_account", what = "service account",
                          self_readable = true, scopable = true, authorize = authorize }

-- A service account as the seeding and bootstrap code creates it: active.
function H.build(st, now, spec) return R.build_active(st, SERVICE_ACCOUNT.coll, now, spec) end

-- A removed service account takes its API keys with it.
ops.on_remove.service_accounts = function(st, id) api_keys.remove_owned_by(st, id) end

local function name_taken(st, name, except)
  for id, sa in pairs(st.service_accounts) do
    if id ~= except and sa.spec.name == name and sa.state ~= "RESOURCE_STATE_DELETING" then
      return true
    end
  end
end

-- A project-scoped service account (identity.v1.ProjectScopedAccess): tied to one project,
-- for good, with a project role and access to namespaces of that project.
local function check_project_scoped(ctx, spec, current)
  local psa = spec.project_scoped_access
  if current and (current.spec.project_scoped_access == nil) ~= (psa == nil) then
    return errors.invalid("spec: the scope of a service account cannot be changed")
  end
  if spec.access or spec.namespace_scoped_access then
    return errors.invalid("spec: only one of access, namespace_scoped_access and project_scoped_access may be set")
  end
  if (psa.project_id or "") == "" then
    return errors.invalid("spec.project_scoped_access.project_id is required")
  end
  if current and psa.project_id ~= current.spec.project_scoped_access.project_id then
    return errors.invalid("spec.project_scoped_access.project_id cannot be changed")
  end
  local ok, err = C.check_project_access(ctx, psa.project_id, psa.access, "spec.project_scoped_access")
  if not ok then return nil, err end
  for ns, na in pairs(psa.namespace_accesses or {}) do
    local n = ctx.st.namespaces[ns]
    if not n or n.project_id ~= psa.project_id then
      return errors.invalid("spec.project_scoped_access.namespace_accesses: namespace %s is not in project %s",
        ns, psa.project_id)
    end
    if not C.PERMISSIONS[auth.permission_of(na)] then
      return errors.invalid("spec.project_scoped_access.namespace_accesses[%s]: a permission is required", ns)
    end
  end
  return true
end

local function check_spec(ctx, spec, current)
  if spec == nil then return errors.invalid("spec is required") end
  if spec.name == nil or spec.name == "" then return errors.invalid("spec.name is required") end
  if spec.project_scoped_access or (current and current.spec.project_scoped_access) then
    return check_project_scoped(ctx, spec, current)
  end
  local nsa = spec.namespace_scoped_access
  if spec.access and nsa then
    return errors.invalid("spec: only one of access and namespace_scoped_access may be set")
  end
  if current then
    local was_scoped = current.spec.namespace_scoped_access ~= nil
    if was_scoped ~= (nsa ~= nil) then
      return errors.invalid("spec: the scope of a service account cannot be changed")
    end
    if nsa and nsa.namespace ~= current.spec.namespace_scoped_access.namespace then
      return errors.invalid("spec.namespace_scoped_access.namespace cannot be changed")
    end
  end
  if nsa then
    if nsa.namespace == nil or nsa.namespace == "" then
      return errors.invalid("spec.namespace_scoped_access.namespace is required")
    end
    if not ctx.st.namespaces[nsa.namespace] then
      return errors.invalid("spec.namespace_scoped_access: namespace not found: %s", nsa.namespace)
    end
    if not C.PERMISSIONS[auth.permission_of(nsa.access)] then
      return errors.invalid("spec.namespace_scoped_access.access: a permission is required")
    end
    return true
  end
  if not spec.access then
    return errors.invalid("spec: one of access, namespace_scoped_access or project_scoped_access is required")
  end
  return C.check_access(ctx, spec.access, "spec", false, current and current.spec.access)
end

function H.GetServiceAccounts(ctx, _req)
  local ok, err = C.require_role(ctx, "ROLE_READ")
  if not ok then return nil, err end
  local items, keys = C.list(ctx.st.service_accounts, C.by_id)
  local page, token = C.page(ctx, items, keys)
  if not page then return nil, token end
  return { service_account = page, next_page_token = token }
end

H.GetServiceAccount = P.getter(SERVICE_ACCOUNT)

H.CreateServiceAccount = P.creator(SERVICE_ACCOUNT, function(ctx, spec)
  local ok, err = check_spec(ctx, spec)
  if not ok then return nil, err end
  if name_taken(ctx.st, spec.name) then
    return errors.exists("a service account named %s already exists", spec.name)
  end
  return true
end)

H.UpdateServiceAccount = P.updater(SERVICE_ACCOUNT, function(ctx, sa, spec)
  local ok, err = check_spec(ctx, spec, sa)
  if not ok then return nil, err end
  if name_taken(ctx.st, spec.name, sa.id) then
    return errors.exists("a service account named %s already exists", spec.name)
  end
  return spec
end)

H.SetServiceAccountNamespaceAccess = P.namespace_access_setter(SERVICE_ACCOUNT)

H.DeleteServiceAccount = P.deleter(SERVICE_ACCOUNT)

return H
