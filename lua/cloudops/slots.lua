--- max_operations (API.md "Loading and connecting"): the async operations a client's mutations
-- started and that it has not yet seen end. A mutation takes a slot before it is sent (so that
-- tasks sending together count each other) and gives it back when its answer comes: kept for
-- the operation it started, if that is still running, or freed. An operation's slot is freed
-- when any answer shows it ended: `wait`, any GetAsyncOperation, or the poll of the oldest
-- operation that a mutation waiting for a slot makes itself, at that operation's
-- check_duration. With a Redis limit (`shared`, cloudops.redis.slots), a slot is also a lease
-- in Redis, so that every host of the account counts the account's operations together.
local scheduler = require "cloudops.scheduler"
local sleep = require "cloudops.sleep"
local errors = require "cloudops.errors"
local codes = require "cloudops.codes"

local setmetatable, type, tonumber = setmetatable, type, tonumber
local min, max = math.min, math.max
local format = string.format

-- Bounds of the pause before polling the oldest operation (its check_duration otherwise).
local MIN_POLL, MAX_POLL = 0.1, 30
-- Pauses while other hosts hold the account's slots: short first, doubling, at most a second.
local FIRST_SHARED_POLL, MAX_SHARED_POLL = 0.05, 1

local TERMINAL = { STATE_FULFILLED = true, STATE_FAILED = true, STATE_CANCELLED = true,
                   STATE_REJECTED = true }

local Slots = {}
Slots.__index = Slots

local slots = { MIN_POLL = MIN_POLL, MAX_POLL = MAX_POLL }

function slots.new(max_operations, clock, shared)
  return setmetatable({ max = max_operations, clock = clock, shared = shared or nil, reserved = 0,
                        count = 0, ops = {}, order = {}, changed = scheduler.condition() }, Slots)
end

--- The identity the shared slots are keyed by (its account): see cloudops.redis.
function Slots:start(identity)
  if self.shared then self.shared:start(identity) end
end

local function seconds(d)
  if type(d) ~= "table" then return nil end
  return (tonumber(d.seconds) or 0) + (tonumber(d.nanos) or 0) / 1e9
end

--- How many slots are taken (mutations in flight plus operations not seen to end).
function Slots:taken()
  return self.reserved + self.count
end

local function forget(self, id)
  if not self.ops[id] then return end
  self.ops[id] = nil
  self.count = self.count - 1
  if self.shared then self.shared:ended(id) end
  self.changed:signal()
end

--- An AsyncOperation seen in an answer: a running one of ours is noted, an ended one freed.
function Slots:observe(op, ours)
  if type(op) ~= "table" or type(op.id) ~= "string" or op.id == "" then return end
  if TERMINAL[op.state] then return forget(self, op.id) end
  local known = self.ops[op.id]
  if not known then
    if not ours then return end
    known = { id = op.id }
    self.ops[op.id] = known
    self.count = self.count + 1
    self.order[#self.order + 1] = op.id
  end
  known.seen, known.check = self.clock(), seconds(op.check_duration)
end

-- The oldest operation still counted (the order list is pruned as it goes).
local function oldest(self)
  local order = self.order
  while order[1] and not self.ops[order[1]] do table.remove(order, 1) end
  return order[1] and self.ops[order[1]]
end

-- Polls op once (through the client's public call), which frees its slot if it ended. An
-- operation the server no longer knows is taken as ended.
local function poll(self, client, op)
  self.polling = true
  local resp, err = client:call("GetAsyncOperation", { async_operation_id = op.id },
                                { retry = { max_elapsed = 10 } })
  self.polling = false
  if resp then
    self:observe(resp.async_operation)
  elseif err.code == codes.NOT_FOUND then
    forget(self, op.id)
  else
    op.seen = self.clock()
  end
  self.changed:signal()
end

local function no_slot(self, method)
  return nil, errors.new("DEADLINE_EXCEEDED", format("no operation slot came free in time: %d async " ..
    "operations are in flight (max_operations = %d)", self:taken(), self.max),
    { code = codes.DEADLINE_EXCEEDED, method = method, retryable = false, attempts = 0 })
end

-- A slot if one is free: true (or the Redis lease's token), or nil and, when other hosts hold
-- the account's slots, the seconds until one of their leases expires.
local function take(self)
  if self:taken() >= self.max then return nil end
  if not self.shared then return true end
  return self.shared:try_acquire()
end

--- Takes a slot for a mutation about to be sent, waiting until `deadline` (a clock time) for
-- one. Returns the slot (for release), or nil, err.
function Slots:acquire(client, deadline, method)
  local shared_pause = FIRST_SHARED_POLL
  while true do
    local slot, lease_left = take(self)
    if slot then
      self.reserved = self.reserved + 1
      return slot
    end
    local now = self.clock()
    if now >= deadline then return no_slot(self, method) end
    local other_hosts = lease_left and min(lease_left, shared_pause)
    if other_hosts then shared_pause = min(shared_pause * 2, MAX_SHARED_POLL) end
    local task, op = scheduler.task(), oldest(self)
    local due = op and op.seen + max(MIN_POLL, min(MAX_POLL, op.check or MIN_POLL))
    if op and now >= due and not self.polling then
      poll(self, client, op)
    elseif task and not other_hosts and (self.polling or not op) then
      -- Another task polls, or mutations in flight hold the slots: their answers signal.
      self.changed:wait(task)
    elseif op or other_hosts then
      sleep(min(deadline, due or deadline, other_hosts and now + other_hosts or deadline) - now)
    else
      -- Outside a task nothing else runs: only mutations in flight (a finalizer's) could
      -- hold the slots. Give up rather than wait in vain.
      return nil, errors.new("RESOURCE_EXHAUSTED", "every operation slot is held by a mutation in flight",
        { method = method, retryable = false, attempts = 0 })
    end
  end
end

--- Gives back a mutation's slot: kept for the operation its answer started, if any.
function Slots:release(slot, resp)
  self.reserved = self.reserved - 1
  local op = resp and resp.async_operation
  self:observe(op, true)
  if self.shared and slot ~= true then
    if type(op) == "table" and self.ops[op.id] then self.shared:started(slot, op.id)
    else self.shared:ended(slot) end
  end
  self.changed:signal()
end

return slots
