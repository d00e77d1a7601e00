-- Timing profiles: sets of emulator options chosen by name (`--profile NAME`); options given
-- explicitly win over the profile's.
--
-- "fast" (the default) keeps tests and demos quick. "realistic" is for dry runs of automation
-- that will meet the service: answers a few hundred milliseconds away, operations that take
-- as long as the service's, and a check_duration in whole seconds. The service documents few
-- durations: namespace creation takes about a minute, and the Terraform provider waits up to 10
-- minutes for it (its default create timeout); the other figures below are estimates of the
-- same order, so that a script's timeouts are tested against waits of that size.
local M = {}

M.fast = {}

M.realistic = {
  latency = 0.25,           -- a control-plane round trip from most places
  op_pending = 2,
  op_duration = 8,          -- users, groups, service accounts, API keys, rules, endpoints
  check_duration = 5,
  op_durations = {
    CreateNamespace = 60, DeleteNamespace = 60, UpdateNamespace = 30,
    RenameCustomSearchAttribute = 30, UpdateNamespaceTags = 10,
    AddNamespaceRegion = 180, DeleteNamespaceRegion = 120, FailoverNamespaceRegion = 30,
    CreateNamespaceExportSink = 20, UpdateNamespaceExportSink = 20, DeleteNamespaceExportSink = 20,
    UpdateAccount = 20,
  },
}

-- The options of profile `name` under `opts` (opts win), or raises for an unknown name.
function M.apply(name, opts)
  local p = M[name]
  if type(p) ~= "table" then
    error("unknown emulator profile '" .. tostring(name) .. "' (fast or realistic)", 3)
  end
  local out = {}
  for k, v in pairs(p) do out[k] = v end
  for k, v in pairs(opts) do out[k] = v end
  out.profile = nil
  return out
end

return M
