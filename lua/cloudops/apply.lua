--- cloudops.apply(client, desired, { prune = false, concurrency = 8, on_change = nil,
-- max_operations = nil }) (docs/reference.md "Desired state"): makes the changes cloudops.plan
-- finds, and returns `{ changes = { ...each with ok, err, operation }, kept, calls, failed }, err`.
--
-- How it runs. The plan is recomputed from the account each time (a snapshot, reads only), so
-- that an apply interrupted or failed half-way is finished by running it again. Each change
-- is one or more steps (a create, an update, a delete; a group's members one step each), run
-- as cloudops.map tasks:
--   - a step starts once the steps making what it refers to are done (a user's access to a
--     namespace created in this apply waits for that namespace's operation), and once the
--     account's resources it touches or refers to have ended the operations they were in
--     (an apply interrupted earlier left them ACTIVATING, UPDATING or DELETING);
--   - a group's members are added and removed after the group and those users exist;
--   - deletes (prune) come after everything else, in reverse dependency order;
--   - each mutation's operation is waited on (polled at least every second: the slot it
--     holds is freed only when its end is seen); a step whose dependency failed is not run;
--   - at most `concurrency` requests of the apply are in flight at once (a mutation, an
--     update's read and write), and at most `max_operations` steps wait on operations at once
--     (default cloudops.LIMITS.operations, the service's 10 per account); the client's own
--     rate limit and max_operations slots apply beneath.
-- Updates go through client:update (read, change, write with the resource_version read, read
-- again on a conflict): the fields the desired entry gives are written over what is read, so
-- that what it leaves out stays as it is; an update with nothing left to change is not sent.
-- on_change(change) is called as each change ends, with `ok`, `err` and `operation` (the last
-- operation of its steps) set. `err` (the second value) is an APPLY_FAILED error when a change
-- failed (`result.failed` then says so, and changes.exit_status(result) is 1); a plan that
-- could not be made returns nil, err.
local kinds = require "cloudops.kinds"
local changes = require "cloudops.changes"
local plan = require "cloudops.plan"
local desired = require "cloudops.desired"
local map = require "cloudops.map"
local scheduler = require "cloudops.scheduler"
local sleep = require "cloudops.sleep"
local codes = require "cloudops.codes"
local errors = require "cloudops.errors"
local limits = require "cloudops.limit.documented"
local types = require "cloudops.json.types"

local ipairs, pairs, type, tostring, error, pcall = ipairs, pairs, type, tostring, error, pcall
local format, concat = string.format, table.concat
local floor = math.floor
local copy = require "cloudops.deep_copy"

local M = {}

local OPTIONS = { prune = true, concurrency = true, on_change = true, max_operations = true }
-- How an operation is waited on: its check_duration, but polled at least every second, since
-- the slot it holds comes free only when its end is seen (at the service's 10 operations in
-- flight: 10 polls a second, a quarter of a user's rate limit).
local WAIT = { timeout = 3600, min_poll = 0.1, max_poll = 1 }
local SETTLE_POLL = 1 -- seconds between reads of a resource whose operation is not known
local MAX_DELETE_TRIES = 5
local TRANSITIONAL = { RESOURCE_STATE_ACTIVATING = true, RESOURCE_STATE_UPDATING = true,
                       RESOURCE_STATE_DELETING = true }

-- ---- gates: a count of free places, handed to the waiting step that comes first in the plan --

local function gate(n)
  return { free = n, waiting = {} }
end

local function enter(g, order)
  while g.free <= 0 do
    local cond = scheduler.condition()
    g.waiting[#g.waiting + 1] = { order = order, cond = cond }
    cond:wait(scheduler.task())
  end
  g.free = g.free - 1
end

local function leave(g)
  g.free = g.free + 1
  local best
  for i, w in ipairs(g.waiting) do
    if not best or w.order < g.waiting[best].order then best = i end
  end
  if best then table.remove(g.waiting, best).cond:signal() end
end

-- ---- values ----------------------------------------------------------------------------------

-- The desired spec `d` (the fields it gives) written over the current spec `cur`: a message
-- field by field, anything else (a scalar, a list, a map) replaced whole; a oneof member given
-- clears the others; a value compared case-insensitively (an email) kept when equal but for
-- case, so that no change the plan did not see is sent.
local function merge(type_name, cur, d, path, fold)
  local m = types.message(type_name)
  local out = copy(cur or {})
  for key, v in pairs(d) do
    local f = m.by_name[key]
    local p = path .. "." .. key
    if f and f.oneof then
      for _, g in ipairs(m.fields) do
        if g.oneof == f.oneof and g.name ~= key then out[g.name] = nil end
      end
    end
    if f and f.type == "message" and f.label == "singular" and not types.WKT[f.type_name] and type(v) == "table" then
      out[key] = merge(f.type_name, out[key], v, p, fold)
    elseif not (fold[p] and type(v) == "string" and type(out[key]) == "string" and v:lower() == out[key]:lower()) then
      out[key] = copy(v)
    end
  end
  return out
end

local function top_fields(change)
  local set = {}
  for _, f in ipairs(change.fields or {}) do set[f.path:match("^[%w_]+")] = true end
  return set
end

local function describe_step(step)
  return format("%s %s", step.kind.kind:gsub("_", " "), tostring(step.key))
end

-- ---- the calls of one step ---------------------------------------------------------------

-- One request (a mutation, client:update, a read: `read` true) through the calls gate; a
-- mutation is recorded in ctx.calls in the order sent. Returns what fn returned.
local function send(ctx, step, method, fn, read)
  enter(ctx.calls_gate, step.order)
  local call = { method = method }
  if not read then ctx.calls[#ctx.calls + 1] = call end
  local ok, resp, err = pcall(fn)
  leave(ctx.calls_gate)
  if not ok then error(resp, 0) end
  if resp == false then
    ctx.calls[#ctx.calls] = nil -- an update with nothing left to change: not sent
  elseif not read then
    call.code = resp and "OK" or (type(err) == "table" and err.name or "ERROR")
    step.last_call = call
  end
  return resp, err
end

local function call(ctx, step, method, req)
  return send(ctx, step, method, function() return ctx.client:call(method, req) end)
end

-- Waits for the operation a response started: the operation, or nil, err.
local function wait(ctx, step, resp)
  if type(resp) ~= "table" or type(resp.async_operation) ~= "table" then return true end
  local op, err = ctx.client:wait(resp, WAIT)
  local seen = op or (type(err) == "table" and err.operation) or nil
  if step.last_call and type(seen) == "table" then step.last_call.operation_state = seen.state end
  if seen then step.operation = seen end
  if not op then return nil, err end
  return op
end

local function mutate(ctx, step, method, req)
  local resp, err = call(ctx, step, method, req)
  if not resp then return nil, err end
  local op, werr = wait(ctx, step, resp)
  return op, werr, resp
end

-- The desired entry with every name replaced by the id of what it names (made earlier in
-- this apply, or the account's): the entry, or nil, err.
local function with_ids(ctx, k, res)
  local missing
  local out = kinds.map_refs(k, res, function(to, name)
    if type(name) ~= "string" or name == "" or ctx.unreadable[to] then return name end
    local id = (ctx.ids[to] or {})[desired.canonical(to, name)]
    if id == nil then
      missing = missing or format("no id known for %s '%s'", kinds.get(to).kind:gsub("_", " "), name)
      return name
    end
    return id
  end)
  if missing then return nil, missing end
  return out
end

-- The value client:update takes for the resource: its one Get id, or a table of them.
local function update_id(k, res)
  local ids = kinds.request_ids(k, "get", res)
  if #k.get.ids == 1 then return ids[k.get.ids[1]] end
  return ids
end

local function has_field(method, name)
  local m = types.message(require("cloudops.schema").method(method).input)
  return m.by_name[name] ~= nil
end

-- ---- steps -------------------------------------------------------------------------------

local run = {}

function run.create(ctx, step)
  local k = step.kind
  local res, err = with_ids(ctx, k, step.desired)
  if not res then return nil, err end
  local req = { spec = res.spec }
  for _, f in ipairs(k.create.extras) do req[f] = res[f] end
  for _, f in ipairs(k.create.ids) do req[f] = res[f] end
  local op, merr, resp = mutate(ctx, step, k.create.method, req)
  if resp and k.create.result then
    local id = resp[k.create.result]
    if type(id) ~= "string" or id == "" then
      return nil, format("%s answered without the new %s's id (%s)", k.create.method, k.kind:gsub("_", " "),
        k.create.result)
    end
    ctx.ids[k.name][step.key] = id
  end
  if not op then return nil, merr end
  return true
end

function run.update(ctx, step)
  local k, actual = step.kind, step.actual
  local res, err = with_ids(ctx, k, step.desired)
  if not res then return nil, err end
  local touched = top_fields(step.change)
  for _, f in ipairs(k.create.extras) do
    if touched[f] and f ~= "tags" then
      return nil, format("the API cannot change the %s of a %s (no RPC does): make it anew instead",
        f, k.kind:gsub("_", " "))
    end
  end
  if touched.spec then
    if not k.update then
      return nil, format("the API cannot change a %s (it has no update): delete it and create it anew",
        k.kind:gsub("_", " "))
    end
    local resp, uerr = send(ctx, step, k.update.method, function()
      return ctx.client:update(k.kind, update_id(k, actual), function(r)
        local spec = merge(k.spec, r.spec, res.spec, "spec", k.fold)
        -- Already as desired (read again after a conflict): nothing to send.
        if #changes.compare(k, { spec = r.spec }, { spec = spec }) == 0 then return false end
        r.spec = spec
      end)
    end)
    if resp == nil then return nil, uerr end
    if resp then
      local op, werr = wait(ctx, step, resp)
      if not op then return nil, werr end
    end
  end
  if touched.tags and res.tags then
    local upsert, remove = {}, {}
    for key, v in pairs(res.tags) do
      if (actual.tags or {})[key] ~= v then upsert[key] = v end
    end
    for key in pairs(actual.tags or {}) do
      if res.tags[key] == nil then remove[#remove + 1] = key end
    end
    table.sort(remove)
    local op, terr = mutate(ctx, step, "UpdateNamespaceTags", { namespace = actual[k.id_field],
      tags_to_upsert = upsert, tags_to_remove = remove })
    if not op then return nil, terr end
  end
  return true
end

function run.delete(ctx, step)
  local k, actual = step.kind, step.actual
  local req = kinds.request_ids(k, "delete", actual)
  local versioned = has_field(k.delete.method, "resource_version")
  if versioned then req.resource_version = actual.resource_version end
  for _ = 1, MAX_DELETE_TRIES do
    local op, err = mutate(ctx, step, k.delete.method, req)
    if op then return true end
    if type(err) ~= "table" or not err.code then return nil, err end -- the operation failed
    if err.code == codes.NOT_FOUND then return true end                -- gone already
    if err.code ~= codes.FAILED_PRECONDITION or not versioned then return nil, err end
    -- A version conflict: read it again, and delete at the version read.
    local got, gerr = send(ctx, step, k.get.method, function()
      return ctx.client:call(k.get.method, kinds.request_ids(k, "get", actual))
    end, true)
    if not got then
      if type(gerr) == "table" and gerr.code == codes.NOT_FOUND then return true end
      return nil, gerr
    end
    local version = got[k.get.field] and got[k.get.field].resource_version
    if version == nil or version == req.resource_version then return nil, err end
    req.resource_version = version
  end
  return nil, errors.new("UPDATE_CONFLICT", format("the %s kept changing: resource_version conflict on every try",
    k.kind:gsub("_", " ")), { method = k.delete.method, attempts = MAX_DELETE_TRIES })
end

function run.member(ctx, step)
  local group = ctx.ids.user_groups[step.group]
  local user = step.user_id or ctx.ids.users[step.key]
  if not group or not user then
    return nil, format("no id known for %s", not group and ("group " .. step.group) or ("user " .. step.key))
  end
  local method = step.add and "AddUserGroupMember" or "RemoveUserGroupMember"
  local op, err = mutate(ctx, step, method, { group_id = group, member_id = { user_id = user } })
  if op then return true end
  -- Already as desired (an earlier, interrupted apply's operation ended meanwhile).
  local code = type(err) == "table" and err.code
  if (step.add and code == codes.ALREADY_EXISTS) or (not step.add and code == codes.NOT_FOUND and step.user_id) then
    return true
  end
  return nil, err
end

-- Waits until a resource of the account ends the operation it is in (an earlier apply's, or
-- anyone's): its own operation when it names one, else reading it until it is no longer in
-- a transitional state, or gone.
function run.settle(ctx, step)
  local k, res = step.kind, step.actual
  local opid = res.async_operation_id
  if type(opid) == "string" and opid ~= "" then
    local _, err = ctx.client:wait(opid, WAIT)
    if not err or err.name ~= "DEADLINE_EXCEEDED" then return true end
    return nil, err
  end
  local deadline = require("cloudops.core").now() + WAIT.timeout
  while true do
    local got, err = ctx.client:call(k.get.method, kinds.request_ids(k, "get", res))
    if not got then
      if type(err) == "table" and err.code == codes.NOT_FOUND then return true end
      return nil, err
    end
    local now_res = got[k.get.field] or {}
    if not TRANSITIONAL[now_res.state] then return true end
    if require("cloudops.core").now() > deadline then
      return nil, format("%s is still %s", describe_step(step), tostring(now_res.state))
    end
    sleep(SETTLE_POLL)
  end
end

-- ---- the plan as steps ---------------------------------------------------------------------

-- Builds the steps of ctx.plan: settles first, then creates and updates in plan order, then
-- members, then deletes in reverse dependency order. Each step: { order, kind, key, action,
-- change, desired, actual, needs = { steps that must succeed }, after = { steps that must
-- end } }.
local function build(ctx)
  local steps, settles, creates = {}, {}, {}
  local function add(step)
    steps[#steps + 1] = step
    step.order = #steps
    step.needs, step.after = step.needs or {}, step.after or {}
    return step
  end
  -- A settle step for an account resource in a transitional state (one per resource).
  local function settle(k, res)
    if not res or not TRANSITIONAL[res.state] then return nil end
    local id = k.name .. "\0" .. tostring(k.id(res))
    if not settles[id] then
      settles[id] = add{ kind = k, key = k.key(res, ctx.name_of), action = "settle", actual = res }
    end
    return settles[id]
  end
  local function after(step, s) if s then step.after[#step.after + 1] = s end end
  -- The settle step of an account resource, if there is one.
  local function settling(k, res)
    return res and settles[k.name .. "\0" .. tostring(k.id(res))] or nil
  end
  -- What a desired entry refers to: the steps making it, or settling it.
  local function depend(step, k, res)
    kinds.map_refs(k, res, function(to, name)
      if type(name) == "string" and name ~= "" and not ctx.unreadable[to] then
        local key = desired.canonical(to, name)
        local maker = creates[to .. "\0" .. key]
        if maker and maker ~= step then step.needs[#step.needs + 1] = maker end
        after(step, settle(kinds.get(to), (ctx.by_key[to] or {})[key]))
      end
      return name
    end)
  end
  local list = ctx.plan.changes
  -- Settles of the resources changed, and of those being deleted that a create replaces.
  for _, c in ipairs(list) do
    local k = kinds.get(c.kind)
    if c.action == "create" then settle(k, (ctx.gone[k.name] or {})[c.name])
    else settle(k, ctx.by_id[k.name][c.id]) end
  end
  local mains = {}
  for _, c in ipairs(list) do
    local k = kinds.get(c.kind)
    ctx.left[c] = 0
    if c.action ~= "delete" then
      local d = ctx.desired_by_key[k.name][c.name]
      local more = false
      for f in pairs(top_fields(c)) do if f ~= "members" then more = true end end
      if c.action == "create" or more then
        -- The members are steps of their own.
        local own = {}
        for f, v in pairs(d) do if f ~= "members" then own[f] = v end end
        local step = add{ kind = k, key = c.name, action = c.action, change = c, desired = own,
                          actual = c.action == "update" and ctx.by_id[k.name][c.id] or nil }
        if c.action == "create" then
          creates[k.name .. "\0" .. c.name] = step
          after(step, settling(k, (ctx.gone[k.name] or {})[c.name]))
        else
          after(step, settle(k, step.actual))
        end
        depend(step, k, own)
        mains[c] = step
      end
    end
  end
  -- A group's members: one step each, after the group and the user exist.
  for _, c in ipairs(list) do
    local k = kinds.get(c.kind)
    if c.action ~= "delete" and top_fields(c).members then
      local d = ctx.desired_by_key[k.name][c.name]
      local actual = c.action == "update" and ctx.by_id[k.name][c.id] or nil
      local now = {}
      for _, uid in ipairs(actual and actual.members or {}) do now[ctx.name_of("users", uid)] = uid end
      local want = {}
      for _, email in ipairs(d.members) do want[email] = true end
      local function member(email, add_it, uid)
        local step = add{ kind = k, key = email, action = add_it and "add member" or "remove member", change = c,
                          group = c.name, add = add_it, user_id = uid }
        if mains[c] and c.action == "create" then step.needs[#step.needs + 1] = mains[c] end
        after(step, settling(k, actual))
        if add_it then
          local maker = creates["users\0" .. email]
          if maker then step.needs[#step.needs + 1] = maker end
          after(step, settle(kinds.get("users"), ctx.by_key.users and ctx.by_key.users[email]))
        end
      end
      local sorted = {}
      for _, email in ipairs(d.members) do sorted[#sorted + 1] = email end
      table.sort(sorted)
      for _, email in ipairs(sorted) do if now[email] == nil then member(email, true) end end
      local gone = {}
      for email, uid in pairs(now) do if not want[email] then gone[#gone + 1] = { email, uid } end end
      table.sort(gone, function(a, b) return a[1] < b[1] end)
      for _, g in ipairs(gone) do member(g[1], false, g[2]) end
    end
  end
  -- Deletes: after all else, those of later kinds first.
  local before_deletes = {}
  for _, s in ipairs(steps) do before_deletes[#before_deletes + 1] = s end
  local deletes = {}
  for i = #list, 1, -1 do
    local c = list[i]
    if c.action == "delete" then deletes[#deletes + 1] = c end
  end
  table.sort(deletes, function(a, b)
    local ka, kb = kinds.get(a.kind).order, kinds.get(b.kind).order
    if ka ~= kb then return ka > kb end
    return tostring(a.name) < tostring(b.name)
  end)
  local by_kind = {}
  for _, c in ipairs(deletes) do
    local k = kinds.get(c.kind)
    local step = add{ kind = k, key = c.name, action = "delete", change = c, actual = ctx.by_id[k.name][c.id] }
    for _, s in ipairs(before_deletes) do step.after[#step.after + 1] = s end
    for order, earlier in pairs(by_kind) do
      if order > k.order then for _, s in ipairs(earlier) do step.after[#step.after + 1] = s end end
    end
    by_kind[k.order] = by_kind[k.order] or {}
    by_kind[k.order][#by_kind[k.order] + 1] = step
  end
  -- The identity applying changes itself last but for the deletes (which wait for it), so
  -- that it cannot take away, half-way, the rights the other changes need.
  for _, s in ipairs(before_deletes) do
    local c = s.change
    if c and c.action == "update" and ctx.identity and c.id == ctx.identity.id
       and (c.kind == "user" or c.kind == "service_account") then
      for _, other in ipairs(before_deletes) do
        if other.change ~= c then s.after[#s.after + 1] = other end
      end
    end
  end
  for _, s in ipairs(steps) do
    if s.change then ctx.left[s.change] = ctx.left[s.change] + 1 end
  end
  return steps
end

-- ---- running -------------------------------------------------------------------------------

local function await(step)
  while not step.done do step.ended:wait(scheduler.task()) end
end

-- Tells on_change that a change ended; what it raises is kept for the end.
local function report(ctx, result)
  if not ctx.on_change then return end
  local ok, err = pcall(ctx.on_change, result)
  if not ok and not ctx.hook_error then ctx.hook_error = err end
end

local RUNNER = { create = run.create, update = run.update, delete = run.delete, settle = run.settle,
                 ["add member"] = run.member, ["remove member"] = run.member }

-- Runs one step as a task: its dependencies, then its calls within the gates.
local function task(ctx, step)
  local ok, err = true, nil
  for _, d in ipairs(step.needs) do
    await(d)
    if d.failed and ok then
      ok, err = nil, "not applied: it needs " .. describe_step(d) .. ", which failed"
    end
  end
  for _, d in ipairs(step.after) do await(d) end
  if ok then
    enter(ctx.ops_gate, step.order)
    local pok, a, b = pcall(RUNNER[step.action], ctx, step)
    leave(ctx.ops_gate)
    if not pok then ok, err = nil, a else ok, err = a, b end
  end
  step.done, step.failed, step.err = true, not ok, err
  step.ended:signal()
  local c = step.change
  if c then
    local r = ctx.results[c]
    if not ok and r.ok ~= false then r.ok, r.err = false, err end
    r.operation = step.operation or r.operation
    ctx.left[c] = ctx.left[c] - 1
    if ctx.left[c] == 0 then
      if r.ok == nil then r.ok = true end
      report(ctx, r)
    end
  end
  return true
end

local function check_count(what, v)
  if v ~= nil and (type(v) ~= "number" or v < 1 or v ~= floor(v)) then
    error("cloudops.apply: " .. what .. " must be a whole number, at least 1", 3)
  end
end

--- cloudops.apply(client, desired, opts) -> result, err | nil, err
function M.apply(client, d, opts)
  local state, listed = plan.arguments("cloudops.apply", client, d, opts, OPTIONS, 2)
  opts = opts or {}
  check_count("concurrency", opts.concurrency)
  check_count("max_operations", opts.max_operations)
  if opts.on_change ~= nil and type(opts.on_change) ~= "function" then
    error("cloudops.apply: on_change must be a function", 2)
  end
  local ctx, err = plan.compute(client, state, listed, { prune = opts.prune, concurrency = opts.concurrency })
  if not ctx then return nil, err end
  return M.run(client, ctx, opts)
end

--- Makes the changes of ctx (plan.compute's, for this client), with apply's options
-- (concurrency, on_change, max_operations): what cloudops.apply does once it has planned.
function M.run(client, ctx, opts)
  opts = opts or {}
  ctx.client, ctx.on_change, ctx.calls = client, opts.on_change, {}
  ctx.calls_gate = gate(opts.concurrency or 8)
  ctx.ops_gate = gate(opts.max_operations or limits.operations)
  -- The ids of what exists, by natural key; creates add theirs.
  ctx.ids = {}
  for name, keys in pairs(ctx.by_key) do
    local k, ids = kinds.get(name), {}
    for key, res in pairs(keys) do ids[key] = k.id(res) end
    ctx.ids[name] = ids
  end
  -- Each change's outcome, and how many of its steps have yet to end.
  local list = ctx.plan.changes
  ctx.results, ctx.left = {}, {}
  for _, c in ipairs(list) do
    ctx.results[c] = { kind = c.kind, id = c.id, name = c.name, action = c.action, fields = c.fields }
  end
  local steps = build(ctx)
  for _, s in ipairs(steps) do s.ended = scheduler.condition() end
  -- A change with no step left to take (a group's members already as desired) is done.
  for _, c in ipairs(list) do
    if ctx.left[c] == 0 then
      ctx.results[c].ok = true
      report(ctx, ctx.results[c])
    end
  end
  if #steps > 0 then
    local _, errs = map(function(step) return task(ctx, step) end, steps, { concurrency = #steps })
    for i = 1, #steps do
      if errs[i] ~= nil then error(errs[i], 0) end -- a bug of ours, or an interrupt
    end
  end
  local result = { changes = {}, kept = ctx.plan.kept, calls = ctx.calls }
  local failed, first = 0, nil
  for i, c in ipairs(list) do
    local r = ctx.results[c]
    result.changes[i] = r
    if not r.ok then
      failed = failed + 1
      first = first or r
    end
  end
  if ctx.hook_error then
    return result, errors.new("APPLY_FAILED", "on_change raised: " .. tostring(ctx.hook_error))
  end
  if failed > 0 then
    local e = errors.new("APPLY_FAILED", format("%d of %d changes failed; the first: %s %s: %s", failed, #list,
      first.kind, tostring(first.name), tostring(first.err)), { failed = failed, cause = first.err })
    result.failed = e.message
    return result, e
  end
  return result
end

--- The text of an apply's result: each change with its outcome, then the mutations sent.
function M.text(result)
  local lines = {}
  local n, bad = changes.count(result.changes), 0
  for _, c in ipairs(result.changes) do if not c.ok then bad = bad + 1 end end
  lines[1] = format("Applied: %d created, %d updated, %d deleted; %d failed",
    n.create, n.update, n.delete, bad)
  for _, c in ipairs(result.changes) do
    local sign = ({ create = "+", update = "~", delete = "-" })[c.action] or "?"
    lines[#lines + 1] = format("  %s %s %s: %s", sign, c.kind, tostring(c.name),
      c.ok and "done" or ("FAILED: " .. tostring(c.err)))
  end
  return concat(lines, "\n") .. "\n"
end

return M
