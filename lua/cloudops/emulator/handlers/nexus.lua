-- Nexus endpoints: a name, a target (a namespace's task queue) and the namespaces allowed
-- to call it.
local errors = require "cloudops.emulator.errors"
local util = require "cloudops.emulator.util"
local R = require "cloudops.emulator.resource"
local C = require "cloudops.emulator.handlers.common"

local copy = util.copy

local H = {}

local function target(spec)
  return spec.target_spec and spec.target_spec.worker_target_spec
end

local function check_spec(ctx, spec, except)
  if spec == nil then return errors.invalid("spec is required") end
  local name = spec.name or ""
  if #name < 2 or not name:match("^%a[%w%-]*[%w]$") then
    return errors.invalid("spec.name must match ^[a-zA-Z][a-zA-Z0-9\\-]*[a-zA-Z0-9]$")
  end
  for id, e in pairs(ctx.st.nexus) do
    if id ~= except and e.spec.name == name then
      return errors.exists("a Nexus endpoint named %s already exists", name)
    end
  end
  local w = target(spec)
  if not w then return errors.invalid("spec.target_spec.worker_target_spec is required") end
  if (w.namespace_id or "") == "" or not ctx.st.namespaces[w.namespace_id] then
    return errors.invalid("spec.target_spec.worker_target_spec.namespace_id: namespace not found: %s",
      tostring(w.namespace_id))
  end
  if (w.task_queue or "") == "" then
    return errors.invalid("spec.target_spec.worker_target_spec.task_queue is required")
  end
  for i, p in ipairs(spec.policy_specs or {}) do
    local a = p.allowed_cloud_namespace_policy_spec
    if not a or not ctx.st.namespaces[a.namespace_id or ""] then
      return errors.invalid("spec.policy_specs[%d]: an allowed namespace that exists is required", i)
    end
  end
  -- Managing an endpoint takes the Developer role and admin rights on its target.
  local ok, err = C.require_role(ctx, "ROLE_DEVELOPER")
  if not ok then return nil, err end
  return C.require_ns_admin(ctx, w.namespace_id)
end

function H.GetNexusEndpoints(ctx, req)
  local ok, err = C.require_role(ctx, "ROLE_READ")
  if not ok then return nil, err end
  local ns = req.target_namespace_id ~= "" and req.target_namespace_id or nil
  local tq = req.target_task_queue ~= "" and req.target_task_queue or nil
  local name = req.name ~= "" and req.name or nil
  local items, keys = C.list(ctx.st.nexus, C.by_id, function(e)
    local w = target(e.spec) or {}
    return (not ns or w.namespace_id == ns) and (not tq or w.task_queue == tq)
      and (not name or e.spec.name == name) and C.in_project(e, req.project_id)
  end)
  local page, token = C.page(ctx, items, keys)
  if not page then return nil, token end
  return { endpoints = page, next_page_token = token }
end

function H.GetNexusEndpoint(ctx, req)
  local ok, err = C.require_role(ctx, "ROLE_READ")
  if not ok then return nil, err end
  local e, gerr = R.get(ctx.st, "nexus", req.endpoint_id, "Nexus endpoint")
  if not e then return nil, gerr end
  return { endpoint = copy(e) }
end

-- "By default, each account is provisioned with 100 Nexus Endpoints. You can request further
-- increases beyond the initial 100 Endpoint limit by opening a support ticket"
-- (docs.temporal.io/evaluate/cloud/limits, "Nexus Endpoints limits"; an older page said 10):
-- the max_nexus_endpoints option.
function H.CreateNexusEndpoint(ctx, req)
  local project, err = C.project_of(ctx, req.project_id)
  if not project then return nil, err end
  local ok
  ok, err = check_spec(ctx, req.spec)
  if not ok then return nil, err end
  ok, err = C.check_quota(ctx, "nexus", "max_nexus_endpoints", "Nexus endpoints")
  if not ok then return nil, err end
  local e = { id = util.id(32), spec = copy(req.spec), project_id = project.id }
  R.create(ctx, "nexus", e.id, e)
  ctx.audit_details = { endpoint_id = e.id }
  return { endpoint_id = e.id }
end

function H.UpdateNexusEndpoint(ctx, req)
  local e, err = R.get_current(ctx.st, "nexus", req.endpoint_id, req.resource_version,
    "Nexus endpoint")
  if not e then return nil, err end
  local ok
  ok, err = check_spec(ctx, req.spec, e.id)
  if not ok then return nil, err end
  ok, err = R.check_changes(e.spec, req.spec, "Nexus endpoint")
  if not ok then return nil, err end
  R.update(ctx, "nexus", e.id, e, function(r) r.spec = copy(req.spec) end)
  ctx.audit_details = { endpoint_id = e.id }
  return {}
end

function H.DeleteNexusEndpoint(ctx, req)
  local e, err = R.get_current(ctx.st, "nexus", req.endpoint_id, req.resource_version,
    "Nexus endpoint")
  if not e then return nil, err end
  local ok
  ok, err = C.require_role(ctx, "ROLE_DEVELOPER")
  if not ok then return nil, err end
  ok, err = C.require_ns_admin(ctx, target(e.spec).namespace_id)
  if not ok then return nil, err end
  R.delete(ctx, "nexus", e.id, e)
  ctx.audit_details = { endpoint_id = e.id }
  return {}
end

return H
