-- User groups and their members. Members are managed only for Cloud groups: Google and
-- SCIM groups get theirs from the identity provider.
local errors = require "cloudops.emulator.errors"
local util = require "cloudops.emulator.util"
local R = require "cloudops.emulator.resource"
local ops = require "cloudops.emulator.operations"
local C = require "cloudops.emulator.handlers.common"
local P = require "cloudops.emulator.handlers.principal"

local ts = util.ts

local H = {}

local GROUP = { coll = "groups", id_field = "group_id", field = "group", what = "group" }

ops.on_remove.groups = function(st, id) st.members[id] = nil end

-- Membership changes take effect when their operation is fulfilled.
ops.finalizers.group_member = function(st, eff, outcome)
  if outcome ~= "STATE_FULFILLED" or not st.groups[eff.group_id] then return end
  local members = st.members[eff.group_id] or {}
  st.members[eff.group_id] = members
  if eff.add then
    if st.users[eff.user_id] then members[eff.user_id] = eff.time end
  else
    members[eff.user_id] = nil
  end
end

local function group_type(spec)
  if spec.google_group then return "google" end
  if spec.scim_group then return "scim" end
  if spec.cloud_group then return "cloud" end
end

local function check_spec(ctx, spec, current)
  if spec == nil then return errors.invalid("spec is required") end
  if spec.display_name == nil or spec.display_name == "" then
    return errors.invalid("spec.display_name is required")
  end
  local n = (spec.google_group and 1 or 0) + (spec.scim_group and 1 or 0)
    + (spec.cloud_group and 1 or 0)
  if n ~= 1 then
    return errors.invalid("spec: exactly one of google_group, scim_group and cloud_group is required")
  end
  local t = group_type(spec)
  if current then
    if t ~= group_type(current.spec) then
      return errors.invalid("spec: the type of a group cannot be changed")
    end
    if t == "google" and spec.google_group.email_address ~= current.spec.google_group.email_address then
      return errors.invalid("spec.google_group.email_address cannot be changed")
    end
  else
    if t == "scim" then
      return errors.invalid("spec.scim_group: SCIM groups cannot be created through the API")
    end
    if t == "google" and not (spec.google_group.email_address or ""):match(C.EMAIL) then
      return errors.invalid("spec.google_group.email_address: a valid email address is required")
    end
  end
  return C.check_access(ctx, spec.access, "spec", true, current and current.spec.access)
end

local function name_key(g) return g.spec.display_name .. "\0" .. g.id end

function H.GetUserGroups(ctx, req)
  local ok, err = C.require_role(ctx, "ROLE_READ")
  if not ok then return nil, err end
  local ns = req.namespace ~= "" and req.namespace or nil
  local name = req.display_name ~= "" and req.display_name or nil
  local gmail = req.google_group and req.google_group.email_address
  local idp = req.scim_group and req.scim_group.idp_id
  if gmail == "" then gmail = nil end
  if idp == "" then idp = nil end
  local items, keys = C.list(ctx.st.groups, name_key, function(g)
    local s = g.spec
    if name and s.display_name ~= name then return false end
    if ns and not (s.access and s.access.namespace_accesses and s.access.namespace_accesses[ns]) then
      return false
    end
    if gmail and not (s.google_group and s.google_group.email_address == gmail) then return false end
    if idp and not (s.scim_group and s.scim_group.idp_id == idp) then return false end
    return true
  end)
  local page, token = C.page(ctx, items, keys)
  if not page then return nil, token end
  return { groups = page, next_page_token = token }
end

H.GetUserGroup = P.getter(GROUP)

-- A new group starts with no members; display names are unique.
H.CreateUserGroup = P.creator(GROUP, function(ctx, spec)
  local ok, err = check_spec(ctx, spec)
  if not ok then return nil, err end
  for _, g in pairs(ctx.st.groups) do
    if g.spec.display_name == spec.display_name then
      return errors.exists("a group named %s already exists", spec.display_name)
    end
  end
  return true
end, function(ctx, g) ctx.st.members[g.id] = {} end)

H.UpdateUserGroup = P.updater(GROUP, function(ctx, g, spec)
  local ok, err = check_spec(ctx, spec, g)
  if not ok then return nil, err end
  return spec
end)

H.DeleteUserGroup = P.deleter(GROUP, function(_, g)
  if g.spec.scim_group then
    return errors.precondition("SCIM groups are deleted by their identity provider")
  end
  return true
end)

H.SetUserGroupNamespaceAccess = P.namespace_access_setter(GROUP)

local function member_change(ctx, req, add)
  local ok, err = C.require_role(ctx, "ROLE_ADMIN")
  if not ok then return nil, err end
  local g, gerr = R.get(ctx.st, "groups", req.group_id, "group")
  if not g then return nil, gerr end
  if not g.spec.cloud_group then
    return errors.precondition("members of group %s are managed by its identity provider", g.id)
  end
  local uid = req.member_id and req.member_id.user_id
  if uid == nil or uid == "" then return errors.invalid("member_id.user_id is required") end
  if not ctx.st.users[uid] then return errors.not_found("user not found: %s", uid) end
  local members = ctx.st.members[g.id] or {}
  if add and members[uid] then
    return errors.exists("user %s is already a member of group %s", uid, g.id)
  elseif not add and not members[uid] then
    return errors.not_found("user %s is not a member of group %s", uid, g.id)
  end
  local op = ctx:start()
  op.effects[#op.effects + 1] = { fn = "group_member", group_id = g.id, user_id = uid,
                                  add = add, time = ctx.now }
  ctx.audit_details = { group_id = g.id, user_id = uid }
  return {}
end

function H.AddUserGroupMember(ctx, req) return member_change(ctx, req, true) end
function H.RemoveUserGroupMember(ctx, req) return member_change(ctx, req, false) end

function H.GetUserGroupMembers(ctx, req)
  local ok, err = C.require_role(ctx, "ROLE_READ")
  if not ok then return nil, err end
  local g, gerr = R.get(ctx.st, "groups", req.group_id, "group")
  if not g then return nil, gerr end
  local list = {}
  for uid, t in pairs(ctx.st.members[g.id] or {}) do
    list[uid] = { member_id = { user_id = uid }, created_time = ts(t) }
  end
  local items, keys = C.list(list, function(_, uid) return uid end)
  local page, token = C.page(ctx, items, keys)
  if not page then return nil, token end
  return { members = page, next_page_token = token }
end

return H
