--- client:wait(op, opts) (docs/reference.md "Helpers"): polls GetAsyncOperation until the
-- operation reaches a terminal state, sleeping its own check_duration (kept within
-- min_poll..max_poll) between polls, within a timeout. The client's clock, pause and
-- defaults come through cloudops.client.internal.
local errors = require "cloudops.errors"
local codes = require "cloudops.codes"
local received = require "cloudops.received"
local internal = require "cloudops.client.internal"

local type, pairs, error, tostring, tonumber = type, pairs, error, tostring, tonumber
local min, max = math.min, math.max
local format = string.format

local DEFAULTS = { timeout = 600, min_poll = 0.5, max_poll = 30 }

-- Terminal states and the error name each failed end gets (nil: success).
local TERMINAL = {
  STATE_FULFILLED = false,
  STATE_FAILED = "OPERATION_FAILED",
  STATE_CANCELLED = "OPERATION_CANCELLED",
  STATE_REJECTED = "OPERATION_REJECTED",
}

-- The options with defaults filled, or nil, message.
local function options(opts)
  if opts == nil then return DEFAULTS end
  if type(opts) ~= "table" then return nil, "wait options must be a table" end
  local o = {}
  for k, v in pairs(DEFAULTS) do o[k] = v end
  for k, v in pairs(opts) do
    if DEFAULTS[k] == nil then return nil, "unknown wait option '" .. tostring(k) .. "'" end
    if type(v) ~= "number" or not (v > 0) then return nil, "wait option " .. k .. " must be a positive number" end
    o[k] = v
  end
  if o.min_poll > o.max_poll then return nil, "wait option min_poll must not exceed max_poll" end
  return o
end

-- The operation id and the operation table given (nil for a bare id), or nil, message.
local function operation_of(op, opts)
  if op == nil and errors.is(opts) then
    -- client:wait(client:create_namespace{...}) after a failed create
    return nil, "wait: got nil and an error where an operation belongs (the call that was to " ..
      "start it failed; check its result before waiting): " .. tostring(opts)
  end
  if type(op) == "string" then
    if op == "" then return nil, "wait: the operation id is empty" end
    return op, nil
  end
  if type(op) ~= "table" then
    return nil, "wait expects an AsyncOperation, its id or a response holding async_operation, got " .. type(op)
  end
  if type(op.async_operation) == "table" then op = op.async_operation end
  if type(op.id) ~= "string" or op.id == "" then
    return nil, "wait: the operation has no id (expected an AsyncOperation, its id or a response holding " ..
      "async_operation)"
  end
  return op.id, op
end

-- Seconds from a Duration table, or nil when absent.
local function seconds(d)
  if type(d) ~= "table" then return nil end
  local s = (tonumber(d.seconds) or 0) + (d.nanos or 0) / 1e9
  return s > 0 and s or nil
end

-- The operation itself, or nil and the error for a FAILED/CANCELLED/REJECTED end. id: the one
-- waited for (a server's answer may lack its own).
local function outcome(op, id)
  local name = TERMINAL[op.state]
  if not name then return op end
  return nil, errors.new(name, op.failure_reason or ("operation " .. id .. " ended " .. op.state),
    { operation = op, method = "GetAsyncOperation" })
end

-- The timeout error; cause: the poll error the deadline cut short, if any.
local function timed_out(id, o, last, cause)
  return errors.new("DEADLINE_EXCEEDED", format("operation %s did not finish within %g s (last state %s)",
    id, o.timeout, tostring(last and last.state or "unknown")),
    { code = codes.DEADLINE_EXCEEDED, operation = last, method = "GetAsyncOperation", retryable = false,
      cause = cause })
end

-- The pause before the next poll: the operation's check_duration, or, without one, twice the
-- previous pause (so a server sending no hint is not polled at min_poll for ten minutes).
local function next_pause(op, previous, o)
  local hint = seconds(op and op.check_duration) or (previous and previous * 2) or o.min_poll
  return max(o.min_poll, min(o.max_poll, hint))
end

-- The options of one poll: its RPC deadline, and the retry budget, end at most min_poll after
-- the wait's own deadline, so a hanging server cannot stretch the wait.
local function poll_options(house, left, o)
  local budget = max(left, 0) + o.min_poll
  local opts = { timeout = min(house.timeout, budget) }
  if house.retry then opts.retry = { max_elapsed = min(house.retry.max_elapsed, budget) } end
  return opts
end

-- Whether a failed poll was cut short by the wait's own deadline: its RPC deadline passed
-- with the wait's, or its retries of a transient failure stopped for lack of time (not for
-- lack of attempts) within a budget that was the wait's, not the client's.
local function cut_by_wait(house, err, opts, left)
  if left <= 0 and err.code == codes.DEADLINE_EXCEEDED then return true end
  local policy, r = house.retry, opts.retry
  return err.retryable == true and policy and r and err.attempts < policy.max_attempts
    and r.max_elapsed < policy.max_elapsed or false
end

return function(self, op, opts)
  local id, last = operation_of(op, opts)
  if not id then error(last, 2) end
  local o, oerr = options(opts)
  if not o then error(oerr, 2) end
  if last and TERMINAL[last.state] ~= nil then return outcome(last, id) end
  local house = internal.of(self)
  local clock, sleep = house.clock, house.sleep
  local deadline = clock() + o.timeout
  local pause
  -- An operation table already says when to look, counted from when it was received (an
  -- old one is polled at once); a bare id is polled at once.
  if last then
    pause = next_pause(last, nil, o)
    local at = received.at(op) or received.at(last)
    local left = min(pause - (at and clock() - at or 0), deadline - clock())
    if left > 0 then sleep(left) end
  end
  while true do
    local popts = poll_options(house, deadline - clock(), o)
    local resp, err = self:call("GetAsyncOperation", { async_operation_id = id }, popts)
    local left = deadline - clock()
    if not resp then
      if cut_by_wait(house, err, popts, left) then return nil, timed_out(id, o, last, err) end
      err.operation = last
      return nil, err
    end
    last = resp.async_operation or last
    if last and TERMINAL[last.state] ~= nil then return outcome(last, id) end
    if left <= 0 then return nil, timed_out(id, o, last) end
    pause = next_pause(last, pause, o)
    -- The last poll is at the deadline, not after it.
    sleep(min(pause, left))
  end
end
