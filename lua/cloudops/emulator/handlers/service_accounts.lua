-- Service accounts: account-scoped (with an Access) or namespace-scoped (one namespace).
-- Project-scoped ones need projects, which the emulator does not implement.
local errors = require "cloudops.emulator.errors"
local util = require "cloudops.emulator.util"
local auth = require "cloudops.emulator.auth"
local R = require "cloudops.emulator.resource"
local ops = require "cloudops.emulator.operations"
local api_keys = require "cloudops.emulator.handlers.api_keys"
local C = require "cloudops.emulator.handlers.common"
local P = require "cloudops.emulator.handlers.principal"

local copy = util.copy

local H = {}

local SERVICE_ACCOUNT = { coll = "service_accounts", id_field = "service_account_id",
                          what = "service account", scopable = true }

-- A service account as the seeding and bootstrap code creates it: active.
function H.build(st, now, spec) return R.build_active(st, "service_accounts", now, spec) end

-- A removed service account takes its API keys with it.
ops.on_remove.service_accounts = function(st, id) api_keys.remove_owned_by(st, id) end

local function name_taken(st, name, except)
  for id, sa in pairs(st.service_accounts) do
    if id ~= except and sa.spec.name == name and sa.state ~= "RESOURCE_STATE_DELETING" then
      return true
    end
  end
end

local function check_spec(ctx, spec, current)
  if spec == nil then return errors.invalid("spec is required") end
  if spec.name == nil or spec.name == "" then return errors.invalid("spec.name is required") end
  if spec.project_scoped_access then return C.no_projects("spec.project_scoped_access") end
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
  return C.check_access(ctx, spec.access, "spec")
end

function H.GetServiceAccounts(ctx, req)
  local ok, err = C.require_role(ctx, "ROLE_READ")
  if not ok then return nil, err end
  local items, keys = C.list(ctx.st.service_accounts, C.by_id)
  local page, token = C.page(ctx, items, keys)
  if not page then return nil, token end
  return { service_account = page, next_page_token = token }
end

function H.GetServiceAccount(ctx, req)
  local ok, err = C.require_role(ctx, "ROLE_READ")
  if not ok and ctx.identity.id ~= req.service_account_id then return nil, err end
  local sa, gerr = R.get(ctx.st, "service_accounts", req.service_account_id, "service account")
  if not sa then return nil, gerr end
  return { service_account = copy(sa) }
end

function H.CreateServiceAccount(ctx, req)
  local ok, err = C.require_role(ctx, "ROLE_ADMIN")
  if not ok then return nil, err end
  ok, err = check_spec(ctx, req.spec)
  if not ok then return nil, err end
  if name_taken(ctx.st, req.spec.name) then
    return errors.exists("a service account named %s already exists", req.spec.name)
  end
  local sa = { id = util.id(32), spec = copy(req.spec) }
  R.create(ctx, "service_accounts", sa.id, sa)
  ctx.audit_details = { service_account_id = sa.id }
  return { service_account_id = sa.id }
end

function H.UpdateServiceAccount(ctx, req)
  local ok, err = C.require_role(ctx, "ROLE_ADMIN")
  if not ok then return nil, err end
  local sa, gerr = R.get(ctx.st, "service_accounts", req.service_account_id, "service account")
  if not sa then return nil, gerr end
  ok, err = R.check_version(sa, req.resource_version, "service account")
  if not ok then return nil, err end
  ok, err = check_spec(ctx, req.spec, sa)
  if not ok then return nil, err end
  if name_taken(ctx.st, req.spec.name, sa.id) then
    return errors.exists("a service account named %s already exists", req.spec.name)
  end
  R.update(ctx, "service_accounts", sa.id, sa, function(r) r.spec = copy(req.spec) end)
  ctx.audit_details = { service_account_id = sa.id }
  return {}
end

H.SetServiceAccountNamespaceAccess = P.namespace_access_setter(SERVICE_ACCOUNT)

function H.DeleteServiceAccount(ctx, req)
  local ok, err = C.require_role(ctx, "ROLE_ADMIN")
  if not ok then return nil, err end
  local sa, gerr = R.get(ctx.st, "service_accounts", req.service_account_id, "service account")
  if not sa then return nil, gerr end
  ok, err = R.check_version(sa, req.resource_version, "service account")
  if not ok then return nil, err end
  R.delete(ctx, "service_accounts", sa.id, sa)
  ctx.audit_details = { service_account_id = sa.id }
  return {}
end

return H
