-- The life cycle every resource shares: created ACTIVATING, changed UPDATING, removed
-- DELETING, each change with a new resource_version and an async operation that ends it.
-- Handlers call these after their own validation and permission checks.
local util = require "cloudops.emulator.util"
local errors = require "cloudops.emulator.errors"
local ops = require "cloudops.emulator.operations"
local statelib = require "cloudops.emulator.state"

local copy, ts = util.copy, util.ts

local M = {}

-- The messages that still carry the pre-v0.3.0 state string.
local WITH_DEPRECATED = {
  namespaces = true, users = true, groups = true, service_accounts = true, api_keys = true,
}
-- Fields some messages lack (a table with an unknown key does not encode).
local NO_CREATED = { account = true, sinks = true, audit_sinks = true }
local NO_MODIFIED = { account = true, sinks = true, rules = true, audit_sinks = true }
local NO_OP_ID = { sinks = true, audit_sinks = true }

-- Records which operation last changed a resource: its finalizer acts only if no later
-- operation took over (also for messages without an async_operation_id field).
local function claim(ctx, coll, key, res, op)
  ctx.st.last_op[ops.ref(coll, key)] = op.id
  if not NO_OP_ID[coll] then res.async_operation_id = op.id end
end

function M.get(st, coll, key, what)
  local res = key ~= nil and key ~= "" and statelib.get(st, coll, key) or nil
  if res == nil then
    if key == nil or key == "" then return errors.invalid("%s is required", what) end
    return errors.not_found("%s not found: %s", what, key)
  end
  return res
end

-- A stale resource_version is FAILED_PRECONDITION, as the service answers; an empty one
-- skips the check (the field is optional in most requests).
function M.check_version(res, version, what)
  if version ~= nil and version ~= "" and version ~= res.resource_version then
    return errors.precondition(
      "resource_version mismatch for %s: the %s was changed since it was read; get it again and retry",
      what, what)
  end
  if res.state == "RESOURCE_STATE_DELETING" then
    return errors.precondition("%s is being deleted", what)
  end
  return true
end

-- An update that would leave `what` as it is: INVALID_ARGUMENT "nothing to change", the
-- text tcld's --idempotent (its isNothingChangedErr) and the Terraform provider look for.
function M.check_changes(old, new, what)
  if util.same(old, new) then
    return errors.invalid("nothing to change: the %s is already as requested", what)
  end
  return true
end

-- The resource a change names: found, at the version the caller read, not being deleted.
function M.get_current(st, coll, key, version, what)
  local res, err = M.get(st, coll, key, what)
  if not res then return nil, err end
  local ok
  ok, err = M.check_version(res, version, what)
  if not ok then return nil, err end
  return res
end

-- A resource as seeding and bootstrap make it: ACTIVE at once, with no operation (there
-- is no request to answer), kept under a fresh id.
function M.build_active(st, coll, now, spec)
  local res = {
    id = util.id(32), resource_version = statelib.version(), spec = copy(spec),
    created_time = ts(now),
  }
  ops.set_resource_state(res, "RESOURCE_STATE_ACTIVE", WITH_DEPRECATED[coll])
  statelib.set(st, coll, res.id, res)
  return res
end

function M.create(ctx, coll, key, res, extra_effects)
  res.resource_version = statelib.version()
  if not NO_CREATED[coll] then res.created_time = ts(ctx.now) end
  local op = ctx:start()
  claim(ctx, coll, key, res, op)
  ops.set_resource_state(res, "RESOURCE_STATE_ACTIVATING", WITH_DEPRECATED[coll])
  statelib.set(ctx.st, coll, key, res)
  op.effects[#op.effects + 1] = { fn = "activate", coll = coll, key = key }
  for _, e in ipairs(extra_effects or {}) do op.effects[#op.effects + 1] = e end
  return op
end

-- fn(res) applies the change in place; the version, state and operation id come after.
function M.update(ctx, coll, key, res, fn, extra_effects)
  local prev = copy(res)
  local op = ctx:start()
  if fn then fn(res) end
  res.resource_version = statelib.version()
  if not NO_MODIFIED[coll] then res.last_modified_time = ts(ctx.now) end
  claim(ctx, coll, key, res, op)
  ops.set_resource_state(res, "RESOURCE_STATE_UPDATING", WITH_DEPRECATED[coll])
  op.effects[#op.effects + 1] = { fn = "activate", coll = coll, key = key, prev = prev }
  for _, e in ipairs(extra_effects or {}) do op.effects[#op.effects + 1] = e end
  return op
end

function M.delete(ctx, coll, key, res)
  local prev = copy(res)
  local op = ctx:start()
  res.resource_version = statelib.version()
  if not NO_MODIFIED[coll] then res.last_modified_time = ts(ctx.now) end
  claim(ctx, coll, key, res, op)
  ops.set_resource_state(res, "RESOURCE_STATE_DELETING", WITH_DEPRECATED[coll])
  op.effects[#op.effects + 1] = { fn = "remove", coll = coll, key = key, prev = prev }
  return op
end

return M
