--- max_operations across hosts: the account's async operations in flight, as leases in Redis
-- (a sorted set: member, expiry), so that every host of the account counts them together and
-- the slots of a host that died come back when their leases run out.
--   acquire() -> slot       waits (cloudops.sleep: yields in a task) until fewer than `max`
--                           leases are live, then takes one
--   started(slot, op_id)    the mutation started operation op_id: the lease becomes its
--   ended(op_id_or_slot)    the operation ended (or the mutation started none): lease freed
--   renew()                 this host is alive: its leases run `lease` seconds from now
-- Every step renews this host's leases too, so a host that keeps calling keeps them; one that
-- waits on an operation for longer than `lease` without a step should call renew().
local sleep = require "cloudops.sleep"
local new_uuid = require "cloudops.uuid"

local setmetatable, pairs, next, floor, min = setmetatable, pairs, next, math.floor, math.min

-- Seconds a lease lives unless renewed: an operation of the Cloud Ops API takes seconds to
-- minutes; a host that died frees its slots after this.
local LEASE = 300
-- Polls while every slot is taken: short first, at most MAX_POLL, and never later than the
-- first lease's expiry.
local FIRST_POLL, MAX_POLL = 0.05, 1

local Slots = {}
Slots.__index = Slots

local slots = { LEASE = LEASE }

--- shared: cloudops.redis's object; max: operations in flight for the account; lease: seconds.
function slots.new(shared, max, lease, pause)
  return setmetatable({ shared = shared, max = max, lease = lease or LEASE, mine = {},
                        pause = pause or sleep }, Slots)
end

function Slots:start(identity)
  self.shared:start(identity)
end

function Slots:_run(...)
  return self.shared.store:run(self.shared:keys_or_default().ops, nil, nil, ...)
end

-- Renews this host's leases when it holds any.
function Slots:renew()
  if next(self.mine) == nil then return end
  local args = { "renew", floor(self.lease * 1e6) }
  for m in pairs(self.mine) do args[#args + 1] = m end
  self:_run((table.unpack or unpack)(args))
end

function Slots:acquire()
  local token = "slot:" .. new_uuid()
  local poll = FIRST_POLL
  while true do
    self:renew()
    local r = self:_run("acquire", self.max, floor(self.lease * 1e6), token)
    if r[1] == 1 then
      self.mine[token] = true
      return token
    end
    local wait = min(poll, r[2] / 1e6 + 0.001)
    self.pause(wait > 0 and wait or 0.001)
    poll = min(poll * 2, MAX_POLL)
  end
end

--- One try: a slot token, or nil and the seconds until the first lease expires.
function Slots:try_acquire()
  self:renew()
  local token = "slot:" .. new_uuid()
  local r = self:_run("acquire", self.max, floor(self.lease * 1e6), token)
  if r[1] == 1 then
    self.mine[token] = true
    return token
  end
  return nil, r[2] / 1e6
end

function Slots:started(slot, operation_id)
  self:_run("started", floor(self.lease * 1e6), slot, operation_id)
  self.mine[slot] = nil
  self.mine[operation_id] = true
end

function Slots:ended(id)
  self.mine[id] = nil
  self:_run("ended", id)
end

--- The account's live leases (for specs and diagnostics).
function Slots:count()
  return (self:_run("count"))
end

return slots
