--- A rate limit shared by every nginx worker through a lua_shared_dict (docs/reference.md
-- "cloudops.openresty": `rate_limit = { shared = "dict_name", rate =, burst = }`), so that
-- several workers together stay under the account's limit. Same interface as the client's
-- bucket (cloudops.limit.bucket): take() reserves a token and returns the seconds to wait
-- before sending (0: now) and, when the bucket was full, an anchor for settle().
--
-- The bucket is cloudops.limit.gcra's: one number in the dict, `tat`, as resty.limit.req
-- keeps its leaky bucket ("virtual scheduling"). Where resty.limit.req rejects, this reserves
-- and returns the delay, like the client's own bucket (callers sleep it: ngx.sleep in a
-- request, the C core's sleep in a worker thread). It differs from resty.limit.req in three
-- ways, each on purpose:
--   * the read-modify-write runs under a lock (dict:add is atomic across workers):
--     resty.limit.req notes a get/set race window between workers, in which two workers
--     both take the last token; here a race would let a burst through that the account's
--     limit then rejects;
--   * times come from the C core's monotonic clock, which is one clock for every process on
--     the host, exact to the microsecond and readable in worker-thread VMs (ngx.now() is
--     cached per event-loop turn, in milliseconds);
--   * settle() moves the refill of a full bucket to the first answer (see cloudops.limit.bucket).
-- ngx.shared is reachable inside ngx.run_worker_thread VMs (verified with lua-nginx-module
-- 0.10.23, spec/05-openresty), so the call path takes a token there for every attempt,
-- retries included, as it does with the client's own bucket.
local core = require "cloudops.core"
local sleep = require "cloudops.sleep"
local gcra = require "cloudops.limit.gcra"

local type, rawget, setmetatable, error, tostring = type, rawget, setmetatable, error, tostring
local reserve, settle, hold, shape = gcra.reserve, gcra.settle, gcra.hold, gcra.shape

-- Seconds added to every wait. Larger than the client bucket's 5 ms: reservations made by
-- several processes reach the server over several connections, whose latencies differ more
-- than one connection's. Paid once per batch, not per request (see cloudops.limit.bucket).
local GUARD = 0.01
-- Below this a wait is rounding noise in tat's arithmetic, not a wait.
local EPSILON = 1e-9

local TAT_KEY = "cloudops:tat"
local LOCK_KEY = "cloudops:lock"
-- The critical section is a get and a set (microseconds): a worker that dies holding the lock
-- frees it after this long (shared-dict expiry has millisecond resolution).
local LOCK_TTL = 0.05
-- Another process holds the lock for microseconds: retry at once a few times, then pause
-- (ngx.sleep in a request, nanosleep in a worker thread) rather than spin on the CPU.
local SPINS = 50
local PAUSE = 0.0005

local Bucket = {}
Bucket.__index = Bucket

local dict_bucket = { GUARD = GUARD, TAT_KEY = TAT_KEY, LOCK_KEY = LOCK_KEY }

-- Takes the dict's lock; true, or nil, err when the dict itself fails.
local function lock(dict)
  local spins = 0
  while true do
    local ok, err = dict:add(LOCK_KEY, true, LOCK_TTL)
    if ok then return true end
    if err ~= "exists" then return nil, err end
    spins = spins + 1
    if spins > SPINS then sleep(PAUSE) end
  end
end

local function unlock(dict)
  dict:delete(LOCK_KEY)
end

--- dict: the name of a lua_shared_dict, or a dict object (get/set/add/delete, as
-- ngx.shared.DICT; specs pass a fake). rate: tokens per second; burst: at least 1; clock:
-- monotonic seconds, the same for every process (default: the C core's). Returns the bucket,
-- or nil, err when there is no such dict (or no ngx.shared at all).
function dict_bucket.new(dict, rate, burst, clock)
  if type(rate) ~= "number" or not (rate > 0) then error("dict_bucket.new: rate must be a positive number", 2) end
  if type(burst) ~= "number" or not (burst >= 1) then error("dict_bucket.new: burst must be at least 1", 2) end
  if type(dict) == "string" then
    local ngx = rawget(_G, "ngx")
    local shared = type(ngx) == "table" and ngx.shared
    if not shared then
      return nil, "rate_limit.shared needs OpenResty (lua-nginx-module): there is no ngx.shared here"
    end
    local d = shared[dict]
    if not d then return nil, "rate_limit.shared: no lua_shared_dict named '" .. dict .. "'" end
    dict = d
  elseif type(dict) ~= "table" and type(dict) ~= "userdata" then
    error("dict_bucket.new: expected a lua_shared_dict name, got " .. type(dict), 2)
  end
  local interval, tau = shape(rate, burst, 1)
  return setmetatable({ dict = dict, interval = interval, tau = tau, clock = clock or core.now }, Bucket)
end

--- Reserves a token: the seconds to wait before sending, and the time of this take when the
-- bucket was full (for settle()). If the dict fails (it never should: two numbers), the
-- caller is paced at the rate alone rather than let through unlimited.
function Bucket:take()
  local dict = self.dict
  local ok = lock(dict)
  if not ok then return self.interval + GUARD, nil end
  local now = self.clock()
  local tat = dict:get(TAT_KEY)
  -- Absent: never used (or evicted), i.e. full. Not a number: not ours; start afresh.
  if type(tat) ~= "number" then tat = now end
  local s, after = reserve(tat, now, self.interval, self.tau)
  dict:set(TAT_KEY, after)
  unlock(dict)
  local wait = s - now
  if wait <= EPSILON then wait = 0 else wait = wait + GUARD end
  return wait, tat <= now and now or nil
end

--- After the answer to a request whose token came from a full bucket: the server's bucket
-- stayed full until that request reached it, so no refill counts before now.
function Bucket:settle(taken_at)
  local dict = self.dict
  if not lock(dict) then return end
  local now = self.clock()
  local tat = dict:get(TAT_KEY)
  if type(tat) == "number" then dict:set(TAT_KEY, settle(tat, now, taken_at)) end
  unlock(dict)
end

--- The server refused a request for its rate; delay: its RetryInfo (seconds, kept within the
-- caller's bounds) or nil. No worker sends before it has passed.
function Bucket:exhausted(delay)
  local dict = self.dict
  if not delay or delay <= 0 or not lock(dict) then return end
  local now = self.clock()
  local tat = dict:get(TAT_KEY)
  if type(tat) ~= "number" then tat = now end
  dict:set(TAT_KEY, hold(tat, now, delay, self.tau))
  unlock(dict)
end

--- An OK answer: nothing to do for a bucket whose rate is fixed.
function Bucket.succeeded(_) end

--- The rate, requests/s.
function Bucket:current_rate()
  return 1 / self.interval
end

--- Whether a take now would not wait.
function Bucket:available()
  local tat = self.dict:get(TAT_KEY)
  return type(tat) ~= "number" or tat - self.tau <= self.clock()
end

function Bucket:__tostring()
  return "cloudops shared rate limit (" .. tostring(1 / self.interval) .. "/s)"
end

return dict_bucket
