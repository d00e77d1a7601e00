-- One emulator: the model, its settings, and the request pipeline every call goes
-- through, transport aside: method lookup, authentication, the version header, rate
-- limits, faults, idempotent replay of mutations, the handler, the request log.
-- `call` takes and returns Lua tables, so specs exercise it without gRPC; server.lua
-- puts the wire around it.
local config = require "cloudops.emulator.config"
local statelib = require "cloudops.emulator.state"
local ops = require "cloudops.emulator.operations"
local auth = require "cloudops.emulator.auth"
local grants = require "cloudops.emulator.grants"
local errors = require "cloudops.emulator.errors"
local paging = require "cloudops.emulator.paging"
local ratelimit = require "cloudops.emulator.ratelimit"
local faults = require "cloudops.emulator.faults"
local reqlog = require "cloudops.emulator.reqlog"
local audit = require "cloudops.emulator.audit"
local persist = require "cloudops.emulator.persist"
local methods = require "cloudops.emulator.methods"
local handlers = require "cloudops.emulator.handlers"
local seed = require "cloudops.emulator.seed"
local billing_csv = require "cloudops.emulator.billing_csv"
local util = require "cloudops.emulator.util"
local uuid = require "cloudops.uuid"
local versions = require "cloudops.emulator.versions"
local counted_operations = require "cloudops.operation_limit"

local copy, random = util.copy, math.random

local M = {}

local VERSION_HEADER = "temporal-cloud-api-version"
local PACKAGE = "temporal.api.cloud.cloudservice.v1."

-- The context a handler gets: the caller, the clock, the model, helpers.
local Ctx = {}
Ctx.__index = Ctx

-- What Ctx:start raises when the operation limit refuses the operation: dispatch answers with
-- its err. (A handler calls start once its request is found valid and allowed, before it
-- changes the model.)
local Refusal = {}

-- At most cfg.max_operations operations in flight per account, counting those of the RPCs
-- cloudops.operation_limit lists: one more is RESOURCE_EXHAUSTED, with the time until the
-- first of them ends as RetryInfo. (The code the service answers with is not documented.)
local function operation_limit(ctx)
  local limit = ctx.cfg.max_operations
  if not limit or not counted_operations.counts(ctx.method) then return nil end
  local n, soonest = ops.in_flight(ctx.st)
  if n < limit then return nil end
  local e = errors.new("RESOURCE_EXHAUSTED",
    "too many async operations in flight: the account has %d, the limit is %d per account; retry when one has ended",
    n, limit)
  e.retry_delay = soonest and soonest > ctx.now and (soonest - ctx.now) or 0.01
  return e
end

-- Starts the async operation of this mutation (once); its id is the request's
-- async_operation_id when given. Raises a Refusal when the operation limit is reached, so
-- that validation and NOT_FOUND answer first, as they come before any operation.
function Ctx:start()
  if self.op then return self.op end
  local refusal = operation_limit(self)
  if refusal then error(setmetatable({ err = refusal }, Refusal), 0) end
  local id = self.req.async_operation_id
  if id == nil or id == "" then id = uuid() end
  local plan = self.fault and self.fault.operation and self.fault or self.plan
  self.op = ops.start(self.st, self.cfg, self.now, {
    id = id, method = self.method, input = self.emu:operation_input(self),
    outcome = plan and plan.operation, reason = plan and plan.reason, request = copy(self.sent or self.req),
  })
  return self.op
end

-- Lets a mutation be accepted and then end FAILED (or REJECTED), as the service does
-- when it finds a problem only while carrying the change out.
function Ctx:plan_outcome(outcome, reason)
  self.plan = { operation = outcome, reason = reason }
end

function Ctx:page(items, keys)
  return paging.page(items, keys, self.req, self.method, self.cfg)
end

local Emulator = {}
Emulator.__index = Emulator

function M.new(opts)
  local cfg = config.normalize(opts)
  local self = setmetatable({ cfg = cfg, dirty = false }, Emulator)
  self.clock = cfg.clock or os.time
  local now = self.clock()
  if cfg.state_file then
    local st, err = persist.load(cfg.state_file)
    if err then error(err, 2) end
    self.st = st
  end
  -- A twin starts from a snapshot of a real account, with a key per principal (twin.lua).
  if cfg.twin then self.st, self.keys, self.twin = require("cloudops.emulator.twin").state(cfg.twin, cfg, now) end
  self.st = self.st or statelib.new(cfg.account_id, now)
  self.keys = self.keys or seed.bootstrap(self.st, cfg, now)
  seed.fill(self.st, cfg, now)
  self.limiter = ratelimit.new(cfg.rate_limits)
  self.faults = faults.new(cfg.faults)
  self.log = reqlog.open(cfg.log)
  self.versions = cfg.describe and versions.new(cfg.describe)
  self.last_save = now
  self.dirty = cfg.state_file ~= nil
  return self
end

-- Adds a fault rule (see faults.lua); returns the rule.
function Emulator:fault(rule) return self.faults:add(rule) end
function Emulator:clear_faults() self.faults:clear() end

function Emulator:operation_input(ctx)
  local type_url = "type.googleapis.com/" .. PACKAGE .. ctx.method .. "Request"
  if ctx.payload then return { type_url = type_url, value = ctx.payload } end
  if self.cfg.encode then
    local ok, bytes = pcall(self.cfg.encode, PACKAGE .. ctx.method .. "Request", ctx.sent or ctx.req)
    if ok and bytes then return { type_url = type_url, value = bytes } end
  end
  return nil
end

-- A repeated async_operation_id is answered with the first request's result, when it
-- carries the same request (a retry); another request under that id is refused, not taken
-- for the first one. (State saved before requests were kept has no op.request.)
local function replay(self, ctx, id)
  local op = self.st.ops[id]
  if op.method ~= ctx.method then
    return errors.exists("async_operation_id %s was already used by a %s request", id, op.method)
  end
  if op.request and not util.same(op.request, ctx.req) then
    return errors.exists("async_operation_id %s was already used by a different %s request", id, op.method)
  end
  ctx.op = op
  ctx.replayed = true
  return copy(op.response or {})
end

-- The resource an Update<Kind> request changes, as its Get<Kind> answers it to no one in
-- particular (a read on behalf of the update, whose own checks come after), and its type; nil
-- when there is none to be read.
local function current(self, ctx, kind, req)
  local get = {}
  for _, f in ipairs(kind.id_fields) do
    local v = req[f]
    if v == nil and type(req.spec) == "table" then v = req.spec[f] end   -- an export sink's name
    get[f] = v
  end
  local sub = setmetatable({ emu = self, st = self.st, cfg = self.cfg, now = ctx.now, method = kind.get.name,
    req = get, identity = setmetatable({ grant = true }, { __index = ctx.identity }) }, Ctx)
  local ok, resp = pcall(handlers[kind.get.name], sub, get)
  if not ok or type(resp) ~= "table" then return nil end
  for _, f in ipairs(self.cfg.describe(kind.get.output).fields) do
    if f.type == "message" then return resp[f.name], f.type_name end
  end
end

-- The request as the call's version means it (versions.lua): the replacements of the dropped
-- fields it gives filled in, and for an update of an older version, what that version does
-- not know kept from the resource. ctx.sent keeps the request as sent (for a retry's
-- comparison and the operation's input).
local function in_version(self, ctx, m, header)
  ctx.sent = ctx.req
  local req = self.versions.request(m.input, ctx.req)
  if m.kind and self.versions.older(m.input, header) then
    local resource, resource_type = current(self, ctx, m.kind, req)
    if resource then req = self.versions.keep(m.input, req, resource_type, resource, header) end
  end
  ctx.req = req
end

local function dispatch(self, ctx, md)
  local method = ctx.method
  local m = methods.by_name[method]
  local handler = handlers[method]
  if not m or not handler then
    return errors.unimplemented("unknown method %s", tostring(method))
  end
  local id, err = auth.identify(self.st, md, ctx.now)
  if not id then return nil, err end
  ctx.identity = grants.bind(self.st, grants.extend(self.st, id), method, ctx.req)
  local v = md[VERSION_HEADER]
  if v == nil or v == "" then
    return errors.invalid("the %s header is required", VERSION_HEADER)
  end
  local ok, msg, wait = self.limiter:take(id.kind, id.id, ctx.now)
  if not ok then
    local e = errors.new("RESOURCE_EXHAUSTED", msg)
    e.retry_delay = wait
    return nil, e
  end
  if self.versions then
    ok, err = self.versions.check(PACKAGE .. method .. "Request", ctx.req, v)
    if not ok then return nil, err end
  end
  ctx.fault = self.faults:match(method, "before", m.mutation)
  if ctx.fault and ctx.fault.code then
    return nil, errors.new(ctx.fault.code, ctx.fault.message or "injected fault")
  end
  local aid = m.mutation and ctx.req.async_operation_id
  if aid and aid ~= "" and self.st.ops[aid] then return replay(self, ctx, aid) end
  if self.versions then in_version(self, ctx, m, v) end
  local handled, resp
  handled, resp, err = pcall(handler, ctx, ctx.req)
  if not handled then
    if getmetatable(resp) ~= Refusal then error(resp, 0) end
    return nil, resp.err
  end
  if resp and ctx.op then
    ctx.op.response = copy(resp)
    self.dirty = true
  end
  local event = resp and audit.operation(method, self.st, ctx.req)
  if event then
    audit.record(self.st, ctx.now, {
      operation = event, identity = id, async_operation_id = ctx.op and ctx.op.id,
      details = ctx.audit_details, peer_ip = ctx.peer_ip,
    })
    self.dirty = true
  end
  return resp, err
end

-- Serves one call. md: metadata (lowercase names); extra: { payload = request bytes,
-- peer = "ipv4:1.2.3.4:5" } from the transport. Returns resp, nil, info or nil, err,
-- info; info.delay is how long the answer must be held back (a fault).
function Emulator:call(method, req, md, extra)
  extra = extra or {}
  md = md or {}
  local now = self.clock()
  self:tick(now)
  local ctx = setmetatable({
    emu = self, st = self.st, cfg = self.cfg, now = now, method = method,
    req = req or {}, payload = extra.payload,
    peer_ip = extra.peer and extra.peer:match("^ipv[46]:%[?([^%]]*)%]?:%d+$") or extra.peer,
  }, Ctx)
  local ok, resp, err = pcall(dispatch, self, ctx, md)
  if not ok then
    -- A handler bug must not take the server down; the client sees INTERNAL.
    err = errors.new("INTERNAL", "emulator error: %s", tostring(resp))
    resp = nil
  end
  -- An "after" fault acts once the call was applied: a call refused before its handler ran
  -- (unauthenticated, rate limited, ...) neither triggers nor uses one up.
  local after = resp and self.faults:match(method, "after", false)
  if after and after.code and ctx.identity then
    resp, err = nil, errors.new(after.code, after.message or "injected fault")
  end
  local later = self.clock()
  self:tick(later)
  if resp and ctx.op then resp.async_operation = ops.view(ctx.op, self.cfg, later) end
  if resp and self.versions then
    resp = self.versions.answer(PACKAGE .. method .. "Response", resp, md[VERSION_HEADER])
  end
  local delay = (ctx.fault and ctx.fault.delay or 0) + (after and after.delay or 0)
    + self:latency()
  local info = { delay = delay > 0 and delay or nil, identity = ctx.identity }
  if self.log then
    self.log(reqlog.line {
      time = now, peer = extra.peer, method = method, code = err and err.code or 0,
      duration = later - now, identity = ctx.identity, delay = info.delay,
      had_key = md.authorization ~= nil,
      operation = resp and ctx.op and ctx.op.id
        or (method == "GetAsyncOperation" and ctx.req.async_operation_id) or nil,
    })
  end
  return resp, err, info
end

-- How long this answer travels: cfg.latency, give or take 10%, so that answers sent
-- together do not all arrive in the same instant.
function Emulator:latency()
  local s = self.cfg.latency
  if s <= 0 then return 0 end
  return s * (0.9 + 0.2 * random())
end

-- Moves operations on and writes the state file when due. Called around every call and
-- from the server loop's timer.
function Emulator:tick(now)
  now = now or self.clock()
  if ops.advance(self.st, now) then self.dirty = true end
  if self.dirty and self.cfg.state_file and now - self.last_save >= self.cfg.save_interval then
    self:save()
  end
end

-- The next time `tick` has work: an operation moving on, or a pending save.
function Emulator:next_deadline()
  local t = ops.next_deadline(self.st)
  if self.dirty and self.cfg.state_file then
    local s = self.last_save + self.cfg.save_interval
    if t == nil or s < t then t = s end
  end
  return t
end

function Emulator:save(path)
  path = path or self.cfg.state_file
  if not path then return nil, "no state file" end
  local ok, err = persist.save(self.st, path)
  if ok then
    self.dirty = false
    self.last_save = self.clock()
  end
  return ok, err
end

-- Removes the billing report files of an emulator without a state file (with one, they stay
-- beside it until their download URL expires). Called when the server shuts down.
function Emulator:close()
  if not self.cfg.state_file then billing_csv.sweep(self.st) end
end

-- A caller bound to an API key, for specs and in-process use:
-- emu:client("owner"):call("GetNamespaces", { page_size = 10 }).
function Emulator:client(key, version)
  local token = self.keys[key] or key
  local md = { authorization = "Bearer " .. token, [VERSION_HEADER] = version or "v0.19.1" }
  local emu = self
  return {
    token = token,
    call = function(_, method, req, extra) return emu:call(method, req, md, extra) end,
  }
end

M.Emulator = Emulator
return M
