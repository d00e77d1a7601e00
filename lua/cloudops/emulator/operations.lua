-- Async operations: every mutation starts one. An operation is data only (so the state
-- file keeps it): its timings, its planned outcome and a list of effects, each naming a
-- finalizer that runs when the operation reaches its terminal state. Time moves on only
-- when `advance` is called (before and after every request, and from the server loop's
-- timer), which keeps the model deterministic under a test clock.
local util = require "cloudops.emulator.util"
local statelib = require "cloudops.emulator.state"
local operation_limit = require "cloudops.operation_limit"

local copy, ts, min, sort = util.copy, util.ts, math.min, table.sort

local M = {}

M.TERMINAL = {
  STATE_FAILED = true, STATE_CANCELLED = true, STATE_FULFILLED = true, STATE_REJECTED = true,
}
local lower = {
  STATE_PENDING = "pending", STATE_IN_PROGRESS = "in_progress", STATE_FAILED = "failed",
  STATE_CANCELLED = "cancelled", STATE_FULFILLED = "fulfilled", STATE_REJECTED = "rejected",
}

-- name -> function(st, effect, outcome, op, now); handler families add their own.
M.finalizers = {}
-- collection -> function(st, key, res): what goes with a removed resource.
M.on_remove = {}

local res_lower = {
  RESOURCE_STATE_ACTIVATING = "activating", RESOURCE_STATE_ACTIVATION_FAILED = "activationfailed",
  RESOURCE_STATE_ACTIVE = "active", RESOURCE_STATE_UPDATING = "updating",
  RESOURCE_STATE_UPDATE_FAILED = "updatefailed", RESOURCE_STATE_DELETING = "deleting",
  RESOURCE_STATE_DELETE_FAILED = "deletefailed", RESOURCE_STATE_DELETED = "deleted",
  RESOURCE_STATE_SUSPENDED = "suspended", RESOURCE_STATE_EXPIRED = "expired",
}

-- Sets the state of a resource; the deprecated string twin is kept for old clients of
-- the messages that have it (namespaces, users, groups, service accounts, API keys).
function M.set_resource_state(res, state, with_deprecated)
  res.state = state
  if with_deprecated then res.state_deprecated = res_lower[state] end
end

local function has_deprecated(res) return res.state_deprecated ~= nil end

function M.ref(coll, key) return coll .. "\0" .. (key or "") end

-- True when `op` is the last operation that changed the resource.
local function owns(st, eff, op)
  return st.last_op[M.ref(eff.coll, eff.key)] == op.id
end
M.owns = owns

function M.remove(st, coll, key)
  local res = statelib.get(st, coll, key)
  if res == nil then return end
  statelib.set(st, coll, key, nil)
  st.last_op[M.ref(coll, key)] = nil
  local hook = M.on_remove[coll]
  if hook then hook(st, key, res) end
end

-- The generic effects: a resource being created/updated becomes ACTIVE, one being
-- deleted goes away. A REJECTED or CANCELLED operation puts back what was there before.
M.finalizers.activate = function(st, eff, outcome, op)
  local res = statelib.get(st, eff.coll, eff.key)
  if res == nil or not owns(st, eff, op) then return end
  if outcome == "STATE_FULFILLED" then
    M.set_resource_state(res, "RESOURCE_STATE_ACTIVE", has_deprecated(res))
  elseif outcome == "STATE_FAILED" then
    M.set_resource_state(res, eff.prev and "RESOURCE_STATE_UPDATE_FAILED"
      or "RESOURCE_STATE_ACTIVATION_FAILED", has_deprecated(res))
  elseif eff.prev then
    local back = copy(eff.prev)
    back.resource_version = statelib.version()
    statelib.set(st, eff.coll, eff.key, back)
  else
    M.remove(st, eff.coll, eff.key)
  end
end

M.finalizers.remove = function(st, eff, outcome, op)
  local res = statelib.get(st, eff.coll, eff.key)
  if res == nil or not owns(st, eff, op) then return end
  if outcome == "STATE_FULFILLED" then
    M.remove(st, eff.coll, eff.key)
  elseif outcome == "STATE_FAILED" then
    M.set_resource_state(res, "RESOURCE_STATE_DELETE_FAILED", has_deprecated(res))
  elseif eff.prev then
    local back = copy(eff.prev)
    back.resource_version = statelib.version()
    statelib.set(st, eff.coll, eff.key, back)
  end
end

-- Starts an operation. p = { id =, method =, input = Any or nil, outcome =, reason =,
-- request = the request table, effects = { { fn = "activate", coll =, key =, prev = }, ... } }.
function M.start(st, cfg, now, p)
  local total = cfg.op_durations and cfg.op_durations[p.method] or cfg.op_duration
  local pending = min(cfg.op_pending, total)
  local op = {
    id = p.id,
    method = p.method,
    t1 = now + pending,
    t2 = now + total,
    outcome = p.outcome or "STATE_FULFILLED",
    reason = p.reason,
    request = p.request,
    effects = p.effects or {},
    view = {
      id = p.id,
      state = "STATE_PENDING",
      state_deprecated = "pending",
      operation_type = p.method,
      operation_input = p.input,
      started_time = ts(now),
    },
  }
  st.ops[op.id] = op
  st.active_ops[op.id] = true
  return op
end

local function finish(st, op, now)
  local outcome = op.outcome
  op.view.state = outcome
  op.view.state_deprecated = lower[outcome]
  op.view.finished_time = ts(now)
  if outcome ~= "STATE_FULFILLED" then
    op.view.failure_reason = op.reason or ("operation " .. lower[outcome])
  end
  st.active_ops[op.id] = nil
  for _, eff in ipairs(op.effects) do
    local fn = M.finalizers[eff.fn]
    if not fn then error("no finalizer named " .. tostring(eff.fn)) end
    fn(st, eff, outcome, op, now)
  end
end

-- Moves every operation whose time has come; the ones finishing first are applied first.
-- Returns true when something changed.
function M.advance(st, now)
  local due = {}
  for id in pairs(st.active_ops) do
    local op = st.ops[id]
    if op.view.state == "STATE_PENDING" and now >= op.t1 then
      op.view.state, op.view.state_deprecated = "STATE_IN_PROGRESS", "in_progress"
    end
    if now >= op.t2 then due[#due + 1] = op end
  end
  sort(due, function(a, b)
    if a.t2 ~= b.t2 then return a.t2 < b.t2 end
    return a.view.started_time.seconds < b.view.started_time.seconds
      or (a.view.started_time.seconds == b.view.started_time.seconds and a.id < b.id)
  end)
  for _, op in ipairs(due) do
    if op.view.state == "STATE_PENDING" then
      op.view.state, op.view.state_deprecated = "STATE_IN_PROGRESS", "in_progress"
    end
    finish(st, op, op.t2)
  end
  return #due > 0
end

-- How many operations the per-account limit counts are in flight (cloudops.operation_limit),
-- and when the first of them ends.
function M.in_flight(st)
  local n, soonest = 0, nil
  for id in pairs(st.active_ops) do
    local op = st.ops[id]
    if operation_limit.counts(op.method) then
      n = n + 1
      if soonest == nil or op.t2 < soonest then soonest = op.t2 end
    end
  end
  return n, soonest
end

-- The earliest time at which `advance` has something to do, or nil.
function M.next_deadline(st)
  local t
  for id in pairs(st.active_ops) do
    local op = st.ops[id]
    local d = op.view.state == "STATE_PENDING" and op.t1 or op.t2
    if t == nil or d < t then t = d end
  end
  return t
end

-- What GetAsyncOperation shows: check_duration is the configured hint, or else the time
-- left until the operation ends (so a waiting client polls about once).
function M.view(op, cfg, now)
  local v = copy(op.view)
  if not M.TERMINAL[v.state] then
    local hint = cfg.check_duration
    if hint == nil then
      hint = op.t2 - now
      if hint < 0.01 then hint = 0.01 end
    end
    v.check_duration = util.duration(hint)
  end
  return v
end

return M
