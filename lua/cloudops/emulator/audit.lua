-- Audit log records, as the service writes them: one for each accepted call of the events
-- docs.temporal.io/cloud/audit-logs lists ("Which events are supported by Audit Logs?"),
-- under the operation names it gives, format version 2. Other calls leave no record. Seeding
-- adds older records.
local util = require "cloudops.emulator.util"
local uuid = require "cloudops.uuid"

local M = {}

M.VERSION = 2

-- method -> the operation name the service records.
local OPERATIONS = {
  UpdateAccount = "UpdateAccountAPI",
  CreateApiKey = "CreateAPIKey", UpdateApiKey = "UpdateAPIKey", DeleteApiKey = "DeleteAPIKey",
  CreateConnectivityRule = "CreateConnectivityRule", DeleteConnectivityRule = "DeleteConnectivityRule",
  CreateNamespace = "CreateNamespaceAPI", DeleteNamespace = "DeleteNamespaceAPI",
  FailoverNamespaceRegion = "FailoverNamespacesAPI",
  RenameCustomSearchAttribute = "RenameCustomSearchAttributeAPI",
  -- "UpdateNamespaceAPI: Includes ... replica edits"
  UpdateNamespace = "UpdateNamespaceAPI", AddNamespaceRegion = "UpdateNamespaceAPI",
  DeleteNamespaceRegion = "UpdateNamespaceAPI",
  CreateNamespaceExportSink = "CreateNamespaceExportSink",
  DeleteNamespaceExportSink = "DeleteNamespaceExportSink",
  UpdateNamespaceExportSink = "UpdateNamespaceExportSink",
  ValidateNamespaceExportSink = "ValidateNamespaceExportSink",
  CreateNexusEndpoint = "CreateNexusEndpoint", DeleteNexusEndpoint = "DeleteNexusEndpoint",
  UpdateNexusEndpoint = "UpdateNexusEndpoint",
  CreateServiceAccount = "CreateServiceAccount", DeleteServiceAccount = "DeleteServiceAccount",
  UpdateServiceAccount = "UpdateServiceAccount",
  CreateUser = "CreateUserAPI", DeleteUser = "DeleteUserAPI", UpdateUser = "UpdateUserAPI",
  SetUserNamespaceAccess = "SetUserNamespaceAccessAPI",
  CreateUserGroup = "CreateUserGroup", DeleteUserGroup = "DeleteUserGroup",
  UpdateUserGroup = "UpdateUserGroup", SetUserGroupNamespaceAccess = "SetUserGroupNamespaceAccess",
}

-- The operation name of an accepted call, or nil when the service records none. A key made
-- for a service account is its own event.
function M.operation(method, st, req)
  if method == "CreateApiKey" and req and req.spec and st.service_accounts[req.spec.owner_id or ""] then
    return "CreateServiceAccountAPIKey"
  end
  return OPERATIONS[method]
end

function M.principal(id)
  if not id then return nil end
  return {
    type = id.kind == "user" and "user" or "serviceaccount",
    id = id.id,
    name = id.kind == "user" and id.principal.spec.email or id.principal.spec.name,
    api_key_id = id.key and id.key.id or nil,
  }
end

-- raw_details is a google.protobuf.Struct: only plain strings go in, never request bytes.
function M.record(st, now, p)
  local rec = {
    emit_time = util.ts(now),
    operation = p.operation,
    status = p.status or "OK",
    version = M.VERSION,
    log_id = uuid(),
    principal = M.principal(p.identity),
    raw_details = p.details or {},
    x_forwarded_for = p.peer_ip,
    async_operation_id = p.async_operation_id,
  }
  st.audit[#st.audit + 1] = rec
  return rec
end

return M
