-- Who has access to a namespace: users, service accounts and groups, with explicit
-- access or inherited from an account role (owners and admins administer every
-- namespace) or from a role on the namespace's project (grants.lua).
local util = require "cloudops.emulator.util"
local auth = require "cloudops.emulator.auth"
local C = require "cloudops.emulator.handlers.common"
local grants = require "cloudops.emulator.grants"

local H = {}

local INHERITED = { ROLE_OWNER = true, ROLE_ADMIN = true }

-- The namespace permission a project role gives on the project's namespaces, as an access.
local function from_project(role)
  local p = grants.PROJECT_ROLES[role or ""]
  return p and p.ns and { permission = p.ns } or nil
end

-- Lists under `field` one row per member of `coll` with access to the namespace: its id,
-- its version, its access and whether that is inherited, and the spec field `label` that
-- names it (email, name, display_name), under the same name.
local function assignments(ctx, req, coll, field, label)
  local ns, err = C.namespace(ctx, req.namespace)
  if not ns then return nil, err end
  local ok
  ok, err = C.require_role(ctx, "ROLE_READ")
  if not ok then return nil, err end
  local rows = {}
  for id, res in pairs(ctx.st[coll]) do
    local spec = res.spec
    local na, inherited
    local psa = spec.project_scoped_access
    if spec.namespace_scoped_access then
      if spec.namespace_scoped_access.namespace == ns.namespace then
        na = spec.namespace_scoped_access.access
      end
    elseif psa then
      na = psa.namespace_accesses and psa.namespace_accesses[ns.namespace]
      if not na and psa.project_id == ns.project_id then
        na = from_project(psa.access and psa.access.role)
        inherited = na ~= nil
      end
    else
      local access = spec.access or {}
      na = access.namespace_accesses and access.namespace_accesses[ns.namespace]
      if not na and INHERITED[auth.role_of(access)] then
        na, inherited = { permission = "PERMISSION_ADMIN" }, true
      end
      local pa = access.project_accesses and access.project_accesses[ns.project_id or ""]
      if not na and pa then
        na = from_project(pa.role)
        inherited = na ~= nil
      end
    end
    if na then
      rows[id] = { id = res.id, [label] = spec[label], namespace_access = util.copy(na),
                   inherited_access = inherited or false, resource_version = res.resource_version }
    end
  end
  local items, keys = C.list(rows, C.by_id)
  local page, token = C.page(ctx, items, keys)
  if not page then return nil, token end
  return { [field] = page, next_page_token = token }
end

function H.GetUserNamespaceAssignments(ctx, req)
  return assignments(ctx, req, "users", "users", "email")
end

function H.GetServiceAccountNamespaceAssignments(ctx, req)
  return assignments(ctx, req, "service_accounts", "service_accounts", "name")
end

function H.GetUserGroupNamespaceAssignments(ctx, req)
  return assignments(ctx, req, "groups", "groups", "display_name")
end

return H
