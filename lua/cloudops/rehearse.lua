--- cloudops.rehearse(fn, opts): run a script against a twin of the account and see what it
-- would change, before it runs for real (docs/reference.md "Rehearsal").
--
--   local plan, err = cloudops.rehearse(function(client) ... end, { client = real_client })
--   io.write(require("cloudops.changes").text(plan))
--
-- opts: snapshot = a snapshot file or table (cloudops.snapshot); else client = a client of
-- the real account, which is snapshot then (reads only); profile = "realistic" (the default)
-- or "fast"; emulator = more options for the twin's emulator (tests tune durations down).
-- Returns nil, err when the rehearsal could not run (no snapshot, no twin); else the plan:
--   { changes = diff(snapshot, snapshot of the twin after fn) (cloudops.changes),
--     calls = { { method, code, operation, operation_state } }: the mutations fn sent, in the
--       order the twin received them, with how their operations stood when it had finished
--       (refused ones too, with their code),
--     errors = { { method, code, count } }: the answers fn met that were errors (refusals
--       for the rate excepted: they are counted in summary.refused), and { message } when fn
--       raised or returned nil, err,
--     summary = { create, update, delete, calls (every request fn sent), mutations, refused
--       (RESOURCE_EXHAUSTED answers), seconds, estimated, how, profile },
--     failed = why fn failed (nil when it did not): the exit status is then 1 }.
--
-- How long it would take: with the realistic profile, the twin answers 0.25 s away, runs
-- operations as long as the service's and enforces the documented limits, so `seconds` is
-- the time fn took there, measured. With the fast profile it is an estimate, a lower bound
-- (`estimated = true`): the larger of the time fn took on the fast twin (every timing of the
-- realistic profile is longer), the time the documented rates require of the requests each
-- principal sent (40/s a user, 80/s a service account, 160/s the account), the time 10
-- operation slots require of the operations they count (the documented subset) at their
-- realistic durations (the last one can start only when all but 10 have ended), and for each
-- operation fn waited for (it
-- asked GetAsyncOperation about it after it had ended) the time it started plus its
-- realistic duration. Each is a floor; how much of the work overlapped beyond them the log
-- cannot say, so the time may be longer. `refused` counts what the twin refused
-- under the documented limits, in either profile; the fast profile sends sooner than a
-- distant service would let a script, so it may count more rate refusals than the service,
-- and fewer refusals for the operation limit.
local cloudops = require "cloudops"
local emulator = require "cloudops.emulator"
local snapshot = require "cloudops.snapshot"
local changes = require "cloudops.changes"
local schema = require "cloudops.schema"
local reqlog = require "cloudops.emulator.reqlog"
local profiles = require "cloudops.emulator.profiles"
local core = require "cloudops.core"
local time = require "cloudops.time"
local to_seconds = require("cloudops.emulator.util").to_seconds
-- counted(method): whether its operations take one of the account's 10 slots (the documented subset)
local counted = require("cloudops.operation_limit").counts

local type, pairs, ipairs, tostring, error, pcall = type, pairs, ipairs, tostring, error, pcall
local sort, max = table.sort, math.max
local format = string.format

local rehearse = {}

local OPTIONS = { snapshot = true, client = true, profile = true, emulator = true }
local PROFILES = { fast = true, realistic = true }
rehearse.PROFILES = PROFILES -- the profiles opts.profile may name (`cloudops rehearse --profile` checks them)

local function check(opts, level)
  if type(opts) ~= "table" then error("cloudops.rehearse: options must be a table, got " .. type(opts), level) end
  for k in pairs(opts) do
    if not OPTIONS[k] then error("cloudops.rehearse: unknown option '" .. tostring(k) .. "'", level) end
  end
  if opts.snapshot == nil and opts.client == nil then
    error("cloudops.rehearse: needs opts.snapshot (a snapshot or its file) or opts.client (the account to " ..
      "snapshot)", level)
  end
  local s = opts.snapshot
  if s ~= nil and type(s) ~= "string" and type(s) ~= "table" then
    error("cloudops.rehearse: snapshot must be a file name or a snapshot table, got " .. type(s), level)
  end
  if opts.profile ~= nil and not PROFILES[opts.profile] then
    error("cloudops.rehearse: profile must be \"fast\" or \"realistic\", got " .. tostring(opts.profile), level)
  end
  if opts.emulator ~= nil and type(opts.emulator) ~= "table" then
    error("cloudops.rehearse: emulator must be a table of emulator options", level)
  end
end

-- The snapshot to rehearse on: given, loaded, or taken of the live account (reads only).
local function source(opts)
  local s = opts.snapshot
  if type(s) == "table" then return s end
  if type(s) == "string" then return snapshot.load(s) end
  local snap, err = snapshot(opts.client)
  if not snap then return nil, "cannot snapshot the account: " .. tostring(err) end
  return snap
end

local function twin_client(twin)
  return cloudops.connect{ endpoint = twin.endpoint, api_key = twin.api_key, insecure = true }
end

local function read_log(path)
  local f = io.open(path, "rb")
  if not f then return {} end
  local entries = {}
  for line in f:lines() do
    local e = reqlog.parse(line)
    if e then entries[#entries + 1] = e end
  end
  f:close()
  return entries
end

-- ---- the summary -----------------------------------------------------------------------------

local function realistic_duration(method)
  local r = profiles.realistic
  return r.op_durations[method] or r.op_duration
end

-- The least time fn could take for these requests under the documented limits: per principal
-- at its rate, all of them at the account's, the operations through 10 slots, and each
-- operation it waited for at its realistic duration. views: operation id -> AsyncOperation;
-- t0: the wall time fn started.
local function limits_bound(entries, views, t0)
  local per, total, durations = {}, 0, {}
  local seen = {}
  for _, e in ipairs(entries) do
    total = total + 1
    local p = e.principal or "-"
    per[p] = (per[p] or 0) + 1
    if e.operation and e.code == "OK" and not seen[e.operation] and schema.method(e.method).mutation then
      seen[e.operation] = true
      if counted(e.method) then durations[#durations + 1] = realistic_duration(e.method) end
    end
  end
  local L = cloudops.LIMITS
  local bound = total / L.account
  for p, n in pairs(per) do
    local rate = p:find("^serviceaccount:") and L.service_account or L.user
    bound = max(bound, n / rate)
  end
  local slots = L.operations
  local n = #durations
  if n > slots then
    sort(durations)
    local sum = 0
    for i = 1, n - slots do sum = sum + durations[i] end
    bound = max(bound, sum / slots)
  end
  for _, e in ipairs(entries) do
    local op = e.method == "GetAsyncOperation" and e.code == "OK" and views[e.operation or ""]
    local stamp = time.from_rfc3339(e.time) -- (nil for a time the log did not write as RFC 3339)
    local asked = stamp and time.to_unix(stamp)
    local started, ended = op and to_seconds(op.started_time), op and to_seconds(op.finished_time)
    -- (the log's times are to the millisecond, cut, not rounded)
    if asked and started and ended and asked + 0.001 >= ended then
      bound = max(bound, started - t0 + realistic_duration(op.operation_type))
    end
  end
  return bound, n
end

local function summarize(plan, entries, seconds, profile, views, t0)
  local n = changes.count(plan.changes)
  local refused = 0
  for _, e in ipairs(entries) do
    if e.code == "RESOURCE_EXHAUSTED" then refused = refused + 1 end
  end
  local s = { create = n.create, update = n.update, delete = n.delete, calls = #entries,
              mutations = #plan.calls, refused = refused, profile = profile }
  if profile == "realistic" then
    s.seconds, s.estimated = seconds, false
    s.how = "measured on the twin, with realistic timings and the documented limits"
  else
    local bound, ops = limits_bound(entries, views, t0)
    s.seconds, s.estimated = max(seconds, bound), true
    s.how = format("fast profile: the larger of the %.1f s measured and what the documented limits and " ..
      "the realistic durations require of %s and %s", seconds, changes.counted(#entries, "request"),
      changes.counted(ops, "operation"))
  end
  return s
end

-- ---- the plan --------------------------------------------------------------------------------

-- The mutations in the order the twin received them, with their operations' states now;
-- and the operations as the twin shows them, by id.
local function calls_of(entries, client)
  local calls, ids = {}, {}
  for _, e in ipairs(entries) do
    local m = schema.method(e.method)
    if m and m.mutation then
      calls[#calls + 1] = { method = e.method, code = e.code, operation = e.operation }
      if e.operation and not ids[e.operation] then ids[#ids + 1] = e.operation; ids[e.operation] = true end
    end
  end
  local views = {}
  if #ids > 0 then
    local results = cloudops.map(function(id)
      local r = client:get_async_operation{ async_operation_id = id }
      return r and r.async_operation
    end, ids, { concurrency = 8 })
    for i, id in ipairs(ids) do views[id] = results[i] end
  end
  for _, c in ipairs(calls) do
    local op = c.operation and views[c.operation]
    c.operation_state = op and op.state or nil
  end
  return calls, views
end

local function errors_of(entries)
  local list, by = {}, {}
  for _, e in ipairs(entries) do
    if e.code ~= "OK" and e.code ~= "RESOURCE_EXHAUSTED" then
      local key = e.method .. " " .. e.code
      local x = by[key]
      if not x then
        x = { method = e.method, code = e.code, count = 0 }
        by[key] = x
        list[#list + 1] = x
      end
      x.count = x.count + 1
    end
  end
  return list
end

--- The rehearsal, whatever runs against the twin: runner(twin) -> true, or false and why it
-- failed. Returns plan, or nil, err. (cloudops.rehearse and `cloudops rehearse` are this.)
function rehearse.run(opts, runner)
  check(opts, 3)
  local profile = opts.profile or "realistic"
  local snap, serr = source(opts)
  if not snap then return nil, serr end
  local dir = os.tmpname()
  local log = dir .. ".requests.log"
  local spawn_opts = { twin = opts.snapshot and type(opts.snapshot) == "string" and opts.snapshot or snap,
                       profile = profile, log = log }
  for k, v in pairs(opts.emulator or {}) do spawn_opts[k] = v end
  local twin, terr = emulator.spawn(spawn_opts)
  os.remove(dir)
  if not twin then os.remove(log) return nil, "cannot start the twin: " .. tostring(terr) end
  local t0, wall0 = core.now(), core.time()
  local ok, outcome, why = pcall(runner, twin)
  local seconds = core.now() - t0
  -- Ctrl-C ends the rehearsal, not just what ran on the twin.
  if not ok and tostring(outcome):find("interrupted!$") then
    twin.stop()
    os.remove(log)
    error(outcome, 0)
  end
  local entries = read_log(log)
  local plan, err = nil, nil
  local client, cerr = twin_client(twin)
  if not client then
    err = "cannot reach the twin: " .. tostring(cerr)
  else
    local after, aerr = snapshot(client, { kinds = snapshot.kinds_of(snap) }) -- read again: its kinds
    if not after then
      err = "cannot snapshot the twin after the run: " .. tostring(aerr)
    else
      local calls, views = calls_of(entries, client)
      plan = { changes = changes.diff(snap, after), calls = calls, errors = errors_of(entries) }
      if not ok then
        plan.failed = "the rehearsal raised: " .. tostring(outcome)
      elseif not outcome then
        plan.failed = tostring(why)
      end
      if plan.failed then plan.errors[#plan.errors + 1] = { message = plan.failed } end
      plan.summary = summarize(plan, entries, seconds, profile, views, wall0)
    end
    client:close()
  end
  twin.stop()
  os.remove(log)
  if not plan then return nil, err end
  return plan
end

--- cloudops.rehearse(fn, opts) -> plan | nil, err: fn(twin_client) runs against the twin.
local function rehearse_fn(fn, opts)
  if type(fn) ~= "function" then error("cloudops.rehearse expects a function, got " .. type(fn), 2) end
  check(opts, 3)
  return rehearse.run(opts, function(twin)
    local client = assert(twin_client(twin))
    local ok, a, b = pcall(fn, client)
    client:close()
    if not ok then return false, "the function raised: " .. tostring(a) end
    if a == nil and b ~= nil then return false, "the function returned an error: " .. tostring(b) end
    return true
  end)
end

return setmetatable(rehearse, { __call = function(_, fn, opts) return rehearse_fn(fn, opts) end })
