-- Custom roles (docs.temporal.io/cloud/manage-access/custom-roles): named sets of
-- permissions, each some actions (cloud.namespace.get, ...) on resources of one type (all of
-- them, or a list of ids), given to users, groups and service accounts in
-- account_access.custom_roles. "Custom Roles are additive only": they add to the account
-- role, which every principal still has. What they allow is decided in grants.lua.
local errors = require "cloudops.emulator.errors"
local util = require "cloudops.emulator.util"
local R = require "cloudops.emulator.resource"
local ops = require "cloudops.emulator.operations"
local grants = require "cloudops.emulator.grants"
local C = require "cloudops.emulator.handlers.common"

local copy = util.copy

local H = {}

-- Where the ids of each resource type live; the account has no ids.
local IDS = { namespace = "namespaces", project = "projects", nexusendpoint = "nexus",
              connectivityrule = "rules", customrole = "custom_roles" }

local function check_permission(ctx, i, p)
  local where = string.format("spec.permissions[%d]", i)
  local res = p.resources
  if res == nil then return errors.invalid("%s.resources is required", where) end
  local t = grants.resource_type(res.resource_type)
  if t ~= "account" and not IDS[t] then
    return errors.invalid("%s.resources.resource_type: unknown type %q", where, tostring(res.resource_type))
  end
  if #(p.actions or {}) == 0 then return errors.invalid("%s.actions: at least one is required", where) end
  for _, a in ipairs(p.actions) do
    local action = grants.ACTIONS[a]
    if not action then return errors.invalid("%s.actions: unknown permission %q", where, a) end
    if not action.types[t] then
      return errors.invalid("%s.actions: %s does not apply to resource type %s", where, a, res.resource_type)
    end
  end
  -- allow_all names every resource of the type, so no ids go with it: "Whether this permission
  -- applies to all resources of the given type. If true, resource_ids must be empty" (the
  -- Terraform provider's temporalcloud_custom_role, permissions.resources.allow_all; the
  -- schema: "Can be empty if allow_all is true").
  if res.allow_all and #(res.resource_ids or {}) > 0 then
    return errors.invalid("%s.resources: resource_ids must be empty when allow_all is true", where)
  end
  if t ~= "account" and not res.allow_all then
    if #(res.resource_ids or {}) == 0 then
      return errors.invalid("%s.resources: resource_ids, or allow_all, is required", where)
    end
    for _, rid in ipairs(res.resource_ids) do
      if not ctx.st[IDS[t]][rid] then
        return errors.invalid("%s.resources.resource_ids: %s not found: %s", where, res.resource_type, rid)
      end
    end
  end
  return true
end

local function check_spec(ctx, spec, except)
  if spec == nil then return errors.invalid("spec is required") end
  if (spec.name or ""):match("^%s*$") then return errors.invalid("spec.name is required") end
  -- Names are unique: temporal cloud custom-role apply "creates a new role if no role with
  -- the given name exists, or updates the existing one".
  for rid, r in pairs(ctx.st.custom_roles) do
    if rid ~= except and r.spec.name == spec.name then
      return errors.exists("a custom role named %s already exists", spec.name)
    end
  end
  if #(spec.permissions or {}) == 0 then
    return errors.invalid("spec.permissions: at least one is required")
  end
  for i, p in ipairs(spec.permissions) do
    local ok, err = check_permission(ctx, i, p)
    if not ok then return nil, err end
  end
  return true
end

-- A removed role is taken out of every access that names it.
ops.on_remove.custom_roles = function(st, id)
  local function drop(list)
    for i = #(list or {}), 1, -1 do
      if list[i] == id then table.remove(list, i) end
    end
  end
  C.each_access(st, function(a)
    drop(a.account_access and a.account_access.custom_roles)
    drop(a.custom_roles_deprecated)
  end)
end

-- Custom roles are account administration: Global Admins and Account Owners, or whoever a
-- custom role gives cloud.customrole.* (grants.bind).
local function admin(ctx)
  return C.require_role(ctx, "ROLE_ADMIN")
end

local function role_to_change(ctx, req)
  local ok, err = admin(ctx)
  if not ok then return nil, err end
  return R.get_current(ctx.st, "custom_roles", req.role_id, req.resource_version, "custom role")
end

function H.GetCustomRoles(ctx, _req)
  local ok, err = admin(ctx)
  if not ok then return nil, err end
  local items, keys = C.list(ctx.st.custom_roles, C.by_id)
  local page, token = C.page(ctx, items, keys)
  if not page then return nil, token end
  return { custom_roles = page, next_page_token = token }
end

function H.GetCustomRole(ctx, req)
  local ok, err = admin(ctx)
  if not ok then return nil, err end
  local r, gerr = R.get(ctx.st, "custom_roles", req.role_id, "custom role")
  if not r then return nil, gerr end
  return { custom_role = copy(r) }
end

function H.CreateCustomRole(ctx, req)
  local ok, err = admin(ctx)
  if not ok then return nil, err end
  ok, err = check_spec(ctx, req.spec)
  if not ok then return nil, err end
  local r = { id = util.id(32), spec = copy(req.spec) }
  R.create(ctx, "custom_roles", r.id, r)
  ctx.audit_details = { role_id = r.id }
  return { role_id = r.id }
end

function H.UpdateCustomRole(ctx, req)
  local r, err = role_to_change(ctx, req)
  if not r then return nil, err end
  local ok
  ok, err = check_spec(ctx, req.spec, r.id)
  if not ok then return nil, err end
  R.update(ctx, "custom_roles", r.id, r, function(x) x.spec = copy(req.spec) end)
  ctx.audit_details = { role_id = r.id }
  return {}
end

function H.DeleteCustomRole(ctx, req)
  local r, err = role_to_change(ctx, req)
  if not r then return nil, err end
  R.delete(ctx, "custom_roles", r.id, r)
  ctx.audit_details = { role_id = r.id }
  return {}
end

return H
