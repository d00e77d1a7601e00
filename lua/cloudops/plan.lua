--- cloudops.plan(client, desired, { prune = false }) (docs/reference.md "Desired state"): the
-- changes that would make the account match a desired state (cloudops.desired), found by the
-- one diff (cloudops.changes) of a snapshot of the account (reads only) against the desired
-- state, matched by natural key.
--
--   local plan = assert(cloudops.plan(client, d, { prune = true }))
--   io.write(require("cloudops.plan").text(plan))
--
-- plan = { changes = { { kind, id, name, action, fields } ... } in dependency order,
--   kept = { { kind, id, name, why } ... }: what prune leaves although `desired` does not
--   name it (a resource with delete protection on, the identity applying, a SCIM group) }.
-- Only the kinds `desired` lists are compared; of an entry, only the fields it gives (a map
-- it gives whole); emails case-insensitively; what the server owns never. References are
-- compared by name (ids in `desired` are taken for the names they stand for). A reference to
-- something neither the account nor `desired` holds fails the plan (nil, err), as does a
-- listed kind the key may not read. Bad arguments (a desired state that does not fit the
-- schema) raise.
local kinds = require "cloudops.kinds"
local changes = require "cloudops.changes"
local desired = require "cloudops.desired"
local snapshot = require "cloudops.snapshot"

local ipairs, pairs, type, tostring, error = ipairs, pairs, type, tostring, error
local format, concat = string.format, table.concat

local M = {}

local GONE = { RESOURCE_STATE_DELETING = true, RESOURCE_STATE_DELETED = true }

local function check_client(client, what, level)
  if type(client) ~= "table" or type(client.call) ~= "function" then
    error(what .. " expects a client (cloudops.connect), got " .. type(client), level + 1)
  end
end

--- Checks the options of plan or apply (`allowed`: their names) and the desired state;
-- returns the desired state in the resource form and the kinds it lists. Raises (at `level`).
function M.arguments(what, client, d, opts, allowed, level)
  check_client(client, what, level + 1)
  if opts ~= nil and type(opts) ~= "table" then
    error(what .. ": options must be a table, got " .. type(opts), level + 1)
  end
  for key in pairs(opts or {}) do
    if not allowed[key] then error(what .. ": unknown option '" .. tostring(key) .. "'", level + 1) end
  end
  local state, listed = desired.check(d)
  if not state then error(what .. ": " .. listed, level + 1) end
  return state, listed
end

-- Indexes of the account's resources of each kind read: by id, by natural key (those not
-- being deleted), and by natural key those being deleted.
local function index_account(snap, name_of)
  local by_id, by_key, gone = {}, {}, {}
  for _, k in ipairs(kinds.list) do
    if not k.singleton and snap[k.name] then
      local ids, keys, deleting = {}, {}, {}
      for _, res in ipairs(snap[k.name]) do
        ids[k.id(res)] = res
        local key = k.key(res, name_of)
        if key ~= nil then
          if GONE[res.state] then deleting[key] = res elseif keys[key] == nil then keys[key] = res end
        end
      end
      by_id[k.name], by_key[k.name], gone[k.name] = ids, keys, deleting
    end
  end
  return by_id, by_key, gone
end

local function label(k, res)
  return k.name .. "[" .. tostring(k.key(res, function(_, v) return v end)) .. "]"
end

-- The desired state with every reference written as the natural key of what it names (an id
-- of the account's is taken for its name); or nil, err for one that names nothing.
local function resolve(ctx)
  local unread = ctx.unreadable
  for _, name in ipairs(ctx.listed) do
    local k = kinds.get(name)
    local list = ctx.state[name]
    for i, res in ipairs(list) do
      local missing
      list[i] = kinds.map_refs(k, res, function(to, v)
        if type(v) ~= "string" or v == "" or unread[to] then return v end
        local key = desired.canonical(to, v)
        if (ctx.desired_by_key[to] or {})[key] or (ctx.by_key[to] or {})[key] then return key end
        if (ctx.by_id[to] or {})[v] then return ctx.name_of(to, v) end
        missing = missing or format("%s: no %s named '%s' in the account or in the desired state",
          label(k, res), kinds.get(to).kind:gsub("_", " "), v)
        return v
      end)
      if missing then return nil, missing end
    end
  end
  return true
end

-- Why prune must keep res, or nil.
local function keep_reason(k, res, identity)
  local spec = res.spec or {}
  if k.delete_protection and spec.lifecycle and spec.lifecycle.enable_delete_protection then
    return "delete protection is on"
  end
  if identity and (k.name == "users" or k.name == "service_accounts") and res.id == identity.id then
    return "the identity applying the desired state"
  end
  if spec.scim_group then return "a SCIM group, managed by its identity provider" end
  return nil
end

--- Reads the account and plans: returns ctx = { plan, state (the desired state, resolved),
-- listed, snap, identity, by_id, by_key, gone, desired_by_key, name_of, prune } or nil, err.
-- For cloudops.apply, which acts on what this found.
function M.compute(client, state, listed, opts)
  opts = opts or {}
  local snap, err = snapshot(client, { kinds = desired.kinds_to_read(listed), concurrency = opts.concurrency })
  if not snap then return nil, err end
  local unreadable = {}
  for _, u in ipairs(snap.unreadable) do unreadable[u.kind] = u end
  for _, name in ipairs(listed) do
    local u = unreadable[name]
    if u then return nil, format("cannot read %s: %s %s", name, tostring(u.code), tostring(u.message or "")) end
  end
  local name_of = kinds.names(snap)
  local by_id, by_key, gone = index_account(snap, name_of)
  local ctx = { state = state, listed = listed, snap = snap, identity = snap.identity, by_id = by_id,
                by_key = by_key, gone = gone, name_of = name_of, unreadable = unreadable,
                desired_by_key = {}, prune = opts.prune and true or false }
  local function own(_, v) return v end
  for _, name in ipairs(listed) do
    local k, keys = kinds.get(name), {}
    for _, res in ipairs(state[name]) do keys[k.key(res, own)] = res end
    ctx.desired_by_key[name] = keys
  end
  local ok, rerr = resolve(ctx)
  if not ok then return nil, rerr end
  -- Resolving may have renamed what keys are made of (a sink's namespace given by id).
  for _, name in ipairs(listed) do
    local k, keys = kinds.get(name), {}
    for _, res in ipairs(state[name]) do keys[k.key(res, own)] = res end
    ctx.desired_by_key[name] = keys
  end
  local list = changes.diff(snap, state, { match = "key", partial = true, whole_maps = true,
    prune = ctx.prune, kinds = listed, name_of = { after = false } })
  local out, kept = {}, {}
  for _, c in ipairs(list) do
    local k = kinds.get(c.kind)
    local res = c.action == "delete" and by_id[k.name][c.id]
    local why = res and keep_reason(k, res, ctx.identity)
    if why then
      kept[#kept + 1] = { kind = c.kind, id = c.id, name = c.name, why = why }
    else
      out[#out + 1] = c
    end
  end
  ctx.plan = { changes = out, kept = kept }
  return ctx
end

local PLAN_OPTIONS = { prune = true, concurrency = true }

--- cloudops.plan(client, desired, opts) -> plan | nil, err
function M.plan(client, d, opts)
  local state, listed = M.arguments("cloudops.plan", client, d, opts, PLAN_OPTIONS, 2)
  local ctx, err = M.compute(client, state, listed, opts)
  if not ctx then return nil, err end
  return ctx.plan
end

--- The text of a plan: changes.text's, then what prune keeps.
function M.text(plan)
  if type(plan) ~= "table" then error("cloudops.plan.text expects a plan (a table)", 2) end
  local text = changes.text{ changes = plan.changes }
  if plan.kept and #plan.kept > 0 then
    local lines = { "", "Kept, though the desired state does not name them:" }
    for _, c in ipairs(plan.kept) do
      local what = tostring(c.name)
      if c.id ~= nil and tostring(c.id) ~= what then what = what .. " (" .. tostring(c.id) .. ")" end
      lines[#lines + 1] = format("  %s %s: %s", c.kind, what, c.why)
    end
    text = text .. concat(lines, "\n") .. "\n"
  end
  return text
end

return M
