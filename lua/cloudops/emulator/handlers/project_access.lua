-- Who has access to a project: Set{User,UserGroup,ServiceAccount}ProjectAccess change one
-- principal's role on one project (Access.project_accesses, or a project-scoped service
-- account's own access), the Get*ProjectAssignments list the principals with a role on a
-- project, explicit or inherited from the account role (grants.INHERITED), and
-- GetProjectScopedServiceAccounts the service accounts tied to it.
local errors = require "cloudops.emulator.errors"
local util = require "cloudops.emulator.util"
local auth = require "cloudops.emulator.auth"
local R = require "cloudops.emulator.resource"
local grants = require "cloudops.emulator.grants"
local C = require "cloudops.emulator.handlers.common"
local projects = require "cloudops.emulator.handlers.projects"

local copy = util.copy

local H = {}

-- coll: the collection; id_field: the request field naming one; what: how messages name
-- one; field: the response field of the assignment listing; label: the spec field shown.
local USER = { coll = "users", id_field = "user_id", what = "user", field = "users", label = "email" }
local GROUP = { coll = "groups", id_field = "group_id", what = "group", field = "groups",
                label = "display_name" }
local SERVICE_ACCOUNT = { coll = "service_accounts", id_field = "service_account_id",
                          what = "service account", field = "service_accounts", label = "name" }

-- "Sets or removes a ... access to a project" (service.proto); an empty access removes it.
-- Changing project membership is for the project's admins ("Project Admin: ... including
-- managing project membership", identity.v1.ProjectAccess).
local function setter(kind)
  return function(ctx, req)
    local p, err = projects.managed_project(ctx, req.project_id)
    if not p then return nil, err end
    local res
    res, err = R.get_current(ctx.st, kind.coll, req[kind.id_field], req.resource_version, kind.what)
    if not res then return nil, err end
    local role = req.access and req.access.role or "PROJECT_ROLE_UNSPECIFIED"
    local remove = role == "PROJECT_ROLE_UNSPECIFIED"
    if not remove and not C.ASSIGNABLE_PROJECT_ROLES[role] then
      return errors.invalid("access.role: %s cannot be assigned", tostring(role))
    end
    local spec = res.spec
    local psa = spec.project_scoped_access
    if spec.namespace_scoped_access then
      return errors.invalid("%s %s is scoped to namespace %s", kind.what, res.id,
        spec.namespace_scoped_access.namespace)
    elseif psa and psa.project_id ~= p.id then
      return errors.invalid("%s %s is scoped to project %s", kind.what, res.id, psa.project_id)
    elseif psa and remove then
      return errors.invalid("access.role is required for a project-scoped %s", kind.what)
    end
    R.update(ctx, kind.coll, res.id, res, function(r)
      if psa then
        r.spec.project_scoped_access.access = copy(req.access)
        return
      end
      r.spec.access = r.spec.access or {}
      local pas = r.spec.access.project_accesses or {}
      pas[p.id] = not remove and copy(req.access) or nil
      r.spec.access.project_accesses = pas
    end)
    ctx.audit_details = { [kind.id_field] = res.id, project_id = p.id }
    return {}
  end
end

H.SetUserProjectAccess = setter(USER)
H.SetUserGroupProjectAccess = setter(GROUP)
H.SetServiceAccountProjectAccess = setter(SERVICE_ACCOUNT)

-- The role `res` has on project pid and whether it is inherited from its account role
-- ("True if the user has inherited access to the project through an account role").
local function role_on(res, pid)
  local spec = res.spec
  local psa = spec.project_scoped_access
  if psa then
    if psa.project_id == pid then return psa.access and psa.access.role, false end
    return nil
  end
  if spec.namespace_scoped_access then return nil end
  local access = spec.access or {}
  local pa = access.project_accesses and access.project_accesses[pid]
  local explicit = pa and pa.role
  local inherited = grants.INHERITED[auth.role_of(access)]
  local roles = grants.PROJECT_ROLES
  if inherited and (not explicit or roles[inherited].rank > roles[explicit].rank) then
    return inherited, true
  end
  return explicit, false
end

local function assignments(kind)
  return function(ctx, req)
    local p, err = projects.visible_project(ctx, req.project_id)
    if not p then return nil, err end
    local rows = {}
    for id, res in pairs(ctx.st[kind.coll]) do
      local role, inherited = role_on(res, p.id)
      if role then
        rows[id] = { id = res.id, [kind.label] = res.spec[kind.label],
                     project_access = { role = role }, inherited_access = inherited,
                     resource_version = res.resource_version }
      end
    end
    local items, keys = C.list(rows, C.by_id)
    local page, token = C.page(ctx, items, keys)
    if not page then return nil, token end
    return { [kind.field] = page, next_page_token = token }
  end
end

H.GetUserProjectAssignments = assignments(USER)
H.GetUserGroupProjectAssignments = assignments(GROUP)
H.GetServiceAccountProjectAssignments = assignments(SERVICE_ACCOUNT)

function H.GetProjectScopedServiceAccounts(ctx, req)
  local p, err = projects.visible_project(ctx, req.project_id)
  if not p then return nil, err end
  local items, keys = C.list(ctx.st.service_accounts, C.by_id, function(sa)
    local psa = sa.spec.project_scoped_access
    return psa ~= nil and psa.project_id == p.id
  end)
  local page, token = C.page(ctx, items, keys)
  if not page then return nil, token end
  return { service_accounts = page, next_page_token = token }
end

return H
