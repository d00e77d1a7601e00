-- Users: invite (create), read, update, delete, namespace access.
local errors = require "cloudops.emulator.errors"
local util = require "cloudops.emulator.util"
local auth = require "cloudops.emulator.auth"
local R = require "cloudops.emulator.resource"
local ops = require "cloudops.emulator.operations"
local api_keys = require "cloudops.emulator.handlers.api_keys"
local C = require "cloudops.emulator.handlers.common"
local P = require "cloudops.emulator.handlers.principal"

local copy, ts = util.copy, util.ts

local H = {}

local USER = { coll = "users", id_field = "user_id", field = "user", what = "user",
               self_readable = true }

local INVITATION_DAYS = 30

local function find_by_email(st, email, except)
  email = email:lower()
  for id, u in pairs(st.users) do
    if id ~= except and u.spec.email:lower() == email then return u end
  end
end

-- A user as the seeding and bootstrap code creates it: active, invitation accepted.
function H.build(st, now, spec) return R.build_active(st, USER.coll, now, spec) end

-- A removed user takes its API keys and group memberships with it.
ops.on_remove.users = function(st, id)
  api_keys.remove_owned_by(st, id)
  for _, members in pairs(st.members) do members[id] = nil end
end

function H.GetUsers(ctx, req)
  local ok, err = C.require_role(ctx, "ROLE_READ")
  if not ok then return nil, err end
  local email = req.email ~= "" and req.email and req.email:lower() or nil
  local ns = req.namespace ~= "" and req.namespace or nil
  local items, keys = C.list(ctx.st.users, C.by_id, function(u)
    if email and u.spec.email:lower() ~= email then return false end
    if ns and not (u.spec.access and u.spec.access.namespace_accesses
      and u.spec.access.namespace_accesses[ns]) then return false end
    return true
  end)
  local page, token = C.page(ctx, items, keys)
  if not page then return nil, token end
  return { users = page, next_page_token = token }
end

H.GetUser = P.getter(USER)

local function check_spec(ctx, spec, current)
  if spec == nil then return errors.invalid("spec is required") end
  if spec.email == nil or not spec.email:match(C.EMAIL) then
    return errors.invalid("spec.email: a valid email address is required")
  end
  return C.check_access(ctx, spec.access, "spec", false, current and current.spec.access)
end

-- A new user is invited: the invitation stands for INVITATION_DAYS. An account has at most
-- max_users: "Default limit: 300 users", raised by support (docs.temporal.io/evaluate/cloud/
-- limits, "Users"), invited ones included.
H.CreateUser = P.creator(USER, function(ctx, spec)
  local ok, err = check_spec(ctx, spec)
  if not ok then return nil, err end
  if find_by_email(ctx.st, spec.email) then
    return errors.exists("a user with email %s already exists", spec.email)
  end
  return C.check_quota(ctx, "users", "max_users", "users")
end, function(ctx, u)
  u.invitation = { created_time = ts(ctx.now),
                   expired_time = ts(ctx.now + INVITATION_DAYS * 86400) }
end)

-- Owners are managed by owners only, and no one takes the role from an owner: "For security
-- reasons, you cannot remove the Account Owner role from a user. Removing the Account Owner
-- role must be made through Temporal Support" (docs.temporal.io/cloud/manage-access/users,
-- "Update a user's account-level role"; before: "To change or delete an Account Owner, you
-- must submit a support ticket"). So one Owner cannot demote, or delete, another.
local function check_target(ctx, u)
  if auth.role_of(u.spec.access) == "ROLE_OWNER" and ctx.identity.role ~= "ROLE_OWNER" then
    return errors.denied("permission denied: only an account owner can change an owner")
  end
  return true
end

local function support_only(u, what)
  return errors.denied("permission denied: user %s is an Account Owner; %s goes through Temporal Support " ..
    "(a support ticket), not the API", u.spec.email, what)
end

-- The email may be left out of the new spec; it cannot be changed.
H.UpdateUser = P.updater(USER, function(ctx, u, spec)
  local ok, err = check_target(ctx, u)
  if not ok then return nil, err end
  if spec and (spec.email == nil or spec.email == "") then
    spec = copy(spec)
    spec.email = u.spec.email
  end
  ok, err = check_spec(ctx, spec, u)
  if not ok then return nil, err end
  if spec.email:lower() ~= u.spec.email:lower() then
    return errors.invalid("spec.email cannot be changed")
  end
  if auth.role_of(u.spec.access) == "ROLE_OWNER" and auth.role_of(spec.access) ~= "ROLE_OWNER" then
    return support_only(u, "removing the role")
  end
  return spec
end)

H.DeleteUser = P.deleter(USER, function(ctx, u)
  local ok, err = check_target(ctx, u)
  if not ok then return nil, err end
  if u.id == ctx.identity.id then
    return errors.invalid("a user cannot delete itself")
  end
  if auth.role_of(u.spec.access) == "ROLE_OWNER" then return support_only(u, "deleting one") end
  return true
end)

H.SetUserNamespaceAccess = P.namespace_access_setter(USER)

return H
