-- Connectivity rules: public (optionally with stable IPs) or private (a VPC endpoint /
-- Private Service Connect / Azure Private Endpoint in a region). Namespaces refer to them
-- by id in spec.connectivity_rule_ids.
local errors = require "cloudops.emulator.errors"
local util = require "cloudops.emulator.util"
local R = require "cloudops.emulator.resource"
local regions = require "cloudops.emulator.regions"
local C = require "cloudops.emulator.handlers.common"

local copy = util.copy

local H = {}

-- docs.temporal.io/cloud/connectivity, "Permissions and limits": one public rule per
-- account; by default at most 5 private rules per namespace and 50 per account; created and
-- managed by account admins and owners, visible to developers too. With projects
-- (docs.temporal.io/evaluate/cloud/limits, "Project level"): "Each non-default Project
-- supports up to one Public Connectivity Rule", and at most 6 rules ("Default: 6"); "the
-- Default Project uses the Account-level resource limits", so the account's one public rule
-- is the Default Project's.
H.MAX_PRIVATE_PER_NAMESPACE = 5
H.MAX_PRIVATE_PER_ACCOUNT = 50
H.MAX_PER_PROJECT = 6

-- How many rules of this kind ("public_rule", "private_rule", or any when nil) there are, in
-- project pid (all projects when nil), and one of their ids.
local function count(st, kind, pid)
  local n, any = 0, nil
  for id, r in pairs(st.rules) do
    if (kind == nil or r.spec[kind]) and (pid == nil or r.project_id == pid)
      and r.state ~= "RESOURCE_STATE_DELETING" then
      n, any = n + 1, id
    end
  end
  return n, any
end

-- The limits a new rule meets in its project, or in the account for the Default Project.
local function check_room(st, spec, project)
  local default = project.id == st.default_project
  if spec.public_rule then
    local n, existing = count(st, "public_rule", project.id)
    if n > 0 then
      return errors.exists("%s already has a public connectivity rule (%s): only one is allowed; reuse it",
        default and "the account" or ("project " .. project.id), existing)
    end
  elseif count(st, "private_rule") >= H.MAX_PRIVATE_PER_ACCOUNT then
    return errors.precondition("the account already has %d private connectivity rules, the most allowed",
      H.MAX_PRIVATE_PER_ACCOUNT)
  end
  if not default and count(st, nil, project.id) >= H.MAX_PER_PROJECT then
    return errors.precondition("project %s already has %d connectivity rules, the most allowed", project.id,
      H.MAX_PER_PROJECT)
  end
  return true
end

local function check_spec(spec)
  if spec == nil then return errors.invalid("spec is required") end
  if spec.public_rule and spec.private_rule then
    return errors.invalid("spec: only one of public_rule and private_rule may be set")
  end
  if spec.public_rule then return true end
  local p = spec.private_rule
  if not p then return errors.invalid("spec: one of public_rule and private_rule is required") end
  local r = regions.by_id[p.region or ""]
  if not r then return errors.invalid("spec.private_rule.region: unknown region %s", tostring(p.region)) end
  if r.cloud_provider == "CLOUD_PROVIDER_AZURE" then
    if (p.azure_pe_resource_id or "") == "" then
      return errors.invalid("spec.private_rule.azure_pe_resource_id is required for an Azure region")
    end
  else
    if (p.connection_id or "") == "" then
      return errors.invalid("spec.private_rule.connection_id is required")
    end
    if r.cloud_provider == "CLOUD_PROVIDER_GCP" and (p.gcp_project_id or "") == "" then
      return errors.invalid("spec.private_rule.gcp_project_id is required for a GCP region")
    end
  end
  return true
end

local function used_by(st, id)
  for nsid, ns in pairs(st.namespaces) do
    for _, rid in ipairs(ns.spec.connectivity_rule_ids or {}) do
      if rid == id then return nsid end
    end
  end
end

function H.CreateConnectivityRule(ctx, req)
  local project, err = C.project_of(ctx, req.project_id)
  if not project then return nil, err end
  local ok
  ok, err = C.require_role(ctx, "ROLE_ADMIN")
  if not ok then return nil, err end
  ok, err = check_spec(req.spec)
  if not ok then return nil, err end
  ok, err = check_room(ctx.st, req.spec, project)
  if not ok then return nil, err end
  local rule = { id = util.id(32), spec = copy(req.spec), project_id = project.id }
  R.create(ctx, "rules", rule.id, rule)
  ctx.audit_details = { connectivity_rule_id = rule.id }
  return { connectivity_rule_id = rule.id }
end

function H.GetConnectivityRule(ctx, req)
  local ok, err = C.require_role(ctx, "ROLE_DEVELOPER")
  if not ok then return nil, err end
  local rule, gerr = R.get(ctx.st, "rules", req.connectivity_rule_id, "connectivity rule")
  if not rule then return nil, gerr end
  return { connectivity_rule = copy(rule) }
end

function H.GetConnectivityRules(ctx, req)
  local ok, err = C.require_role(ctx, "ROLE_DEVELOPER")
  if not ok then return nil, err end
  local only
  if req.namespace and req.namespace ~= "" then
    local ns, nerr = C.namespace(ctx, req.namespace)
    if not ns then return nil, nerr end
    only = {}
    for _, id in ipairs(ns.spec.connectivity_rule_ids or {}) do only[id] = true end
  end
  local items, keys = C.list(ctx.st.rules, C.by_id, function(r)
    return (not only or only[r.id]) and C.in_project(r, req.project_id)
  end)
  local page, token = C.page(ctx, items, keys)
  if not page then return nil, token end
  return { connectivity_rules = page, next_page_token = token }
end

function H.DeleteConnectivityRule(ctx, req)
  local ok, err = C.require_role(ctx, "ROLE_ADMIN")
  if not ok then return nil, err end
  local rule, gerr = R.get(ctx.st, "rules", req.connectivity_rule_id, "connectivity rule")
  if not rule then return nil, gerr end
  if (req.resource_version or "") == "" then return errors.invalid("resource_version is required") end
  ok, err = R.check_version(rule, req.resource_version, "connectivity rule")
  if not ok then return nil, err end
  local nsid = used_by(ctx.st, rule.id)
  if nsid then
    return errors.precondition("connectivity rule %s is used by namespace %s", rule.id, nsid)
  end
  R.delete(ctx, "rules", rule.id, rule)
  ctx.audit_details = { connectivity_rule_id = rule.id }
  return {}
end

return H
