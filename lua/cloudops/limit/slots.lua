--- max_operations (docs/reference.md "Limits that follow the service"): the async operations a
-- client's mutations started and that it has not yet seen end. A mutation takes a slot before
-- it is sent (so that tasks sending together count each other) and gives it back when its
-- answer comes: kept for the operation it started, if that is still running, or freed. An
-- operation's slot is freed when any answer shows it ended: `wait`, any GetAsyncOperation, or
-- the polls that mutations waiting for a slot make themselves. With a Redis limit (`shared`,
-- cloudops.redis.slots), a slot is also a lease in Redis, so that every host of the account
-- counts the account's operations together.
--
-- Waiting mutations learn the ends of the running operations concurrently: every operation
-- that is due is polled at once, each by a task of its own (cloudops.map), so that slots free
-- as the operations end, not one round trip after another. An operation is due after its
-- check_duration (the service's hint for an idle watcher), or sooner while mutations wait and
-- the rate limit has room: the polls then share the spare rate, the client's rate less the
-- mutations' own, and a poll is sent only when the limiter has a token at hand.
--
-- The server's refusal for the operation limit (RESOURCE_EXHAUSTED naming it) is a signal too:
-- other clients hold some of the account's operations, so no more than those this client knows
-- are running may be started, one more after each quiet second (or the refusal's RetryInfo, if
-- longer), until max_operations again.
local scheduler = require "cloudops.scheduler"
local sleep = require "cloudops.sleep"
local map = require "cloudops.map"
local errors = require "cloudops.errors"
local codes = require "cloudops.codes"
local documented = require "cloudops.limit.documented"

local setmetatable, type, tonumber, pairs = setmetatable, type, tonumber, pairs
local min, max = math.min, math.max
local format = string.format

-- Bounds of the pause between two polls of one operation (its check_duration otherwise).
local MIN_POLL, MAX_POLL = 0.1, 30
-- Polls sooner than the hint: never closer together than this, for one operation.
local MIN_INTERVAL = 0.05
-- Pauses while other hosts hold the account's slots: short first, doubling, at most a second.
local FIRST_SHARED_POLL, MAX_SHARED_POLL = 0.05, 1
-- After the server refused for the operation limit: how long, at least, this client keeps
-- to the operations it knows of.
local HOLD = 1
-- The mutations' own rate is counted over this many seconds.
local WINDOW = 1

local TERMINAL = { STATE_FULFILLED = true, STATE_FAILED = true, STATE_CANCELLED = true,
                   STATE_REJECTED = true }

local Slots = {}
Slots.__index = Slots

local slots = { MIN_POLL = MIN_POLL, MAX_POLL = MAX_POLL, MIN_INTERVAL = MIN_INTERVAL }

--- max_operations: the slots; clock: monotonic seconds (the client's); shared: Redis leases
-- (cloudops.redis.slots) or nil.
function slots.new(max_operations, clock, shared)
  return setmetatable({ max = max_operations, clock = clock, shared = shared or nil, reserved = 0,
                        count = 0, ops = {}, changed = scheduler.condition(), sent = {},
                        held = nil, held_until = 0 }, Slots)
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
  end
  known.seen, known.check = self.clock(), seconds(op.check_duration)
end

-- Mutations sent in the last WINDOW, per second.
local function mutation_rate(self, now)
  local sent, n = self.sent, 0
  for i = #sent, 1, -1 do
    if sent[i] > now - WINDOW then n = n + 1 else break end
  end
  return n / WINDOW
end

local function note_sent(self, now)
  local sent = self.sent
  sent[#sent + 1] = now
  -- keep the last WINDOW's only (pruned in bulk, rarely)
  if #sent > 256 then
    local keep, j = {}, 0
    for i = 1, #sent do
      if sent[i] > now - WINDOW then j = j + 1; keep[j] = sent[i] end
    end
    self.sent = keep
  end
end

-- Seconds between two polls of one operation while mutations wait: the spare rate shared by
-- the running operations (rate: the limiter's requests/s).
local function budget_interval(self, now, rate)
  local spare = rate - mutation_rate(self, now)
  if spare <= 0 then return MAX_POLL end
  return max(MIN_INTERVAL, self.count / spare)
end

-- The operations due for a poll (none being polled), and the time the next one falls due.
local function due_ops(self, now, rate)
  local interval = budget_interval(self, now, rate)
  local due, next_at = {}, nil
  for _, op in pairs(self.ops) do
    if not op.polling then
      local hint = max(MIN_POLL, min(MAX_POLL, op.check or MIN_POLL))
      local at = op.seen + min(hint, interval)
      if at <= now then due[#due + 1] = op
      elseif not next_at or at < next_at then next_at = at end
    end
  end
  return due, next_at
end

-- Polls one operation (through the client's public call, which frees its slot if it ended).
-- An operation the server no longer knows is taken as ended.
local function poll(self, client, op, deadline)
  op.polling = true
  local budget = max(0.1, deadline - self.clock())
  local ok, resp, err = pcall(client.call, client, "GetAsyncOperation", { async_operation_id = op.id },
    { retry = { max_elapsed = min(10, budget) } })
  op.polling = false
  if ok and not resp and err.code == codes.NOT_FOUND then
    forget(self, op.id)
  elseif not (ok and resp) then
    op.seen = self.clock()
  end
  self.changed:signal()
  if not ok then error(resp, 0) end
end

local function no_slot(self, method)
  return nil, errors.new("DEADLINE_EXCEEDED", format("no operation slot came free in time: %d async " ..
    "operations are in flight (max_operations = %d)", self:taken(), self.max),
    { code = codes.DEADLINE_EXCEEDED, method = method, retryable = false, attempts = 0 })
end

-- The most operations that may be started now: max_operations, or fewer while the server's
-- refusal for its operation limit holds.
local function limit_now(self, now)
  local held = self.held
  if not held then return self.max end
  if now >= self.held_until then
    -- a while without a refusal: one more, as a probe (the others' operations end too)
    held = held + 1
    if held >= self.max then held = nil end
    self.held, self.held_until = held, now + HOLD
  end
  return held or self.max
end

-- A slot if one is free: true (or the Redis lease's token), or nil and, when other hosts hold
-- the account's slots, the seconds until one of their leases expires.
local function take(self, now)
  if self:taken() >= limit_now(self, now) then return nil end
  if not self.shared then return true end
  return self.shared:try_acquire()
end

--- Takes a slot for a mutation about to be sent, waiting until `deadline` (a clock time) for
-- one; limiter: the client's rate limiter (its spare rate paces the polls), or false. Returns
-- the slot (for release), or nil, err.
function Slots:acquire(client, deadline, method, limiter)
  local shared_pause = FIRST_SHARED_POLL
  -- without a limiter, the lowest documented rate is the budget
  local rate = limiter and limiter:current_rate() or documented.user
  while true do
    local now = self.clock()
    local slot, lease_left = take(self, now)
    if slot then
      self.reserved = self.reserved + 1
      note_sent(self, now)
      return slot
    end
    if now >= deadline then return no_slot(self, method) end
    local other_hosts = lease_left and min(lease_left, shared_pause)
    if other_hosts then shared_pause = min(shared_pause * 2, MAX_SHARED_POLL) end
    local due, next_at = due_ops(self, now, rate)
    if #due > 0 and limiter and not limiter:available() then
      -- no token at hand: the mutations' own rate comes first
      due, next_at = {}, now + MIN_INTERVAL
    end
    local task = scheduler.task()
    if #due == 1 then
      poll(self, client, due[1], deadline)
    elseif #due > 1 then
      map(function(op) poll(self, client, op, deadline) end, due, { concurrency = #due })
    else
      local wake = min(deadline, next_at or deadline, other_hosts and now + other_hosts or deadline)
      if task then
        -- until a slot is freed (an answer, another task's poll) or the next poll falls due
        self.changed:wait(task, wake - now)
      elseif next_at or other_hosts or self.held then
        sleep(wake - now)
      else
        -- Outside a task nothing else runs: only mutations in flight (a finalizer's) could
        -- hold the slots. Give up rather than wait in vain.
        return nil, errors.new("RESOURCE_EXHAUSTED", "every operation slot is held by a mutation in flight",
          { method = method, retryable = false, attempts = 0 })
      end
    end
  end
end

--- Gives back a mutation's slot: kept for the operation its answer started, if any.
function Slots:release(slot, resp)
  self.reserved = self.reserved - 1
  local op = resp and resp.async_operation
  self:observe(op, true)
  -- while the server's operation limit holds: it accepted this many, so it allows that many
  if self.held and self.count > self.held then self.held = self.count end
  if self.shared and slot ~= true then
    if type(op) == "table" and self.ops[op.id] then self.shared:started(slot, op.id)
    else self.shared:ended(slot) end
  end
  self.changed:signal()
end

--- The server refused a mutation for its operation limit; delay: its RetryInfo (seconds) or
-- nil. No more operations than this client knows are running are started, one more after
-- each HOLD (or the delay, if longer) without a refusal.
function Slots:refused(delay)
  self.held = max(1, self.count)
  self.held_until = self.clock() + max(HOLD, delay or 0)
end

return slots
