-- What the emulator does not implement: projects and project-scoped calls, custom roles,
-- billing reports and account audit-log sinks. They answer UNIMPLEMENTED, saying so.
local errors = require "cloudops.emulator.errors"

local H = {}

local FAMILIES = {
  ["projects"] = {
    "GetProjects", "GetProject", "CreateProject", "UpdateProject", "DeleteProject",
    "SetUserProjectAccess", "SetUserGroupProjectAccess", "SetServiceAccountProjectAccess",
    "GetUserProjectAssignments", "GetServiceAccountProjectAssignments",
    "GetUserGroupProjectAssignments", "GetProjectScopedServiceAccounts",
  },
  ["custom roles"] = {
    "GetCustomRoles", "GetCustomRole", "CreateCustomRole", "UpdateCustomRole", "DeleteCustomRole",
  },
  ["billing reports"] = { "CreateBillingReport", "GetBillingReport" },
  ["account audit-log sinks"] = {
    "ValidateAccountAuditLogSink", "CreateAccountAuditLogSink", "GetAccountAuditLogSink",
    "GetAccountAuditLogSinks", "UpdateAccountAuditLogSink", "DeleteAccountAuditLogSink",
  },
}

for family, names in pairs(FAMILIES) do
  for _, name in ipairs(names) do
    H[name] = function()
      return errors.unimplemented("%s: %s are not implemented by the lua-cloudops emulator",
        name, family)
    end
  end
end

H.FAMILIES = FAMILIES
return H
