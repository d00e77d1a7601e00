-- API keys. The secret token is returned once, by CreateApiKey; the model keeps a map
-- from token to key id for authentication, beside the ApiKey resources.
local errors = require "cloudops.emulator.errors"
local util = require "cloudops.emulator.util"
local auth = require "cloudops.emulator.auth"
local R = require "cloudops.emulator.resource"
local ops = require "cloudops.emulator.operations"
local C = require "cloudops.emulator.handlers.common"

local copy = util.copy

local H = {}

-- docs.temporal.io/cloud/api-keys, FAQ: "Up to 10 non-expired keys per user and 20
-- non-expired keys per Service Account"; "The maximum expiration time for an API key is 2
-- years".
local MAX_LIFETIME = 2 * 366 * 86400
H.MAX_KEYS = { OWNER_TYPE_USER = 10, OWNER_TYPE_SERVICE_ACCOUNT = 20 }

local DEPRECATED_OWNER = { OWNER_TYPE_USER = "user", OWNER_TYPE_SERVICE_ACCOUNT = "service-account" }

function H.new_token(random)
  return "emu_" .. util.hex(util.random_bytes(24, random))
end

-- A key as the bootstrap code creates it: active, its token already known.
function H.build(st, now, spec, token)
  local k = R.build_active(st, "api_keys", now, spec)
  st.tokens[token] = k.id
  return k
end

ops.on_remove.api_keys = function(st, id)
  for token, kid in pairs(st.tokens) do
    if kid == id then st.tokens[token] = nil end
  end
  if st.key_status then st.key_status[id] = nil end
end

-- Keys do not outlive their owner: users and service accounts call this when removed.
function H.remove_owned_by(st, owner_id)
  for kid, k in pairs(st.api_keys) do
    if k.spec.owner_id == owner_id then ops.remove(st, "api_keys", kid) end
  end
end

local function owner_type(spec)
  local kind = auth.owner_kind(spec)
  return kind == "user" and "OWNER_TYPE_USER" or kind == "service_account"
    and "OWNER_TYPE_SERVICE_ACCOUNT" or nil
end

-- Whether the caller administers the namespace a service account is scoped to: namespace
-- admins manage the keys of those (docs.temporal.io/cloud/api-keys, "API key permissions").
local function manages_scoped(ctx, owner_id)
  local sa = ctx.st.service_accounts[owner_id]
  local nsa = sa and sa.spec.namespace_scoped_access
  return nsa ~= nil and auth.ns_permission(ctx.identity, nsa.namespace) == "PERMISSION_ADMIN"
end

-- Admins manage every key; anyone manages the keys they own, except that a service account
-- may not delete its own keys without the rights to manage it ("Service Accounts cannot
-- delete their own API keys without the requisite permissions", docs.temporal.io/cloud/
-- api-keys).
local function may_manage(ctx, owner_id, deleting)
  local own = owner_id == ctx.identity.id
  if own and not (deleting and ctx.identity.kind == "service_account") then return true end
  if manages_scoped(ctx, owner_id) then return true end
  return C.require_role(ctx, "ROLE_ADMIN")
end

-- The key a request names, if the caller may manage it.
local function managed_key(ctx, req, deleting)
  local k, err = R.get(ctx.st, "api_keys", req.key_id, "API key")
  if not k then return nil, err end
  local ok
  ok, err = may_manage(ctx, k.spec.owner_id, deleting)
  if not ok then return nil, err end
  return k
end

-- The key a change names: managed by the caller, at the version it read, not being deleted.
local function key_to_change(ctx, req, deleting)
  local k, err = managed_key(ctx, req, deleting)
  if not k then return nil, err end
  local ok
  ok, err = R.check_version(k, req.resource_version, "API key")
  if not ok then return nil, err end
  return k
end

local function check_expiry(ctx, spec)
  local exp = util.to_seconds(spec.expiry_time)
  if not exp then return errors.invalid("spec.expiry_time is required") end
  if exp <= ctx.now then return errors.invalid("spec.expiry_time must be in the future") end
  if exp > ctx.now + MAX_LIFETIME then
    return errors.invalid("spec.expiry_time must be within two years")
  end
  return true
end

local function check_common(ctx, spec)
  if spec.display_name == nil or spec.display_name == "" then
    return errors.invalid("spec.display_name is required")
  end
  return check_expiry(ctx, spec)
end

-- The owner's keys that still count against its limit: not expired, not being deleted.
local function live_keys(ctx, owner_id)
  local n = 0
  for _, k in pairs(ctx.st.api_keys) do
    if k.spec.owner_id == owner_id and k.state ~= "RESOURCE_STATE_DELETING"
      and (util.to_seconds(k.spec.expiry_time) or math.huge) > ctx.now then
      n = n + 1
    end
  end
  return n
end

-- A key's disabled flag as authentication sees it: the value from before an update that is
-- still in flight, else the spec's. Enabling or disabling takes effect when the update's
-- operation ends ("There may be a delay after changing the status", docs.temporal.io/cloud/
-- api-keys).
ops.finalizers.api_key_status = function(st, eff, outcome)
  local pending = st.key_status and st.key_status[eff.key]
  if not pending or pending.op ~= eff.op then return end
  st.key_status[eff.key] = nil
  local k = st.api_keys[eff.key]
  if k and outcome ~= "STATE_FULFILLED" then k.spec.disabled = pending.disabled end
end

function H.GetApiKeys(ctx, req)
  local admin = C.require_role(ctx, "ROLE_ADMIN")
  local want_type = req.owner_type ~= "OWNER_TYPE_UNSPECIFIED" and req.owner_type or nil
  if not want_type and req.owner_type_deprecated and req.owner_type_deprecated ~= "" then
    want_type = req.owner_type_deprecated == "user" and "OWNER_TYPE_USER"
      or req.owner_type_deprecated == "service-account" and "OWNER_TYPE_SERVICE_ACCOUNT"
    if not want_type then
      return errors.invalid("owner_type_deprecated must be 'user' or 'service-account'")
    end
  end
  local owner = req.owner_id ~= "" and req.owner_id or nil
  local me = ctx.identity.id
  local items, keys = C.list(ctx.st.api_keys, C.by_id, function(k)
    if not admin and k.spec.owner_id ~= me and not manages_scoped(ctx, k.spec.owner_id) then
      return false
    end
    if owner and k.spec.owner_id ~= owner then return false end
    if want_type and owner_type(k.spec) ~= want_type then return false end
    return true
  end)
  local page, token = C.page(ctx, items, keys)
  if not page then return nil, token end
  return { api_keys = page, next_page_token = token }
end

function H.GetApiKey(ctx, req)
  local k, err = managed_key(ctx, req)
  if not k then return nil, err end
  return { api_key = copy(k) }
end

function H.CreateApiKey(ctx, req)
  local spec = req.spec
  if spec == nil then return errors.invalid("spec is required") end
  if spec.owner_id == nil or spec.owner_id == "" then
    return errors.invalid("spec.owner_id is required")
  end
  local otype = owner_type(spec)
  if not otype then return errors.invalid("spec.owner_type is required") end
  local owner = otype == "OWNER_TYPE_USER" and ctx.st.users[spec.owner_id]
    or ctx.st.service_accounts[spec.owner_id]
  if not owner then return errors.not_found("API key owner not found: %s", spec.owner_id) end
  local ok, err = may_manage(ctx, spec.owner_id)
  if not ok then return nil, err end
  ok, err = check_common(ctx, spec)
  if not ok then return nil, err end
  if live_keys(ctx, spec.owner_id) >= H.MAX_KEYS[otype] then
    return errors.precondition("%s %s already has %d unexpired API keys, the most allowed",
      otype == "OWNER_TYPE_USER" and "user" or "service account", spec.owner_id, H.MAX_KEYS[otype])
  end
  local stored = copy(spec)
  stored.owner_type = otype
  stored.owner_type_deprecated = DEPRECATED_OWNER[otype]
  local k = { id = util.id(32), spec = stored }
  local token = H.new_token(ctx.cfg.random)
  R.create(ctx, "api_keys", k.id, k)
  ctx.st.tokens[token] = k.id
  ctx.audit_details = { key_id = k.id }
  return { key_id = k.id, token = token }
end

function H.UpdateApiKey(ctx, req)
  local k, err = key_to_change(ctx, req)
  if not k then return nil, err end
  local spec = req.spec
  if spec == nil then return errors.invalid("spec is required") end
  if spec.owner_id ~= nil and spec.owner_id ~= "" and spec.owner_id ~= k.spec.owner_id then
    return errors.invalid("spec.owner_id cannot be changed")
  end
  local otype = owner_type(spec)
  if otype and otype ~= k.spec.owner_type then
    return errors.invalid("spec.owner_type cannot be changed")
  end
  -- The expiry of an existing key may stay as it was, even if a key is near its end.
  if spec.expiry_time == nil then
    spec = copy(spec)
    spec.expiry_time = k.spec.expiry_time
  end
  if spec.display_name == nil or spec.display_name == "" then
    return errors.invalid("spec.display_name is required")
  end
  if util.to_seconds(spec.expiry_time) ~= util.to_seconds(k.spec.expiry_time) then
    local ok
    ok, err = check_expiry(ctx, spec)
    if not ok then return nil, err end
  end
  local was_disabled = k.spec.disabled == true
  local new = copy(spec)
  new.owner_id, new.owner_type = k.spec.owner_id, k.spec.owner_type
  new.owner_type_deprecated = k.spec.owner_type_deprecated
  local ok
  ok, err = R.check_changes(k.spec, new, "API key")
  if not ok then return nil, err end
  local op = R.update(ctx, "api_keys", k.id, k, function(r) r.spec = new end)
  if (spec.disabled == true) ~= was_disabled then
    ctx.st.key_status = ctx.st.key_status or {}
    ctx.st.key_status[k.id] = { disabled = was_disabled, op = op.id }
    op.effects[#op.effects + 1] = { fn = "api_key_status", key = k.id, op = op.id }
  end
  ctx.audit_details = { key_id = k.id }
  return {}
end

function H.DeleteApiKey(ctx, req)
  local k, err = key_to_change(ctx, req, true)
  if not k then return nil, err end
  R.delete(ctx, "api_keys", k.id, k)
  ctx.audit_details = { key_id = k.id }
  return {}
end

return H
