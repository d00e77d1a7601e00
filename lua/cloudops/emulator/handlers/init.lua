-- Every RPC's handler, by method name: function(ctx, req) -> resp | nil, err.
local methods = require "cloudops.emulator.methods"

local M = {}

for _, family in ipairs { "users", "groups", "service_accounts", "api_keys", "namespaces",
  "export_sinks", "nexus", "connectivity", "account", "assignments", "projects",
  "project_access", "custom_roles", "billing", "audit_sinks" } do
  local mod = require("cloudops.emulator.handlers." .. family)
  for name, fn in pairs(mod) do
    if methods.by_name[name] then
      if M[name] then error("two handlers for " .. name) end
      M[name] = fn
    end
  end
end

return M
