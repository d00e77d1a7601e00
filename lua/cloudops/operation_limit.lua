--- The service's limit on async operations in flight, and the mutations it counts.
--
-- "By default, each account can have up to 10 long-running (asynchronous) mutating
-- operations in flight at once. This limit applies to a subset of create, update, and delete
-- operations (for example, Namespace, User, API Key, Export Sink, and Service Account
-- mutations), not every RPC that returns an async operation."
-- (https://docs.temporal.io/ops, "Rate limits", "Asynchronous operations")
--
-- The subset is the mutations of the five kinds that sentence names: the RPCs that change a
-- namespace, a user, an API key, an export sink or a service account (a user's or a service
-- account's access included). Other mutations (groups, projects, Nexus endpoints,
-- connectivity rules, custom roles, the account, audit-log sinks, billing reports, which
-- the billing docs say are queued) are left out, as the docs leave them out. Plain data,
-- so that the emulator and a client counting its own operations use the same table.
local limits = require "cloudops.limit.documented"

local by_kind = {
  Namespace = { "CreateNamespace", "UpdateNamespace", "DeleteNamespace", "RenameCustomSearchAttribute",
                "FailoverNamespaceRegion", "AddNamespaceRegion", "DeleteNamespaceRegion",
                "UpdateNamespaceTags" },
  User = { "CreateUser", "UpdateUser", "DeleteUser", "SetUserNamespaceAccess", "SetUserProjectAccess" },
  ["API Key"] = { "CreateApiKey", "UpdateApiKey", "DeleteApiKey" },
  ["Export Sink"] = { "CreateNamespaceExportSink", "UpdateNamespaceExportSink", "DeleteNamespaceExportSink" },
  ["Service Account"] = { "CreateServiceAccount", "UpdateServiceAccount", "DeleteServiceAccount",
                          "SetServiceAccountNamespaceAccess", "SetServiceAccountProjectAccess" },
}

local M = {
  --- Operations in flight per account, by default.
  per_account = limits.operations,
  --- RPC name -> the kind it changes ("Namespace", "User", ...), for the counted RPCs only.
  methods = {},
}

for kind, names in pairs(by_kind) do
  for _, name in ipairs(names) do M.methods[name] = kind end
end

--- Whether an operation started by this RPC counts against the limit.
function M.counts(method)
  return M.methods[method] ~= nil
end

return M
