-- What a caller may do beyond its account role and namespace permissions: its project roles
-- (explicit, or inherited from the account role) and its custom roles. `extend` adds them to
-- an identity made by auth.identify; `bind` decides, once per call, whether they allow that
-- call, and then the handler's role checks pass (auth.lua honours id.grant).
local auth = require "cloudops.emulator.auth"

local pairs, ipairs = pairs, ipairs

local M = {}

-- Project roles (docs.temporal.io/cloud/projects, "Project roles", and the comments of
-- identity.v1.ProjectAccess.ProjectRole). Only one role is effective per project: the one of
-- highest rank ("the highest-precedence role granted"; the docs give no order, this one is
-- ours). ns: the permission the role gives on the project's namespaces ("Write access to all
-- the Namespaces"); create: may create namespaces in the project ("Project Contribute: can
-- create new Namespaces"); list: sees the project's resources; manage: the project itself,
-- its membership and the resources in it ("Project Admin: complete access").
M.PROJECT_ROLES = {
  PROJECT_ROLE_ADMIN = { rank = 7, ns = "PERMISSION_ADMIN", create = true, list = true, manage = true },
  PROJECT_ROLE_WRITE = { rank = 6, ns = "PERMISSION_WRITE", create = true, list = true },
  PROJECT_ROLE_READ = { rank = 5, ns = "PERMISSION_READ", list = true },
  PROJECT_ROLE_DEVELOPER = { rank = 4, create = true, list = true },
  PROJECT_ROLE_CONTRIBUTE = { rank = 3, create = true, list = true },
  PROJECT_ROLE_LIST = { rank = 2, list = true },
  PROJECT_ROLE_MEMBER = { rank = 1 },
}

-- "A principal's Project-level roles inherit from their Account-level roles": Owners and
-- Global Admins are Project Admins everywhere, an Account Developer is a Project Developer
-- (the role that "exists for backward compatibility with the Account Developer role").
M.INHERITED = {
  ROLE_OWNER = "PROJECT_ROLE_ADMIN", ROLE_ADMIN = "PROJECT_ROLE_ADMIN",
  ROLE_DEVELOPER = "PROJECT_ROLE_DEVELOPER",
}

-- The custom-role permissions (docs.temporal.io/cloud/manage-access/custom-roles, the table
-- of available permissions): action -> { method = the RPC it allows, the resource types it
-- may be scoped to }. Resource types are written without case, '-', '_' or spaces
-- ("Nexus Endpoint" = "nexus-endpoint" = "nexusendpoint").
local A, N, P, E, R, C = "account", "namespace", "project", "nexusendpoint", "connectivityrule",
  "customrole"
local function perm(method, ...)
  local types = {}
  for _, t in ipairs { ... } do types[t] = true end
  return { method = method, types = types }
end
M.ACTIONS = {
  ["cloud.account.get"] = perm("GetAccount", A),
  ["cloud.account.update"] = perm("UpdateAccount", A),
  ["cloud.asyncoperation.get"] = perm("GetAsyncOperation", A),
  ["cloud.auditlog.createSink"] = perm("CreateAccountAuditLogSink", A),
  ["cloud.auditlog.deleteSink"] = perm("DeleteAccountAuditLogSink", A),
  ["cloud.auditlog.getSink"] = perm("GetAccountAuditLogSink", A),
  ["cloud.auditlog.list"] = perm("GetAuditLogs", A),
  ["cloud.auditlog.listSinks"] = perm("GetAccountAuditLogSinks", A),
  ["cloud.auditlog.updateSink"] = perm("UpdateAccountAuditLogSink", A),
  ["cloud.auditlog.validateSink"] = perm("ValidateAccountAuditLogSink", A),
  ["cloud.billingreport.create"] = perm("CreateBillingReport", A),
  ["cloud.billingreport.get"] = perm("GetBillingReport", A),
  ["cloud.connectivityrule.create"] = perm("CreateConnectivityRule", P),
  ["cloud.connectivityrule.delete"] = perm("DeleteConnectivityRule", R),
  ["cloud.connectivityrule.get"] = perm("GetConnectivityRule", R),
  ["cloud.connectivityrule.list"] = perm("GetConnectivityRules", A, P),
  ["cloud.customrole.create"] = perm("CreateCustomRole", A, P),
  ["cloud.customrole.delete"] = perm("DeleteCustomRole", C),
  ["cloud.customrole.get"] = perm("GetCustomRole", C),
  ["cloud.customrole.list"] = perm("GetCustomRoles", A, P),
  ["cloud.customrole.update"] = perm("UpdateCustomRole", C),
  ["cloud.namespace.addRegion"] = perm("AddNamespaceRegion", N),
  ["cloud.namespace.capacityinfo.get"] = perm("GetNamespaceCapacityInfo", N),
  ["cloud.namespace.create"] = perm("CreateNamespace", P),
  ["cloud.namespace.delete"] = perm("DeleteNamespace", N),
  ["cloud.namespace.deleteRegion"] = perm("DeleteNamespaceRegion", N),
  ["cloud.namespace.exportsink.create"] = perm("CreateNamespaceExportSink", N),
  ["cloud.namespace.exportsink.delete"] = perm("DeleteNamespaceExportSink", N),
  ["cloud.namespace.exportsink.get"] = perm("GetNamespaceExportSink", N),
  ["cloud.namespace.exportsink.list"] = perm("GetNamespaceExportSinks", N),
  ["cloud.namespace.exportsink.update"] = perm("UpdateNamespaceExportSink", N),
  ["cloud.namespace.exportsink.validate"] = perm("ValidateNamespaceExportSink", N),
  ["cloud.namespace.failoverRegion"] = perm("FailoverNamespaceRegion", N),
  ["cloud.namespace.get"] = perm("GetNamespace", N),
  ["cloud.namespace.getServiceAccountNamespaceAssignments"] =
    perm("GetServiceAccountNamespaceAssignments", N),
  ["cloud.namespace.getUserGroupNamespaceAssignments"] = perm("GetUserGroupNamespaceAssignments", N),
  ["cloud.namespace.getUserNamespaceAssignments"] = perm("GetUserNamespaceAssignments", N),
  ["cloud.namespace.list"] = perm("GetNamespaces", A, P),
  ["cloud.namespace.renameCustomSearchAttribute"] = perm("RenameCustomSearchAttribute", N),
  ["cloud.namespace.setUserAccess"] = perm("SetUserNamespaceAccess", N),
  ["cloud.namespace.setUserGroupAccess"] = perm("SetUserGroupNamespaceAccess", N),
  ["cloud.namespace.update"] = perm("UpdateNamespace", N),
  ["cloud.namespace.updateTags"] = perm("UpdateNamespaceTags", N),
  -- Listed, but the docs keep "operations that require additional role and permission
  -- validation, such as Create a Nexus Endpoint" out of custom roles: no method here.
  ["cloud.nexusendpoint.create"] = perm(nil, P),
  ["cloud.nexusendpoint.delete"] = perm("DeleteNexusEndpoint", E),
  ["cloud.nexusendpoint.get"] = perm("GetNexusEndpoint", E),
  ["cloud.nexusendpoint.list"] = perm("GetNexusEndpoints", A, P),
  ["cloud.nexusendpoint.update"] = perm("UpdateNexusEndpoint", E),
  ["cloud.region.get"] = perm("GetRegion", A),
  ["cloud.region.list"] = perm("GetRegions", A),
  ["cloud.usage.get"] = perm("GetUsage", A),
  ["cloud.user.create"] = perm("CreateUser", A),
  ["cloud.user.delete"] = perm("DeleteUser", A),
  ["cloud.user.get"] = perm("GetUser", A),
  ["cloud.user.list"] = perm("GetUsers", A),
  ["cloud.usergroup.addMember"] = perm("AddUserGroupMember", A),
  ["cloud.usergroup.create"] = perm("CreateUserGroup", A),
  ["cloud.usergroup.delete"] = perm("DeleteUserGroup", A),
  ["cloud.usergroup.get"] = perm("GetUserGroup", A),
  ["cloud.usergroup.getMembers"] = perm("GetUserGroupMembers", A),
  ["cloud.usergroup.list"] = perm("GetUserGroups", A),
  ["cloud.usergroup.removeMember"] = perm("RemoveUserGroupMember", A),
}
M.ACTION_OF = {}
for action, p in pairs(M.ACTIONS) do
  if p.method then M.ACTION_OF[p.method] = action end
end

function M.resource_type(text)
  return (((text or ""):lower():gsub("[%s_%-]", "")))
end

-- The request field naming the resource an action of each type applies to.
local TARGET = { namespace = "namespace", project = "project_id", nexusendpoint = "endpoint_id",
                 connectivityrule = "connectivity_rule_id", customrole = "role_id" }

local USABLE = { RESOURCE_STATE_ACTIVE = true, RESOURCE_STATE_UPDATING = true }

local function raise_namespace(id, ns, p)
  local cur = id.namespaces[ns] or "PERMISSION_UNSPECIFIED"
  if auth.PERMISSION_LEVEL[p] > auth.PERMISSION_LEVEL[cur] then id.namespaces[ns] = p end
end

-- The effective role of id on project pid, or nil.
function M.project_role(id, pid)
  return id.projects and id.projects[pid or ""]
end

-- The capabilities (M.PROJECT_ROLES entry) id has on project pid, or an empty table.
function M.on_project(id, pid)
  return M.PROJECT_ROLES[M.project_role(id, pid) or ""] or {}
end

-- Adds projects (project id -> role), custom permissions and allows(action, resource id) to
-- an identity. id.accesses holds the Access tables auth.identify merged (the principal's and
-- its groups').
function M.extend(st, id)
  local projects, custom = {}, {}
  local explicit = false
  local function add_project(pid, role)
    local r = M.PROJECT_ROLES[role or ""]
    local cur = M.PROJECT_ROLES[projects[pid or ""] or ""]
    if pid and r and (not cur or r.rank > cur.rank) then projects[pid] = role end
  end
  local function add_roles(list)
    for _, rid in ipairs(list or {}) do
      local role = st.custom_roles[rid]
      if role and USABLE[role.state] then
        for _, p in ipairs(role.spec.permissions or {}) do custom[#custom + 1] = p end
      end
    end
  end
  for _, access in ipairs(id.accesses or {}) do
    for pid, pa in pairs(access.project_accesses or {}) do
      add_project(pid, pa.role)
      explicit = true
    end
    add_roles(access.account_access and access.account_access.custom_roles)
    add_roles(access.custom_roles_deprecated)
  end
  local psa = id.kind == "service_account" and id.principal.spec.project_scoped_access
  if psa then
    add_project(psa.project_id, psa.access and psa.access.role)
    explicit = true
    for ns, na in pairs(psa.namespace_accesses or {}) do
      local p = auth.permission_of(na)
      if p ~= "PERMISSION_UNSPECIFIED" then raise_namespace(id, ns, p) end
    end
  end
  local inherited = M.INHERITED[id.role]
  if inherited then
    for pid in pairs(st.projects) do add_project(pid, inherited) end
  end
  id.projects = projects
  -- Explicit project roles reach the project's namespaces; a role that only lists makes
  -- them visible without a permission (auth.can_see).
  if explicit then
    for nsid, ns in pairs(st.namespaces) do
      local r = M.PROJECT_ROLES[projects[ns.project_id or ""] or ""]
      if r and r.ns then
        raise_namespace(id, nsid, r.ns)
      elseif r and r.list and id.namespaces[nsid] == nil then
        id.namespaces[nsid] = "PERMISSION_UNSPECIFIED"
      end
    end
  end
  id.custom = custom
  id.allows = function(action, rid, rtype)
    for _, p in ipairs(custom) do
      local res = p.resources or {}
      local t = M.resource_type(res.resource_type)
      if (rtype == nil or t == rtype) and M.ACTIONS[action] and M.ACTIONS[action].types[t] then
        for _, a in ipairs(p.actions or {}) do
          if a == action then
            if t == "account" or res.allow_all then return true end
            for _, x in ipairs(res.resource_ids or {}) do
              if x == rid then return true end
            end
          end
        end
      end
    end
    return false
  end
  return id
end

-- The project a create request would go to: its project_id, or the Default Project.
local function request_project(st, req)
  local pid = req.project_id
  if pid == nil or pid == "" then return st.default_project end
  return pid
end

-- Project-scoped service accounts are administered by their project's admins; the
-- service account a call acts on, when it is one (by id, or as the owner of a key).
local function scoped_project(st, method, req)
  local said
  if method == "CreateServiceAccount" then
    local psa = req.spec and req.spec.project_scoped_access
    return psa and psa.project_id
  elseif method == "GetServiceAccount" or method == "UpdateServiceAccount"
    or method == "DeleteServiceAccount" then
    said = req.service_account_id
  elseif method == "CreateApiKey" then
    said = req.spec and req.spec.owner_id
  elseif method == "GetApiKey" or method == "UpdateApiKey" or method == "DeleteApiKey" then
    local k = st.api_keys[req.key_id or ""]
    said = k and k.spec.owner_id
  end
  local sa = st.service_accounts[said or ""]
  local psa = sa and sa.spec.project_scoped_access
  return psa and psa.project_id
end

-- Whether the caller's project roles allow this call although its account role does not.
local function project_allows(st, id, method, req)
  local pid = scoped_project(st, method, req)
  if pid then return M.on_project(id, pid).manage == true end
  if method == "CreateNamespace" then
    return M.on_project(id, request_project(st, req)).create == true
  elseif method == "CreateConnectivityRule" then
    return M.on_project(id, request_project(st, req)).manage == true
  elseif method == "CreateNexusEndpoint" then
    -- The target namespace's admin, allowed to create in the project.
    local w = req.spec and req.spec.target_spec and req.spec.target_spec.worker_target_spec
    return M.on_project(id, request_project(st, req)).create == true and w ~= nil
      and auth.ns_permission(id, w.namespace_id) == "PERMISSION_ADMIN"
  end
  return false
end

-- Sets id.grant when a custom role or a project role allows this call on the resource it
-- names; a namespace so named becomes visible to the caller for this call.
function M.bind(st, id, method, req)
  local action = M.ACTION_OF[method]
  if action then
    for t in pairs(M.ACTIONS[action].types) do
      local field = TARGET[t]
      local rid = field and req[field]
      -- A create without project_id goes to the Default Project; a list without one is
      -- not about a project.
      if t == "project" and (rid == nil or rid == "") then
        rid = method:find("^Create") and st.default_project or nil
      end
      if id.allows(action, rid, t) then
        id.grant = true
        if t == "namespace" and rid and rid ~= "" and id.namespaces[rid] == nil then
          id.namespaces[rid] = "PERMISSION_UNSPECIFIED"
        end
      end
    end
  end
  if not id.grant and project_allows(st, id, method, req) then id.grant = true end
  return id
end

return M
